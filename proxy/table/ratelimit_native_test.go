package table

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/upstream"
	"github.com/trellis-mesh/trellis/spec"
)

// fakeClock is a settable time source for a bucket.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }
func (c *fakeClock) attach(rl *RateLimit) *fakeClock {
	rl.bucket.mu.Lock()
	defer rl.bucket.mu.Unlock()
	c.now = rl.bucket.last
	rl.bucket.clock = c.Now
	return c
}

// nativeInboundRateLimit translates a design with one rate-limited service with the native
// adapter, specialises it for the service's proxy as the control plane does (native.ForNode),
// and compiles the xDS resources the proxy would receive: the inbound listener's rate limiter.
func nativeInboundRateLimit(t *testing.T, rl spec.RateLimit) *RateLimit {
	t.Helper()
	d := &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: "rl", Namespace: "shop"},
		Spec: spec.DesignSpec{
			Services: []spec.Service{{Name: "api", Ports: []spec.Port{{Port: 8080}}}},
			Traffic:  []spec.TrafficPolicy{{Service: "api", Resilience: &spec.Resilience{RateLimit: &rl}}},
			Security: &spec.Security{MTLS: spec.MTLSDisabled},
		}}
	d.Default()
	if vs := d.Validate(); len(vs) > 0 {
		t.Fatalf("invalid design: %v", vs)
	}
	res, _, err := native.Build(d, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := native.ForNode(res, native.CanonicalNode(res, "api.shop"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var in Resources
	for _, r := range snap[resourcev3.ListenerType] {
		in.Listeners = append(in.Listeners, r.(*listenerv3.Listener))
	}
	for _, r := range snap[resourcev3.RouteType] {
		in.Routes = append(in.Routes, r.(*routev3.RouteConfiguration))
	}
	for _, r := range snap[resourcev3.ClusterType] {
		in.Clusters = append(in.Clusters, r.(*clusterv3.Cluster))
	}
	for _, r := range snap[resourcev3.EndpointType] {
		in.Endpoints = append(in.Endpoints, r.(*endpointv3.ClusterLoadAssignment))
	}
	tbl, err := NewBuilder(upstream.NewManager(nil), stats.NewRegistry(), nil).Build(in)
	if err != nil {
		t.Fatal(err)
	}
	l := tbl.Listeners[native.ListenerInbound]
	if l == nil || l.RateLimit == nil || l.RateLimit.bucket == nil {
		t.Fatalf("inbound listener has no rate limit: %+v", l)
	}
	return l.RateLimit
}

func admitted(rl *RateLimit, tries int) int {
	n := 0
	for range tries {
		if rl.Allow() {
			n++
		}
	}
	return n
}

// TestRateLimitBurstBelowRateFromNativeAdapter proves, by token counts on a fake clock, that the
// bundled proxy enforces the designed rate when the burst is below it: 100 per second with burst
// 20 admits 20 at once, then 5 every 50ms, 100 per second sustained, and never more than 20 after
// an idle period; 30 per minute with burst 5 admits 5, then 1 every 2s, 30 per minute. The bucket
// rendered before (100 every second into a bucket of 20) is shown to sustain only 20 per second.
func TestRateLimitBurstBelowRateFromNativeAdapter(t *testing.T) {
	rl := nativeInboundRateLimit(t, spec.RateLimit{RequestsPerSecond: 100, Burst: 20})
	clock := (&fakeClock{}).attach(rl)
	if got := admitted(rl, 100); got != 20 {
		t.Fatalf("at once: %d of 100 admitted, want the burst 20", got)
	}
	clock.Advance(49 * time.Millisecond)
	if got := admitted(rl, 10); got != 0 {
		t.Errorf("after 49ms: %d admitted, want 0", got)
	}
	clock.Advance(time.Millisecond)
	if got := admitted(rl, 10); got != 5 {
		t.Errorf("after 50ms: %d of 10 admitted, want 5", got)
	}
	total := 0
	for i := range 20 {
		clock.Advance(50 * time.Millisecond)
		n := admitted(rl, 10)
		if n != 5 {
			t.Errorf("step %d: %d of 10 admitted, want 5", i, n)
		}
		total += n
	}
	if total != 100 {
		t.Errorf("one saturated second: %d admitted, want the designed 100", total)
	}
	clock.Advance(10 * time.Second)
	if got := admitted(rl, 100); got != 20 {
		t.Errorf("after 10s idle: %d of 100 admitted, want the burst 20", got)
	}

	perMin := nativeInboundRateLimit(t, spec.RateLimit{RequestsPerMinute: 30, Burst: 5})
	clock = (&fakeClock{}).attach(perMin)
	if got := admitted(perMin, 10); got != 5 {
		t.Fatalf("per minute at once: %d of 10 admitted, want the burst 5", got)
	}
	total = 0
	for range 30 {
		clock.Advance(2 * time.Second)
		total += admitted(perMin, 10)
	}
	if total != 30 {
		t.Errorf("one saturated minute: %d admitted, want the designed 30", total)
	}

	// The rendering before this change: 100 every second into a bucket of 20. Each refill is cut
	// to the bucket, so a saturated second admits 20, not 100.
	old := &RateLimit{Status: 429, EnabledPerMillion: 1_000_000, EnforcedPerMillion: 1_000_000,
		bucket: &Bucket{max: 20, perFill: 100, interval: time.Second, tokens: 20}}
	clock = (&fakeClock{}).attach(old)
	admitted(old, 100)
	total = 0
	for range 5 {
		clock.Advance(time.Second)
		total += admitted(old, 1000)
	}
	if total != 5*20 {
		t.Errorf("old rendering: %d admitted in 5 saturated seconds, want 100 (20 per second, the bug the finer bucket fixes)", total)
	}
}
