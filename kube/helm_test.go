package kube_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/trellis-mesh/trellis/install"
	"github.com/trellis-mesh/trellis/internal/kubetest"
	"github.com/trellis-mesh/trellis/kube"
)

// TestHelmLifecycle installs Trellis's own chart with the Helm SDK into a real kube-apiserver,
// upgrades it with new values, refuses a bad upgrade without touching the release, and uninstalls it.
func TestHelmLifecycle(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	h := kube.NewHelm(cfg)
	c, err := install.Chart()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := h.InstallOrUpgrade(ctx, kube.ChartRelease{Chart: c, Name: "trellis", Namespace: "trellis-system"})
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != 1 || rel.Info.Status != "deployed" {
		t.Fatalf("install: version %d status %s", rel.Version, rel.Info.Status)
	}
	dep, err := cs.AppsV1().Deployments("trellis-system").Get(ctx, "trellis", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart's Deployment is missing: %v", err)
	}
	if *dep.Spec.Replicas != 1 {
		t.Fatalf("replicas %d", *dep.Spec.Replicas)
	}

	rel, err = h.InstallOrUpgrade(ctx, kube.ChartRelease{Chart: c, Name: "trellis", Namespace: "trellis-system",
		Values: map[string]any{"replicaCount": 3, "database": map[string]any{"existingSecret": "trellis-db"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != 2 {
		t.Fatalf("upgrade made version %d", rel.Version)
	}
	dep, _ = cs.AppsV1().Deployments("trellis-system").Get(ctx, "trellis", metav1.GetOptions{})
	if *dep.Spec.Replicas != 3 {
		t.Fatalf("upgrade did not apply: replicas %d", *dep.Spec.Replicas)
	}
	// The new values drop the PVC: Helm deletes it (with no controller running, the
	// pvc-protection finalizer keeps it visible, marked for deletion).
	if pvc, err := cs.CoreV1().PersistentVolumeClaims("trellis-system").Get(ctx, "trellis-data", metav1.GetOptions{}); err == nil && pvc.DeletionTimestamp == nil {
		t.Fatal("the PVC the new values drop was not deleted")
	}

	// A chart-level validation failure (replicas on SQLite) is refused and leaves release 2 in place.
	_, err = h.InstallOrUpgrade(ctx, kube.ChartRelease{Chart: c, Name: "trellis", Namespace: "trellis-system", Values: map[string]any{"replicaCount": 2}})
	if err == nil || !strings.Contains(err.Error(), "SQLite is single-writer") {
		t.Fatalf("want the chart's own error, got %v", err)
	}
	st, err := h.Status(ctx, "trellis", "trellis-system")
	if err != nil || st.Version != 2 {
		t.Fatalf("status after a refused upgrade: %v %v", st, err)
	}

	if err := h.Uninstall(ctx, "trellis", "trellis-system"); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments("trellis-system").Get(ctx, "trellis", metav1.GetOptions{}); err == nil {
		t.Fatal("uninstall left the Deployment")
	}
	if st, err := h.Status(ctx, "trellis", "trellis-system"); err != nil || st != nil {
		t.Fatalf("release still listed: %v %v", st, err)
	}
	if err := h.Uninstall(ctx, "trellis", "trellis-system"); err != nil {
		t.Fatalf("uninstalling twice must be a no-op: %v", err)
	}
}
