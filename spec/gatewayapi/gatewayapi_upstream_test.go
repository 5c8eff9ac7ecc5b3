package gatewayapi_test

import (
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/spec"
)

// Istio binds a route to external hosts with a ServiceEntry parent and Hostname backends (the
// Gateway API variant of istio.io's egress-control task): the ServiceEntry becomes an external
// service and the route its traffic policy, instead of "north-south routing" being skipped.
func TestImportServiceEntryParentAndHostnameBackend(t *testing.T) {
	d, warnings := importYAML(t, `
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: httpbin-ext}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  location: MESH_EXTERNAL
`, `
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: google}
spec:
  hosts: [www.google.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
`, `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: httpbin-ext}
spec:
  parentRefs: [{kind: ServiceEntry, group: networking.istio.io, name: httpbin-ext}]
  hostnames: [httpbin.org]
  rules:
  - timeouts: {request: 3s}
    backendRefs: [{kind: Hostname, group: networking.istio.io, name: httpbin.org, port: 80}]
`)
	if len(d.Spec.ExternalServices) != 1 {
		t.Fatalf("external services = %+v, want httpbin-ext only (google is used by no route)", d.Spec.ExternalServices)
	}
	es := d.Spec.ExternalServices[0]
	if es.Name != "httpbin-ext" || es.Hosts[0] != "httpbin.org" || es.Protocol != spec.ProtocolHTTP || es.Ports[0].Port != 80 {
		t.Errorf("external service = %+v", es)
	}
	if len(d.Spec.Services) != 0 {
		t.Errorf("services = %+v, want none (the ServiceEntry is not a mesh service)", d.Spec.Services)
	}
	if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Service != "httpbin-ext" {
		t.Fatalf("traffic = %+v", d.Spec.Traffic)
	}
	r := d.Spec.Traffic[0].Routes[0]
	if r.Timeout.String() != "3s" || len(r.Backends) != 1 || r.Backends[0].Service != "httpbin-ext" || r.Backends[0].Port != 80 {
		t.Errorf("route = %+v, want 3s to httpbin-ext:80", r)
	}
	if strings.Contains(warnings, "north-south") || strings.Contains(warnings, "hostnames are ignored") {
		t.Errorf("misleading warnings:\n%s", warnings)
	}
	if !strings.Contains(warnings, "ServiceEntry default/google: no route of the input has it as parent or backend; skipped") {
		t.Errorf("warnings:\n%s", warnings)
	}
	// Without the ServiceEntry, the parent and the backend say what is missing.
	_, warnings = importYAML(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mixed}
spec:
  parentRefs: [{kind: Service, group: "", name: web, port: 80}]
  rules:
  - backendRefs:
    - {name: web, port: 80}
    - {kind: Hostname, group: networking.istio.io, name: api.example.com, port: 443}
`)
	if !strings.Contains(warnings, `HTTPRoute default/mixed.spec.rules[0].backendRefs[1]: Hostname backend "api.example.com" is a host of no ServiceEntry of the input; skipped`) {
		t.Errorf("warnings:\n%s", warnings)
	}
}

// The mirror target of a GRPCRoute (conformance/tests/mesh/grpcroute-request-mirror.yaml) is a
// gRPC service like the route's backends, not an http one.
func TestImportGRPCMirrorTargetIsGRPC(t *testing.T) {
	d, _ := importYAML(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: mirror, namespace: mesh}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 7070}]
  rules:
  - filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo-v2, port: 7070}}}]
    backendRefs: [{name: echo-v1, port: 7070}]
`)
	for _, s := range d.Spec.Services {
		if s.Protocol != spec.ProtocolGRPC {
			t.Errorf("service %s is %s, want grpc", s.Name, s.Protocol)
		}
	}
	if m := d.Spec.Traffic[0].Routes[0].Mirror; m == nil || m.Service != "echo-v2" {
		t.Errorf("mirror = %+v", m)
	}
}

// Istio's Gateway API bookinfo routes (samples/bookinfo/gateway-api/route-reviews-90-10.yaml)
// go to per-version Services (reviews-v1) defined in bookinfo-versions.yaml: without that file
// the design's default selector app: reviews-v1 would select no pod, which is said; with it,
// the Services' selectors are used.
func TestImportBackendWithoutItsService(t *testing.T) {
	route := `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: reviews}
spec:
  parentRefs: [{kind: Service, name: reviews, port: 9080}]
  rules:
  - backendRefs: [{name: reviews-v1, port: 9080, weight: 90}, {name: reviews-v2, port: 9080, weight: 10}]
`
	reviews := `
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{port: 9080, name: http}], selector: {app: reviews}}
`
	_, warnings := importYAML(t, route, reviews)
	for _, n := range []string{"reviews-v1", "reviews-v2"} {
		if !strings.Contains(warnings, "service "+n+`: no Kubernetes Service "`+n+`" among the objects: its pods are assumed to carry app: `+n) {
			t.Errorf("no warning for %s:\n%s", n, warnings)
		}
	}
	if strings.Contains(warnings, "service reviews:") {
		t.Errorf("the parent has its Service:\n%s", warnings)
	}
	d, warnings := importYAML(t, route, reviews, `
apiVersion: v1
kind: Service
metadata: {name: reviews-v1}
spec: {ports: [{port: 9080, name: http}], selector: {app: reviews, version: v1}}
`, `
apiVersion: v1
kind: Service
metadata: {name: reviews-v2}
spec: {ports: [{port: 9080, name: http}], selector: {app: reviews, version: v2}}
`)
	if strings.Contains(warnings, "no Kubernetes Service") {
		t.Errorf("warnings with every Service present:\n%s", warnings)
	}
	for _, s := range d.Spec.Services {
		if s.Name == "reviews-v1" && (s.Selector["app"] != "reviews" || s.Selector["version"] != "v1") {
			t.Errorf("reviews-v1 selector = %v", s.Selector)
		}
	}
	// Routes alone say nothing about Services.
	if _, warnings := importYAML(t, route); strings.Contains(warnings, "no Kubernetes Service") {
		t.Errorf("routes-only input:\n%s", warnings)
	}
}
