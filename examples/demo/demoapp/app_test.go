package demoapp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/trellis-mesh/trellis/examples/demo/demoapp"
)

func start(t *testing.T, cfg demoapp.Config) (string, *demoapp.App) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := demoapp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Serve(ctx, lis); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String(), a
}

func get(t *testing.T, url string, hdr map[string]string) (int, demoapp.Response) {
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
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, r
}

// TestChain runs frontend -> reviews with the "sidecar" being reviews itself (the outbound address
// points straight at it), checking the Host header, header propagation and the JSON answers.
func TestChain(t *testing.T) {
	reviews, _ := start(t, demoapp.Config{Service: "reviews", Version: "v2"})
	front, _ := start(t, demoapp.Config{Service: "frontend", Version: "v1", Upstreams: []string{"reviews"}, Outbound: reviews})
	status, r := get(t, "http://"+front+"/products/1", map[string]string{"end-user": "jason"})
	if status != 200 || r.Service != "frontend" || len(r.Upstreams) != 1 {
		t.Fatalf("status %d, response %+v", status, r)
	}
	up := r.Upstreams[0]
	if up.Status != 200 || up.Body == nil || up.Body.Service != "reviews" || up.Body.Version != "v2" || up.Body.Host != "reviews" || up.Body.Path != "/products/1" {
		t.Fatalf("upstream = %+v", up)
	}
}

func TestErrorsAndLatency(t *testing.T) {
	addr, a := start(t, demoapp.Config{Service: "ratings", ErrorRate: 1, Latency: 20 * time.Millisecond})
	begin := time.Now()
	status, r := get(t, "http://"+addr+"/", nil)
	if status != 500 || r.Error == "" || time.Since(begin) < 20*time.Millisecond {
		t.Fatalf("status %d, response %+v after %s", status, r, time.Since(begin))
	}
	if a.Requests() != 1 {
		t.Fatalf("requests = %d", a.Requests())
	}
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	front, _ := start(t, demoapp.Config{Service: "frontend", Upstreams: []string{"ratings"}, Outbound: addr})
	if status, r := get(t, "http://"+front+"/", nil); status != http.StatusBadGateway || r.Upstreams[0].Status != 500 {
		t.Fatalf("frontend over a failing upstream: %d %+v", status, r)
	}
}

func TestGRPCEchoAndHealth(t *testing.T) {
	addr, _ := start(t, demoapp.Config{Service: "echo", Version: "v3"})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := demoapp.Echo(ctx, conn, "hi")
	if err != nil || got != "echo/v3: hi" {
		t.Fatalf("Echo = %q, %v", got, err)
	}
	msgs, err := demoapp.EchoStream(ctx, conn, "hey")
	if err != nil || len(msgs) != demoapp.StreamCount || !strings.HasPrefix(msgs[4], "echo/v3 #5: hey") {
		t.Fatalf("EchoStream = %q, %v", msgs, err)
	}
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", h, err)
	}
}
