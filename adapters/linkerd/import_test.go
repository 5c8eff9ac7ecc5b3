package linkerd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/linkerd"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	if o, ok := v.(*unstructured.Unstructured); ok {
		v = o.Object
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func importObjects(t *testing.T, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning) {
	t.Helper()
	d, ws, err := linkerd.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return d, ws
}

// normalized defaults and validates an imported design (it must be a valid design) and returns
// its JSON with the parts a translation cannot carry removed.
func normalized(t *testing.T, d *spec.Design) string {
	t.Helper()
	c := d.Clone()
	c.Default()
	if vs := c.Validate(); len(vs) > 0 {
		t.Fatalf("imported design is invalid: %v\n%s", vs, mustJSON(t, c))
	}
	c.Metadata.Annotations = nil
	// Order is not carried by Linkerd objects: compare sets.
	sort.SliceStable(c.Spec.Services, func(i, j int) bool { return c.Spec.Services[i].Name < c.Spec.Services[j].Name })
	for i := range c.Spec.Services {
		v := c.Spec.Services[i].Versions
		sort.SliceStable(v, func(a, b int) bool { return v[a].Name < v[b].Name })
	}
	sort.SliceStable(c.Spec.Traffic, func(i, j int) bool { return c.Spec.Traffic[i].Service < c.Spec.Traffic[j].Service })
	if c.Spec.Security != nil {
		a := c.Spec.Security.Access
		sort.SliceStable(a, func(i, j int) bool { return a[i].Name < a[j].Name })
		for i := range a {
			src := a[i].Sources
			sort.SliceStable(src, func(x, y int) bool { return mustJSON(t, src[x]) < mustJSON(t, src[y]) })
		}
	}
	// Sampling has no Linkerd field: the default (1%) comes back.
	if c.Spec.Telemetry != nil && c.Spec.Telemetry.Tracing != nil {
		c.Spec.Telemetry.Tracing.SamplingPercent = nil
	}
	b, _ := json.MarshalIndent(c, "", " ")
	return string(b)
}

// TestRoundTripDesign checks import(translate(d)) ≈ d for realistic designs that only use what
// Linkerd expresses: the imported design, defaulted, equals the original.
func TestRoundTripDesign(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "roundtrip", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no round-trip designs")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ds, err := spec.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			objs, ws := translate(t, d, adapters.Options{})
			for _, w := range ws {
				// Failure accrual has no sweep interval or ejection cap; their defaults are
				// always set, so that approximation is always reported.
				if w.Severity != adapters.SeverityInfo && w.Feature != adapters.FeatureOutlierDetection {
					t.Errorf("round-trip designs must translate without loss, got %s", w)
				}
			}
			back, iws := importObjects(t, objs)
			for _, w := range iws {
				// A Server with accessPolicy deny and no authorization is read back as a deny
				// rule of every caller, which the importer says (info).
				if w.Severity == adapters.SeverityInfo && w.Feature == adapters.FeatureAuthzDeny {
					continue
				}
				t.Errorf("unexpected import warning: %s", w)
			}
			if got, want := normalized(t, back), normalized(t, d); got != want {
				t.Errorf("import(translate(d)) differs from d:\n%s", adaptertest.DiffYAML([]byte(want), []byte(got)))
			}
		})
	}
}

// TestRoundTripSharedCases checks that importing the translation of every shared case gives a
// valid design whose translation is the same objects again (translate∘import is idempotent on
// the adapter's own output).
func TestRoundTripSharedCases(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(adaptertest.CasesDir(t), "*.yaml"))
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			ds, err := spec.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := translate(t, ds[0], adapters.Options{})
			back, _ := importObjects(t, first)
			normalized(t, back) // must be valid
			back.Default()
			second, _ := translate(t, back, adapters.Options{})
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			compareObjects(t, first, second, knownLoss[name]...)
		})
	}
}

// TestRoundTripLinkerdConfigs checks translate(import(x)) ≈ x on hand-written Linkerd
// configurations (emojivoto- and booksapp-style): every object comes back with the same spec
// and annotations, and nothing else is generated.
func TestRoundTripLinkerdConfigs(t *testing.T) {
	for _, tc := range []struct {
		file string
		opts adapters.Options
	}{
		{"emojivoto-linkerd.yaml", adapters.Options{}},
		{"booksapp-linkerd.yaml", adapters.Options{}},
		{"booksapp-serviceprofiles.yaml", adapters.Options{ServiceProfiles: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "import", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			x, err := adaptertest.ParseObjects(data)
			if err != nil {
				t.Fatal(err)
			}
			d, ws := importObjects(t, x)
			for _, w := range ws {
				t.Errorf("unexpected import warning: %s", w)
			}
			normalized(t, d)
			d.Default()
			out, _ := translate(t, d, tc.opts)
			compareObjects(t, x, out)
		})
	}
}

// knownLoss lists, per shared case, objects a translation of the imported design cannot give
// back, with the reason.
var knownLoss = map[string][]string{
	// storefront only calls other services: no object of its namespace names a service, so
	// the imported design has no service there and the namespace's default policy has no owner.
	"multi-namespace": {"v1 Namespace /shop"},
}

// compareObjects compares two object sets by identity, spec and annotations (labels aside);
// objects named in lost may be missing from got.
func compareObjects(t *testing.T, want, got []*unstructured.Unstructured, lost ...string) {
	t.Helper()
	key := func(o *unstructured.Unstructured) string {
		return o.GetAPIVersion() + " " + o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	index := func(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
		m := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			m[key(o)] = o
		}
		return m
	}
	w, g := index(want), index(got)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, b := w[k], g[k]
		switch {
		case a == nil:
			t.Errorf("extra object %s:\n%s", k, mustJSON(t, b))
		case b == nil:
			if !contains(lost, k) {
				t.Errorf("missing object %s", k)
			}
		default:
			if !reflect.DeepEqual(comparable(a), comparable(b)) {
				wa, _ := json.MarshalIndent(comparable(a), "", " ")
				ga, _ := json.MarshalIndent(comparable(b), "", " ")
				t.Errorf("object %s differs (-want +got):\n%s", k, adaptertest.DiffYAML(wa, ga))
			}
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func comparable(o *unstructured.Unstructured) map[string]any {
	c := map[string]any{"spec": normalizeNumbers(o.Object["spec"])}
	if a := o.GetAnnotations(); len(a) > 0 {
		c["annotations"] = a
	}
	return c
}

// normalizeNumbers makes integers from YAML (int64) and from the translator (int64) and floats
// comparable through a JSON round trip.
func normalizeNumbers(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// TestImportWarnsOnWhatADesignCannotHold checks that objects without a design equivalent are
// reported, not silently dropped.
func TestImportWarnsOnWhatADesignCannotHold(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: policy.linkerd.io/v1beta1
kind: ServerAuthorization
metadata: {name: legacy, namespace: ns}
spec: {server: {name: web-http}, client: {unauthenticated: true}}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: web-http, namespace: ns}
spec: {podSelector: {matchLabels: {app: web}}, port: 8080}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: NetworkAuthentication
metadata: {name: office, namespace: ns}
spec: {networks: [{cidr: 10.0.0.0/8}]}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: office-to-web, namespace: ns}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: web-http}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: NetworkAuthentication, name: office}]
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: ns-wide, namespace: ns}
spec:
  targetRef: {kind: Namespace, name: ns}
  requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: x}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web-default
  namespace: ns
  annotations: {timeout.linkerd.io/response: 1s, retry.linkerd.io/http: "500-504"}
spec:
  parentRefs: [{group: core, kind: Service, name: web, port: 80}]
  rules:
    - backendRefs: [{name: web, port: 80}]
      filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	var lines []string
	for _, w := range ws {
		lines = append(lines, w.String())
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"network-based authentication (10.0.0.0/8)",
		"namespace-wide authorization",
		"timeout.linkerd.io/response",
		`status range "500-504"`,
		`filter "RequestMirror"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning mentions %q; warnings:\n%s", want, all)
		}
	}
	if d.Metadata.Namespace != "ns" || len(d.Spec.Services) != 1 || d.Spec.Services[0].Name != "web" {
		t.Errorf("imported design = %s", mustJSON(t, d))
	}
	// The legacy ServerAuthorization (unauthenticated clients of web-http) is an access rule.
	found := false
	for _, r := range d.Spec.Security.Access {
		if r.Name == "legacy" {
			found = r.Destination == "web" && len(r.Sources) == 1 && r.Sources[0].Service == "*"
		}
	}
	if !found {
		t.Errorf("ServerAuthorization legacy not imported as an allow rule of web from any caller: %s", mustJSON(t, d.Spec.Security))
	}
}

// TestImportSurvivesMalformedObjects feeds objects with missing or mistyped fields: the
// importer reports or ignores them and never panics.
func TestImportSurvivesMalformedObjects(t *testing.T) {
	bad := []map[string]any{
		{"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server", "metadata": map[string]any{"name": "s", "namespace": "n"}},
		{"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server", "metadata": map[string]any{"name": "s2", "namespace": "n"}, "spec": map[string]any{"port": "http", "podSelector": "x"}},
		{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": map[string]any{"name": "r", "namespace": "n"}, "spec": map[string]any{"parentRefs": []any{"x", map[string]any{"kind": "Service"}}, "rules": []any{"y", map[string]any{"matches": []any{1}, "backendRefs": []any{2}, "filters": []any{3}}}}},
		{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": map[string]any{"name": "g", "namespace": "n"}, "spec": 5},
		{"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy", "metadata": map[string]any{"name": "a", "namespace": "n"}, "spec": map[string]any{"targetRef": map[string]any{"kind": "HTTPRoute", "name": "nope"}, "requiredAuthenticationRefs": []any{"z"}}},
		{"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "MeshTLSAuthentication", "metadata": map[string]any{"name": "m", "namespace": "n"}, "spec": map[string]any{"identities": []any{"not-an-identity", 7}}},
		{"apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile", "metadata": map[string]any{"name": "x.n.svc.cluster.local", "namespace": "n"}, "spec": map[string]any{"routes": []any{"q", map[string]any{"condition": map[string]any{"any": []any{1}}}}, "dstOverrides": []any{4}}},
		{"apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile", "metadata": map[string]any{"name": "bad", "namespace": "n"}},
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "svc", "namespace": "n", "annotations": map[string]any{"balancer.linkerd.io/failure-accrual": "consecutive", "balancer.linkerd.io/failure-accrual-consecutive-max-failures": "lots"}}, "spec": map[string]any{"ports": []any{"p"}}},
		{"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "HTTPLocalRateLimitPolicy", "metadata": map[string]any{"name": "rl", "namespace": "n"}, "spec": map[string]any{"targetRef": map[string]any{"name": "s"}}},
	}
	var objs []*unstructured.Unstructured
	for _, b := range bad {
		objs = append(objs, &unstructured.Unstructured{Object: b})
	}
	objs = append(objs, nil)
	if _, _, err := linkerd.New().Import(context.Background(), objs, adapters.ImportOptions{}); err != nil {
		t.Fatalf("import of malformed objects should report warnings, not fail: %v", err)
	}
}

// TestGeneratedDesign translates a generated 60-service design (every protocol, splits,
// matches, resilience, default deny with an access rule per service), validates every object
// against the CRDs, and checks that translating its import gives the same objects back.
func TestGeneratedDesign(t *testing.T) {
	d := spectest.Design(60)
	first, _ := translate(t, d, adapters.Options{})
	var crd []*unstructured.Unstructured
	for _, o := range first {
		if o.GetAPIVersion() != "v1" {
			crd = append(crd, o)
		}
	}
	if len(crd) < 100 {
		t.Fatalf("only %d CRD objects for 60 services", len(crd))
	}
	adaptertest.ValidateAgainstCRDs(t, crd, adaptertest.CRDDir("linkerd"), adaptertest.CRDDir("gateway-api"))
	back, _ := importObjects(t, first)
	normalized(t, back)
	back.Default()
	second, _ := translate(t, back, adapters.Options{})
	compareObjects(t, first, second)
}

// TestImportSelectors checks that real selectors become the services' selectors: a full
// Service's spec.selector, per-version Services under a base Service with a non-app selector,
// and Servers whose pod selectors do not use the app label; matchExpressions are reported.
func TestImportSelectors(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {selector: {app.kubernetes.io/name: web-frontend}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: ns}
spec: {selector: {service: reviews}, ports: [{port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v1, namespace: ns}
spec: {selector: {service: reviews, version: v1}, ports: [{port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2, namespace: ns}
spec: {selector: {service: reviews, version: v2}, ports: [{port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: shop-frontend, namespace: ns}
spec: {selector: {app.kubernetes.io/instance: shop, app.kubernetes.io/name: frontend}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: shop-cart, namespace: ns}
spec: {selector: {app.kubernetes.io/instance: shop, app.kubernetes.io/name: cart}, ports: [{port: 80}]}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: reviews-http, namespace: ns}
spec: {podSelector: {matchLabels: {service: reviews}}, port: 9080}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: reviews-v1-admin, namespace: ns}
spec: {podSelector: {matchLabels: {service: reviews, version: v1}}, port: 9080}
---
apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata: {name: ratings-http, namespace: ns}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: ratings}
    matchExpressions: [{key: track, operator: In, values: [stable]}]
  port: 9080
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	got := map[string]spec.Service{}
	for _, s := range d.Spec.Services {
		got[s.Name] = s
	}
	if len(got) != 5 {
		t.Fatalf("want services web, reviews, ratings, shop-frontend, shop-cart (the Services of one Helm release are not versions of it); got %s", mustJSON(t, d.Spec.Services))
	}
	for name, want := range map[string]map[string]string{
		"web":       {"app.kubernetes.io/name": "web-frontend"},
		"reviews":   {"service": "reviews"},
		"ratings":   {"app.kubernetes.io/name": "ratings"},
		"shop-cart": {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/name": "cart"},
	} {
		if s := got[name]; !reflect.DeepEqual(s.Selector, want) {
			t.Errorf("service %s: selector %v, want %v", name, s.Selector, want)
		}
	}
	if vs := got["reviews"].Versions; len(vs) != 2 || !reflect.DeepEqual(vs[0].Labels, map[string]string{"version": "v1"}) {
		t.Errorf("reviews versions = %+v, want v1 {version: v1} and v2", vs)
	}
	found, narrowed := false, false
	for _, w := range ws {
		found = found || strings.Contains(w.String(), "matchExpressions")
		narrowed = narrowed || (strings.Contains(w.Path, "reviews-v1-admin") && strings.Contains(w.Lost, "version=v1"))
	}
	if !found {
		t.Errorf("no warning about the Server's matchExpressions: %v", ws)
	}
	if !narrowed {
		t.Errorf("no warning that Server reviews-v1-admin selects only version=v1 pods: %v", ws)
	}
}

// Gateway API rule fields Linkerd does not act on (the experimental retry field, session
// persistence) are reported with their path, not dropped silently.
func TestImportReportsRuleFieldsLinkerdIgnores(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: split-route, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: service, port: 80}]
  rules:
  - backendRefs:
    - {name: servicev1, port: 80, weight: 50}
    - {name: servicev2, port: 80, weight: 50}
    sessionPersistence: {sessionName: split-route-cookie, type: Cookie}
    timeouts: {request: 10s}
    retry: {codes: [500, 503], attempts: 2, backoff: 100ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	var all []string
	for _, w := range ws {
		all = append(all, w.String())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{
		"spec.rules[0].retry: Linkerd ignores the Gateway API retry field",
		"spec.rules[0].sessionPersistence: Linkerd has no session persistence",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Routes[0].Timeout.String() != "10s" {
		t.Errorf("route = %s", mustJSON(t, d.Spec.Traffic))
	}
}

// TestImportProfileMetricsOnlyRoutes: ServiceProfile routes without timeout or retries are kept
// while a later route has behaviour (the first matching route wins) and dropped, with an info
// note, after the last one that has.
func TestImportProfileMetricsOnlyRoutes(t *testing.T) {
	route := func(name, prefix string, extra map[string]any) any {
		r := map[string]any{"name": name, "condition": map[string]any{"method": "GET", "pathRegex": prefix + ".*"}}
		for k, v := range extra {
			r[k] = v
		}
		return r
	}
	x := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "api", "namespace": "n"},
			"spec": map[string]any{"selector": map[string]any{"app": "api"}, "ports": []any{map[string]any{"port": int64(80)}}}}},
		{Object: map[string]any{"apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile", "metadata": map[string]any{"name": "api.n.svc.cluster.local", "namespace": "n"},
			"spec": map[string]any{"routes": []any{
				route("metrics-first", "/a", nil),
				route("slow", "/", map[string]any{"timeout": "2s"}),
				route("metrics-1", "/b", nil),
				route("metrics-2", "/c", nil),
			}}}},
	}
	d, ws := importObjects(t, x)
	var names []string
	for _, tp := range d.Spec.Traffic {
		for _, r := range tp.Routes {
			names = append(names, r.Name)
		}
	}
	if strings.Join(names, ",") != "metrics-first,slow" {
		t.Errorf("routes = %v, want metrics-first (before a route with a timeout) and slow", names)
	}
	found := false
	for _, w := range ws {
		found = found || (w.Severity == adapters.SeverityInfo && strings.Contains(w.Lost, "2 route(s) with neither timeout nor retries"))
	}
	if !found {
		t.Errorf("no info about the 2 metrics-only routes: %v", ws)
	}
}
