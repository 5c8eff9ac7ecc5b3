package istio_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
)

// TestImportWarnsAboutWhatDoesNotMap checks that every Istio field without a design equivalent
// is reported with the object and field path, and that the rest is still imported.
func TestImportWarnsAboutWhatDoesNotMap(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  gateways: [shop-gateway, mesh]
  http:
  - match:
    - uri: {prefix: /api}
      ignoreUriCase: true
    corsPolicy: {allowOrigins: [{exact: "https://shop.example"}]}
    route:
    - destination: {host: reviews}
  - directResponse: {status: 503}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress: [{hosts: ["./*"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  action: CUSTOM
  provider: {name: opa}
  rules: [{}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: PASSTHROUGH}
    outlierDetection: {consecutive5xxErrors: 3, consecutiveGatewayErrors: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws, err := istio.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, w := range ws {
		lines = append(lines, w.Path+" "+w.Lost)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"VirtualService shop/reviews: spec.gateways",
		"VirtualService shop/reviews: spec.http[0].corsPolicy",
		"VirtualService shop/reviews: spec.http[0].match[0].ignoreUriCase",
		"VirtualService shop/reviews: spec.http[0].match[0].uri.prefix",
		"VirtualService shop/reviews: spec.http[1].directResponse",
		"Sidecar shop/default",
		"AuthorizationPolicy shop/ext-authz: spec.action",
		"DestinationRule shop/reviews: spec.trafficPolicy.loadBalancer.simple",
		"DestinationRule shop/reviews: spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning for %q; got:\n%s", want, all)
		}
	}
	if d.Metadata.Name != "shop" || d.Metadata.Namespace != "shop" {
		t.Errorf("design named %s/%s, want shop/shop", d.Metadata.Namespace, d.Metadata.Name)
	}
	if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Resilience == nil || d.Spec.Traffic[0].Resilience.OutlierDetection.Consecutive5xx != 3 {
		t.Errorf("outlier detection not imported: %+v", d.Spec.Traffic)
	}
	if vs := d.Validate(); len(vs) > 0 {
		t.Errorf("imported design is invalid: %v", vs)
	}
}

// TestImportSelectors checks that workload selectors without the app label become the
// services' selectors: from the Istio objects alone (no Kubernetes Services), from a Kubernetes
// Service's selector, and from subsets whose app label is not the service's name.
func TestImportSelectors(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewer, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: reviews, app.kubernetes.io/part-of: bookinfo}}
  rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/productpage]}}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: reviews, app.kubernetes.io/part-of: bookinfo, app.kubernetes.io/version: v1}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-v2-only, namespace: shop}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: cart, version: v2}}
  rules: [{from: [{source: {namespaces: [shop]}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: shop}
spec:
  host: cart
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {selector: {service: ratings}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: all-backends, namespace: shop}
spec: {selector: {tier: backend}, ports: [{name: http, port: 80}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: ratings-jwt, namespace: shop}
spec:
  selector: {matchLabels: {service: ratings, tier: backend}}
  jwtRules: [{issuer: "https://issuer.example", jwksUri: "https://issuer.example/jwks"}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details, namespace: shop}
spec:
  host: details
  subsets:
  - {name: v1, labels: {app: details-app, version: v1}}
  - {name: v2, labels: {app: details-app, version: v2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws, err := istio.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if strings.Contains(w.Lost, "dropped") {
			t.Errorf("unexpected loss: %s %s", w.Path, w.Lost)
		}
	}
	narrowed := false
	for _, w := range ws {
		narrowed = narrowed || (strings.HasPrefix(w.Path, "AuthorizationPolicy shop/cart-v2-only: spec.selector.matchLabels") && strings.Contains(w.Lost, "version=v2"))
	}
	if !narrowed {
		t.Errorf("no warning that cart-v2-only selects only version=v2 pods: %v", ws)
	}
	got := map[string]map[string]string{}
	for _, s := range d.Spec.Services {
		got[s.Name] = s.Selector
	}
	want := map[string]map[string]string{
		"reviews": {"app.kubernetes.io/name": "reviews", "app.kubernetes.io/part-of": "bookinfo"},
		"ratings": {"service": "ratings"},
		"details": {"app": "details-app"},
		"cart":    {"app.kubernetes.io/name": "cart"},
	}
	for name, sel := range want {
		if !reflect.DeepEqual(got[name], sel) {
			t.Errorf("service %s: selector %v, want %v", name, got[name], sel)
		}
	}
	if sec := d.Spec.Security; sec == nil || len(sec.Access) != 2 || len(sec.RequestAuthentication) != 1 || sec.RequestAuthentication[0].Services[0] != "ratings" {
		t.Errorf("policies not attached to the selected services: %+v", d.Spec.Security)
	}
	if vs := d.Validate(); len(vs) > 0 {
		t.Errorf("imported design is invalid: %v", vs)
	}
}
