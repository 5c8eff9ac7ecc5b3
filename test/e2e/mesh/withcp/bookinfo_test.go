// Package withcp_test runs `trellis proxy` sidecars against the real in-process Trellis control
// plane (controlplane.New + Serve) serving a spec design, with real traffic on 127.0.0.1.
package withcp_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/proxy"
	"github.com/trellis-mesh/trellis/spec"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	// Ports below the ephemeral range, so client connections of other tests cannot take them
	// between this check and the proxy binding them.
	for i := 0; i < 1000; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port")
	return ""
}

func app(t *testing.T, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

type sidecar struct {
	p        *proxy.Proxy
	outbound string
}

func start(t *testing.T, xds, service, version, identity, appAddr string) sidecar {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	labels := map[string]string{"app": service}
	if version != "" {
		labels["version"] = version
	}
	cfg := proxy.Config{XDS: xds, Service: service, Namespace: "bookinfo", Version: version, Identity: identity,
		Labels: labels, Inbound: freeAddr(t), Outbound: freeAddr(t), App: appAddr, DrainTimeout: time.Second}
	p, err := proxy.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = p.Wait() })
	select {
	case <-p.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s/%s sidecar not ready", service, version)
	}
	return sidecar{p: p, outbound: cfg.Outbound}
}

func call(c *http.Client, outbound, host, path string, hdr map[string]string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+outbound+path, nil)
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBookinfoThroughControlPlane(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "spec", "testdata", "cases", "bookinfo-canary.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared design not found: %v", err)
	}
	designs, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Default deny, so the design's access rules are enforced (with the default allow policy the
	// control plane treats allow rules as informational).
	designs[0].Spec.Security.DefaultPolicy = spec.ActionDeny
	cp := controlplane.New(controlplane.Options{})
	if _, err := cp.SetDesigns(context.Background(), designs); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = cp.Serve(ctx, lis) }()
	t.Cleanup(cancel)
	xds := lis.Addr().String()

	start(t, xds, "reviews", "v1", "bookinfo-reviews", app(t, "reviews-v1"))
	start(t, xds, "reviews", "v2", "bookinfo-reviews", app(t, "reviews-v2"))
	pp := start(t, xds, "productpage", "v1", "bookinfo-productpage", app(t, "productpage"))
	ratings := start(t, xds, "ratings", "v1", "bookinfo-ratings", app(t, "ratings"))

	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	// Wait until productpage's proxy has both reviews endpoints.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code1, body1 := call(c, pp.outbound, "reviews:9080", "/reviews/1", nil)
		code2, body2 := call(c, pp.outbound, "reviews:9080", "/reviews/1", map[string]string{"end-user": "jason"})
		if code1 == 200 && code2 == 200 && body2 == "reviews-v2" {
			_ = body1
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mesh not converged: %d %q / %d %q", code1, body1, code2, body2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Header match: jason always reaches v2.
	for i := 0; i < 50; i++ {
		if code, body := call(c, pp.outbound, "reviews", "/reviews/1", map[string]string{"end-user": "jason"}); code != 200 || body != "reviews-v2" {
			t.Fatalf("jason: %d %q", code, body)
		}
	}
	// 90/10 split over 2,000 requests through two proxies each.
	v2 := 0
	for i := 0; i < 2000; i++ {
		code, body := call(c, pp.outbound, "reviews.bookinfo:9080", "/reviews/1", nil)
		if code != 200 {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		if body == "reviews-v2" {
			v2++
		}
	}
	share := float64(v2) * 100 / 2000
	t.Logf("v2 share %.1f%%", share)
	if share < 7 || share > 13 {
		t.Errorf("v2 share %.1f%%, want 10 ± 3", share)
	}
	// RBAC: ratings may not call reviews; productpage may only GET /reviews/*.
	if code, body := call(c, ratings.outbound, "reviews:9080", "/reviews/1", nil); code != http.StatusForbidden {
		t.Errorf("ratings -> reviews: %d %q, want 403", code, body)
	}
	if code, body := call(c, pp.outbound, "reviews:9080", "/admin", nil); code != http.StatusForbidden {
		t.Errorf("productpage -> reviews /admin: %d %q, want 403", code, body)
	}
}
