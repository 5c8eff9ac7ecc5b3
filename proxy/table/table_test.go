package table

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// fakeReq is a table.Req for matching tests.
type fakeReq struct {
	method, host, path, query string
	hdr                       map[string]string
	peer                      string
}

func (r fakeReq) Method() string { return r.method }
func (r fakeReq) Host() string   { return r.host }
func (r fakeReq) Path() string   { return r.path }
func (r fakeReq) Query() string  { return r.query }
func (r fakeReq) Peer() string   { return r.peer }
func (r fakeReq) Header(n string) (string, bool) {
	if strings.EqualFold(n, PeerIdentityHeader) {
		return r.peer, r.peer != "" // as the router: the verified peer, never the wire header
	}
	for k, v := range r.hdr {
		if strings.EqualFold(k, n) {
			return v, true
		}
	}
	return "", false
}

func build(t *testing.T) *Table {
	t.Helper()
	res, err := LoadBootstrap("testdata/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(upstream.NewManager(nil), stats.NewRegistry(), nil)
	tbl, err := b.Build(res)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestBuildBootstrap(t *testing.T) {
	tbl := build(t)
	if len(tbl.Warming) != 0 {
		t.Errorf("warming %v", tbl.Warming)
	}
	out, in := tbl.Listeners["outbound"], tbl.Listeners["inbound"]
	if out == nil || in == nil || !out.Outbound || in.Outbound || !out.Fault || in.RBAC == nil || in.RateLimit == nil {
		t.Fatalf("listeners: %+v %+v", out, in)
	}
	v2 := tbl.Clusters["outbound|9080|v2|reviews.default"]
	if v2 == nil || v2.LB != upstream.RingHash || len(v2.Endpoints) != 2 || v2.Thresholds.MaxRequests != 7 ||
		v2.Thresholds.BudgetPercent != 25 || v2.Outlier == nil || v2.Outlier.Consecutive5xx != 2 {
		t.Fatalf("v2 cluster %+v", v2)
	}
	rc := out.Routes
	cases := []struct {
		req  fakeReq
		want string
	}{
		{fakeReq{host: "reviews", path: "/", hdr: map[string]string{"end-user": "jason"}}, "reviews.default/jason"},
		{fakeReq{host: "REVIEWS:9080", path: "/x"}, "reviews.default/default"},
		{fakeReq{host: "reviews.default.svc.cluster.local:80", path: "/api/v2/x"}, "reviews.default/api"},
		{fakeReq{host: "a.example.com", path: "/"}, "wildcard/0"},
	}
	for _, tc := range cases {
		rt := rc.Find(tc.req)
		if rt == nil || rt.Name != tc.want {
			t.Errorf("%+v: got %v, want %s", tc.req, rt, tc.want)
		}
	}
	if rc.Find(fakeReq{host: "ratings", path: "/"}) != nil {
		t.Error("unknown host matched")
	}
	api := rc.Find(cases[2].req)
	if got := api.RewritePath("/api/v2/items"); got != "/v2/items" {
		t.Errorf("regex rewrite = %q", got)
	}
	if api.Timeout != 250*time.Millisecond || api.Retry == nil || api.Retry.NumRetries != 3 || api.Retry.PerTry != 100*time.Millisecond {
		t.Errorf("api route %+v", api)
	}
	if !api.Retry.RetryStatus(418, "") || !api.Retry.RetryStatus(500, "") || api.Retry.RetryStatus(404, "") || !api.Retry.RetryStatus(200, "14") {
		t.Error("retry conditions")
	}
	for i := 1; i < 10; i++ {
		if d := api.Retry.Backoff(i); d <= 0 || d > 40*time.Millisecond {
			t.Errorf("backoff %d = %s", i, d)
		}
	}
	def := rc.Find(cases[1].req)
	if def.TotalWeight != 100 || def.Pick(89).Name != "outbound|9080|v1|reviews.default" || def.Pick(90).Name != "outbound|9080|v2|reviews.default" {
		t.Errorf("weighted %+v", def.Clusters)
	}
	if got := def.RewritePath("/x/y"); got != "/base/x/y" {
		t.Errorf("prefix rewrite = %q", got)
	}
	if def.HostRewrite != "reviews.internal" || def.Fault == nil || def.Fault.AbortStatus != 503 || def.Fault.AbortPerMillion != 50000 {
		t.Errorf("default route %+v fault %+v", def, def.Fault)
	}
	h1, ok1 := rc.Find(cases[0].req).Hash(fakeReq{hdr: map[string]string{"x-user": "a"}}, "")
	h2, _ := rc.Find(cases[0].req).Hash(fakeReq{hdr: map[string]string{"x-user": "a"}}, "")
	if !ok1 || h1 != h2 {
		t.Error("hash policy not deterministic")
	}
}

func TestInboundFilters(t *testing.T) {
	in := build(t).Listeners["inbound"]
	ok := fakeReq{peer: "spiffe://cluster.local/ns/default/sa/productpage"}
	bad := fakeReq{peer: "spiffe://cluster.local/ns/default/sa/ratings"}
	spoofed := fakeReq{hdr: map[string]string{PeerIdentityHeader: "spiffe://cluster.local/ns/default/sa/productpage"}}
	if !in.RBAC.Allowed(ok) || in.RBAC.Allowed(bad) || in.RBAC.Allowed(fakeReq{}) || in.RBAC.Allowed(spoofed) {
		t.Error("RBAC decisions")
	}
	// max_tokens 2, one token per hour: two pass, the third is limited.
	first, second, third := in.RateLimit.Allow(), in.RateLimit.Allow(), in.RateLimit.Allow()
	if !first || !second || third {
		t.Error("token bucket")
	}
}

func TestBuildErrorsNameTheField(t *testing.T) {
	base, err := LoadBootstrap("testdata/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw := func(mutate func(string) string) string {
		data := mutate(readFile(t, "testdata/bootstrap.yaml"))
		res, err := ParseBootstrap("case.yaml", []byte(data))
		if err != nil {
			return err.Error()
		}
		_, err = NewBuilder(upstream.NewManager(nil), stats.NewRegistry(), nil).Build(res)
		if err == nil {
			return ""
		}
		return err.Error()
	}
	_ = base
	cases := []struct {
		name, from, to, want string
	}{
		{"bad regex", `"/api/v[0-9]+/.*"`, `"/api/(v"`, "match.safe_regex"},
		{"zero weights", "weight: 90}", "weight: 0}", ""},
		{"all zero weights", "weight: 10}", "weight: 0}", ""},
		{"lb policy", "lb_policy: RING_HASH", "lb_policy: CLUSTER_PROVIDED", "lb_policy"},
		{"retry_on", `retry_on: "5xx,`, `retry_on: "sometimes,`, "retry_policy.retry_on"},
		{"abort status", "http_status: 503", "http_status: 99", "abort.http_status"},
		{"unknown field", "stat_prefix: rl", "stat_prefx: rl", "stat_prefx"},
	}
	for _, tc := range cases {
		got := raw(func(s string) string { return strings.Replace(s, tc.from, tc.to, 1) })
		if tc.name == "all zero weights" {
			got = raw(func(s string) string {
				return strings.Replace(strings.Replace(s, "weight: 10}", "weight: 0}", 1), "weight: 90}", "weight: 0}", 1)
			})
			tc.want = "weighted_clusters: weights must sum to a positive total"
		}
		if tc.want == "" {
			if got != "" {
				t.Errorf("%s: unexpected error %s", tc.name, got)
			}
			continue
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, got, tc.want)
		}
	}
}

func TestWarmingUntilEndpointsAndRoutesArrive(t *testing.T) {
	res, err := LoadBootstrap("testdata/bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res.Endpoints = nil
	res.Routes = res.Routes[:1]
	tbl, err := NewBuilder(upstream.NewManager(nil), stats.NewRegistry(), nil).Build(res)
	if err != nil {
		t.Fatal(err)
	}
	want := "outbound|9080|v2|reviews.default,route_configuration/inbound"
	if got := strings.Join(tbl.Warming, ","); got != want {
		t.Errorf("warming = %s, want %s", got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
