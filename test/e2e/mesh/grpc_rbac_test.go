package mesh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/trellis-mesh/trellis/proxy"
)

// echoDesc is a hand-written bidirectional streaming service (no protoc): every StringValue
// received is sent back with a prefix.
var echoDesc = grpc.ServiceDesc{
	ServiceName: "trellis.test.Echo",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName: "Chat", ServerStreams: true, ClientStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			for {
				in := new(wrapperspb.StringValue)
				if err := stream.RecvMsg(in); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
				if err := stream.SendMsg(wrapperspb.String("echo:" + in.GetValue())); err != nil {
					return err
				}
			}
		},
	}},
}

func TestGRPCUnaryAndStreamingThroughProxy(t *testing.T) {
	x := startXDS(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("greeter", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	var impl any = struct{}{}
	g.RegisterService(&echoDesc, impl)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)

	const cl = "outbound|9090||greeter.default"
	out := freeAddr(t)
	x.set(t, nodeID("client"), outboundSnapshot(out,
		[]*routev3.VirtualHost{vhost("greeter.default", []string{"greeter", "greeter:9090"}, prefixRoute("/", toCluster(cl)))},
		[]*clusterv3.Cluster{edsCluster(cl, true)}, map[string][]string{cl: {lis.Addr().String()}}))
	p := startProxy(t, x, "client", "client")

	conn, err := grpc.NewClient(p.ListenerAddr("outbound"), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("greeter:9090"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Unary.
	hc := healthpb.NewHealthClient(conn)
	for i := 0; i < 50; i++ {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "greeter"})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("unary Check #%d: %v %v", i, resp, err)
		}
	}
	// gRPC status from the upstream (trailers) passes through.
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"}); err == nil || !contains(err.Error(), "NotFound") {
		t.Fatalf("unknown service: got %v, want NotFound", err)
	}

	// Server streaming: Watch sees the status change pushed by the server.
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "greeter"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch first: %v %v", m, err)
	}
	hs.SetServingStatus("greeter", healthpb.HealthCheckResponse_NOT_SERVING)
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch second: %v %v", m, err)
	}

	// Bidirectional streaming: interleaved sends and receives on one stream.
	s, err := conn.NewStream(ctx, &echoDesc.Streams[0], "/trellis.test.Echo/Chat")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := s.SendMsg(wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		got := new(wrapperspb.StringValue)
		if err := s.RecvMsg(got); err != nil || got.GetValue() != fmt.Sprintf("echo:%d", i) {
			t.Fatalf("recv %d: %q %v", i, got.GetValue(), err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end: got %v, want EOF", err)
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestRBACNeverTrustsIdentityHeaderWithoutMTLS runs three proxies without mTLS (this harness
// issues no certificates): two callers (productpage, ratings) and the reviews sidecar whose
// inbound RBAC only admits productpage's identity, written as a header rule on
// x-trellis-peer-identity. The header is never trusted: plaintext callers are anonymous, so both
// are denied, whatever the header they send, and the app never sees a forged identity.
// test/e2e/mesh/withcp/mtls_test.go covers the allowed path with real mTLS.
func TestRBACNeverTrustsIdentityHeaderWithoutMTLS(t *testing.T) {
	x := startXDS(t)
	var seenIdentity atomic.Value
	app := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenIdentity.Store(r.Header.Get("x-trellis-peer-identity"))
		_, _ = io.WriteString(w, "reviews")
	}))
	in := freeAddr(t)
	allowed := proxy.PeerIdentity(proxy.Config{Identity: "productpage", Namespace: "default"})
	rules := &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{
		"productpage": {
			Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
			Principals: []*rbacv3.Principal{{Identifier: &rbacv3.Principal_Header{Header: &routev3.HeaderMatcher{
				Name: "x-trellis-peer-identity", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
					StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: allowed}}}}}}},
		},
	}}
	const appCluster = "inbound|reviews.default"
	x.set(t, nodeID("reviews"), snapshot{
		listeners: []types.Resource{listener("inbound", in, rbacFilter(rules))},
		routes:    []types.Resource{routeConfig("inbound", vhost("inbound", []string{"*"}, prefixRoute("/", toCluster(appCluster))))},
		clusters:  []types.Resource{edsCluster(appCluster, false)},
		endpoints: []types.Resource{cla(appCluster, app.addr)},
	})
	const reviews = "outbound|9080||reviews.default"
	for _, caller := range []string{"productpage", "ratings"} {
		x.set(t, nodeID(caller), outboundSnapshot(freeAddr(t),
			[]*routev3.VirtualHost{vhost("reviews.default", []string{"reviews", "reviews:9080"}, prefixRoute("/", toCluster(reviews)))},
			[]*clusterv3.Cluster{edsCluster(reviews, false)}, map[string][]string{reviews: {in}}))
	}
	startProxy(t, x, "reviews", "reviews")
	pp := startProxy(t, x, "productpage", "productpage")
	rt := startProxy(t, x, "ratings", "ratings")

	spoof := map[string]string{"x-trellis-peer-identity": allowed}
	for name, p := range map[string]*proxy.Proxy{"ratings": rt, "productpage": pp} {
		if r := newClient(p.ListenerAddr("outbound")).do("reviews:9080", "/", spoof); r.status != http.StatusForbidden {
			t.Fatalf("%s -> reviews with a spoofed identity header, no mTLS: got %d %q, want 403", name, r.status, r.body)
		}
	}
	// Straight to the inbound listener with the forged header: denied too.
	if r := newClient(in).do("reviews:9080", "/", spoof); r.status != http.StatusForbidden {
		t.Fatalf("direct plaintext call with a spoofed identity header: got %d %q, want 403", r.status, r.body)
	}
	// With an RBAC rule that lets anyone in, the app sees no forged identity.
	anyone := &rbacv3.RBAC{Action: rbacv3.RBAC_ALLOW, Policies: map[string]*rbacv3.Policy{"any": {
		Permissions: []*rbacv3.Permission{{Rule: &rbacv3.Permission_Any{Any: true}}},
		Principals:  []*rbacv3.Principal{{Identifier: &rbacv3.Principal_Any{Any: true}}},
	}}}
	x.set(t, nodeID("reviews"), snapshot{
		listeners: []types.Resource{listener("inbound", in, rbacFilter(anyone))},
		routes:    []types.Resource{routeConfig("inbound", vhost("inbound", []string{"*"}, prefixRoute("/", toCluster(appCluster))))},
		clusters:  []types.Resource{edsCluster(appCluster, false)},
		endpoints: []types.Resource{cla(appCluster, app.addr)},
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := newClient(pp.ListenerAddr("outbound")).do("reviews:9080", "/", spoof)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("allow-any rule not applied: last %d %q", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := seenIdentity.Load().(string); got != "" {
		t.Fatalf("app saw identity header %q from a plaintext caller, want none", got)
	}
}
