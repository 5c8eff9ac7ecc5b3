package install_test

import (
	"context"
	"strings"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/trellis-mesh/trellis/install"
	"github.com/trellis-mesh/trellis/internal/kubetest"
)

func kinds(objs []*unstructured.Unstructured) map[string]int {
	m := map[string]int{}
	for _, o := range objs {
		m[o.GetKind()]++
	}
	return m
}

func TestRenderDefaults(t *testing.T) {
	objs, err := install.Render("trellis", "trellis-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(objs)
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "PersistentVolumeClaim", "Deployment", "Service"} {
		if got[k] != 1 {
			t.Errorf("want one %s, got %d (all: %v)", k, got[k], got)
		}
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		c, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		sc := c[0].(map[string]any)["securityContext"].(map[string]any)
		if sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true {
			t.Errorf("container security context not hardened: %v", sc)
		}
	}
}

func TestRenderNamespacedAndPostgres(t *testing.T) {
	objs, err := install.Render("tr", "ops", map[string]any{
		"watchNamespaces": []any{"shop", "pay"},
		"replicaCount":    2,
		"database":        map[string]any{"existingSecret": "trellis-db"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(objs)
	if got["Role"] != 2 || got["RoleBinding"] != 2 || got["ClusterRole"] != 0 || got["PersistentVolumeClaim"] != 0 {
		t.Fatalf("namespaced install rendered %v", got)
	}
}

func TestRenderRejectsReplicasOnSQLite(t *testing.T) {
	_, err := install.Render("tr", "ops", map[string]any{"replicaCount": 3})
	if err == nil || !strings.Contains(err.Error(), "SQLite is single-writer") {
		t.Fatalf("want a clear error for replicas on SQLite, got %v", err)
	}
}

// TestApplyToAPIServer installs the rendered chart into a real kube-apiserver with server-side
// apply and checks, with SubjectAccessReviews, that Trellis's service account has exactly the
// permissions it needs: it manages mesh resources but cannot read Secrets or change Deployments.
func TestApplyToAPIServer(t *testing.T) {
	cfg := kubetest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &metav1ObjectNamespace, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, err := install.Render("trellis", "trellis-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		force := true
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "trellis-test", Force: &force}); err != nil {
			t.Fatalf("applying %s %s: %v", gvk.Kind, o.GetName(), err)
		}
	}
	sa := "system:serviceaccount:trellis-system:trellis"
	check := func(group, resource, verb string, want bool) {
		t.Helper()
		r, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               sa,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: "bookinfo", Group: group, Resource: resource, Verb: verb},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != want {
			t.Errorf("%s %s.%s: allowed=%v, want %v", verb, resource, group, r.Status.Allowed, want)
		}
	}
	check("networking.istio.io", "virtualservices", "patch", true)
	check("policy.linkerd.io", "servers", "create", true)
	check("consul.hashicorp.com", "servicesplitters", "delete", true)
	check("", "services", "patch", true)
	check("", "secrets", "get", false)
	check("apps", "deployments", "update", false)
	check("", "pods", "delete", false)
}

var metav1ObjectNamespace = corev1Namespace("trellis-system")
