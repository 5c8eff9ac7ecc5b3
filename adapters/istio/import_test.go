package istio_test

import (
	"context"
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
