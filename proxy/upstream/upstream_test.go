package upstream

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func staticCluster(name string, lb clusterv3.Cluster_LbPolicy, n int) *clusterv3.Cluster {
	var eps []*endpointv3.LbEndpoint
	for i := 0; i < n; i++ {
		eps = append(eps, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(10000 + i)}}}}}}})
	}
	return &clusterv3.Cluster{Name: name, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}, LbPolicy: lb,
		LoadAssignment: &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: eps}}}}
}

func buildOne(t *testing.T, m *Manager, c *clusterv3.Cluster) *Cluster {
	t.Helper()
	gen, err := m.Build([]*clusterv3.Cluster{c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Commit(gen)
	return gen[c.GetName()]
}

func TestRoundRobinIsEven(t *testing.T) {
	c := buildOne(t, NewManager(nil), staticCluster("rr", clusterv3.Cluster_ROUND_ROBIN, 3))
	counts := map[string]int{}
	for i := 0; i < 300; i++ {
		e, err := c.Pick(0, false)
		if err != nil {
			t.Fatal(err)
		}
		counts[e.Addr]++
	}
	for addr, n := range counts {
		if n != 100 {
			t.Errorf("%s got %d of 300", addr, n)
		}
	}
}

func TestRingHashIsStickyAndSpreads(t *testing.T) {
	c := buildOne(t, NewManager(nil), staticCluster("rh", clusterv3.Cluster_RING_HASH, 4))
	seen := map[string]bool{}
	for k := uint64(0); k < 200; k++ {
		h := k * 0x9E3779B97F4A7C15
		a, _ := c.Pick(h, true)
		b, _ := c.Pick(h, true)
		if a != b {
			t.Fatal("same hash picked different endpoints")
		}
		seen[a.Addr] = true
	}
	if len(seen) != 4 {
		t.Errorf("200 keys reached %d of 4 endpoints", len(seen))
	}
}

func TestLeastRequestAvoidsBusyEndpoint(t *testing.T) {
	c := buildOne(t, NewManager(nil), staticCluster("lr", clusterv3.Cluster_LEAST_REQUEST, 2))
	busy := c.Endpoints[0]
	for i := 0; i < 10; i++ {
		busy.Begin()
	}
	n := 0
	for i := 0; i < 200; i++ {
		if e, _ := c.Pick(0, false); e == busy {
			n++
		}
	}
	// P2C picks the busy endpoint only when both samples are it (~25%).
	if n > 80 {
		t.Errorf("busy endpoint picked %d of 200 times", n)
	}
}

func TestOutlierEjectionRespectsMaxPercentAndExpires(t *testing.T) {
	pc := staticCluster("od", clusterv3.Cluster_ROUND_ROBIN, 4)
	pc.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(2),
		BaseEjectionTime: durationpb.New(100 * time.Millisecond), MaxEjectionPercent: wrapperspb.UInt32(50)}
	c := buildOne(t, NewManager(nil), pc)
	for _, e := range c.Endpoints {
		c.Report(e, 503)
		c.Report(e, 0) // connect failure
	}
	if got := c.EjectedCount(); got != 2 {
		t.Fatalf("ejected %d of 4 with max_ejection_percent 50", got)
	}
	for i := 0; i < 20; i++ {
		e, _ := c.Pick(0, false)
		if e.Ejected() {
			t.Fatal("picked an ejected endpoint")
		}
	}
	time.Sleep(150 * time.Millisecond)
	if got := c.EjectedCount(); got != 0 {
		t.Fatalf("%d endpoints still ejected after base_ejection_time", got)
	}
	// A success resets the consecutive counter.
	e := c.Endpoints[0]
	c.Report(e, 500)
	c.Report(e, 200)
	c.Report(e, 500)
	if e.Ejected() {
		t.Error("ejected without consecutive failures")
	}
}

func TestCircuitBreakers(t *testing.T) {
	pc := staticCluster("cb", clusterv3.Cluster_ROUND_ROBIN, 1)
	pc.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
		MaxRequests: wrapperspb.UInt32(2), MaxRetries: wrapperspb.UInt32(1)}}}
	c := buildOne(t, NewManager(nil), pc)
	first, second, third := c.AcquireRequest(), c.AcquireRequest(), c.AcquireRequest()
	if !first || !second || third {
		t.Error("max_requests 2")
	}
	if !c.AcquireRetry() || c.AcquireRetry() {
		t.Error("max_retries 1")
	}
	if c.Counters().Overflows.Load() != 2 {
		t.Errorf("overflows = %d", c.Counters().Overflows.Load())
	}
}

func TestStateSurvivesUpdates(t *testing.T) {
	m := NewManager(nil)
	pc := staticCluster("s", clusterv3.Cluster_ROUND_ROBIN, 2)
	pc.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(1), BaseEjectionTime: durationpb.New(time.Hour), MaxEjectionPercent: wrapperspb.UInt32(100)}
	c1 := buildOne(t, m, pc)
	c1.Report(c1.Endpoints[0], 500)
	c2 := buildOne(t, m, pc)
	if !c2.Endpoints[0].Ejected() {
		t.Error("ejection lost across a configuration update")
	}
	if _, err := m.Build([]*clusterv3.Cluster{{Name: "x", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_ORIGINAL_DST}}}, nil); err == nil {
		t.Error("unsupported cluster type accepted")
	} else if want := `cluster[0] "x": type: unsupported`; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q", err)
	}
}
