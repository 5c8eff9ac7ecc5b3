package native_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

func TestGolden(t *testing.T) {
	adaptertest.Run(t, &native.Adapter{}, adapters.Options{})
}

func TestRegistered(t *testing.T) {
	a, err := adapters.Lookup("native")
	if err != nil {
		t.Fatal(err)
	}
	caps := a.Capabilities()
	for _, f := range adapters.Features {
		if _, ok := caps[f.Feature]; !ok {
			t.Errorf("no capability for %s", f.Feature)
		}
	}
}

type validator interface{ ValidateAll() error }

// checkSnapshot validates every resource with its proto rules and the snapshot's consistency.
func checkSnapshot(t *testing.T, res map[resourcev3.Type][]types.Resource) *cachev3.Snapshot {
	t.Helper()
	for typ, rs := range res {
		for _, r := range rs {
			v, ok := r.(validator)
			if !ok {
				t.Fatalf("%s resource %T has no ValidateAll", typ, r)
			}
			if err := v.ValidateAll(); err != nil {
				t.Errorf("%s %q: %v", typ, cachev3.GetResourceName(r), err)
			}
		}
	}
	snap, err := cachev3.NewSnapshot("1", res)
	if err != nil {
		t.Fatalf("NewSnapshot: %v", err)
	}
	if err := snap.Consistent(); err != nil {
		t.Errorf("snapshot not consistent: %v", err)
	}
	return snap
}

// TestEveryCaseValidAndConsistent builds every shared case for every service's canonical node and
// for a node outside the design, with endpoints registered, and checks ValidateAll + Consistent.
func TestEveryCaseValidAndConsistent(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(adaptertest.CasesDir(t), "*.yaml"))
	if len(files) == 0 {
		t.Skip("no shared cases yet")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			designs, err := spec.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range designs {
				res, _, err := native.Build(d, adapters.Options{})
				if err != nil {
					t.Fatal(err)
				}
				var eps []native.Endpoint
				for i, key := range res.ServiceKeys() {
					n := native.CanonicalNode(res, key)
					n.InboundAddr = "127.0.0.1:" + string(rune('0'+i%10)) + "006"
					eps = append(eps, n.Endpoint())
				}
				nodes := []native.NodeInfo{native.CanonicalNode(res, ""), {ID: "stranger", Service: "stranger", Namespace: "x", AppAddr: "127.0.0.1:1"}}
				for _, key := range res.ServiceKeys() {
					nodes = append(nodes, native.CanonicalNode(res, key))
				}
				for _, n := range nodes {
					snap, err := native.ForNode(res, n, eps)
					if err != nil {
						t.Fatal(err)
					}
					checkSnapshot(t, snap)
				}
			}
		})
	}
}

const demo = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: demo, namespace: shop}
spec:
  services:
    - name: frontend
      ports: [{port: 8080}]
    - name: reviews
      ports: [{port: 9080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
    - name: ratings
      protocol: grpc
      ports: [{port: 9090}]
  traffic:
    - service: reviews
      routes:
        - name: tester
          match: [{headers: {x-user: {exact: tester}}}, {path: {prefix: /beta}, method: GET}]
          backends: [{version: v2}]
        - name: split
          backends: [{version: v1, weight: 90}, {version: v2, weight: 10}]
          timeout: 2s
          retries: {attempts: 3, perTryTimeout: 500ms, on: [5xx, "503"], backoff: {baseInterval: 25ms}, budget: {percent: 25}}
          fault: {abort: {httpStatus: 503, percent: 12.5}}
          mirror: {version: v2, percent: 50}
          rewrite: {host: reviews.internal}
      resilience:
        connections: {max: 10, maxRequestsPerConnection: 5}
        rateLimit: {requestsPerSecond: 5, burst: 7}
        loadBalancer: {consistentHash: {header: x-user}}
  security:
    defaultPolicy: deny
    access:
      - name: fe-to-reviews
        destination: reviews
        sources: [frontend]
        when: [{methods: [GET], paths: [/reviews/*]}]
      - name: no-admin
        destination: reviews
        action: deny
        sources: [{namespace: "*"}]
        when: [{paths: [/admin]}]
`

func loadDemo(t *testing.T) *spec.Design {
	t.Helper()
	ds, err := spec.LoadBytes("demo.yaml", []byte(demo))
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

func find[T types.Resource](t *testing.T, rs []types.Resource, name string) T {
	t.Helper()
	for _, r := range rs {
		if cachev3.GetResourceName(r) == name {
			return r.(T)
		}
	}
	var zero T
	t.Fatalf("resource %q not found", name)
	return zero
}

func TestBuildDemo(t *testing.T) {
	d := loadDemo(t)
	res, warns, err := native.Build(d, adapters.Options{TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		t.Logf("warning: %s", w)
	}
	node := native.NodeInfo{ID: "reviews.shop~v1~a", Service: "reviews", Namespace: "shop", Version: "v1",
		InboundAddr: "127.0.0.1:16006", OutboundAddr: "127.0.0.1:16001", AppAddr: "127.0.0.1:9080", Labels: map[string]string{"version": "v1"}}
	eps := []native.Endpoint{
		node.Endpoint(),
		{Node: "b", Service: "reviews.shop", Version: "v2", Labels: map[string]string{"app": "reviews", "version": "v2"}, Address: "127.0.0.1:17006"},
		{Node: "c", Service: "reviews.shop", Version: "v2", Address: "127.0.0.1:18006"}, // no labels: matched by version name
		{Node: "d", Service: "frontend.shop", Address: "127.0.0.1:19006"},
	}
	snap, err := native.ForNode(res, node, eps)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, snap)

	// Listeners at the node's addresses, HCM with RDS and the contract's filter order.
	out := find[*listenerv3.Listener](t, snap[resourcev3.ListenerType], "outbound")
	if got := out.GetAddress().GetSocketAddress().GetPortValue(); got != 16001 {
		t.Errorf("outbound port = %d, want 16001", got)
	}
	in := find[*listenerv3.Listener](t, snap[resourcev3.ListenerType], "inbound")
	hcm := &hcmv3.HttpConnectionManager{}
	if err := in.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range hcm.HttpFilters {
		names = append(names, f.Name)
	}
	want := "envoy.filters.http.rbac,envoy.filters.http.rbac,envoy.filters.http.local_ratelimit,envoy.filters.http.router"
	if strings.Join(names, ",") != want {
		t.Errorf("inbound filters = %v, want %s", names, want)
	}
	deny := &rbacfilterv3.RBAC{}
	if err := hcm.HttpFilters[0].GetTypedConfig().UnmarshalTo(deny); err != nil {
		t.Fatal(err)
	}
	if deny.Rules.Action.String() != "DENY" || deny.Rules.Policies["no-admin"] == nil {
		t.Errorf("first RBAC filter = %v, want DENY no-admin", deny.Rules)
	}
	allow := &rbacfilterv3.RBAC{}
	_ = hcm.HttpFilters[1].GetTypedConfig().UnmarshalTo(allow)
	p := allow.Rules.Policies["fe-to-reviews"]
	if p == nil || p.Principals[0].GetAuthenticated().GetPrincipalName().GetExact() != "spiffe://example.org/ns/shop/sa/frontend" {
		t.Errorf("allow policy = %v, want the authenticated principal spiffe://example.org/ns/shop/sa/frontend", p)
	}

	// Routes: two Envoy routes for the two match alternatives, then the split.
	rc := find[*routev3.RouteConfiguration](t, snap[resourcev3.RouteType], "outbound")
	var vh *routev3.VirtualHost
	for _, v := range rc.VirtualHosts {
		if v.Name == "reviews.shop" {
			vh = v
		}
	}
	if vh == nil || len(vh.Routes) != 3 {
		t.Fatalf("reviews virtual host = %v", vh)
	}
	if !contains(vh.Domains, "reviews") || !contains(vh.Domains, "reviews.shop.svc.cluster.local:9080") {
		t.Errorf("domains = %v", vh.Domains)
	}
	if got := vh.Routes[1].Match.GetPathSeparatedPrefix(); got != "/beta" {
		t.Errorf("second match path_separated_prefix = %q", got)
	}
	split := vh.Routes[2].GetRoute()
	wc := split.GetWeightedClusters().GetClusters()
	if len(wc) != 2 || wc[0].Name != "outbound|9080|v1|reviews.shop" || wc[0].Weight.GetValue() != 90 || wc[1].Weight.GetValue() != 10 {
		t.Errorf("weighted clusters = %v", wc)
	}
	rp := split.GetRetryPolicy()
	if rp.GetRetryOn() != "5xx,retriable-status-codes" || rp.GetNumRetries().GetValue() != 3 || rp.RetriableStatusCodes[0] != 503 ||
		rp.GetRetryBackOff().GetMaxInterval().AsDuration().Milliseconds() != 250 {
		t.Errorf("retry policy = %v", rp)
	}
	if split.GetTimeout().AsDuration().Seconds() != 2 || split.GetHostRewriteLiteral() != "reviews.internal" ||
		split.GetRequestMirrorPolicies()[0].GetRuntimeFraction().GetDefaultValue().GetNumerator() != 500000 ||
		split.GetHashPolicy()[0].GetHeader().GetHeaderName() != "x-user" {
		t.Errorf("route action = %v", split)
	}
	f := &faultv3.HTTPFault{}
	if err := vh.Routes[2].TypedPerFilterConfig[native.FaultFilter].UnmarshalTo(f); err != nil {
		t.Fatal(err)
	}
	if f.Abort.GetHttpStatus() != 503 || f.Abort.Percentage.GetNumerator() != 125000 {
		t.Errorf("fault = %v", f)
	}

	// Clusters: RING_HASH for consistent hash, limits, budget, h2 for grpc.
	c := find[*clusterv3.Cluster](t, snap[resourcev3.ClusterType], "outbound|9080|v2|reviews.shop")
	th := c.GetCircuitBreakers().GetThresholds()[0]
	if c.LbPolicy != clusterv3.Cluster_RING_HASH || th.GetMaxConnections().GetValue() != 10 || th.GetRetryBudget().GetBudgetPercent().GetValue() != 25 {
		t.Errorf("reviews v2 cluster = %v", c)
	}
	g := find[*clusterv3.Cluster](t, snap[resourcev3.ClusterType], "outbound|9090||ratings.shop")
	if g.TypedExtensionProtocolOptions == nil {
		t.Errorf("grpc cluster has no HTTP/2 protocol options")
	}

	// Endpoints by labels (or version name when an instance has no labels).
	cla := find[*endpointv3.ClusterLoadAssignment](t, snap[resourcev3.EndpointType], "outbound|9080|v2|reviews.shop")
	if n := len(cla.GetEndpoints()[0].GetLbEndpoints()); n != 2 {
		t.Errorf("v2 endpoints = %d, want 2", n)
	}
	all := find[*endpointv3.ClusterLoadAssignment](t, snap[resourcev3.EndpointType], "outbound|9080||reviews.shop")
	if n := len(all.GetEndpoints()[0].GetLbEndpoints()); n != 3 {
		t.Errorf("all-versions endpoints = %d, want 3", n)
	}
	empty := find[*endpointv3.ClusterLoadAssignment](t, snap[resourcev3.EndpointType], "outbound|9090||ratings.shop")
	if len(empty.Endpoints) != 0 {
		t.Errorf("ratings has endpoints %v, want none", empty.Endpoints)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestTranslateRendersObjects(t *testing.T) {
	out, _, err := adapters.Translate(context.Background(), &native.Adapter{}, loadDemo(t), adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range out.Objects {
		if o.GetAPIVersion() != native.APIVersion || o.GetLabels()[adapters.LabelDesign] != "demo" {
			t.Errorf("object %s/%s has apiVersion %s labels %v", o.GetKind(), o.GetName(), o.GetAPIVersion(), o.GetLabels())
		}
		kinds[o.GetKind()]++
	}
	// 1 outbound + 3 inbound listeners; 1 outbound + 3 inbound routes; 5 EDS + 3 inbound clusters.
	if kinds["Listener"] != 4 || kinds["RouteConfiguration"] != 4 || kinds["Cluster"] != 8 || kinds["ClusterLoadAssignment"] != 5 {
		t.Errorf("kinds = %v", kinds)
	}
}

func TestBadNodeMetadata(t *testing.T) {
	if _, err := native.NodeInfoFromProto(nil); err == nil {
		t.Error("nil node accepted")
	}
}

// TestHealthCheckThroughDefaultDeny checks that active health checks are emitted and that a
// default-deny inbound lets exactly the probe's method and path through from any caller.
func TestHealthCheckThroughDefaultDeny(t *testing.T) {
	ds, err := spec.LoadBytes("hc.yaml", []byte(`
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: hc, namespace: demo}
spec:
  services:
    - name: web
      ports: [{port: 8080}]
      healthCheck: {path: /ready, interval: 5s, timeout: 500ms}
    - name: users
      protocol: grpc
      ports: [{port: 50051}]
      healthCheck: {}
  security: {defaultPolicy: deny}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := native.Build(ds[0], adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][2]string{"web.demo": {"GET", "/ready"}, "users.demo": {"POST", "/grpc.health.v1.Health/Check"}} {
		snap, err := native.ForNode(res, native.CanonicalNode(res, key), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, snap)
		allow := &rbacfilterv3.RBAC{}
		if err := res.Services[key].HTTPFilters[0].GetTypedConfig().UnmarshalTo(allow); err != nil {
			t.Fatal(err)
		}
		p := allow.Rules.Policies[native.HealthCheckPolicy]
		and := p.GetPermissions()[0].GetAndRules().GetRules()
		if p == nil || len(and) != 2 || and[0].GetHeader().GetStringMatch().GetExact() != want[0] ||
			and[1].GetUrlPath().GetPath().GetExact() != want[1] || !p.Principals[0].GetAny() {
			t.Errorf("%s: health-check policy = %v, want %v from any caller", key, p, want)
		}
	}
	c := find[*clusterv3.Cluster](t, func() []types.Resource {
		snap, _ := native.ForNode(res, native.CanonicalNode(res, ""), nil)
		return snap[resourcev3.ClusterType]
	}(), "outbound|8080||web.demo")
	hc := c.GetHealthChecks()[0]
	if hc.GetHttpHealthCheck().GetPath() != "/ready" || hc.GetInterval().AsDuration().Seconds() != 5 {
		t.Errorf("health check = %v", hc)
	}
}

// TestRenderedObjectsRoundTrip parses every rendered object's spec back into its xDS proto (as
// a consumer of `trellis translate --mesh native` would) and validates it.
func TestRenderedObjectsRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(adaptertest.CasesDir(t), "*.yaml"))
	if len(files) == 0 {
		t.Skip("no shared cases yet")
	}
	newMsg := map[string]func() proto.Message{
		"Listener":              func() proto.Message { return &listenerv3.Listener{} },
		"RouteConfiguration":    func() proto.Message { return &routev3.RouteConfiguration{} },
		"Cluster":               func() proto.Message { return &clusterv3.Cluster{} },
		"ClusterLoadAssignment": func() proto.Message { return &endpointv3.ClusterLoadAssignment{} },
	}
	for _, f := range files {
		objs, _, err := adaptertest.TranslateFile(context.Background(), &native.Adapter{}, adapters.Options{}, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			mk, ok := newMsg[o.GetKind()]
			if !ok {
				t.Fatalf("%s: unexpected kind %s", f, o.GetKind())
			}
			b, err := json.Marshal(o.Object["spec"])
			if err != nil {
				t.Fatal(err)
			}
			m := mk()
			if err := protojson.Unmarshal(b, m); err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), o.GetKind(), o.GetName(), err)
				continue
			}
			if err := m.(validator).ValidateAll(); err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), o.GetKind(), o.GetName(), err)
			}
		}
	}
}

// TestGeneratedDesignValidAndConsistent builds a large generated design (every feature mix of
// spec/spectest) and checks a node's snapshot.
func TestGeneratedDesignValidAndConsistent(t *testing.T) {
	res, _, err := native.Build(spectest.Design(100), adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var eps []native.Endpoint
	for i, key := range res.ServiceKeys() {
		n := native.CanonicalNode(res, key)
		n.Version, n.InboundAddr = "v2", fmt.Sprintf("127.0.0.1:%d", 20000+i)
		eps = append(eps, n.Endpoint())
	}
	for _, key := range res.ServiceKeys()[:10] {
		snap, err := native.ForNode(res, native.CanonicalNode(res, key), eps)
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, snap)
	}
}

// TestBadInputIsAnError checks that input protobuf cannot carry (invalid UTF-8) and unresolvable
// references come back as errors with a field path, never as panics.
func TestBadInputIsAnError(t *testing.T) {
	d := loadDemo(t)
	d.Spec.Traffic[0].Routes[1].Fault = &spec.Fault{Abort: &spec.AbortFault{GRPCStatus: "NOT_A_STATUS"}}
	if _, _, err := native.Build(d, adapters.Options{}); err == nil || !strings.Contains(err.Error(), "spec.traffic[0].routes[1].fault.abort.grpcStatus") {
		t.Errorf("unknown gRPC status: err = %v", err)
	}
	d = loadDemo(t)
	d.Spec.Security.Access[0].Sources = []spec.Source{{Identity: "bad\xff", Namespace: "shop"}}
	if _, _, err := native.Build(d, adapters.Options{}); err == nil || !strings.Contains(err.Error(), "invalid UTF-8") {
		t.Errorf("identity with invalid UTF-8: err = %v, want an error naming invalid UTF-8", err)
	}
	d = loadDemo(t)
	d.Spec.Traffic[0].Routes[1].Backends[0].Version = "v9"
	if _, _, err := native.Build(d, adapters.Options{}); err == nil || !strings.Contains(err.Error(), "spec.traffic[0].routes[1].backends[0].version") {
		t.Errorf("unknown version: err = %v", err)
	}
}

// TestSubsetLabelsLeaveOutTheSelector checks that a version's subset only requires the labels
// the service's selector does not already fix: an instance registered under the service that
// reports just its version label is in the version's subset.
func TestSubsetLabelsLeaveOutTheSelector(t *testing.T) {
	ds, err := spec.LoadFile(filepath.Join(adaptertest.CasesDir(t), "custom-selector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := native.Build(ds[0], adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, s := range res.Subsets {
		if s.Service != "reviews.shop" || s.Version == "" {
			continue
		}
		found++
		if len(s.Labels) != 1 || s.Labels["app.kubernetes.io/version"] != s.Version {
			t.Errorf("subset %s labels = %v, want only app.kubernetes.io/version=%s", s.Cluster, s.Labels, s.Version)
		}
	}
	if found != 2 {
		t.Errorf("want the subsets of reviews v1 and v2, got %d: %+v", found, res.Subsets)
	}
}
