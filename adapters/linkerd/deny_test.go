package linkerd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/spec"
)

func loadCase(t *testing.T, name string) *spec.Design {
	t.Helper()
	path := filepath.Join("testdata", "cases", name+".yaml")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("..", "..", "spec", "testdata", "cases", name+".yaml") // shared cases
	}
	ds, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

// TestDenyOfEveryCallerClosesThePort checks that a deny rule of every caller with no HTTP
// condition becomes the port's Server with accessPolicy deny and no authorization, whatever the
// default, the mTLS mode or the allow rules of the destination say, and is not reported as lost.
func TestDenyOfEveryCallerClosesThePort(t *testing.T) {
	objs, ws := translate(t, loadCase(t, "deny-all"), adapters.Options{})
	for _, srv := range []string{"admin-http", "reports-metrics", "ledger-tcp"} {
		o := mustFind(t, objs, "policy.linkerd.io/v1beta3", "Server", "shop", srv)
		if got, _, _ := unstructured.NestedString(o.Object, "spec", "accessPolicy"); got != "deny" {
			t.Errorf("Server %s accessPolicy = %q, want deny", srv, got)
		}
		for _, a := range objs {
			if a.GetKind() != "AuthorizationPolicy" {
				continue
			}
			if target, _, _ := unstructured.NestedString(a.Object, "spec", "targetRef", "name"); target == srv {
				t.Errorf("AuthorizationPolicy %s admits callers to the closed Server %s", a.GetName(), srv)
			}
		}
	}
	// The allow rule of the closed admin port admits nothing: not even its authentication.
	if find(objs, "policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "shop", "web-to-admin") != nil {
		t.Error("the allow rule overridden by close-admin must not be emitted")
	}
	// reports keeps its open port for web.
	mustFind(t, objs, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "shop", "web-to-reports-http-8080")
	for _, w := range ws {
		if w.Feature == adapters.FeatureAuthzDeny && (strings.Contains(w.Lost, `"close-`) || w.Severity == adapters.SeverityInfo) {
			t.Errorf("an exactly expressed deny rule must not be reported as lost: %s", w)
		}
		if w.Feature == adapters.FeatureMTLSPermissive {
			t.Errorf("admin is closed to every caller: its permissive mode loses nothing, got %s", w)
		}
	}
	w := hasWarning(ws, "spec.security.access[5].action", adapters.FeatureAuthzDeny)
	if w == nil || w.Severity != adapters.SeverityError || !strings.Contains(w.Lost, "still admits every request from its sources") {
		t.Errorf("the deny of one caller under the default allow must be an error saying what stays admitted, got %v", w)
	}
	for _, i := range []int{0, 2} {
		w := hasWarning(ws, fmt.Sprintf("spec.security.access[%d]", i), adapters.FeatureAuthzAllow)
		if w == nil || w.Severity != adapters.SeverityInfo || !strings.Contains(w.Lost, "deny wins over allow") {
			t.Errorf("access[%d]: the overridden allow rule must be reported (info), got %v", i, w)
		}
	}
}

// TestDenyRulesUnderDefaultDeny checks the three kinds of deny rule under the default deny: a
// deny of every caller closes its port at once (a Server, not only the namespace annotation) and
// drops the allow rule it overrides; a conditional deny of a destination no allow rule opens
// needs no object (info); one that an allow rule overlaps is a warning naming that allow rule.
func TestDenyRulesUnderDefaultDeny(t *testing.T) {
	objs, ws := translate(t, loadCase(t, "deny-all-default-deny"), adapters.Options{})
	o := mustFind(t, objs, "policy.linkerd.io/v1beta3", "Server", "ops", "vault-http")
	if got, _, _ := unstructured.NestedString(o.Object, "spec", "accessPolicy"); got != "deny" {
		t.Errorf("vault accessPolicy = %q, want deny", got)
	}
	if find(objs, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "ops", "web-to-vault-http") != nil ||
		find(objs, "policy.linkerd.io/v1beta3", "HTTPRoute", "ops", "web-to-vault-http") != nil {
		t.Error("web-to-vault is overridden by vault-sealed: no route or authorization may be emitted")
	}
	if w := hasWarning(ws, "spec.security.access[1].action", adapters.FeatureAuthzDeny); w != nil {
		t.Errorf("vault-sealed is exact, got %s", w)
	}
	if w := hasWarning(ws, "spec.security.access[2].action", adapters.FeatureAuthzDeny); w == nil || w.Severity != adapters.SeverityInfo {
		t.Errorf("no-audit-writes is implied by the default deny (info), got %v", w)
	}
	if w := hasWarning(ws, "spec.security.access[4].action", adapters.FeatureAuthzDeny); w == nil || w.Severity != adapters.SeverityWarning || !strings.Contains(w.Lost, `"web-to-api"`) {
		t.Errorf("no-api-admin narrows web-to-api: a warning naming it is expected, got %v", w)
	}
}

// TestDenyAllRoundTripNormalises documents how the importer reads back deny rules of every
// caller spelled otherwise than testdata/roundtrip/deny-all.yaml: the rule takes the Server's
// name ("<server>-unauthorized"), {namespace: "*"} becomes {service: "*"}, an allow rule the
// deny overrides disappears (it admitted nothing), and under the default deny the rule itself is
// implied by the default (no rule comes back; the port stays closed). The translation of the
// imported design is the same objects, but for the Servers the default deny makes redundant.
func TestDenyAllRoundTripNormalises(t *testing.T) {
	first, _ := translate(t, loadCase(t, "deny-all"), adapters.Options{})
	back, _ := importObjects(t, first)
	normalized(t, back)
	rules := map[string]spec.AccessRule{}
	for _, r := range back.Spec.Security.Access {
		rules[r.Name] = r
	}
	for name, dest := range map[string]string{"admin-http-unauthorized": "admin", "reports-metrics-unauthorized": "reports", "ledger-tcp-unauthorized": "ledger"} {
		r, ok := rules[name]
		if !ok || r.Action != spec.ActionDeny || r.Destination != dest || len(r.Sources) != 1 || r.Sources[0].Service != "*" {
			t.Errorf("rule %s = %+v, want a deny of every caller of %s", name, r, dest)
		}
	}
	if _, ok := rules["web-to-admin"]; ok {
		t.Error("the overridden allow rule admitted nothing: it cannot come back")
	}
	if r := rules["reports-metrics-unauthorized"]; len(r.When) != 1 || len(r.When[0].Ports) != 1 || r.When[0].Ports[0] != 9090 {
		t.Errorf("the metrics deny must keep its port, got %+v", r.When)
	}
	back.Default()
	second, _ := translate(t, back, adapters.Options{})
	compareObjects(t, first, second)

	first, _ = translate(t, loadCase(t, "deny-all-default-deny"), adapters.Options{})
	back, _ = importObjects(t, first)
	normalized(t, back)
	for _, r := range back.Spec.Security.Access {
		if r.Destination == "vault" {
			t.Errorf("under the default deny, vault needs no rule: got %+v", r)
		}
	}
	if back.Spec.Security.DefaultPolicy != spec.ActionDeny {
		t.Fatalf("default policy = %q, want deny", back.Spec.Security.DefaultPolicy)
	}
	back.Default()
	second, _ = translate(t, back, adapters.Options{})
	compareObjects(t, first, second, "policy.linkerd.io/v1beta3 Server ops/vault-http")
}

// TestAuthorizedServerRefusesUnmatchedTraffic checks that a Server with authorizations has
// accessPolicy deny under the default allow: Linkerd applies the accessPolicy to the traffic no
// authorization matches, so all-authenticated would admit every meshed caller, not only the
// allow rule's sources. A Server without authorization keeps the mTLS mode's policy.
func TestAuthorizedServerRefusesUnmatchedTraffic(t *testing.T) {
	objs, _ := translate(t, loadCase(t, "deny-all"), adapters.Options{})
	o := mustFind(t, objs, "policy.linkerd.io/v1beta3", "Server", "shop", "reports-http-8080")
	if got, _, _ := unstructured.NestedString(o.Object, "spec", "accessPolicy"); got != "deny" {
		t.Errorf("reports-http-8080 (authorized for web only) accessPolicy = %q, want deny", got)
	}
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - {name: web, ports: [{port: 8080}]}
    - {name: api, ports: [{port: 8080}]}
  security:
    mtlsOverrides: [{service: web, mode: permissive}]
    access:
      - {name: web-to-api, destination: api, sources: [web]}
`)
	objs, _ = translate(t, d, adapters.Options{})
	for srv, want := range map[string]string{"api-http": "deny", "web-http": "all-unauthenticated"} {
		o := mustFind(t, objs, "policy.linkerd.io/v1beta3", "Server", "shop", srv)
		if got, _, _ := unstructured.NestedString(o.Object, "spec", "accessPolicy"); got != want {
			t.Errorf("Server %s accessPolicy = %q, want %q", srv, got, want)
		}
	}
}

// TestImportServerWhoseAccessPolicyAdmits checks that a Server whose accessPolicy admits callers
// while an AuthorizationPolicy targets it is read as Linkerd enforces it: every caller the
// accessPolicy admits passes, so the design gets an allow rule for every caller, with a warning.
func TestImportServerWhoseAccessPolicyAdmits(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{name: http, port: 8080}]
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: api-http, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  port: 8080
  accessPolicy: all-authenticated
---
apiVersion: policy.linkerd.io/v1alpha1
kind: MeshTLSAuthentication
metadata: {name: web, namespace: shop}
spec:
  identities: [web.shop.serviceaccount.identity.linkerd.cluster.local]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: web-to-api, namespace: shop}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: api-http}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: web}]
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	normalized(t, d)
	var every bool
	for _, r := range d.Spec.Security.Access {
		if r.Name == "api-http-access-policy" && r.Destination == "api" && r.Action != spec.ActionDeny && len(r.Sources) == 1 && r.Sources[0].Namespace == "*" {
			every = true
		}
	}
	if !every {
		t.Errorf("want an allow rule for every caller of api, got %+v", d.Spec.Security.Access)
	}
	found := false
	for _, w := range ws {
		if w.Path == "Server/shop/api-http" && strings.Contains(w.Lost, "accessPolicy all-authenticated applies to the traffic no authorization matches") {
			found = true
		}
	}
	if !found {
		t.Errorf("the admitting accessPolicy must be reported, got %v", ws)
	}
}
