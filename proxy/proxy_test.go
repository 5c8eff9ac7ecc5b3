package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
)

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// bootstrapFile writes a one-listener, one-cluster bootstrap to a temp file.
func bootstrapFile(t testing.TB, listenPort int, upstream string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(upstream)
	data := fmt.Sprintf(`{"static_resources": {
  "listeners": [{"name": "outbound", "address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "outbound",
      "route_config": {"name": "outbound", "virtual_hosts": [{"name": "app", "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app", "timeout": "5s"}}]}]},
      "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}],
  "clusters": [{"name": "app", "type": "STATIC", "connect_timeout": "1s",
    "load_assignment": {"cluster_name": "app", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": %q, "port_value": %s}}}}]}]}}]}}`,
		listenPort, host, port)
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startUpstream(t testing.TB, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBootstrapAdminAndDrain(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "hello")
	}))
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := Start(ctx, Config{Bootstrap: bootstrapFile(t, port, up), Admin: "127.0.0.1:0", DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Ready()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	admin := "http://" + p.AdminAddr()
	if code, body := get(t, base+"/x"); code != 200 || body != "hello" {
		t.Fatalf("proxied: %d %q", code, body)
	}
	if code, _ := get(t, admin+"/ready"); code != 200 {
		t.Fatalf("/ready = %d", code)
	}
	_, dump := get(t, admin+"/config_dump")
	var cd map[string]any
	if err := json.Unmarshal([]byte(dump), &cd); err != nil || cd["listeners"] == nil || cd["clusters"] == nil {
		t.Fatalf("/config_dump: %v %.200s", err, dump)
	}
	_, st := get(t, admin+"/stats")
	for _, want := range []string{
		`trellis_proxy_requests_total{listener="outbound",route="app/0",cluster="app",code="200"} 1`,
		`trellis_proxy_request_duration_seconds_count{listener="outbound",route="app/0",cluster="app"} 1`,
		`trellis_proxy_upstream_connections_active{cluster="app"}`,
		`trellis_proxy_outlier_ejections_total{cluster="app"} 0`,
		`trellis_proxy_rate_limited_total 0`,
		`trellis_proxy_upstream_retries_total{cluster="app"} 0`,
	} {
		if !strings.Contains(st, want) {
			t.Errorf("/stats lacks %s", want)
		}
	}

	// Graceful drain: an in-flight request finishes, new connections are refused.
	var wg sync.WaitGroup
	wg.Add(1)
	var slowCode int
	var slowBody string
	go func() {
		defer wg.Done()
		slowCode, slowBody = get(t, base+"/slow")
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
		c.Close()
		t.Error("listener still accepting during drain")
	}
	close(release)
	wg.Wait()
	if slowCode != 200 || slowBody != "hello" {
		t.Errorf("in-flight request during drain: %d %q", slowCode, slowBody)
	}
	if err := p.Wait(); err != nil {
		t.Errorf("drain: %v", err)
	}
}

// nodeRecorder captures the node of the first ADS request.
type nodeRecorder struct {
	serverv3.CallbackFuncs
}

func TestNodeIdentityFollowsContract(t *testing.T) {
	rec := &nodeRecorder{}
	got := make(chan *corev3.Node, 1)
	rec.StreamRequestFunc = func(_ int64, r *discoveryv3.DiscoveryRequest) error {
		if r.GetNode() != nil {
			select {
			case got <- r.GetNode():
			default:
			}
		}
		return nil
	}
	c := cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
	g := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, serverv3.NewServer(context.Background(), c, rec))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(l) }()
	defer g.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := Start(ctx, Config{XDS: l.Addr().String(), Service: "reviews", Namespace: "shop", Version: "v2", Identity: "reviews-sa",
		Instance: "abcd1234", Labels: map[string]string{"app": "reviews", "version": "v2"},
		Inbound: "127.0.0.1:15006", Outbound: "127.0.0.1:15001", App: "127.0.0.1:9080"})
	if err != nil {
		t.Fatal(err)
	}
	var n *corev3.Node
	select {
	case n = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no ADS request")
	}
	if n.GetId() != "reviews.shop~v2~abcd1234" || n.GetCluster() != "reviews.shop" {
		t.Errorf("node id %q cluster %q", n.GetId(), n.GetCluster())
	}
	md := n.GetMetadata().AsMap()
	want := map[string]any{
		"TRELLIS_SERVICE": "reviews", "TRELLIS_NAMESPACE": "shop", "TRELLIS_VERSION": "v2", "TRELLIS_IDENTITY": "reviews-sa",
		"TRELLIS_INBOUND_ADDR": "127.0.0.1:15006", "TRELLIS_OUTBOUND_ADDR": "127.0.0.1:15001", "TRELLIS_APP_ADDR": "127.0.0.1:9080",
		"TRELLIS_LABELS": `{"app":"reviews","version":"v2"}`,
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %v, want %v", k, md[k], v)
		}
	}
	if id := PeerIdentity(p.cfg); id != "spiffe://cluster.local/ns/shop/sa/reviews-sa" {
		t.Errorf("peer identity %q", id)
	}
	cancel()
	_ = p.Wait()
}

// BenchmarkHop compares one proxy hop with a direct request in the same run (HTTP/1.1 keep-alive,
// 20-byte body, 16 parallel clients); compare the ns/op of the two sub-benchmarks.
func BenchmarkHop(b *testing.B) {
	body := []byte("01234567890123456789")
	up := startUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	port := freePort(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := Start(ctx, Config{Bootstrap: bootstrapFile(b, port, up)})
	if err != nil {
		b.Fatal(err)
	}
	<-p.Ready()
	run := func(b *testing.B, url string) {
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		b.SetParallelism(8)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	b.Run("direct", func(b *testing.B) { run(b, "http://"+up+"/") })
	b.Run("proxy", func(b *testing.B) { run(b, fmt.Sprintf("http://127.0.0.1:%d/", port)) })
}
