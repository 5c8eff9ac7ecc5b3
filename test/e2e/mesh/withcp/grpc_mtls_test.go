package withcp_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/spec"
)

const grpcDesign = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: grpc, namespace: mesh}
spec:
  services:
    - name: greeter
      protocol: grpc
      ports: [{port: 9090}]
      healthCheck: {protocol: grpc, interval: 200ms, timeout: 200ms, unhealthyThreshold: 2, healthyThreshold: 1}
    - {name: client, ports: [{port: 8080}]}
  security:
    defaultPolicy: deny
    access:
      - {name: client-to-greeter, destination: greeter, sources: [client]}
`

// TestGRPCAndHealthChecksOverMTLS: gRPC (h2 over mTLS with ALPN) from a client sidecar to the
// greeter sidecar, and the client sidecar's active gRPC health checks of greeter over mTLS keep
// the endpoint healthy (a failing check would eject it and fail the calls).
func TestGRPCAndHealthChecksOverMTLS(t *testing.T) {
	designs, err := spec.LoadBytes("grpc.yaml", []byte(grpcDesign))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := meshca.NewToken()
	cp := controlplane.New(controlplane.Options{JoinToken: tok, Logger: quiet()})
	if _, err := cp.SetDesigns(context.Background(), designs); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = cp.Serve(ctx, lis) }()

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("greeter", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	go func() { _ = g.Serve(gl) }()
	t.Cleanup(g.Stop)

	env := &meshEnv{cp: cp, xds: lis.Addr().String(), token: tok}
	greeter := env.sidecar(t, "greeter", "", gl.Addr().String(), tok)
	client := env.sidecar(t, "client", "", "127.0.0.1:1", tok)

	conn, err := grpc.NewClient(client.ListenerAddr("outbound"), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("greeter.mesh:9090"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(5 * time.Second)
	for {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: "greeter"})
		ccancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC through the mesh over mTLS: %v %v", resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Several health-check intervals: the endpoint must stay healthy and calls keep succeeding.
	time.Sleep(time.Second)
	for i := 0; i < 20; i++ {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		_, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: "greeter"})
		ccancel()
		if err != nil {
			t.Fatalf("call %d after health checks ran: %v", i, err)
		}
	}
	if n := statValue(t, greeter.AdminAddr(), "trellis_proxy_downstream_tls_handshakes_total"); n < 2 {
		t.Fatalf("greeter sidecar saw %v mTLS handshakes, want the calls' and the health checks' (>= 2)", n)
	}
	if got := statValue(t, greeter.AdminAddr(), "trellis_proxy_downstream_tls_failures_total"); got != 0 {
		t.Fatalf("greeter sidecar: %v failed handshakes", got)
	}
}
