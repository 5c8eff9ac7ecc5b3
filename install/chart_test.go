package install_test

import (
	"context"
	"os"
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
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
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
	shop := corev1Namespace("shop")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &shop, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	objs, err := install.Render("trellis", "trellis-system", map[string]any{"mesh": map[string]any{"joinTokenNamespaces": []any{"shop"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The documented sidecar (install/sidecar-example.yaml) is applied with the chart.
	example, err := os.ReadFile("sidecar-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var sidecar unstructured.Unstructured
	if err := yaml.Unmarshal(example, &sidecar.Object); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, &sidecar)
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

	// The sidecar's join token Secret exists where the sidecar runs and holds the server's token.
	server, err := cs.CoreV1().Secrets("trellis-system").Get(ctx, "trellis-mesh-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := sidecarTokenRef(t, &sidecar)
	tok, err := cs.CoreV1().Secrets(sidecar.GetNamespace()).Get(ctx, ref[0], metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the sidecar example's token Secret: %v", err)
	}
	if got, want := string(tok.Data[ref[1]]), string(server.Data["join-token"]); got == "" || got != want {
		t.Errorf("sidecar token %q in %s/%s, want the server's join token %q", got, sidecar.GetNamespace(), ref[0], want)
	}
}

// sidecarTokenRef returns the Secret name and key of the trellis-proxy container's
// TRELLIS_JOIN_TOKEN.
func sidecarTokenRef(t *testing.T, d *unstructured.Unstructured) [2]string {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		c := c.(map[string]any)
		if c["name"] != "trellis-proxy" {
			continue
		}
		env, _ := c["env"].([]any)
		for _, e := range env {
			e := e.(map[string]any)
			if e["name"] != "TRELLIS_JOIN_TOKEN" {
				continue
			}
			name, _, _ := unstructured.NestedString(e, "valueFrom", "secretKeyRef", "name")
			key, _, _ := unstructured.NestedString(e, "valueFrom", "secretKeyRef", "key")
			return [2]string{name, key}
		}
	}
	t.Fatal("sidecar example: no trellis-proxy container with TRELLIS_JOIN_TOKEN from a Secret")
	return [2]string{}
}

// secrets returns the rendered Secrets by namespace/name, with their string data.
func secrets(t *testing.T, objs []*unstructured.Unstructured) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "Secret" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
		out[o.GetNamespace()+"/"+o.GetName()] = data
	}
	return out
}

// meshCAVolume returns the Deployment's mount of /var/lib/trellis/mesh-ca and its volume.
func meshCAVolume(t *testing.T, objs []*unstructured.Unstructured) (mount, volume map[string]any) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, m := range cs[0].(map[string]any)["volumeMounts"].([]any) {
			if m.(map[string]any)["mountPath"] == "/var/lib/trellis/mesh-ca" {
				mount = m.(map[string]any)
			}
		}
		vs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "volumes")
		for _, v := range vs {
			if mount != nil && v.(map[string]any)["name"] == mount["name"] {
				volume = v.(map[string]any)
			}
		}
	}
	if mount == nil || volume == nil {
		t.Fatal("the Deployment does not mount a volume at /var/lib/trellis/mesh-ca ($TRELLIS_HOME/mesh-ca)")
	}
	return mount, volume
}

// TestRenderMeshCAAndJoinToken checks that the chart gives trellis serve a persistent mesh CA
// and join token ($TRELLIS_HOME/mesh-ca, read-only, from a Secret) that the mesh CA loader
// accepts, and the sidecars' namespaces a Secret with the same token and nothing else.
func TestRenderMeshCAAndJoinToken(t *testing.T) {
	objs, err := install.Render("tr", "ops", map[string]any{"mesh": map[string]any{"joinTokenNamespaces": []any{"shop", "ops"}}})
	if err != nil {
		t.Fatal(err)
	}
	sec := secrets(t, objs)
	ca := sec["ops/tr-mesh-ca"]
	if ca == nil {
		t.Fatalf("no Secret ops/tr-mesh-ca among %v", sec)
	}
	if _, err := meshca.Parse([]byte(ca["ca-cert.pem"]), []byte(ca["ca-key.pem"])); err != nil {
		t.Errorf("the chart's CA is not loadable by trellis serve: %v", err)
	}
	if !strings.HasPrefix(ca["join-token"], "trellis-join-") || len(ca["join-token"]) < 40 {
		t.Errorf("join token %q: want a long random trellis-join-… token", ca["join-token"])
	}
	for _, ns := range []string{"ops", "shop"} {
		tok := sec[ns+"/tr-join-token"]
		if len(tok) != 1 || tok["join-token"] != ca["join-token"] {
			t.Errorf("Secret %s/tr-join-token = %d keys (token equal: %v); want only join-token, the server's", ns, len(tok), tok["join-token"] == ca["join-token"])
		}
	}
	if n := len(sec); n != 3 {
		t.Errorf("%d Secrets rendered, want 3 (the CA and one token Secret per namespace, ops once)", n)
	}
	mount, vol := meshCAVolume(t, objs)
	if mount["readOnly"] != true {
		t.Errorf("mesh-ca mount %v: want read-only", mount)
	}
	if name, _, _ := unstructured.NestedString(vol, "secret", "secretName"); name != "tr-mesh-ca" {
		t.Errorf("mesh-ca volume %v: want Secret tr-mesh-ca", vol)
	}

	// Bring your own CA: no CA Secret rendered, the Deployment mounts the given one.
	objs, err = install.Render("tr", "ops", map[string]any{"mesh": map[string]any{"existingSecret": "my-ca"}})
	if err != nil {
		t.Fatal(err)
	}
	if sec := secrets(t, objs); len(sec) != 0 {
		t.Errorf("with existingSecret (not readable while rendering offline) rendered Secrets %v, want none", sec)
	}
	if _, vol := meshCAVolume(t, objs); vol["secret"].(map[string]any)["secretName"] != "my-ca" {
		t.Errorf("mesh-ca volume %v: want the existing Secret my-ca", vol)
	}
}

var metav1ObjectNamespace = corev1Namespace("trellis-system")
