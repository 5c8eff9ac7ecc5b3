package kubetest_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/trellis-mesh/trellis/internal/kubetest"
)

// TestSmokeCreateNamespace proves the harness: a real kube-apiserver starts and accepts a write.
func TestSmokeCreateNamespace(t *testing.T) {
	cfg := kubetest.Start(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "trellis-smoke", Labels: map[string]string{"app.kubernetes.io/managed-by": "trellis"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	got, err := cs.CoreV1().Namespaces().Get(ctx, "trellis-smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading namespace back: %v", err)
	}
	if got.Labels["app.kubernetes.io/managed-by"] != "trellis" {
		t.Fatalf("label lost: %v", got.Labels)
	}
	// The API server rejects an invalid name with its own validation message.
	bad := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "Not_Valid"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, bad, metav1.CreateOptions{}); err == nil {
		t.Fatal("kube-apiserver accepted an invalid namespace name")
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.36.3" {
		t.Fatalf("unexpected server version %q", v.GitVersion)
	}
}
