package linkerd_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/linkerd"
	"github.com/trellis-mesh/trellis/spec"
)

func load(t *testing.T, yml string) *spec.Design {
	t.Helper()
	ds, err := spec.LoadBytes("test.yaml", []byte(yml))
	if err != nil {
		t.Fatalf("loading design: %v", err)
	}
	return ds[0]
}

func translate(t *testing.T, d *spec.Design, opts adapters.Options) ([]*unstructured.Unstructured, []adapters.Warning) {
	t.Helper()
	out, ws, err := adapters.Translate(context.Background(), linkerd.New(), d, opts)
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	return out.Objects, ws
}

func find(objs []*unstructured.Unstructured, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetAPIVersion() == apiVersion && o.GetKind() == kind && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	return nil
}

func mustFind(t *testing.T, objs []*unstructured.Unstructured, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, apiVersion, kind, ns, name)
	if o == nil {
		var have []string
		for _, x := range objs {
			have = append(have, adapters.ObjectRef(x))
		}
		t.Fatalf("no %s %s/%s (%s) in output; have:\n  %s", kind, ns, name, apiVersion, strings.Join(have, "\n  "))
	}
	return o
}

func hasWarning(ws []adapters.Warning, path string, f adapters.Feature) *adapters.Warning {
	for i := range ws {
		if ws[i].Path == path && ws[i].Feature == f {
			return &ws[i]
		}
	}
	return nil
}

const canary = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: cart
      ports: [{port: 8080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
  traffic:
    - service: cart
      routes:
        - name: beta
          match: [{headers: {x-beta: {exact: "1"}}, path: {prefix: /api}}]
          backends: [{version: v2}]
        - name: default
          timeout: 3s
          retries: {attempts: 2, perTryTimeout: 1s, on: [gateway-error, "503", connect-failure]}
          backends: [{version: v1, weight: 80}, {version: v2, weight: 20}]
      resilience:
        outlierDetection: {consecutive5xx: 4, baseEjectionTime: 2m}
`

func TestRegisteredWithEveryCapability(t *testing.T) {
	a, ok := adapters.Get(linkerd.Name)
	if !ok {
		t.Fatal("linkerd adapter is not registered")
	}
	caps := a.Capabilities()
	for _, f := range adapters.Features {
		c, ok := caps[f.Feature]
		if !ok {
			t.Errorf("no capability for %s", f.Feature)
		}
		if c.Support != adapters.Native && c.Note == "" {
			t.Errorf("%s: %s without a note", f.Feature, c.Support)
		}
	}
	if _, ok := a.(adapters.Importer); !ok {
		t.Error("the linkerd adapter must implement adapters.Importer")
	}
}

func TestSplitAcrossPerVersionServices(t *testing.T) {
	objs, ws := translate(t, load(t, canary), adapters.Options{})
	route := mustFind(t, objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "shop", "cart-default")
	refs, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	backends := refs[0].(map[string]any)["backendRefs"].([]any)
	if len(backends) != 2 {
		t.Fatalf("backendRefs = %v", backends)
	}
	for i, want := range []struct {
		name   string
		weight int64
	}{{"cart-v1", 80}, {"cart-v2", 20}} {
		b := backends[i].(map[string]any)
		if b["name"] != want.name || b["weight"] != want.weight || b["port"] != int64(8080) || b["kind"] != "Service" {
			t.Errorf("backend %d = %v, want %s weight %d port 8080", i, b, want.name, want.weight)
		}
	}
	parents, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
	if p := parents[0].(map[string]any); p["kind"] != "Service" || p["group"] != "core" || p["name"] != "cart" || p["port"] != int64(8080) {
		t.Errorf("parentRef = %v", p)
	}
	v2 := mustFind(t, objs, "v1", "Service", "shop", "cart-v2")
	sel, _, _ := unstructured.NestedStringMap(v2.Object, "spec", "selector")
	if sel["app"] != "cart" || sel["version"] != "v2" || len(sel) != 2 {
		t.Errorf("per-version selector = %v, want app=cart,version=v2", sel)
	}
	if w := hasWarning(ws, "spec.services[0].versions", adapters.FeatureWeightedSplit); w != nil {
		t.Errorf("the default selector is part of the design, not an assumption to warn about: %v", w)
	}
}

func TestCustomSelectorSelectsPods(t *testing.T) {
	d := load(t, strings.Replace(canary, "    - name: cart\n", "    - name: cart\n      selector: {app.kubernetes.io/name: cart, tier: shop}\n", 1)+`
  security:
    access: [{destination: cart, sources: [{namespace: shop}]}]
`)
	objs, _ := translate(t, d, adapters.Options{})
	v2 := mustFind(t, objs, "v1", "Service", "shop", "cart-v2")
	sel, _, _ := unstructured.NestedStringMap(v2.Object, "spec", "selector")
	if want := map[string]string{"app.kubernetes.io/name": "cart", "tier": "shop", "version": "v2"}; !reflect.DeepEqual(sel, want) {
		t.Errorf("per-version selector = %v, want %v", sel, want)
	}
	var server *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Server" && strings.HasPrefix(o.GetName(), "cart-") {
			server = o
		}
	}
	if server == nil {
		t.Fatal("no Server for cart")
	}
	ps, _, _ := unstructured.NestedStringMap(server.Object, "spec", "podSelector", "matchLabels")
	if want := map[string]string{"app.kubernetes.io/name": "cart", "tier": "shop"}; !reflect.DeepEqual(ps, want) {
		t.Errorf("Server podSelector = %v, want %v", ps, want)
	}
}

func TestTimeoutsAndRetriesBecomeRouteAnnotations(t *testing.T) {
	objs, ws := translate(t, load(t, canary), adapters.Options{})
	ann := mustFind(t, objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "shop", "cart-default").GetAnnotations()
	want := map[string]string{
		"timeout.linkerd.io/request": "3s",
		"retry.linkerd.io/limit":     "2",
		"retry.linkerd.io/http":      "gateway-error,503",
		"retry.linkerd.io/timeout":   "1s",
	}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
		}
	}
	if w := hasWarning(ws, "spec.traffic[0].routes[1].retries.on", adapters.FeatureRetries); w == nil || !strings.Contains(w.Lost, "connect-failure") {
		t.Errorf("expected a warning naming connect-failure, got %v", ws)
	}
	beta := mustFind(t, objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "shop", "cart-beta")
	if len(beta.GetAnnotations()) != 0 {
		t.Errorf("route beta has no timeout or retries but carries %v", beta.GetAnnotations())
	}
}

func TestFailureAccrualOnPartialService(t *testing.T) {
	objs, ws := translate(t, load(t, canary), adapters.Options{})
	svc := mustFind(t, objs, "v1", "Service", "shop", "cart")
	if !linkerd.IsPartial(svc) {
		t.Fatal("the user's Service must be emitted as a partial object")
	}
	if _, hasLabels := svc.Object["metadata"].(map[string]any)["labels"]; hasLabels {
		t.Error("a partial object must not carry Trellis labels (pruning would delete the user's Service)")
	}
	ann := svc.GetAnnotations()
	if ann["balancer.linkerd.io/failure-accrual"] != "consecutive" ||
		ann["balancer.linkerd.io/failure-accrual-consecutive-max-failures"] != "4" ||
		ann["balancer.linkerd.io/failure-accrual-consecutive-min-penalty"] != "2m" ||
		ann["balancer.linkerd.io/failure-accrual-consecutive-max-penalty"] != "2m" {
		t.Errorf("failure accrual annotations = %v", ann)
	}
	if hasWarning(ws, "spec.traffic[0].resilience.outlierDetection", adapters.FeatureOutlierDetection) == nil {
		t.Error("expected a warning for the interval and max ejection percent Linkerd lacks")
	}
}

const authz = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: books, namespace: books}
spec:
  services:
    - {name: webapp, ports: [{port: 7000}]}
    - {name: authors, ports: [{port: 7001}], healthCheck: {path: /ping}}
    - {name: books, ports: [{port: 7002}]}
  security:
    mtls: permissive
    defaultPolicy: deny
    access:
      - name: webapp-reads-authors
        destination: authors
        sources: [webapp]
        when: [{methods: [GET, HEAD], paths: [/authors/*, /authors.json]}]
      - name: books-to-authors
        destination: authors
        sources: [books]
      - name: anyone-to-webapp
        destination: webapp
        sources: ["*"]
      - name: no-delete
        destination: books
        action: deny
        sources: [webapp]
`

func TestRouteLevelAuthorizationKeepsProbesAndCatchAll(t *testing.T) {
	objs, ws := translate(t, load(t, authz), adapters.Options{TrustDomain: "example.org"})
	srv := mustFind(t, objs, "policy.linkerd.io/v1beta3", "Server", "books", "authors-http")
	if p, _, _ := unstructured.NestedString(srv.Object, "spec", "accessPolicy"); p != "deny" {
		t.Errorf("Server accessPolicy = %q, want deny", p)
	}
	route := mustFind(t, objs, "policy.linkerd.io/v1beta3", "HTTPRoute", "books", "webapp-reads-authors-http")
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	if n := len(rules[0].(map[string]any)["matches"].([]any)); n != 4 {
		t.Errorf("conditioned route has %d matches, want 4 (2 methods x 2 paths)", n)
	}
	mustFind(t, objs, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "books", "webapp-reads-authors-http")
	probes := mustFind(t, objs, "policy.linkerd.io/v1beta3", "HTTPRoute", "books", "authors-http-probes")
	if !strings.Contains(mustJSON(t, probes), "/ping") {
		t.Error("the design's health-check path must be among the probe routes")
	}
	mustFind(t, objs, "policy.linkerd.io/v1beta3", "HTTPRoute", "books", "authors-http-default")
	probeAuthz := mustFind(t, objs, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "books", "authors-http-probes")
	if !strings.Contains(mustJSON(t, probeAuthz), `"NetworkAuthentication"`) {
		t.Error("probe routes must be authorized through the all-networks NetworkAuthentication")
	}
	netAuthn := mustFind(t, objs, "policy.linkerd.io/v1alpha1", "NetworkAuthentication", "books", "all-networks")
	if j := mustJSON(t, netAuthn); !strings.Contains(j, "0.0.0.0/0") || !strings.Contains(j, "::/0") {
		t.Errorf("all-networks = %s", j)
	}
	// The unconditioned rule authorizes the whole Server.
	ap := mustFind(t, objs, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "books", "books-to-authors-http")
	if k, _, _ := unstructured.NestedString(ap.Object, "spec", "targetRef", "kind"); k != "Server" {
		t.Errorf("unconditioned rule targets %s, want Server", k)
	}
	mtls := mustFind(t, objs, "policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "books", "books-to-authors")
	ids, _, _ := unstructured.NestedStringSlice(mtls.Object, "spec", "identities")
	if len(ids) != 1 || ids[0] != "books.books.serviceaccount.identity.linkerd.example.org" {
		t.Errorf("identities = %v", ids)
	}
	// webapp has no conditioned rule: no probe or catch-all routes there.
	if find(objs, "policy.linkerd.io/v1beta3", "HTTPRoute", "books", "webapp-http-probes") != nil {
		t.Error("a Server without routes keeps Linkerd's default probe authorization; no probe route expected")
	}
	// "*" under permissive mTLS also admits unauthenticated callers.
	mustFind(t, objs, "policy.linkerd.io/v1alpha1", "AuthorizationPolicy", "books", "anyone-to-webapp-http-unauthenticated")
	ns := mustFind(t, objs, "v1", "Namespace", "", "books")
	if ns.GetAnnotations()["config.linkerd.io/default-inbound-policy"] != "deny" {
		t.Errorf("namespace annotations = %v", ns.GetAnnotations())
	}
	if w := hasWarning(ws, "spec.security.access[3].action", adapters.FeatureAuthzDeny); w == nil {
		t.Errorf("deny rule must be reported, got %v", ws)
	}
	if find(objs, "policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "books", "no-delete") != nil {
		t.Error("a deny rule must not become an allow")
	}
}

func TestDenyRuleUnderDefaultAllowIsAnError(t *testing.T) {
	d := load(t, strings.Replace(authz, "defaultPolicy: deny", "defaultPolicy: allow", 1))
	_, ws := translate(t, d, adapters.Options{})
	w := hasWarning(ws, "spec.security.access[3].action", adapters.FeatureAuthzDeny)
	if w == nil || w.Severity != adapters.SeverityError {
		t.Fatalf("want an error-severity deny warning, got %v", w)
	}
}

func TestStrictModeFailsOnLoss(t *testing.T) {
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: f, namespace: f}
spec:
  services: [{name: a}]
  traffic:
    - service: a
      routes: [{name: r, fault: {abort: {httpStatus: 503, percent: 10}}}]
`)
	_, _, err := adapters.Translate(context.Background(), linkerd.New(), d, adapters.Options{Strict: true})
	var se *adapters.StrictError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "spec.traffic[0].routes[0].fault.abort") {
		t.Fatalf("strict mode error = %v", err)
	}
}

func TestMultiPortServiceGetsOneRoutePerPort(t *testing.T) {
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: m, namespace: m}
spec:
  services:
    - name: api
      ports: [{port: 8080}, {port: 8443}]
      versions: [{name: v1, labels: {version: v1}}]
  traffic:
    - service: api
      routes: [{name: all, timeout: 1s, backends: [{version: v1}]}]
`)
	objs, _ := translate(t, d, adapters.Options{})
	for _, port := range []string{"8080", "8443"} {
		r := mustFind(t, objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "m", "api-all-"+port)
		j := mustJSON(t, r)
		if !strings.Contains(j, `"port":`+port) || !strings.Contains(j, `"name":"api-v1"`) {
			t.Errorf("route for port %s: %s", port, j)
		}
	}
}

func TestGRPCServiceUsesGRPCRoute(t *testing.T) {
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: g, namespace: g}
spec:
  services:
    - name: users
      protocol: grpc
      ports: [{port: 50051}]
  traffic:
    - service: users
      routes:
        - name: get
          match: [{path: {exact: /users.v1.Users/Get}}]
          retries: {attempts: 2, on: [unavailable, internal, 5xx]}
        - name: default
`)
	objs, ws := translate(t, d, adapters.Options{})
	r := mustFind(t, objs, "gateway.networking.k8s.io/v1", "GRPCRoute", "g", "users-get")
	if j := mustJSON(t, r); !strings.Contains(j, `"service":"users.v1.Users"`) || !strings.Contains(j, `"method":"Get"`) {
		t.Errorf("GRPCRoute = %s", j)
	}
	if got := r.GetAnnotations()["retry.linkerd.io/grpc"]; got != "unavailable,internal" {
		t.Errorf("retry.linkerd.io/grpc = %q", got)
	}
	if hasWarning(ws, "spec.traffic[0].routes[0].retries.on", adapters.FeatureRetries) == nil {
		t.Error("5xx on a gRPC route must be reported")
	}
}

func TestDeterministic(t *testing.T) {
	d := load(t, authz)
	first, _ := translate(t, d, adapters.Options{})
	a, _ := adapters.RenderYAML(first)
	for i := 0; i < 5; i++ {
		again, _ := translate(t, d, adapters.Options{})
		b, _ := adapters.RenderYAML(again)
		if string(a) != string(b) {
			t.Fatal("translation is not deterministic")
		}
	}
}

func TestNilDesignIsAnError(t *testing.T) {
	if _, _, err := linkerd.New().Translate(context.Background(), nil, adapters.Options{}); err == nil {
		t.Fatal("want an error for a nil design")
	}
}

func TestServiceProfilesOption(t *testing.T) {
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: sp, namespace: sp}
spec:
  services:
    - name: books
      ports: [{port: 7002}]
      versions: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
  traffic:
    - service: books
      routes:
        - name: get-book
          match: [{path: {prefix: /books}, method: GET}]
          timeout: 2s
          retries: {attempts: 2, on: [5xx], budget: {percent: 10, minRetryConcurrency: 4}}
        - name: default
          backends: [{version: v1, weight: 90}, {version: v2, weight: 10}]
`)
	objs, ws := translate(t, d, adapters.Options{ServiceProfiles: true})
	if find(objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "sp", "books-get-book") != nil {
		t.Error("with ServiceProfiles no mesh HTTPRoute may be emitted (Linkerd would ignore it)")
	}
	sp := mustFind(t, objs, "linkerd.io/v1alpha2", "ServiceProfile", "sp", "books.sp.svc.cluster.local")
	j := mustJSON(t, sp)
	for _, want := range []string{
		`"retryRatio":0.1`, `"minRetriesPerSecond":4`, `"ttl":"10s"`,
		`"isRetryable":true`, `"timeout":"2s"`,
		`"pathRegex":"/books(/.*)?"`, `"method":"GET"`,
		`"authority":"books-v1.sp.svc.cluster.local:7002","weight":90`,
		`"authority":"books-v2.sp.svc.cluster.local:7002","weight":10`,
	} {
		if !strings.Contains(j, want) {
			t.Errorf("ServiceProfile lacks %s:\n%s", want, j)
		}
	}
	if strings.Contains(j, `"name":"default"`) {
		t.Error("a catch-all route without timeout or retries must not become a ServiceProfile route")
	}
	if hasWarning(ws, "spec.traffic[0].routes", adapters.FeatureRetryBudget) == nil {
		t.Error("the budget's different unit must be reported")
	}
}

func TestNameCollisionIsAnError(t *testing.T) {
	// Service "users" with a route "grpc" and an access rule "users" on port "grpc" would both
	// produce GRPCRoute users-grpc.
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: c, namespace: c}
spec:
  services:
    - {name: users, protocol: grpc, ports: [{port: 50051}]}
    - {name: api}
  traffic:
    - service: users
      routes: [{name: grpc, timeout: 1s}]
  security:
    access:
      - name: users
        destination: users
        sources: [api]
        when: [{paths: [/users.v1.Users/*]}]
`)
	_, _, err := adapters.Translate(context.Background(), linkerd.New(), d, adapters.Options{})
	if err == nil || !strings.Contains(err.Error(), "GRPCRoute c/users-grpc") {
		t.Fatalf("want a collision error naming GRPCRoute c/users-grpc, got %v", err)
	}
}

func TestRouteToExternalServiceOnlyIsDropped(t *testing.T) {
	d := load(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: e, namespace: e}
spec:
  services: [{name: app}]
  externalServices:
    - {name: stripe, hosts: [api.stripe.com], tls: {mode: originate}}
  traffic:
    - service: app
      routes:
        - {name: out, match: [{path: {prefix: /pay}}], backends: [{service: stripe}]}
        - {name: default}
`)
	objs, ws := translate(t, d, adapters.Options{})
	if find(objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "e", "app-out") != nil {
		t.Error("a route whose only backend is external must not be emitted")
	}
	mustFind(t, objs, "gateway.networking.k8s.io/v1", "HTTPRoute", "e", "app-default")
	if w := hasWarning(ws, "spec.traffic[0].routes[0].backends", adapters.FeatureWeightedSplit); w == nil || w.Severity != adapters.SeverityError {
		t.Errorf("want an error-severity warning for the dropped route, got %v", ws)
	}
	if hasWarning(ws, "spec.externalServices[0].tls", adapters.FeatureExternalServices) == nil {
		t.Error("TLS origination must be reported")
	}
}
