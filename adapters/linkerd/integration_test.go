package linkerd_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/linkerd"
	"github.com/trellis-mesh/trellis/internal/kubetest"
)

// TestGoldenOutputsApplyToKubeAPIServer server-side applies every golden output (default,
// ServiceProfiles and Linkerd-only goldens) to a real kube-apiserver with the Linkerd and Gateway API CRDs
// installed. The user's own Services exist first (created by another client, as an application
// would); the adapter's partial Service objects must merge their annotations into them without
// disturbing their spec.
func TestGoldenOutputsApplyToKubeAPIServer(t *testing.T) {
	cfg := kubetest.Start(t, adaptertest.CRDDir("linkerd"), adaptertest.CRDDir("gateway-api"))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wd, _ := os.Getwd()
	total := 0
	for _, dir := range goldenDirs {
		cases := adaptertest.GoldenObjectsIn(t, filepath.Join(wd, "testdata", dir))
		names := make([]string, 0, len(cases))
		for n := range cases {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			objs := cases[name]
			t.Run(dir+"/"+name, func(t *testing.T) {
				var partialSvcs []*unstructured.Unstructured
				for _, o := range objs {
					if linkerd.IsPartial(o) && o.GetKind() == "Service" {
						partialSvcs = append(partialSvcs, o)
						ensureUserService(t, ctx, cs, o.GetNamespace(), o.GetName())
					}
				}
				errs := adaptertest.ApplyAll(t, cfg, objs)
				for i, e := range errs {
					if e != nil {
						t.Errorf("object %d rejected: %v", i, e)
					}
				}
				for _, p := range partialSvcs {
					got, err := cs.CoreV1().Services(p.GetNamespace()).Get(ctx, p.GetName(), metav1.GetOptions{})
					if err != nil {
						t.Fatalf("reading back Service %s/%s: %v", p.GetNamespace(), p.GetName(), err)
					}
					if len(got.Spec.Ports) != 1 || got.Spec.Ports[0].Port != 80 || got.Spec.Selector["app"] != p.GetName() {
						t.Errorf("Service %s/%s: the user's spec was disturbed by the partial apply: %+v", p.GetNamespace(), p.GetName(), got.Spec)
					}
					for k, v := range p.GetAnnotations() {
						if got.Annotations[k] != v {
							t.Errorf("Service %s/%s: annotation %s = %q, want %q", p.GetNamespace(), p.GetName(), k, got.Annotations[k], v)
						}
					}
					if got.Annotations["owner"] != "app-team" {
						t.Errorf("Service %s/%s: the user's own annotation was removed", p.GetNamespace(), p.GetName())
					}
				}
			})
			total += len(objs)
		}
	}
	t.Logf("applied %d objects", total)
}

// ensureUserService creates the application's own Service (as its owner would, with a
// different field manager) unless it exists.
func ensureUserService(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{"owner": "app-team"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{FieldManager: "app-team"}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating the user's Service %s/%s: %v", ns, name, err)
	}
}
