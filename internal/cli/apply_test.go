package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/internal/kubetest"
)

// writeKubeconfig writes a kubeconfig with one context, "test", for cfg.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestApplyAndDiffCommands runs `trellis apply` and `trellis diff` against a real kube-apiserver.
func TestApplyAndDiffCommands(t *testing.T) {
	cfg := kubetest.Start(t, adaptertest.CRDDir("istio"))
	kc := writeKubeconfig(t, cfg)
	design := filepath.Join("..", "..", "examples", "designs", "bookinfo-canary.yaml")
	base := []string{"-f", design, "--mesh", "istio", "--kubeconfig", kc, "--context", "test"}

	code, out, errOut := run(t, append([]string{"diff"}, base...)...)
	if code != ExitInvalid || !strings.Contains(out, "VirtualService") || !strings.Contains(out, "missing") {
		t.Fatalf("diff before apply: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = run(t, append([]string{"apply", "--dry-run"}, base...)...)
	if code != ExitOK || !strings.Contains(out, "created (server dry run)") {
		t.Fatalf("apply --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = run(t, append([]string{"apply", "--prune"}, base...)...)
	if code != ExitOK || !strings.Contains(out, "VirtualService bookinfo/reviews (networking.istio.io/v1) created") || !strings.Contains(out, "Namespace/bookinfo created") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = run(t, append([]string{"diff", "-o", "json"}, base...)...)
	if code != ExitOK || !strings.Contains(out, `"in-sync"`) || strings.Contains(out, `"drifted"`) {
		t.Fatalf("diff after apply: exit %d\n%s", code, out)
	}
	code, _, errOut = run(t, append([]string{"apply", "-n", "other"}, base...)...)
	if code != ExitUsage || !strings.Contains(errOut, `targets namespace "bookinfo"`) {
		t.Fatalf("-n conflict: exit %d %s", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "nokube")
	if err := os.WriteFile(bad, []byte("not: a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "apply", "-f", design, "--mesh", "istio", "--kubeconfig", bad)
	if code != ExitUsage || !strings.Contains(errOut, "kubeconfig") {
		t.Fatalf("bad kubeconfig: exit %d %s", code, errOut)
	}
}
