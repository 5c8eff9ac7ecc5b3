package launch_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/trellis-mesh/trellis/examples/demo/demoapp"
	"github.com/trellis-mesh/trellis/examples/demo/launch"
	"github.com/trellis-mesh/trellis/internal/cli"
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
