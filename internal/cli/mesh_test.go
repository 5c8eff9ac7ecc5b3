package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/trellis-mesh/trellis/internal/kubetest"
)

// writeChart writes a minimal local chart standing in for a mesh chart, whose ConfigMap records
// the values Trellis passed (the real charts need network access to fetch).
func writeChart(t *testing.T, dir, name, version, data string) {
	t.Helper()
	c := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Join(c, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "-values\n  namespace: {{ .Release.Namespace }}\ndata:\n" + data,
	}
	for p, body := range files {
		if err := os.WriteFile(filepath.Join(c, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMeshInstallLifecycle runs `trellis mesh install|status|uninstall istio` against a real
// kube-apiserver with local charts (--chart-dir): CRD chart first, values passed through, reverse
// order on removal.
func TestMeshInstallLifecycle(t *testing.T) {
	cfg := kubetest.Start(t)
	kc := writeKubeconfig(t, cfg)
	dir := t.TempDir()
	writeChart(t, dir, "base", "1.30.3", "  revision: {{ .Values.defaultRevision | quote }}\n")
	writeChart(t, dir, "istiod", "1.30.3", "  trustDomain: {{ .Values.meshConfig.trustDomain | quote }}\n  meshConfig: {{ .Values.meshConfig | toJson | quote }}\n")
	flags := []string{"--kubeconfig", kc, "--context", "test"}
	design := filepath.Join(t.TempDir(), "traced.yaml")
	if err := os.WriteFile(design, []byte(`apiVersion: trellis.dev/v1alpha1
kind: Design
metadata:
  name: traced
spec:
  services:
  - name: web
  telemetry:
    tracing:
      provider: zipkin
      endpoint: zipkin.tracing:9411
    accessLogs:
      enabled: true
`), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, append([]string{"mesh", "install", "istio", "--chart-dir", dir, "--trust-domain", "prod.example", "-f", design}, flags...)...)
	if code != ExitOK || !strings.Contains(out, "istio-system/istio-base revision 1 deployed") || !strings.Contains(out, "istio-system/istiod revision 1 deployed") {
		t.Fatalf("install: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "[1/2] istio: chart base") {
		t.Errorf("no progress on stderr: %s", errOut)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	cm, err := cs.CoreV1().ConfigMaps("istio-system").Get(context.Background(), "istiod-values", metav1.GetOptions{})
	if err != nil || cm.Data["trustDomain"] != "prod.example" {
		t.Fatalf("istiod values not passed: %v %v", cm, err)
	}
	for _, want := range []string{`"accessLogEncoding":"JSON"`, `{"name":"zipkin","zipkin":{"port":9411,"service":"zipkin.tracing.svc.cluster.local"}}`} {
		if !strings.Contains(cm.Data["meshConfig"], want) {
			t.Errorf("meshConfig from the design: want %s in %s", want, cm.Data["meshConfig"])
		}
	}
	code, out, _ = run(t, append([]string{"mesh", "install", "istio", "--chart-dir", dir}, flags...)...)
	if code != ExitOK || !strings.Contains(out, "istiod revision 2 deployed") {
		t.Fatalf("re-install must upgrade: %d %s", code, out)
	}
	code, out, _ = run(t, append([]string{"mesh", "status", "istio", "-o", "json"}, flags...)...)
	if code != ExitOK || !strings.Contains(out, `"revision": 2`) || !strings.Contains(out, `"status": "deployed"`) {
		t.Fatalf("status: %d %s", code, out)
	}
	code, out, _ = run(t, append([]string{"mesh", "uninstall", "istio"}, flags...)...)
	if code != ExitOK || strings.Index(out, "istiod uninstalled") > strings.Index(out, "istio-base uninstalled") {
		t.Fatalf("uninstall must go in reverse order: %d %s", code, out)
	}
	code, out, _ = run(t, append([]string{"mesh", "status", "istio"}, flags...)...)
	if code != ExitOK || strings.Count(out, "not installed") != 2 {
		t.Fatalf("status after uninstall: %s", out)
	}
	code, _, errOut = run(t, append([]string{"mesh", "install", "consul", "--chart-dir", dir}, flags...)...)
	if code != ExitUsage || !strings.Contains(errOut, "consul-1.9.0.tgz") {
		t.Fatalf("missing local chart must say which file to provide: %d %s", code, errOut)
	}
	code, _, errOut = run(t, "mesh", "install", "native")
	if code != ExitUsage || !strings.Contains(errOut, "cannot install native") {
		t.Fatalf("native: %d %s", code, errOut)
	}
}
