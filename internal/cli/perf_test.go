package cli

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/perf"
)

func perfCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"perf"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPerfRunAndCompare(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Fail") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	code, out, errs := perfCLI(t, "run", "--url", srv.URL, "--qps", "200", "-c", "2", "-d", "1200ms", "--name", "base", "-o", "json")
	if code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "load 1s:") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	base := filepath.Join(dir, "base.json")
	if err := os.WriteFile(base, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = perfCLI(t, "run", "--url", srv.URL, "-n", "50", "-c", "2", "-H", "X-Fail: yes", "--name", "failing", "-o", "json")
	if code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	r, err := perf.Decode("failing", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 50 || r.ErrorCodes["503"] != 50 {
		t.Errorf("failing run: %d requests, errors %v; want 50 × 503", r.Requests, r.ErrorCodes)
	}
	other := filepath.Join(dir, "failing.json")
	if err := os.WriteFile(other, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = perfCLI(t, "compare", base, other, "-o", "markdown")
	if code != ExitOK || !strings.Contains(out, "| failing |") || !strings.Contains(out, "100.00%") {
		t.Errorf("compare: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := perfCLI(t, "compare", base, filepath.Join(dir, "missing.json")); code != ExitInvalid {
		t.Errorf("compare with a missing file: exit %d %s", code, errs)
	}
}

func TestPerfRunRefusesRemoteTargets(t *testing.T) {
	code, _, errs := perfCLI(t, "run", "--url", "http://192.0.2.10:8080/", "-d", "1s")
	if code != ExitUsage || !strings.Contains(errs, "not a loopback address") {
		t.Errorf("exit %d, stderr %q; want a usage error naming loopback", code, errs)
	}
}

func TestPerfMeshCommand(t *testing.T) {
	dir := t.TempDir()
	design := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(design, []byte(`apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: frontend
      ports: [{port: 8080}]
    - name: reviews
      ports: [{port: 9080}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "results")
	code, out, errs := perfCLI(t, "mesh", "--design", design, "--service", "reviews", "--from", "frontend",
		"--qps", "200", "-c", "2", "-d", "600ms", "--save", saved, "-o", "markdown")
	if code != ExitOK {
		t.Fatalf("perf mesh: exit %d: %s", code, errs)
	}
	for _, want := range []string{"| direct |", "| one-proxy |", "| sidecar-to-sidecar |"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown table lacks %q:\n%s", want, out)
		}
	}
	for _, name := range []string{"direct", "one-proxy", "sidecar-to-sidecar"} {
		r, err := perf.Load(filepath.Join(saved, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: %d requests, errors %v", name, r.Requests, r.ErrorCodes)
		}
	}
	if code, _, errs := perfCLI(t, "mesh", "--design", design, "--service", "ratings"); code == ExitOK || !strings.Contains(errs, "reviews.shop") {
		t.Errorf("unknown service: exit %d %q", code, errs)
	}
}

func TestPerfRunHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := perfCLI(t, "run", "--url", srv.URL+"/", "--cacert", ca, "-c", "2", "-n", "20", "-o", "json")
	if code != ExitOK {
		t.Fatalf("https run with --cacert: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"caFile": "`+ca+`"`) || !strings.Contains(out, `"requests": 20`) {
		t.Errorf("result lacks the TLS settings or the 20 requests:\n%s", out)
	}
	if code, _, errs := perfCLI(t, "run", "--url", srv.URL+"/", "-n", "5", "-c", "1"); code != ExitUsage || !strings.Contains(errs, "profile.tls: required") {
		t.Errorf("https without TLS flags: exit %d %q, want a usage error", code, errs)
	}
	// The test server's certificate is not an identity: a SPIFFE server ID check fails before the run.
	if code, _, errs := perfCLI(t, "run", "--url", srv.URL+"/", "--cacert", ca, "--server-id", "spiffe://cluster.local/ns/shop/sa/reviews", "-n", "5", "-c", "1"); code != ExitUsage || !strings.Contains(errs, "expected the URI SAN") {
		t.Errorf("wrong server ID: exit %d %q, want a usage error", code, errs)
	}
}
