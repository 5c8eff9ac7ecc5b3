package consul_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/consul"
	"github.com/trellis-mesh/trellis/internal/kubetest"
	"github.com/trellis-mesh/trellis/spec"
)

// consulAgent is a real `consul agent -dev` started for a test.
type consulAgent struct {
	base string
	http *http.Client
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startConsul starts the agent binary named by CONSUL_BIN (built by hack/consul/build.sh) on free
// loopback ports and waits for it to elect itself leader. It is killed when the test ends.
func startConsul(t *testing.T) *consulAgent {
	t.Helper()
	bin := os.Getenv("CONSUL_BIN")
	if bin == "" {
		kubetest.SkipOrFail(t, "CONSUL_BIN is not set (build the agent with hack/consul/build.sh)")
		return nil
	}
	httpPort := freePort(t)
	args := []string{
		"agent", "-dev", "-bind=127.0.0.1", "-client=127.0.0.1",
		"-http-port=" + strconv.Itoa(httpPort), "-https-port=-1",
		"-grpc-port=-1", "-grpc-tls-port=-1", "-dns-port=-1",
		"-serf-lan-port=" + strconv.Itoa(freePort(t)),
		"-serf-wan-port=" + strconv.Itoa(freePort(t)),
		"-server-port=" + strconv.Itoa(freePort(t)),
		"-data-dir=" + t.TempDir(),
		"-log-level=warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	var logs bytes.Buffer
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("consul agent output:\n%s", logs.String())
		}
	})
	a := &consulAgent{base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), http: &http.Client{Timeout: 10 * time.Second}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, err := a.do("GET", "/v1/status/leader", nil)
		if err == nil && status == 200 && strings.Trim(strings.TrimSpace(string(body)), `"`) != "" {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("consul agent did not elect a leader within 30s (last: %d %s %v)\n%s", status, body, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (a *consulAgent) do(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// write PUTs one config entry and returns Consul's error message ("" when accepted).
func (a *consulAgent) write(t *testing.T, e map[string]any) string {
	t.Helper()
	status, body, err := a.do("PUT", "/v1/config", e)
	if err != nil {
		t.Fatalf("PUT /v1/config: %v", err)
	}
	if status != 200 {
		return strings.TrimSpace(string(body))
	}
	if strings.TrimSpace(string(body)) != "true" {
		return "not written: " + string(body)
	}
	return ""
}

func (a *consulAgent) remove(t *testing.T, e map[string]any) {
	t.Helper()
	kind, _ := e["Kind"].(string)
	name, _ := e["Name"].(string)
	if kind == "mesh" {
		name = "mesh"
	}
	status, body, err := a.do("DELETE", "/v1/config/"+kind+"/"+name, nil)
	if err != nil || status != 200 {
		t.Fatalf("DELETE %s/%s: %d %s %v", kind, name, status, body, err)
	}
}

// chain is the part of GET /v1/discovery-chain/<service> the tests look at.
type chain struct {
	Protocol  string
	StartNode string
	Nodes     map[string]struct {
		Type   string
		Routes []struct {
			Definition struct {
				Match *struct {
					HTTP *struct {
						PathPrefix string
						Header     []struct {
							Name    string
							Exact   string
							Present bool
						}
					}
				}
				Destination *struct {
					NumRetries     int
					RequestTimeout string
				}
			}
			NextNode string
		}
		Splits []struct {
			Weight   float64
			NextNode string
		}
		Resolver *struct{ Target string }
	}
	Targets map[string]struct {
		Service       string
		ServiceSubset string
		Subset        struct{ Filter string }
	}
}

func (a *consulAgent) chain(t *testing.T, service string) chain {
	t.Helper()
	status, body, err := a.do("GET", "/v1/discovery-chain/"+service, nil)
	if err != nil || status != 200 {
		t.Fatalf("GET /v1/discovery-chain/%s: %d %s %v", service, status, body, err)
	}
	var out struct{ Chain chain }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decoding chain: %v", err)
	}
	return out.Chain
}

// targetsOf follows a node down to its resolver targets: "service/subset" -> percent of traffic.
func (c chain) targetsOf(t *testing.T, node string, share float64, out map[string]float64) {
	n, ok := c.Nodes[node]
	if !ok {
		t.Fatalf("chain has no node %q", node)
	}
	switch n.Type {
	case "splitter":
		for _, s := range n.Splits {
			c.targetsOf(t, s.NextNode, share*s.Weight/100, out)
		}
	case "resolver":
		tg := c.Targets[n.Resolver.Target]
		out[tg.Service+"/"+tg.ServiceSubset] += share
	default:
		t.Fatalf("node %q has type %q, expected splitter or resolver", node, n.Type)
	}
}

func (c chain) resolve(t *testing.T, node string) map[string]float64 {
	out := map[string]float64{}
	c.targetsOf(t, node, 100, out)
	for k, v := range out {
		out[k] = float64(int(v*100+0.5)) / 100
	}
	return out
}

func assertShares(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: targets %v, want %v", what, got, want)
	}
}

// TestConsulAgentAcceptsGoldenConfigEntries writes every config-entry golden into a real Consul
// agent (v1.16.1, from CONSUL_BIN), asserts the discovery chains Consul compiles for the split,
// header-route and subset cases, and asserts that broken entries are rejected with Consul's own
// messages.
func TestConsulAgentAcceptsGoldenConfigEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	golden := goldenObjects(t, configEntryGoldenDirs(t))
	if len(golden) == 0 {
		t.Fatal("no config-entry goldens")
	}
	names := make([]string, 0, len(golden))
	for n := range golden {
		names = append(names, n)
	}
	sort.Strings(names)
	written := 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			entries, err := consul.ConfigEntries(&adapters.Output{Objects: golden[name]})
			if err != nil {
				t.Fatal(err)
			}
			var done []map[string]any
			for _, e := range entries {
				if _, ok := e["RateLimits"]; ok {
					// rateLimits arrived with Consul Enterprise 1.17; the v1.16.1 test agent
					// rejects the key (the translation warns). Check that, then write the rest.
					msg := a.write(t, e)
					if !strings.Contains(msg, `invalid config key "RateLimits"`) {
						t.Errorf("%s %s with RateLimits: got %q, want Consul 1.16's invalid config key error", e["Kind"], e["Name"], msg)
					}
					delete(e, "RateLimits")
				}
				if msg := a.write(t, e); msg != "" {
					t.Errorf("consul rejected %s %v: %s", e["Kind"], e["Name"], msg)
					continue
				}
				done = append(done, e)
				written++
			}
			if !t.Failed() {
				checkChains(t, a, name)
			}
			for i := len(done) - 1; i >= 0; i-- {
				a.remove(t, done[i])
			}
		})
	}
	t.Logf("consul accepted %d config entries from %d goldens", written, len(names))
}

func checkChains(t *testing.T, a *consulAgent, name string) {
	switch name {
	case "split":
		c := a.chain(t, "reviews")
		if c.Protocol != "http" {
			t.Errorf("protocol %q, want http", c.Protocol)
		}
		assertShares(t, "split reviews", c.resolve(t, c.StartNode), map[string]float64{"reviews/v1": 90, "reviews/v2": 10})
		for _, tg := range c.Targets {
			if want := `Service.Meta.version == "` + tg.ServiceSubset + `"`; tg.Subset.Filter != want {
				t.Errorf("target %s/%s filter %q, want %q", tg.Service, tg.ServiceSubset, tg.Subset.Filter, want)
			}
		}
	case "header-match":
		c := a.chain(t, "reviews")
		start := c.Nodes[c.StartNode]
		if start.Type != "router" || len(start.Routes) != 3 {
			t.Fatalf("start node %s type %s with %d routes, want a router with 2 header routes and the default", c.StartNode, start.Type, len(start.Routes))
		}
		h0 := start.Routes[0].Definition.Match.HTTP.Header
		if len(h0) != 1 || h0[0].Name != "end-user" || h0[0].Exact != "jason" {
			t.Errorf("route 0 header match %+v, want end-user exact jason", h0)
		}
		h1 := start.Routes[1].Definition.Match.HTTP.Header
		if len(h1) != 1 || h1[0].Name != "x-canary" || !h1[0].Present {
			t.Errorf("route 1 header match %+v, want x-canary present", h1)
		}
		assertShares(t, "route jason", c.resolve(t, start.Routes[0].NextNode), map[string]float64{"reviews/v2": 100})
		assertShares(t, "route x-canary", c.resolve(t, start.Routes[1].NextNode), map[string]float64{"reviews/v2": 100})
		assertShares(t, "default route", c.resolve(t, start.Routes[2].NextNode), map[string]float64{"reviews/v1": 100})
	case "bookinfo-canary":
		c := a.chain(t, "reviews")
		start := c.Nodes[c.StartNode]
		if start.Type != "router" || len(start.Routes) != 3 {
			t.Fatalf("start node type %s with %d routes, want a router with 3 routes", start.Type, len(start.Routes))
		}
		assertShares(t, "route jason", c.resolve(t, start.Routes[0].NextNode), map[string]float64{"reviews/v2": 100})
		if d := start.Routes[1].Definition.Destination; d == nil || d.NumRetries != 3 || d.RequestTimeout != "2s" {
			t.Errorf("default route destination %+v, want 3 retries and a 2s timeout", d)
		}
		assertShares(t, "route default", c.resolve(t, start.Routes[1].NextNode), map[string]float64{"reviews/v1": 90, "reviews/v2": 10})
		r := a.chain(t, "ratings")
		if r.Nodes[r.StartNode].Type != "resolver" {
			t.Errorf("ratings starts at a %s, want its resolver (default subset and request timeout, no router)", r.Nodes[r.StartNode].Type)
		}
		assertShares(t, "ratings", r.resolve(t, r.StartNode), map[string]float64{"ratings/v1": 100})
	case "route-split":
		c := a.chain(t, "api")
		start := c.Nodes[c.StartNode]
		if start.Type != "router" || len(start.Routes) != 4 {
			t.Fatalf("start node type %s with %d routes, want a router with beta, two mobile routes and the default", start.Type, len(start.Routes))
		}
		assertShares(t, "route beta (virtual service api-beta)", c.resolve(t, start.Routes[0].NextNode), map[string]float64{"api/v2": 33.33, "api/v3": 66.67})
		assertShares(t, "route mobile (path)", c.resolve(t, start.Routes[1].NextNode), map[string]float64{"api/all": 100})
		assertShares(t, "route mobile (query)", c.resolve(t, start.Routes[2].NextNode), map[string]float64{"api/all": 100})
		assertShares(t, "default route", c.resolve(t, start.Routes[3].NextNode), map[string]float64{"api/v1": 80, "api/v2": 20})
		for _, tg := range c.Targets {
			if tg.ServiceSubset == "all" && tg.Subset.Filter != "" {
				t.Errorf("subset all has filter %q, want none", tg.Subset.Filter)
			}
			if tg.ServiceSubset == "v3" && tg.Subset.Filter != `Service.Meta["app.kubernetes.io/track"] == "canary" and Service.Meta.version == "v3"` {
				t.Errorf("subset v3 filter %q", tg.Subset.Filter)
			}
		}
	case "equal-split":
		c := a.chain(t, "search")
		assertShares(t, "equal split", c.resolve(t, c.StartNode), map[string]float64{"search/a": 34, "search/b": 33, "search/c": 33})
	case "tcp-service":
		c := a.chain(t, "postgres")
		if c.Protocol != "tcp" {
			t.Errorf("protocol %q, want tcp", c.Protocol)
		}
		assertShares(t, "postgres", c.resolve(t, c.StartNode), map[string]float64{"postgres/primary": 100})
	}
}

// TestConsulAgentRejectsBrokenEntries checks that the rules the translation relies on are
// Consul's own: broken entries are refused with Consul's messages.
func TestConsulAgentRejectsBrokenEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	a := startConsul(t)
	for _, e := range []map[string]any{
		{"Kind": "service-defaults", "Name": "web", "Protocol": "http"},
		{"Kind": "service-defaults", "Name": "db", "Protocol": "tcp"},
		{"Kind": "service-resolver", "Name": "web", "Subsets": map[string]any{
			"v1": map[string]any{"Filter": `Service.Meta.version == "v1"`},
			"v2": map[string]any{"Filter": `Service.Meta.version == "v2"`},
		}},
	} {
		if msg := a.write(t, e); msg != "" {
			t.Fatalf("setup entry %v rejected: %s", e, msg)
		}
	}
	cases := []struct {
		name  string
		entry map[string]any
		want  string
	}{
		{"weights sum to 99", map[string]any{"Kind": "service-splitter", "Name": "web", "Splits": []any{
			map[string]any{"ServiceSubset": "v1", "Weight": 90},
			map[string]any{"ServiceSubset": "v2", "Weight": 9},
		}}, "the sum of all split weights must be 100, not 99.000000"},
		{"path prefix without slash", map[string]any{"Kind": "service-router", "Name": "web", "Routes": []any{
			map[string]any{"Match": map[string]any{"HTTP": map[string]any{"PathPrefix": "api"}}},
		}}, `Route[0] PathPrefix doesn't start with '/': "api"`},
		{"splitter on a tcp service", map[string]any{"Kind": "service-splitter", "Name": "db", "Splits": []any{
			map[string]any{"Weight": 100},
		}}, `does not permit advanced routing or splitting behavior`},
		{"wasm extension with a bad protocol", map[string]any{"Kind": "service-defaults", "Name": "web", "Protocol": "http",
			"EnvoyExtensions": []any{map[string]any{"Name": "builtin/wasm", "Arguments": map[string]any{
				"Protocol": "udp", "ListenerType": "inbound", "ProxyType": "connect-proxy",
				"PluginConfig": map[string]any{"VmConfig": map[string]any{"Runtime": "v8", "Code": map[string]any{"Local": map[string]any{"Filename": "/x.wasm"}}}},
			}}}}, `unsupported Protocol "udp"`},
		{"inline JWKS that is not base64", map[string]any{"Kind": "jwt-provider", "Name": "corp",
			"JSONWebKeySet": map[string]any{"Local": map[string]any{"JWKS": `{"keys":[]}`}}}, "JWKS must be valid base64 encoded string"},
		{"unknown subset", map[string]any{"Kind": "service-resolver", "Name": "web", "DefaultSubset": "v3",
			"Subsets": map[string]any{"v1": map[string]any{"Filter": `Service.Meta.version == "v1"`}}}, `DefaultSubset "v3" is not a valid subset`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := a.write(t, c.entry)
			if msg == "" {
				t.Fatalf("consul accepted the broken entry %v", c.entry)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("consul said %q, want it to contain %q", msg, c.want)
			}
		})
	}
	// The translation's 0.01-precision rounding is what Consul accepts.
	ok := map[string]any{"Kind": "service-splitter", "Name": "web", "Splits": []any{
		map[string]any{"ServiceSubset": "v1", "Weight": 33.34},
		map[string]any{"ServiceSubset": "v2", "Weight": 66.66},
	}}
	if msg := a.write(t, ok); msg != "" {
		t.Errorf("consul rejected weights 33.34/66.66: %s", msg)
	}
}

// TestConsulAgentRedirectsTCP: a tcp service whose traffic goes to another service becomes a
// service-resolver redirect (a router needs L7), and the real agent's discovery chain for the
// service ends at the other service.
func TestConsulAgentRedirectsTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	ds, err := spec.LoadBytes("redirect.yaml", []byte(`
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: redirect, namespace: data}
spec:
  services:
    - {name: db, protocol: tcp, ports: [{port: 5432}]}
    - {name: db-replica, protocol: tcp, ports: [{port: 5432}]}
  traffic:
    - service: db
      routes: [{name: to-replica, backends: [{service: db-replica}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	out, ws, err := consul.New().Translate(context.Background(), ds[0], adapters.Options{ConsulFormat: consul.FormatConfigEntry})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Severity != adapters.SeverityInfo {
			t.Errorf("unexpected warning: %s", w)
		}
	}
	entries, err := consul.ConfigEntries(out)
	if err != nil {
		t.Fatal(err)
	}
	a := startConsul(t)
	for _, e := range entries {
		if msg := a.write(t, e); msg != "" {
			t.Fatalf("consul rejected %s %v: %s", e["Kind"], e["Name"], msg)
		}
	}
	c := a.chain(t, "db")
	if c.Protocol != "tcp" {
		t.Errorf("protocol %q, want tcp", c.Protocol)
	}
	assertShares(t, "db", c.resolve(t, c.StartNode), map[string]float64{"db-replica/": 100})
}
