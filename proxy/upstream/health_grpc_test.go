package upstream

import (
	"context"
	"net"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestGRPCHealthCheck checks an endpoint with grpc.health.v1 against a real gRPC server: SERVING
// passes, NOT_SERVING fails, an unknown service fails.
func TestGRPCHealthCheck(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	hs.SetServingStatus("ratings", healthpb.HealthCheckResponse_SERVING)

	hc, err := parseHealthCheck(&corev3.HealthCheck{
		Interval: durationpb.New(time.Second), Timeout: durationpb.New(time.Second),
		UnhealthyThreshold: wrapperspb.UInt32(2), HealthyThreshold: wrapperspb.UInt32(1),
		HealthChecker: &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{ServiceName: "ratings"}},
	})
	if err != nil {
		t.Fatalf("a gRPC health check must be accepted: %v", err)
	}
	e := &Endpoint{Addr: lis.Addr().String()}
	ctx := context.Background()
	if !hc.check(ctx, nil, "http", nil, e) {
		t.Fatal("SERVING endpoint reported unhealthy")
	}
	hs.SetServingStatus("ratings", healthpb.HealthCheckResponse_NOT_SERVING)
	if hc.check(ctx, nil, "http", nil, e) {
		t.Fatal("NOT_SERVING endpoint reported healthy")
	}
	hc.service = "unknown"
	if hc.check(ctx, nil, "http", nil, e) {
		t.Fatal("unknown service reported healthy")
	}
	if hc.check(ctx, nil, "http", nil, &Endpoint{Addr: "127.0.0.1:1"}) {
		t.Fatal("closed port reported healthy")
	}
}
