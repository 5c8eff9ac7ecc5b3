package istio_test

import (
	"context"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
)

// TestImportRealWorldShapes covers shapes common in published Istio configurations: a canary
// VirtualService whose first host is a public hostname (as progressive-delivery tools write
// them), routes to subsets whose DestinationRule lives in another file, and a VirtualService
// bound only to an ingress gateway. Each must give a valid design that keeps the mesh intent.
func TestImportRealWorldShapes(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: podinfo, namespace: test}
spec:
  gateways: [public-gateway.istio-system.svc.cluster.local, mesh]
  hosts: [app.example.com, podinfo]
  http:
  - match: [{headers: {x-canary: {exact: insider}}}]
    route: [{destination: {host: podinfo-canary}}]
  - route:
    - {destination: {host: podinfo-primary}, weight: 90}
    - {destination: {host: podinfo-canary}, weight: 10}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews, namespace: test}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: bookinfo, namespace: test}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - match: [{uri: {exact: /productpage}}]
    route: [{destination: {host: productpage, port: {number: 9080}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws, err := istio.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vs := d.Validate(); len(vs) > 0 {
		t.Fatalf("imported design is invalid: %v", vs)
	}
	traffic := map[string]spec.TrafficPolicy{}
	for _, tp := range d.Spec.Traffic {
		traffic[tp.Service] = tp
	}
	pod, ok := traffic["podinfo"]
	if !ok || len(pod.Routes) != 2 || pod.Routes[1].Backends[0].Service != "podinfo-primary" || pod.Routes[1].Backends[0].Weight != 90 {
		t.Fatalf("the canary routes of the mesh host were lost: %+v", d.Spec.Traffic)
	}
	rv := traffic["reviews"]
	if len(rv.Routes) != 1 || rv.Routes[0].Backends[1].Version != "v2" {
		t.Fatalf("reviews split: %+v", rv)
	}
	if _, ok := traffic["*"]; ok {
		t.Fatal(`a gateway-only VirtualService became traffic for a service named "*"`)
	}
	var productpage bool
	for _, s := range d.Spec.Services {
		productpage = productpage || s.Name == "productpage"
		if s.Name == "reviews" && len(s.Versions) != 2 {
			t.Errorf("subsets without a DestinationRule must become versions: %+v", s.Versions)
		}
	}
	if !productpage {
		t.Error("the gateway route's destination must still be declared")
	}
	joined := ""
	for _, w := range ws {
		joined += w.String() + "\n"
	}
	for _, want := range []string{"defined by no imported DestinationRule", "ingress gateways", `imported for host "podinfo"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("no warning containing %q:\n%s", want, joined)
		}
	}
}
