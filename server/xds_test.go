package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"google.golang.org/grpc/metadata"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server"
)

// serveEnv runs a server with Serve on real listeners (HTTP and xDS on 127.0.0.1:0).
func serveEnv(t *testing.T, b backend, cfg server.Config) *env {
	t.Helper()
	var out bytes.Buffer
	cfg.Home = t.TempDir()
	cfg.Database = b.database(t)
	cfg.AdminTokenOut = &out
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		_ = srv.Close()
	})
	e := &env{srv: srv, url: "http://" + ln.Addr().String(), home: cfg.Home, database: cfg.Database}
	if b, err := os.ReadFile(cfg.Home + "/" + server.AdminTokenFile); err == nil {
		e.admin = strings.TrimSpace(string(b))
	}
	return e
}

// adsRoutes is a minimal ADS client (a proxy of one service) that ACKs every response and keeps
// the latest outbound RouteConfiguration with its version.
type adsRoutes struct {
	mu       sync.Mutex
	version  string
	outbound *routev3.RouteConfiguration
	pushes   int
}

func connectADS(t *testing.T, addr, home, svc string) *adsRoutes {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	// The embedded control plane only serves proxies presenting the join token of the home.
	token, err := os.ReadFile(filepath.Join(home, server.MeshCADir, "join-token"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+strings.TrimSpace(string(token)))
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := json.Marshal(map[string]string{"app": svc, "version": "v1"})
	md, _ := structpb.NewStruct(map[string]any{
		"TRELLIS_SERVICE": svc, "TRELLIS_NAMESPACE": "shop", "TRELLIS_VERSION": "v1", "TRELLIS_IDENTITY": svc,
		"TRELLIS_INBOUND_ADDR": "127.0.0.1:20001", "TRELLIS_OUTBOUND_ADDR": "127.0.0.1:15001", "TRELLIS_APP_ADDR": "127.0.0.1:9080",
		"TRELLIS_LABELS": string(labels),
	})
	node := &corev3.Node{Id: svc + ".shop~v1~test", Cluster: svc + ".shop", Metadata: md}
	var sendMu sync.Mutex
	send := func(r *discoveryv3.DiscoveryRequest) {
		sendMu.Lock()
		defer sendMu.Unlock()
		_ = stream.Send(r)
	}
	routes := []string{"outbound", "inbound"}
	send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ClusterType})
	send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.RouteType, ResourceNames: routes})
	c := &adsRoutes{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			var names []string
			if resp.TypeUrl == resourcev3.RouteType {
				names = routes
				for _, a := range resp.Resources {
					rc := &routev3.RouteConfiguration{}
					if a.UnmarshalTo(rc) == nil && rc.Name == "outbound" {
						c.mu.Lock()
						c.version, c.outbound = resp.VersionInfo, rc
						c.pushes++
						c.mu.Unlock()
					}
				}
			}
			send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce, ResourceNames: names})
		}
	}()
	t.Cleanup(func() { cancel(); _ = conn.Close(); <-done })
	return c
}

// weights returns the version and every "cluster=weight" of the outbound routes' weighted clusters.
func (c *adsRoutes) weights() (string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, vh := range c.outbound.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			for _, wc := range r.GetRoute().GetWeightedClusters().GetClusters() {
				out = append(out, wc.GetName()+"="+itoa(int(wc.GetWeight().GetValue())))
			}
		}
	}
	return c.version, out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func hasWeight(ws []string, version string, w int) bool {
	for _, s := range ws {
		if strings.Contains(s, "|"+version+"|") && strings.HasSuffix(s, "="+itoa(w)) {
			return true
		}
	}
	return false
}

func TestEmbeddedXDSFollowsSavedRevisions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := serveEnv(t, b, server.Config{XDSAddr: "127.0.0.1:0"})
		editor := e.token(t, "bob", models.RoleEditor)
		e.save(t, editor, "shop", 70, 0)
		waitFor(t, "the xDS listener", func() bool { return e.srv.XDSAddr() != "" })

		proxy := connectADS(t, e.srv.XDSAddr(), e.home, "web")
		var first string
		waitFor(t, "the outbound route with weights 70/30", func() bool {
			v, ws := proxy.weights()
			first = v
			return hasWeight(ws, "v1", 70) && hasWeight(ws, "v2", 30)
		})

		// A new revision through GraphQL pushes a new snapshot version with the new weights.
		e.save(t, editor, "shop", 20, 1)
		waitFor(t, "a new snapshot with weights 20/80", func() bool {
			v, ws := proxy.weights()
			return v != first && hasWeight(ws, "v1", 20) && hasWeight(ws, "v2", 80)
		})
		if v, _ := proxy.weights(); v != e.srv.XDS().SnapshotVersion("web.shop~v1~test") {
			t.Fatalf("client version %q, control plane version %q", v, e.srv.XDS().SnapshotVersion("web.shop~v1~test"))
		}

		// Deleting the design withdraws its routes.
		e.must(t, editor, `mutation { deleteDesign(name: "shop") { deleted } }`, nil, nil)
		waitFor(t, "the routes to disappear", func() bool {
			_, ws := proxy.weights()
			return len(ws) == 0
		})
		if n := len(e.srv.XDS().Designs()); n != 0 {
			t.Fatalf("designs served after delete = %d", n)
		}
	})
}

func TestExampleDirsAreAllLoaded(t *testing.T) {
	a, b2 := t.TempDir(), t.TempDir()
	if err := os.WriteFile(a+"/one.yaml", []byte(designYAML("one", 50)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b2+"/two.yaml", []byte(designYAML("two", 50)+"---\n"+designYAML("one", 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	e := serveEnv(t, backends(t)[0], server.Config{LoadExamples: a, ExampleDirs: []string{b2}, XDSAddr: "127.0.0.1:0"})
	var got struct {
		Designs struct {
			TotalCount int
			Edges      []struct{ Node struct{ Name string } }
		}
	}
	e.must(t, e.admin, `{ designs { totalCount edges { node { name } } } }`, nil, &got)
	if got.Designs.TotalCount != 2 {
		t.Fatalf("designs = %+v", got)
	}
	waitFor(t, "both examples served over xDS", func() bool { return len(e.srv.XDS().Designs()) == 2 })
}
