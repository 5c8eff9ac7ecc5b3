package upstream

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

type ringEntry struct {
	hash uint64
	ep   *Endpoint
}

// expandWeights repeats endpoints by their weight (reduced by the gcd, capped) for weighted picks.
func expandWeights(eps []*Endpoint) []*Endpoint {
	g := 0
	for _, e := range eps {
		g = gcd(g, e.weight)
	}
	if g <= 1 {
		same := true
		for _, e := range eps {
			if e.weight != 1 {
				same = false
			}
		}
		if same {
			return eps
		}
		g = 1
	}
	var out []*Endpoint
	for _, e := range eps {
		n := e.weight / g
		if n > 128 {
			n = 128
		}
		for i := 0; i < n; i++ {
			out = append(out, e)
		}
	}
	// Interleave so consecutive picks spread across endpoints.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func buildRing(eps []*Endpoint, minSize uint64) []ringEntry {
	if len(eps) == 0 {
		return nil
	}
	per := int(minSize)/len(eps) + 1
	ring := make([]ringEntry, 0, per*len(eps))
	for _, e := range eps {
		for i := 0; i < per*e.weight && i < 8192; i++ {
			ring = append(ring, ringEntry{hash: xxhash.Sum64String(e.Addr + "_" + strconv.Itoa(i)), ep: e})
		}
	}
	sort.Slice(ring, func(i, j int) bool { return ring[i].hash < ring[j].hash })
	return ring
}

// Pick chooses an endpoint; hash is used by RING_HASH when hasHash is true. Ejected and unhealthy
// endpoints are skipped unless none is available (Envoy's panic mode).
func (c *Cluster) Pick(hash uint64, hasHash bool) (*Endpoint, error) {
	wl := c.wl
	n := len(wl)
	if n == 0 {
		return nil, ErrNoHealthyUpstream
	}
	now := time.Now().UnixNano()
	switch c.LB {
	case RingHash:
		if !hasHash {
			hash = rand.Uint64()
		}
		r := c.ring
		i := sort.Search(len(r), func(i int) bool { return r[i].hash >= hash })
		for k := 0; k < len(r); k++ {
			e := r[(i+k)%len(r)].ep
			if e.Available(now) {
				return e, nil
			}
		}
		return r[i%len(r)].ep, nil
	case LeastRequest:
		if n == 1 {
			return wl[0], nil
		}
		var best *Endpoint
		for k := 0; k < 2; k++ {
			var e *Endpoint
			for t := 0; t < n; t++ {
				cand := wl[rand.IntN(n)]
				if cand.Available(now) {
					e = cand
					break
				}
			}
			if e == nil {
				break
			}
			if best == nil || e.active.Load() < best.active.Load() {
				best = e
			}
		}
		if best != nil {
			return best, nil
		}
		return wl[rand.IntN(n)], nil
	case Random:
		start := rand.IntN(n)
		for k := 0; k < n; k++ {
			if e := wl[(start+k)%n]; e.Available(now) {
				return e, nil
			}
		}
		return wl[start], nil
	default:
		start := int(c.st.rr.Add(1) % uint64(n))
		for k := 0; k < n; k++ {
			if e := wl[(start+k)%n]; e.Available(now) {
				return e, nil
			}
		}
		return wl[start], nil
	}
}
