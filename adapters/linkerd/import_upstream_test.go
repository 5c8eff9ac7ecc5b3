package linkerd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/spec"
)

// An AuthorizationPolicy for a Server another chart installs (Flagger's
// kustomize/linkerd/authorizationpolicy.yaml grants its service account linkerd-viz's
// prometheus-admin Server) names the missing Server and what to add.
func TestImportPolicyOfAServerNotInTheInput(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {namespace: linkerd-viz, name: prometheus-admin-flagger}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: prometheus-admin}
  requiredAuthenticationRefs:
  - {kind: ServiceAccount, name: flagger, namespace: flagger-system}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {namespace: linkerd-viz, name: route-policy}
spec:
  targetRef: {group: policy.linkerd.io, kind: HTTPRoute, name: metrics}
  requiredAuthenticationRefs:
  - {kind: ServiceAccount, name: flagger, namespace: flagger-system}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	if d.Spec.Security != nil && len(d.Spec.Security.Access) > 0 {
		t.Errorf("access rules without their Server: %+v", d.Spec.Security.Access)
	}
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	joined := strings.Join(said, "\n")
	for _, want := range []string{
		"AuthorizationPolicy/linkerd-viz/prometheus-admin-flagger: target Server linkerd-viz/prometheus-admin is not among the objects: not imported (the design needs the Server's pods and port: add the Server",
		`AuthorizationPolicy/linkerd-viz/route-policy: target HTTPRoute "metrics" is not among the objects`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
}

func importLinkerdYAML(t *testing.T, yaml string) (*spec.Design, string) {
	t.Helper()
	objs, err := adaptertest.ParseObjects([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	return d, strings.Join(said, "\n")
}

// ServiceProfile dstOverrides weights are quantities (linkerd2's
// test/integration/viz/trafficsplit/testdata/sp: 500m and 0m): read in thousandths, not as 0
// each (which the design would split equally); an authority port the Service lacks is dropped
// with a warning instead of making the design invalid.
func TestImportDstOverrideQuantities(t *testing.T) {
	d, ws := importLinkerdYAML(t, `
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: backend-svc.sp.svc.cluster.local, namespace: sp}
spec:
  dstOverrides:
  - {authority: "backend-svc.sp.svc.cluster.local", weight: 500m}
  - {authority: "failing-svc.sp.svc.cluster.local:8081", weight: 0m}
---
apiVersion: v1
kind: Service
metadata: {name: backend-svc, namespace: sp}
spec: {selector: {app: backend}, ports: [{name: http, port: 8080, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: failing-svc, namespace: sp}
spec: {selector: {app: failing}, ports: [{name: http, port: 8080, targetPort: 8080}]}
`)
	d.Default()
	if vs := d.Validate(); len(vs) > 0 {
		t.Fatalf("invalid design: %v", vs)
	}
	bs := d.Spec.Traffic[0].Routes[0].Backends
	if len(bs) != 2 || bs[0].Weight != 500 || bs[1].Service != "failing-svc" || bs[1].Weight != 0 || bs[1].Port != 0 {
		t.Errorf("backends = %+v, want backend-svc 500, failing-svc 0 on its own port", bs)
	}
	if !strings.Contains(ws, `spec.dstOverrides[1].authority "failing-svc.sp.svc.cluster.local:8081": port 8081 is not a port of Service sp/failing-svc (8080)`) {
		t.Errorf("warnings:\n%s", ws)
	}
	// Whole numbers (what the translation writes) stay whole; large ones are rescaled.
	d, ws = importLinkerdYAML(t, `
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.ns.svc.cluster.local, namespace: ns}
spec:
  dstOverrides:
  - {authority: "web.ns.svc.cluster.local:80", weight: 90}
  - {authority: "web-canary.ns.svc.cluster.local:80", weight: "10"}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: api.ns.svc.cluster.local, namespace: ns}
spec:
  dstOverrides:
  - {authority: "api.ns.svc.cluster.local", weight: 30k}
  - {authority: "api-next.ns.svc.cluster.local", weight: 10k}
`)
	got := map[string][]int32{}
	for _, tp := range d.Spec.Traffic {
		for _, b := range tp.Routes[0].Backends {
			got[tp.Service] = append(got[tp.Service], b.Weight)
		}
	}
	if w := got["web"]; len(w) != 2 || w[0] != 90 || w[1] != 10 {
		t.Errorf("web weights = %v, want 90/10", w)
	}
	if w := got["api"]; len(w) != 2 || w[0] != 7500 || w[1] != 2500 {
		t.Errorf("api weights = %v, want 7500/2500 (30k/10k rescaled)", w)
	}
	if !strings.Contains(ws, "weights rescaled to parts of 10000") {
		t.Errorf("warnings:\n%s", ws)
	}
}

// A Server no imported authorization admits anyone to denies every request (its accessPolicy
// defaults to deny): the design says so with a deny rule, unless the namespace default is deny.
// An AuthorizationPolicy whose targetRef is a list (linkerd2's emoji-policy test data) is
// reported as the CRD would reject it.
func TestImportUnauthorizedServerDenies(t *testing.T) {
	d, ws := importLinkerdYAML(t, `
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: emojivoto}
spec: {selector: {app: web-svc}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: voting-svc, namespace: emojivoto}
spec: {selector: {app: voting-svc}, ports: [{name: grpc, port: 8080, targetPort: 8080}, {name: prom, port: 8801, targetPort: 8801}]}
---
apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: {name: web-http, namespace: emojivoto}
spec: {podSelector: {matchLabels: {app: web-svc}}, port: 8080, proxyProtocol: HTTP/1}
---
apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: {name: voting-prom, namespace: emojivoto}
spec: {podSelector: {matchLabels: {app: voting-svc}}, port: 8801, accessPolicy: all-unauthenticated}
---
apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: {name: voting-grpc, namespace: emojivoto}
spec: {podSelector: {matchLabels: {app: voting-svc}}, port: 8080, proxyProtocol: gRPC}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: web-public, namespace: emojivoto}
spec:
  targetRef:
  - {group: policy.linkerd.io, kind: Server, name: web-http}
  requiredAuthenticationRefs:
  - {group: policy.linkerd.io, kind: NetworkAuthentication, name: all-clients}
`)
	var denies []string
	for _, r := range d.Spec.Security.Access {
		if r.Action == spec.ActionDeny {
			p := ""
			if len(r.When) > 0 {
				p = fmt.Sprint(r.When[0].Ports)
			}
			denies = append(denies, r.Destination+p)
		}
	}
	if strings.Join(denies, " ") != "voting-svc[8080] web-svc" {
		t.Errorf("deny rules = %v, want web-svc and voting-svc's grpc port (voting-prom admits everyone)", denies)
	}
	for _, want := range []string{
		`AuthorizationPolicy/emojivoto/web-public: spec.targetRef is a list, not an object`,
		`Server/emojivoto/web-http: no imported AuthorizationPolicy or ServerAuthorization admits anyone to this Server, whose accessPolicy is deny: Linkerd refuses every request to its port of web-svc; imported as deny rule "web-http-unauthorized"`,
	} {
		if !strings.Contains(ws, want) {
			t.Errorf("warnings lack %q:\n%s", want, ws)
		}
	}
	// Under a namespace default of deny the design's default already refuses them.
	d, _ = importLinkerdYAML(t, `
apiVersion: v1
kind: Namespace
metadata: {name: emojivoto, annotations: {config.linkerd.io/default-inbound-policy: deny}}
---
apiVersion: v1
kind: Service
metadata: {name: web-svc, namespace: emojivoto}
spec: {selector: {app: web-svc}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: policy.linkerd.io/v1beta1
kind: Server
metadata: {name: web-http, namespace: emojivoto}
spec: {podSelector: {matchLabels: {app: web-svc}}, port: 8080}
`)
	if len(d.Spec.Security.Access) != 0 || d.Spec.Security.DefaultPolicy != spec.ActionDeny {
		t.Errorf("security = %+v, want the default deny and no rule", d.Spec.Security)
	}
}

// A route backend without a Kubernetes Service among the objects (Istio's Gateway API bookinfo
// route to reviews-v1 without bookinfo-versions.yaml) keeps the route's port and is reported,
// since its default selector app: reviews-v1 may select no pod; with the per-version Services
// the backends are versions of reviews.
func TestImportBackendWithoutItsService(t *testing.T) {
	route := `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: reviews, namespace: bookinfo}
spec:
  parentRefs: [{kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs: [{name: reviews-v1, port: 9080, weight: 90}, {name: reviews-v2, port: 9080, weight: 10}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec: {ports: [{port: 9080, name: http}], selector: {app: reviews}}
`
	d, ws := importLinkerdYAML(t, route)
	if !strings.Contains(ws, `service bookinfo/reviews-v1: a route sends traffic to "reviews-v1", which has no Kubernetes Service among the objects`) {
		t.Errorf("warnings:\n%s", ws)
	}
	for _, s := range d.Spec.Services {
		if s.Name == "reviews-v1" && (len(s.Ports) != 1 || s.Ports[0].Port != 9080) {
			t.Errorf("reviews-v1 ports = %+v, want the route's 9080", s.Ports)
		}
	}
	d, ws = importLinkerdYAML(t, route+`---
apiVersion: v1
kind: Service
metadata: {name: reviews-v1, namespace: bookinfo}
spec: {ports: [{port: 9080, name: http}], selector: {app: reviews, version: v1}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v2, namespace: bookinfo}
spec: {ports: [{port: 9080, name: http}], selector: {app: reviews, version: v2}}
`)
	if strings.Contains(ws, "no Kubernetes Service") {
		t.Errorf("warnings with the Services:\n%s", ws)
	}
	if bs := d.Spec.Traffic[0].Routes[0].Backends; len(bs) != 2 || bs[0].Version != "v1" || bs[0].Weight != 90 {
		t.Errorf("backends = %+v, want versions v1 90 / v2 10", bs)
	}
}
