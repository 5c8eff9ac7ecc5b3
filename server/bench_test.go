package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const benchClients = 50

// benchHTTP is a client with enough idle connections for every benchmark client.
var benchHTTP = &http.Client{Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 200, MaxConnsPerHost: 200}}

// minSamples is the fewest requests a latency benchmark measures, so that percentiles mean
// something even with -benchtime 3x.
const minSamples = 1000

// cpuTime returns the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runClients runs max(b.N, minSamples) calls of fn spread over benchClients goroutines and
// returns the latency of each call and the wall time. It also reports the process's CPU time
// per call (server and load generator together: unlike latencies, it hardly depends on what
// else the machine runs, so it compares changes on a busy machine).
func runClients(b *testing.B, fn func(client, i int) error) ([]time.Duration, time.Duration) {
	b.Helper()
	defer func(start time.Duration) {
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(max(b.N, minSamples)), "cpu-µs/req")
	}(cpuTime())
	var next atomic.Int64
	total := max(b.N, minSamples)
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				t0 := time.Now()
				if err := fn(c, i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	return lat, wall
}

func percentile(lat []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// report records p50/p99 in milliseconds, requests per second and p99 relative to the baseline.
func report(b *testing.B, lat []time.Duration, wall time.Duration, baseP99 time.Duration) {
	p50, p99 := percentile(lat, .50), percentile(lat, .99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/wall.Seconds(), "req/s")
	if baseP99 > 0 {
		b.ReportMetric(float64(p99)/float64(baseP99), "p99/healthz-p99")
	}
	b.ReportMetric(0, "ns/op")
}

func (e *env) benchPost(token, query string, vars map[string]any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := benchHTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || bytes.Contains(b, []byte(`"errors"`)) {
		return fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return nil
}

// healthzP99 measures the HTTP floor: p99 of GET /healthz with the same concurrency.
func healthzP99(b *testing.B, e *env) time.Duration {
	const n = 2000
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				res, err := benchHTTP.Get(e.url + "/healthz")
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return percentile(lat, .99)
}

// BenchmarkDesignQuery measures `design(name)` with its head revision under 50 concurrent
// clients on loopback. Target: p99 ≤ 20 ms on SQLite.
func BenchmarkDesignQuery(b *testing.B) {
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			e := startEnv(b, be)
			for i := range 20 {
				e.save(b, e.admin, fmt.Sprintf("d%02d", i), 50, 0)
			}
			base := healthzP99(b, e)
			q := `query($n: String!) { design(name: $n) { name headRevision head { number sha256 author content } } }`
			lat, wall := runClients(b, func(_, i int) error {
				return e.benchPost(e.admin, q, map[string]any{"n": fmt.Sprintf("d%02d", i%20)})
			})
			report(b, lat, wall, base)
		})
	}
}

// BenchmarkSaveDesign measures saveDesign under 50 concurrent clients, each saving new revisions
// of its own design (so every save is accepted).
func BenchmarkSaveDesign(b *testing.B) {
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			e := startEnv(b, be)
			heads := make([]int, benchClients)
			base := healthzP99(b, e)
			lat, wall := runClients(b, func(c, i int) error {
				name := fmt.Sprintf("c%02d", c)
				w := heads[c]%98 + 1
				err := e.benchPost(e.admin, saveMutation, saveVars(name, designYAML(name, w), heads[c], "bench"))
				if err == nil {
					heads[c]++
				}
				return err
			})
			report(b, lat, wall, base)
		})
	}
}
