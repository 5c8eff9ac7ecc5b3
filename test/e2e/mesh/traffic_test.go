package mesh_test

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	lrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// outboundSnapshot is the common shape: an outbound listener with the fault filter, one route
// configuration "outbound" and the given clusters/endpoints.
func outboundSnapshot(addr string, vhosts []*routev3.VirtualHost, clusters []*clusterv3.Cluster, eps map[string][]string) snapshot {
	s := snapshot{
		listeners: []types.Resource{listener("outbound", addr, faultFilter())},
		routes:    []types.Resource{routeConfig("outbound", vhosts...)},
	}
	for _, c := range clusters {
		s.clusters = append(s.clusters, c)
		s.endpoints = append(s.endpoints, cla(c.GetName(), eps[c.GetName()]...))
	}
	return s
}

func weighted(ws map[string]uint32) *routev3.RouteAction {
	var cs []*routev3.WeightedCluster_ClusterWeight
	for _, name := range []string{"outbound|80|v1|reviews.default", "outbound|80|v2|reviews.default", "outbound|80|v3|reviews.default"} {
		if w, ok := ws[name]; ok {
			cs = append(cs, &routev3.WeightedCluster_ClusterWeight{Name: name, Weight: wrapperspb.UInt32(w)})
		}
	}
	return &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: cs}}}
}

const (
	v1 = "outbound|80|v1|reviews.default"
	v2 = "outbound|80|v2|reviews.default"
)

func TestWeightedSplit(t *testing.T) {
	x := startXDS(t)
	b1, b2 := startBackend(t, named("v1")), startBackend(t, named("v2"))
	out := freeAddr(t)
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews", "reviews:80"}, prefixRoute("/", weighted(map[string]uint32{v1: 90, v2: 10})))},
		[]*clusterv3.Cluster{edsCluster(v1, false), edsCluster(v2, false)},
		map[string][]string{v1: {b1.addr}, v2: {b2.addr}}))
	p := startProxy(t, x, "client", "client")
	rs := newClient(p.ListenerAddr("outbound")).many(2000, 16, "reviews", "/", nil)
	if bad := count(rs, func(r result) bool { return r.err != nil || r.status != 200 }); bad > 0 {
		for _, r := range rs {
			if r.err != nil || r.status != 200 {
				t.Logf("failure: %d %q %v", r.status, r.body, r.err)
				break
			}
		}
		t.Fatalf("%d of 2000 requests failed", bad)
	}
	within(t, "v2 share %", pct(count(rs, func(r result) bool { return r.body == "v2" }), len(rs)), 10, 3)
}

func TestHeaderPathAndQueryMatch(t *testing.T) {
	x := startXDS(t)
	b1, b2 := startBackend(t, named("v1")), startBackend(t, named("v2"))
	out := freeAddr(t)
	jason := &routev3.Route{Match: &routev3.RouteMatch{
		PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
		Headers: []*routev3.HeaderMatcher{{Name: "end-user", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "jason"}}}}},
	}, Action: &routev3.Route_Route{Route: toCluster(v2)}}
	api := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "/api/v[0-9]+/.*"}}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: v2}, PrefixRewrite: "/"}}}
	query := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: "/q"},
		QueryParameters: []*routev3.QueryParameterMatcher{{Name: "beta", QueryParameterMatchSpecifier: &routev3.QueryParameterMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "1"}}}}}},
		Action: &routev3.Route_Route{Route: toCluster(v2)}}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, jason, api, query, prefixRoute("/", toCluster(v1)))},
		[]*clusterv3.Cluster{edsCluster(v1, false), edsCluster(v2, false)},
		map[string][]string{v1: {b1.addr}, v2: {b2.addr}}))
	p := startProxy(t, x, "client", "client")
	c := newClient(p.ListenerAddr("outbound"))
	cases := []struct {
		path string
		hdr  map[string]string
		want string
	}{
		{"/", nil, "v1"},
		{"/", map[string]string{"end-user": "jason"}, "v2"},
		{"/", map[string]string{"end-user": "mary"}, "v1"},
		{"/api/v2/items", nil, "v2"},
		{"/api/x/items", nil, "v1"},
		{"/q?beta=1", nil, "v2"},
		{"/q?beta=0", nil, "v1"},
	}
	for _, tc := range cases {
		r := c.do("reviews", tc.path, tc.hdr)
		if r.err != nil || r.status != 200 || r.body != tc.want {
			t.Errorf("GET %s %v: got %d %q (%v), want %q", tc.path, tc.hdr, r.status, r.body, r.err, tc.want)
		}
	}
	if r := c.do("unknown-host", "/", nil); r.status != 404 {
		t.Errorf("unknown host: got %d, want 404", r.status)
	}
}

func TestTimeoutCutsSlowBackend(t *testing.T) {
	x := startXDS(t)
	slow := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "slow")
	}))
	out := freeAddr(t)
	a := toCluster(v1)
	a.Timeout = durationpb.New(150 * time.Millisecond)
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", a))},
		[]*clusterv3.Cluster{edsCluster(v1, false)}, map[string][]string{v1: {slow.addr}}))
	p := startProxy(t, x, "client", "client")
	r := newClient(p.ListenerAddr("outbound")).do("reviews", "/", nil)
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("got %d %q, want 504", r.status, r.body)
	}
	if r.dur > time.Second {
		t.Fatalf("timeout took %s, want about 150ms", r.dur)
	}
}

func TestRetriesHideFlakyBackend(t *testing.T) {
	x := startXDS(t)
	var calls atomic.Int64
	flaky := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		if rand.IntN(2) == 0 {
			w.WriteHeader(503)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	out := freeAddr(t)
	a := toCluster(v1)
	a.RetryPolicy = &routev3.RetryPolicy{RetryOn: "5xx,reset,connect-failure", NumRetries: wrapperspb.UInt32(8),
		RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond), MaxInterval: durationpb.New(5 * time.Millisecond)}}
	c := edsCluster(v1, false)
	c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{MaxRetries: wrapperspb.UInt32(1000)}}}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", a))},
		[]*clusterv3.Cluster{c}, map[string][]string{v1: {flaky.addr}}))
	p := startProxy(t, x, "client", "client")
	rs := newClient(p.ListenerAddr("outbound")).many(1000, 8, "reviews", "/", nil)
	ok := count(rs, func(r result) bool { return r.status == 200 })
	t.Logf("success %d/1000 with %d backend calls", ok, calls.Load())
	if pct(ok, len(rs)) < 99 {
		t.Fatalf("success rate %.1f%%, want >= 99%%", pct(ok, len(rs)))
	}
	if calls.Load() < 1500 {
		t.Fatalf("backend saw %d calls; retries did not happen", calls.Load())
	}
}

func TestFaultAbortAndDelayPercentages(t *testing.T) {
	x := startXDS(t)
	b1 := startBackend(t, named("v1"))
	out := freeAddr(t)
	fault := &faultv3.HTTPFault{
		Delay: &faultcommonv3.FaultDelay{FaultDelaySecifier: &faultcommonv3.FaultDelay_FixedDelay{FixedDelay: durationpb.New(200 * time.Millisecond)},
			Percentage: &typev3.FractionalPercent{Numerator: 20, Denominator: typev3.FractionalPercent_HUNDRED}},
		Abort: &faultv3.FaultAbort{ErrorType: &faultv3.FaultAbort_HttpStatus{HttpStatus: 503},
			Percentage: &typev3.FractionalPercent{Numerator: 30, Denominator: typev3.FractionalPercent_HUNDRED}},
	}
	rt := prefixRoute("/", toCluster(v1))
	rt.TypedPerFilterConfig = map[string]*anypb.Any{"envoy.filters.http.fault": mustAny(fault)}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, rt)},
		[]*clusterv3.Cluster{edsCluster(v1, false)}, map[string][]string{v1: {b1.addr}}))
	p := startProxy(t, x, "client", "client")
	rs := newClient(p.ListenerAddr("outbound")).many(2000, 64, "reviews", "/", nil)
	within(t, "aborted %", pct(count(rs, func(r result) bool { return r.status == 503 }), len(rs)), 30, 3)
	// The proxy's counter gives the sampled share; every delayed request must also have taken at
	// least the delay as seen by the client (slow non-delayed requests only add to that count).
	delayed := int(statValue(t, p.AdminAddr(), "trellis_proxy_fault_delays_total"))
	within(t, "delayed %", pct(delayed, len(rs)), 20, 3)
	if slow := count(rs, func(r result) bool { return r.dur >= 195*time.Millisecond }); slow < delayed {
		t.Errorf("%d requests took >= 195ms but the proxy delayed %d", slow, delayed)
	}
	if n := count(rs, func(r result) bool { return r.status != 503 && r.status != 200 }); n > 0 {
		t.Errorf("%d requests had another status", n)
	}
}

func TestOutlierDetectionEjectsAndReadmits(t *testing.T) {
	x := startXDS(t)
	var failing atomic.Bool
	failing.Store(true)
	var badCalls atomic.Int64
	good := startBackend(t, named("good"))
	bad := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		badCalls.Add(1)
		if failing.Load() {
			w.WriteHeader(500)
			return
		}
		_, _ = io.WriteString(w, "bad-recovered")
	}))
	out := freeAddr(t)
	c := edsCluster(v1, false)
	c.OutlierDetection = &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(3), Interval: durationpb.New(100 * time.Millisecond),
		BaseEjectionTime: durationpb.New(time.Second), MaxEjectionPercent: wrapperspb.UInt32(50)}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", toCluster(v1)))},
		[]*clusterv3.Cluster{c}, map[string][]string{v1: {good.addr, bad.addr}}))
	p := startProxy(t, x, "client", "client")
	cl := newClient(p.ListenerAddr("outbound"))
	cl.many(20, 1, "reviews", "/", nil) // the bad endpoint fails 3 times in a row and is ejected
	before := badCalls.Load()
	rs := cl.many(100, 4, "reviews", "/", nil)
	if n := count(rs, func(r result) bool { return r.status != 200 }); n > 0 {
		t.Fatalf("%d of 100 requests failed after ejection", n)
	}
	if d := badCalls.Load() - before; d != 0 {
		t.Fatalf("ejected endpoint still received %d requests", d)
	}
	failing.Store(false)
	time.Sleep(1200 * time.Millisecond) // base_ejection_time × 1
	rs = cl.many(100, 4, "reviews", "/", nil)
	back := count(rs, func(r result) bool { return r.body == "bad-recovered" })
	if back < 20 {
		t.Fatalf("readmitted endpoint served %d of 100 requests, want about half", back)
	}
	t.Logf("readmitted endpoint served %d of 100", back)
}

func TestLocalRateLimit(t *testing.T) {
	x := startXDS(t)
	app := startBackend(t, named("app"))
	in := freeAddr(t)
	rl := &lrlv3.LocalRateLimit{StatPrefix: "rl",
		TokenBucket:    &typev3.TokenBucket{MaxTokens: 20, TokensPerFill: wrapperspb.UInt32(10), FillInterval: durationpb.New(100 * time.Millisecond)},
		FilterEnabled:  &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}},
		FilterEnforced: &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}},
	}
	const appCluster = "inbound|reviews.default"
	x.set(t, nodeID("reviews"), snapshot{
		listeners: []types.Resource{listener("inbound", in, rateLimitFilter(rl))},
		routes:    []types.Resource{routeConfig("inbound", vhost("inbound", []string{"*"}, prefixRoute("/", toCluster(appCluster))))},
		clusters:  []types.Resource{edsCluster(appCluster, false)},
		endpoints: []types.Resource{cla(appCluster, app.addr)},
	})
	p := startProxy(t, x, "reviews", "reviews")
	c := newClient(p.ListenerAddr("inbound"))
	var ok, limited atomic.Int64
	start := time.Now()
	deadline := start.Add(2 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				switch r := c.do("reviews", "/", nil); r.status {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fills := float64(elapsed / (100 * time.Millisecond))
	want := 20 + 10*fills // burst + refills
	t.Logf("allowed %d, limited %d in %s (expected about %.0f allowed)", ok.Load(), limited.Load(), elapsed, want)
	within(t, "allowed/expected", float64(ok.Load())/want, 1, 0.10)
	if limited.Load() == 0 {
		t.Fatal("nothing was rate limited")
	}
}

func TestMirroringSendsCopies(t *testing.T) {
	x := startXDS(t)
	var mirrored atomic.Int64
	var shadowHost atomic.Value
	primary := startBackend(t, named("primary"))
	shadow := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mirrored.Add(1)
		shadowHost.Store(r.Host)
		w.WriteHeader(500) // must not affect the caller
	}))
	out := freeAddr(t)
	a := toCluster(v1)
	a.RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{Cluster: v2,
		RuntimeFraction: &corev3.RuntimeFractionalPercent{DefaultValue: &typev3.FractionalPercent{Numerator: 100}}}}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", a))},
		[]*clusterv3.Cluster{edsCluster(v1, false), edsCluster(v2, false)},
		map[string][]string{v1: {primary.addr}, v2: {shadow.addr}}))
	p := startProxy(t, x, "client", "client")
	rs := newClient(p.ListenerAddr("outbound")).many(200, 4, "reviews", "/", nil)
	if n := count(rs, func(r result) bool { return r.status != 200 || r.body != "primary" }); n > 0 {
		t.Fatalf("%d responses were affected by mirroring", n)
	}
	deadline := time.Now().Add(3 * time.Second)
	for mirrored.Load() < 190 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if mirrored.Load() < 190 {
		t.Fatalf("mirror received %d of 200 copies", mirrored.Load())
	}
	if h, _ := shadowHost.Load().(string); !strings.HasSuffix(h, "-shadow") {
		t.Errorf("mirror Host = %q, want a -shadow suffix", h)
	}
}

func TestConfigChangeUnderLoadFailsNothing(t *testing.T) {
	x := startXDS(t)
	b1, b2 := startBackend(t, named("v1")), startBackend(t, named("v2"))
	out := freeAddr(t)
	snap := func(w1, w2 uint32, withV2 bool) snapshot {
		cs := []*clusterv3.Cluster{edsCluster(v1, false)}
		eps := map[string][]string{v1: {b1.addr}}
		ws := map[string]uint32{v1: w1}
		if withV2 {
			cs = append(cs, edsCluster(v2, false))
			eps[v2] = []string{b2.addr}
			ws[v2] = w2
		}
		return outboundSnapshot(out, []*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", weighted(ws)))}, cs, eps)
	}
	x.set(t, nodeID("client"), snap(100, 0, false))
	p := startProxy(t, x, "client", "client")
	c := newClient(p.ListenerAddr("outbound"))
	var total, failed atomic.Int64
	var seen sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := c.do("reviews", "/", nil)
				total.Add(1)
				if r.err != nil || r.status != 200 {
					failed.Add(1)
				} else {
					seen.Store(r.body, true)
				}
				if total.Load() >= 20000 {
					return
				}
			}
		}()
	}
	steps := []snapshot{snap(50, 50, true), snap(0, 100, true), snap(100, 0, false), snap(10, 90, true), snap(100, 0, false)}
	for _, s := range steps {
		time.Sleep(300 * time.Millisecond)
		x.set(t, nodeID("client"), s)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed across %d config changes", total.Load(), failed.Load(), len(steps))
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during config changes", failed.Load(), total.Load())
	}
	if _, ok := seen.Load("v2"); !ok {
		t.Fatal("traffic never reached v2: updates were not applied")
	}
}

func TestBadUpdateIsNACKedAndLastGoodConfigServes(t *testing.T) {
	x := startXDS(t)
	b1 := startBackend(t, named("v1"))
	out := freeAddr(t)
	good := outboundSnapshot(out, []*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", toCluster(v1)))},
		[]*clusterv3.Cluster{edsCluster(v1, false)}, map[string][]string{v1: {b1.addr}})
	x.set(t, nodeID("client"), good)
	p := startProxy(t, x, "client", "client")
	c := newClient(p.ListenerAddr("outbound"))
	if r := c.do("reviews", "/", nil); r.status != 200 {
		t.Fatalf("before: %d", r.status)
	}
	badRoute := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(unclosed"}}},
		Action: &routev3.Route_Route{Route: toCluster(v1)}}
	bad := good
	bad.routes = []types.Resource{routeConfig("outbound", vhost("reviews.default", []string{"reviews"}, badRoute))}
	x.set(t, nodeID("client"), bad)
	deadline := time.Now().Add(5 * time.Second)
	for p.XDSStats().Nacks == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := p.XDSStats()
	if st.Nacks == 0 {
		t.Fatal("bad update was not NACKed")
	}
	if !strings.Contains(st.LastError, "safe_regex") {
		t.Errorf("NACK reason %q does not name the field", st.LastError)
	}
	t.Logf("NACK: %s", st.LastError)
	rs := c.many(50, 4, "reviews", "/", nil)
	if n := count(rs, func(r result) bool { return r.status != 200 }); n > 0 {
		t.Fatalf("%d requests failed after the NACKed update", n)
	}
}

func TestHeaderOpsAndHostRewrite(t *testing.T) {
	x := startXDS(t)
	var gotHost, gotAdded, gotRemoved atomic.Value
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost.Store(r.Host)
		gotAdded.Store(r.Header.Get("x-added"))
		gotRemoved.Store(r.Header.Get("x-secret"))
		w.Header().Set("x-internal", "1")
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	out := freeAddr(t)
	a := toCluster(v1)
	a.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: "reviews.internal"}
	a.PrefixRewrite = "/v2/"
	rt := &routev3.Route{Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/api/"}},
		Action:                  &routev3.Route_Route{Route: a},
		RequestHeadersToAdd:     []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-added", Value: "yes"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}},
		RequestHeadersToRemove:  []string{"x-secret"},
		ResponseHeadersToAdd:    []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-served-by", Value: "trellis"}}},
		ResponseHeadersToRemove: []string{"x-internal"},
	}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, rt)},
		[]*clusterv3.Cluster{edsCluster(v1, false)}, map[string][]string{v1: {b.addr}}))
	p := startProxy(t, x, "client", "client")
	r := newClient(p.ListenerAddr("outbound")).do("reviews", "/api/items", map[string]string{"x-secret": "s", "x-added": "old"})
	if r.status != 200 || r.body != "/v2/items" {
		t.Fatalf("got %d %q, want the rewritten path /v2/items", r.status, r.body)
	}
	if gotHost.Load() != "reviews.internal" || gotAdded.Load() != "yes" || gotRemoved.Load() != "" {
		t.Errorf("upstream saw host %v, x-added %v, x-secret %v", gotHost.Load(), gotAdded.Load(), gotRemoved.Load())
	}
	if r.hdr.Get("x-served-by") != "trellis" || r.hdr.Get("x-internal") != "" {
		t.Errorf("response headers %v", r.hdr)
	}
}

func TestCircuitBreakerOverflow(t *testing.T) {
	x := startXDS(t)
	release := make(chan struct{})
	b := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	out := freeAddr(t)
	c := edsCluster(v1, false)
	c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{MaxRequests: wrapperspb.UInt32(2)}}}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", toCluster(v1)))},
		[]*clusterv3.Cluster{c}, map[string][]string{v1: {b.addr}}))
	p := startProxy(t, x, "client", "client")
	cl := newClient(p.ListenerAddr("outbound"))
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func(i int) { defer wg.Done(); results[i] = cl.do("reviews", "/", nil) }(i)
	}
	time.Sleep(200 * time.Millisecond) // two requests hold both slots
	r := cl.do("reviews", "/", nil)
	close(release)
	wg.Wait()
	if r.status != 503 || r.hdr.Get("x-envoy-overloaded") != "true" {
		t.Fatalf("third request: %d %v, want 503 with x-envoy-overloaded", r.status, r.hdr)
	}
	for _, r := range results {
		if r.status != 200 {
			t.Errorf("admitted request: %d", r.status)
		}
	}
}

func TestActiveHealthCheckRemovesFailingEndpoint(t *testing.T) {
	x := startXDS(t)
	var healthy atomic.Bool
	good := startBackend(t, named("good"))
	sick := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && !healthy.Load() {
			w.WriteHeader(503)
			return
		}
		_, _ = io.WriteString(w, "sick")
	}))
	out := freeAddr(t)
	c := edsCluster(v1, false)
	c.HealthChecks = []*corev3.HealthCheck{{
		Timeout: durationpb.New(time.Second), Interval: durationpb.New(50 * time.Millisecond),
		UnhealthyThreshold: wrapperspb.UInt32(1), HealthyThreshold: wrapperspb.UInt32(1),
		HealthChecker: &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &corev3.HealthCheck_HttpHealthCheck{Path: "/healthz"}},
	}}
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews"}, prefixRoute("/", toCluster(v1)))},
		[]*clusterv3.Cluster{c}, map[string][]string{v1: {good.addr, sick.addr}}))
	p := startProxy(t, x, "client", "client")
	cl := newClient(p.ListenerAddr("outbound"))
	time.Sleep(300 * time.Millisecond)
	rs := cl.many(50, 2, "reviews", "/", nil)
	if n := count(rs, func(r result) bool { return r.body == "sick" }); n != 0 {
		t.Fatalf("endpoint failing health checks served %d of 50", n)
	}
	healthy.Store(true)
	time.Sleep(300 * time.Millisecond)
	rs = cl.many(50, 2, "reviews", "/", nil)
	if n := count(rs, func(r result) bool { return r.body == "sick" }); n < 10 {
		t.Fatalf("recovered endpoint served %d of 50", n)
	}
}

// statValue reads one unlabelled metric from the proxy's /stats.
func statValue(t *testing.T, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
