package perf_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/perf"
	"github.com/trellis-mesh/trellis/spec"
)

const shopDesign = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: frontend
      ports: [{port: 8080}]
    - name: reviews
      ports: [{port: 9080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
  traffic:
    - service: reviews
      routes:
        - name: split
          backends: [{version: v1, weight: 50}, {version: v2, weight: 50}]
`

func TestRunMeshSideBySide(t *testing.T) {
	designs, err := spec.LoadBytes("shop.yaml", []byte(shopDesign))
	if err != nil {
		t.Fatal(err)
	}
	res, err := perf.RunMesh(context.Background(), perf.MeshOptions{
		Designs: designs, Service: "reviews", From: "frontend", Rounds: 2,
		Profile: perf.Profile{QPS: 300, Connections: 4, Duration: 700 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 3 || len(res.Rounds) != 2 || len(res.Rounds[1]) != 3 {
		t.Fatalf("%d results, %d rounds; want 3 medians of 2 interleaved rounds", len(res.Results), len(res.Rounds))
	}
	if sum := res.Rounds[0][2].Requests + res.Rounds[1][2].Requests; res.Results[2].Requests != sum {
		t.Errorf("median result has %d requests, want the rounds' sum %d", res.Results[2].Requests, sum)
	}
	for i, want := range []string{perf.ConfigDirect, perf.ConfigOneProxy, perf.ConfigSidecarToSidecar} {
		r := res.Results[i]
		if r.Profile.Name != want || r.QPS <= 0 || r.Requests == 0 {
			t.Errorf("result %d: %s qps %.1f requests %d, want %s with traffic", i, r.Profile.Name, r.QPS, r.Requests, want)
		}
		if r.Errors != 0 {
			t.Errorf("%s: %d errors %v", r.Profile.Name, r.Errors, r.ErrorCodes)
		}
	}
	direct, one, two := res.Results[0].Latency, res.Results[1].Latency, res.Results[2].Latency
	// Each hop adds work on the request path; the medians cannot beat the direct call's.
	if one.P50 < direct.P50 || two.P50 < direct.P50 {
		t.Errorf("p50 direct %.3f ms, one proxy %.3f ms, two proxies %.3f ms: a proxied run is faster than direct", direct.P50, one.P50, two.P50)
	}
	txt := res.Comparison.Text()
	t.Logf("\n%s", txt)
	if !strings.Contains(txt, perf.ConfigSidecarToSidecar) {
		t.Errorf("table lacks the sidecar-to-sidecar row:\n%s", txt)
	}
}

func TestRunMeshUnknownService(t *testing.T) {
	designs, err := spec.LoadBytes("shop.yaml", []byte(shopDesign))
	if err != nil {
		t.Fatal(err)
	}
	_, err = perf.RunMesh(context.Background(), perf.MeshOptions{Designs: designs, Service: "ratings", Profile: perf.Profile{Duration: time.Second}})
	if err == nil || !strings.Contains(err.Error(), "reviews.shop") {
		t.Errorf("err = %v, want the list of known services", err)
	}
}

// TestRunMeshSubprocessSidecars runs the sidecars as `trellis proxy` subprocesses of the binary
// named by TRELLIS_BIN (go build -o /tmp/trellis ./cmd/trellis); skipped without it.
func TestRunMeshSubprocessSidecars(t *testing.T) {
	bin := os.Getenv("TRELLIS_BIN")
	if bin == "" {
		t.Skip("TRELLIS_BIN is not set (path to a trellis binary)")
	}
	designs, err := spec.LoadBytes("shop.yaml", []byte(shopDesign))
	if err != nil {
		t.Fatal(err)
	}
	res, err := perf.RunMesh(context.Background(), perf.MeshOptions{
		Designs: designs, Service: "reviews.shop", From: "frontend", ProxyBinary: bin, ProxyConcurrency: 1,
		Profile: perf.Profile{QPS: 200, Connections: 2, Duration: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if r.QPS <= 0 || r.Errors != 0 {
			t.Errorf("%s: qps %.1f errors %v", r.Profile.Name, r.QPS, r.ErrorCodes)
		}
	}
	if got := len(res.Results[1].Profile.ExtraPIDs); got != 3 {
		t.Errorf("proxied run accounts for %d sidecar pids, want 3 (two versions + client)", got)
	}
	t.Logf("\n%s", res.Comparison.Text())
}

const guardedDesign = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: frontend
      ports: [{port: 8080}]
    - name: reviews
      ports: [{port: 9080}]
  security:
    mtls: %s
    defaultPolicy: deny
    access:
      - destination: reviews
        sources: [frontend]
`

// TestRunMeshOneProxyUsesMutualTLS checks that the one-proxy run calls the strict inbound
// listener over mutual TLS as the --from workload: the access rules judge the certificate's
// identity (frontend allowed, another caller denied with 403), and the credentials it wrote are
// removed afterwards.
func TestRunMeshOneProxyUsesMutualTLS(t *testing.T) {
	designs, err := spec.LoadBytes("guarded.yaml", []byte(fmt.Sprintf(guardedDesign, "strict")))
	if err != nil {
		t.Fatal(err)
	}
	profile := perf.Profile{QPS: 200, Connections: 2, Requests: 40}
	res, err := perf.RunMesh(context.Background(), perf.MeshOptions{Designs: designs, Service: "reviews", From: "frontend", Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	one := res.Results[1]
	if !strings.HasPrefix(one.Profile.URL, "https://127.0.0.1:") || one.Profile.TLS == nil {
		t.Fatalf("one-proxy run: url %s tls %+v, want https with client credentials", one.Profile.URL, one.Profile.TLS)
	}
	if want := "spiffe://cluster.local/ns/shop/sa/reviews"; one.Profile.TLS.ServerID != want {
		t.Errorf("one-proxy run checks server ID %q, want %q", one.Profile.TLS.ServerID, want)
	}
	for _, r := range res.Results {
		if r.Requests != 40 || r.Errors != 0 {
			t.Errorf("%s (allowed caller): %d requests, errors %v", r.Profile.Name, r.Requests, r.ErrorCodes)
		}
	}
	for _, f := range []string{one.Profile.TLS.CertFile, one.Profile.TLS.KeyFile, one.Profile.TLS.CAFile} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still exists after the run (err %v); the credentials must be removed", f, err)
		}
	}

	denied, err := perf.RunMesh(context.Background(), perf.MeshOptions{Designs: designs, Service: "reviews", From: "stranger", Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range denied.Results[1:] {
		if r.ErrorCodes["403"] != r.Requests || r.Requests == 0 {
			t.Errorf("%s (caller stranger, not allowed): codes %v, want every request denied with 403", r.Profile.Name, r.Codes)
		}
	}
}

// TestRunMeshMTLSDisabledStaysPlaintext checks that a service without mTLS is called in plaintext.
func TestRunMeshMTLSDisabledStaysPlaintext(t *testing.T) {
	designs, err := spec.LoadBytes("guarded.yaml", []byte(fmt.Sprintf(guardedDesign, "disabled")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := perf.RunMesh(context.Background(), perf.MeshOptions{Designs: designs, Service: "reviews", From: "frontend",
		Profile: perf.Profile{QPS: 200, Connections: 2, Requests: 20}})
	if err != nil {
		t.Fatal(err)
	}
	one := res.Results[1]
	if !strings.HasPrefix(one.Profile.URL, "http://") || one.Profile.TLS != nil {
		t.Errorf("one-proxy run with mtls disabled: url %s tls %+v, want plaintext", one.Profile.URL, one.Profile.TLS)
	}
	// Without mTLS callers are anonymous to the access rules: the plaintext listener answers and
	// the default policy denies both proxied runs alike.
	for _, r := range res.Results[1:] {
		if r.Requests != 20 || r.ErrorCodes["403"] != 20 {
			t.Errorf("%s: %d requests, codes %v, want 20 answered 403 (anonymous caller)", r.Profile.Name, r.Requests, r.Codes)
		}
	}
}
