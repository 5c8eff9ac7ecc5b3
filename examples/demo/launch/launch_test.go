package launch_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/examples/demo/demoapp"
	"github.com/trellis-mesh/trellis/examples/demo/launch"
	"github.com/trellis-mesh/trellis/internal/cli"
	"github.com/trellis-mesh/trellis/proxy"
)

// proxyEnv makes the test binary act as `trellis proxy` when the launcher runs it as a sidecar.
const proxyEnv = "TRELLIS_LAUNCH_TEST_AS_TRELLIS"

func TestMain(m *testing.M) {
	if os.Getenv(proxyEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func call(t *testing.T, url string, hdr map[string]string) (int, demoapp.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r demoapp.Response
	_ = json.NewDecoder(res.Body).Decode(&r)
	return res.StatusCode, r
}

// TestDemoEndToEnd starts the demo design with real sidecars and checks the split, the header
// route, retries hiding ratings' injected errors, and the access rules.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four proxy subprocesses")
	}
	t.Setenv(proxyEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = os.Stderr
	}
	demo, err := launch.Start(context.Background(), launch.Options{
		Design:       "../design.yaml",
		ProxyCommand: []string{exe, "proxy"},
		ProxyOutput:  out,
		Logger:       slog.New(slog.NewTextHandler(out, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Stop()
	if len(demo.Instances) != 4 {
		t.Fatalf("instances = %d, want 4", len(demo.Instances))
	}
	entry := "http://" + demo.Entry().App + "/"

	const n = 400
	versions := map[string]int{}
	for i := 0; i < n; i++ {
		status, r := call(t, entry, nil)
		if status != 200 || len(r.Upstreams) != 1 || r.Upstreams[0].Body == nil {
			t.Fatalf("request %d: status %d, %+v", i, status, r)
		}
		versions[r.Upstreams[0].Body.Version]++
	}
	t.Logf("reviews versions over %d requests: %v", n, versions)
	// 90/10 split: v2 ~40 of 400; accept 3%..20%.
	if v2 := versions["v2"]; v2 < n*3/100 || v2 > n*20/100 || versions["v1"]+v2 != n {
		t.Errorf("split = %v, want about 90/10", versions)
	}
	for i := 0; i < 20; i++ {
		if _, r := call(t, entry, map[string]string{"end-user": "jason"}); r.Upstreams[0].Body.Version != "v2" {
			t.Fatalf("jason got %+v, want reviews v2", r.Upstreams[0])
		}
	}
	// ratings fails 20% of requests; its retries must hide them.
	var ratingsHandled int64
	for _, i := range demo.Instances {
		if i.Service == "ratings" {
			ratingsHandled += i.Requests()
		}
	}
	if ratingsHandled <= n+20 {
		t.Errorf("ratings handled %d requests for %d calls: no retry happened", ratingsHandled, n+20)
	}
	// Access rules: frontend may call reviews (GET only) but not ratings.
	fe := "http://" + demo.Entry().Outbound + "/"
	for _, c := range []struct {
		host, method string
		want         int
	}{{"ratings", http.MethodGet, 403}, {"reviews", http.MethodGet, 200}, {"reviews", http.MethodPost, 403}} {
		req, _ := http.NewRequest(c.method, fe, nil)
		req.Host = c.host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("frontend %s %s: status %d, want %d", c.method, c.host, res.StatusCode, c.want)
		}
	}
	// mTLS: frontend's inbound listener is permissive (the entry point docker-compose.yml
	// publishes), every other one strict: plaintext from outside the mesh is refused.
	for _, inst := range demo.Instances {
		req, _ := http.NewRequest(http.MethodGet, "http://"+inst.Inbound+"/", nil)
		req.Host = inst.Service
		res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if inst.Service == "frontend" {
			if err != nil {
				t.Errorf("plaintext to frontend's permissive inbound: %v", err)
				continue
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("plaintext to frontend's permissive inbound: status %d, want 200", res.StatusCode)
			}
			continue
		}
		if err == nil {
			res.Body.Close()
			t.Errorf("plaintext to %s's strict inbound answered %d; want the connection refused", inst.Name, res.StatusCode)
		}
	}
	demo.Stop()
	select {
	case <-demo.Done():
	default:
		t.Error("components still running after Stop")
	}
	if err := demo.Err(); err != nil {
		t.Errorf("component failures: %v", err)
	}
}

// TestDemoRequiresJoinToken checks that the demo never runs open enrollment: its sidecars
// enroll with the run's join token (generated, or Options.JoinToken) from the start and hold
// mesh certificates, while a proxy without the token gets no configuration.
func TestDemoRequiresJoinToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a proxy subprocess")
	}
	t.Setenv(proxyEnv, "1")
	t.Setenv("TRELLIS_JOIN_TOKEN", "") // the launcher must pass the token itself
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	design := filepath.Join(t.TempDir(), "one.yaml")
	if err := os.WriteFile(design, []byte(`apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: one, namespace: demo}
spec:
  services:
    - name: frontend
      ports: [{port: 8080}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, given := range []string{"", "a-join-token-given-by-the-embedder"} {
		demo, err := launch.Start(context.Background(), launch.Options{Design: design, ProxyCommand: []string{exe, "proxy"}, Logger: quiet, JoinToken: given})
		if err != nil {
			t.Fatal(err)
		}
		if demo.JoinToken == "" || (given != "" && demo.JoinToken != given) {
			t.Errorf("join token %q with Options.JoinToken %q: want the given one or a generated one", demo.JoinToken, given)
		}
		// The sidecar enrolled (with the token from its environment) and holds a certificate.
		res, err := http.Get("http://" + demo.Entry().Admin + "/config_dump")
		if err != nil {
			t.Fatal(err)
		}
		var dump struct {
			Identity struct {
				SpiffeID string `json:"spiffe_id"`
				Ready    bool   `json:"ready"`
			} `json:"identity"`
		}
		err = json.NewDecoder(res.Body).Decode(&dump)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := "spiffe://cluster.local/ns/demo/sa/frontend"; !dump.Identity.Ready || dump.Identity.SpiffeID != want {
			t.Errorf("sidecar identity %+v, want a certificate for %s", dump.Identity, want)
		}
		// A proxy without the token is refused.
		ctx, cancel := context.WithCancel(context.Background())
		p, err := proxy.Start(ctx, proxy.Config{XDS: demo.XDS, Service: "frontend", Namespace: "demo", Identity: "frontend",
			Inbound: "127.0.0.1:0", Outbound: "127.0.0.1:0", App: "127.0.0.1:1", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for p.XDSStats().LastError == "" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if p.Identity().Ready() || p.XDSStats().Acks != 0 || !strings.Contains(p.XDSStats().LastError, "join token") {
			t.Errorf("a proxy without the join token: identity ready %v, stats %+v; want it refused for the join token", p.Identity().Ready(), p.XDSStats())
		}
		cancel()
		_ = p.Wait()
		demo.Stop()
		if err := demo.Err(); err != nil {
			t.Errorf("component failures: %v", err)
		}
	}
}
