package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/trellis-mesh/trellis/adapters"
)

// FieldManager is the server-side apply field manager ApplyAll uses.
const FieldManager = "trellis-test"

// ApplyAll server-side applies objects to the cluster behind cfg, with strict field validation
// (unknown fields are rejected), creating their namespaces first. It returns one error per
// object, in the order of objs (nil where the object was accepted). Setup failures (no client,
// no namespace) fail the test.
func ApplyAll(t testing.TB, cfg *rest.Config, objs []*unstructured.Unstructured) []error {
	t.Helper()
	ctx := context.Background()
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("adaptertest: kubernetes client: %v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("adaptertest: dynamic client: %v", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("adaptertest: discovery client: %v", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	seen := map[string]bool{}
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("adaptertest: creating namespace %s: %v", ns, err)
		}
	}

	errs := make([]error, len(objs))
	for i, o := range objs {
		errs[i] = applyOne(ctx, dyn, mapper, o)
	}
	return errs
}

func applyOne(ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		mapper.Reset()
		if m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("applying %s: no resource for %s: %w", adapters.ObjectRef(o), gvk, err)
		}
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return fmt.Errorf("applying %s: %w", adapters.ObjectRef(o), err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == "namespace" {
		ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	force := true
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager:    FieldManager,
		Force:           &force,
		FieldValidation: "Strict",
	})
	if err != nil {
		return fmt.Errorf("applying %s: %w", adapters.ObjectRef(o), err)
	}
	return nil
}
