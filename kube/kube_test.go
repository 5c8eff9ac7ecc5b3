package kube_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	_ "github.com/trellis-mesh/trellis/adapters/all"
	"github.com/trellis-mesh/trellis/internal/kubetest"
	"github.com/trellis-mesh/trellis/kube"
	"github.com/trellis-mesh/trellis/spec"
)

func repoFile(p string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", p)
}

func translate(t *testing.T, d *spec.Design) []*unstructured.Unstructured {
	t.Helper()
	a, err := adapters.Lookup("istio")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := a.Translate(context.Background(), d, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return out.Objects
}

func actions(rs []kube.Result) map[kube.Action]int {
	m := map[kube.Action]int{}
	for _, r := range rs {
		m[r.Action]++
	}
	return m
}

var vsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

// TestApplyDiffPrune drives a whole deployment life cycle against a real kube-apiserver with
// Istio's CRDs: dry run, apply, idempotent re-apply, drift detection after a manual edit, prune
// after the design shrinks, and an all-or-nothing failure for a rejected object.
func TestApplyDiffPrune(t *testing.T) {
	cfg := kubetest.Start(t, adaptertest.CRDDir("istio"))
	ctx := context.Background()
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	ds, err := spec.LoadFile(repoFile("examples/designs/bookinfo-canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := ds[0]
	objs := translate(t, d)

	// Dry run: everything would be created, nothing is.
	rs, err := c.Apply(ctx, objs, kube.ApplyOptions{DryRun: true, Prune: true, Design: d.Metadata.Name})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := actions(rs); got[kube.Created] != len(objs)+1 { // + the namespace
		t.Fatalf("dry run actions %v for %d objects", got, len(objs))
	}
	if _, err := dyn.Resource(vsGVR).Namespace("bookinfo").Get(ctx, "reviews", metav1.GetOptions{}); err == nil {
		t.Fatal("a dry run created an object")
	}

	// Apply, then apply again: the second run changes nothing.
	var progress int
	rs, err = c.Apply(ctx, objs, kube.ApplyOptions{Prune: true, Design: d.Metadata.Name, Progress: func(done, total int, _ kube.Result) { progress = done }})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if actions(rs)[kube.Created] != len(objs)+1 || progress != len(objs) {
		t.Fatalf("first apply: %v (progress %d)", rs, progress)
	}
	rs, err = c.Apply(ctx, objs, kube.ApplyOptions{Prune: true, Design: d.Metadata.Name})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(rs); got[kube.Unchanged] != len(objs) || len(got) != 1 {
		t.Fatalf("re-apply must change nothing: %v", got)
	}
	changes, err := c.Diff(ctx, objs, d.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range changes {
		if ch.Kind != kube.InSync {
			t.Fatalf("after apply %s is %s:\n%s", ch.Object, ch.Kind, ch.Diff)
		}
	}

	// Someone edits the reviews VirtualService by hand: drift, with a diff naming the field.
	patch := []byte(`{"spec":{"http":[{"name":"hotfix","route":[{"destination":{"host":"reviews.bookinfo.svc.cluster.local","subset":"v1"}}]}]}}`)
	if _, err := dyn.Resource(vsGVR).Namespace("bookinfo").Patch(ctx, "reviews", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	changes, err = c.Diff(ctx, objs, d.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	drifted := 0
	for _, ch := range changes {
		if ch.Kind == kube.Drifted {
			drifted++
			if !strings.Contains(ch.Object, "reviews") || !strings.Contains(ch.Diff, "hotfix") || !strings.Contains(ch.Diff, "jason") {
				t.Errorf("drift diff for %s does not show the edit:\n%s", ch.Object, ch.Diff)
			}
		}
	}
	if drifted != 1 {
		t.Fatalf("want exactly one drifted object, got %+v", changes)
	}
	// Re-applying repairs the drift.
	rs, err = c.Apply(ctx, objs, kube.ApplyOptions{Design: d.Metadata.Name})
	if err != nil || actions(rs)[kube.Configured] != 1 {
		t.Fatalf("repair: %v %v", rs, err)
	}

	// The design drops its traffic policy for ratings: prune deletes that VirtualService only.
	smaller := d.Clone()
	var keep []spec.TrafficPolicy
	for _, tp := range smaller.Spec.Traffic {
		if tp.Service != "ratings" {
			keep = append(keep, tp)
		}
	}
	smaller.Spec.Traffic = keep
	fewer := translate(t, smaller)
	changes, err = c.Diff(ctx, fewer, d.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	var orphans []string
	for _, ch := range changes {
		if ch.Kind == kube.Orphaned {
			orphans = append(orphans, ch.Object)
		}
	}
	if len(orphans) == 0 {
		t.Fatalf("no orphan reported before prune: %+v", changes)
	}
	rs, err = c.Apply(ctx, fewer, kube.ApplyOptions{Prune: true, Design: d.Metadata.Name})
	if err != nil {
		t.Fatal(err)
	}
	if actions(rs)[kube.Pruned] != len(orphans) {
		t.Fatalf("pruned %v, want %v", rs, orphans)
	}
	if _, err := dyn.Resource(vsGVR).Namespace("bookinfo").Get(ctx, "ratings", metav1.GetOptions{}); err == nil {
		t.Fatal("the ratings VirtualService survived the prune")
	}
	if _, err := dyn.Resource(vsGVR).Namespace("bookinfo").Get(ctx, "reviews", metav1.GetOptions{}); err != nil {
		t.Fatalf("prune deleted an object the design still produces: %v", err)
	}

	// One rejected object: nothing of the batch is written.
	newVS := objs[0].DeepCopy()
	for _, o := range objs {
		if o.GetKind() == "VirtualService" {
			newVS = o.DeepCopy()
		}
	}
	newVS.SetName("brand-new")
	bad := newVS.DeepCopy()
	bad.SetName("broken")
	_ = unstructured.SetNestedField(bad.Object, "not-a-list", "spec", "http")
	_, err = c.Apply(ctx, []*unstructured.Unstructured{newVS, bad}, kube.ApplyOptions{})
	var ae *kube.ApplyError
	if !errors.As(err, &ae) || len(ae.Applied) != 0 || len(ae.Failed) != 1 {
		t.Fatalf("want an all-or-nothing ApplyError, got %v", err)
	}
	if !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("error does not name the object and the outcome: %v", err)
	}
	if _, err := dyn.Resource(vsGVR).Namespace("bookinfo").Get(ctx, "brand-new", metav1.GetOptions{}); err == nil {
		t.Fatal("an object of a rejected batch was written")
	}

	// A kind the cluster does not serve is refused before any write, with a hint.
	alien := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server", "metadata": map[string]any{"name": "x", "namespace": "bookinfo"}}}
	if _, err := c.Apply(ctx, []*unstructured.Unstructured{alien}, kube.ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "install the mesh's CRDs") {
		t.Fatalf("want a hint about missing CRDs, got %v", err)
	}
}
