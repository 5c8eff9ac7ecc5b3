package appmesh_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/all"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/appmesh"
	"github.com/trellis-mesh/trellis/spec/importtest"
)

func importFn(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
	return appmesh.Import(ctx, objs, appmesh.Options{})
}

func importFile(t *testing.T, file string) (*spec.Design, []adapters.Warning) {
	t.Helper()
	return importtest.ImportFile(t, importFn, file)
}

// TestGolden imports every realistic input and compares designs and warnings with golden files.
func TestGolden(t *testing.T) { importtest.RunGolden(t, importFn, 3) }

func routeNames(tp spec.TrafficPolicy) string {
	var n []string
	for _, r := range tp.Routes {
		n = append(n, r.Name)
	}
	return strings.Join(n, ",")
}

func traffic(t *testing.T, d *spec.Design, svc string) spec.TrafficPolicy {
	t.Helper()
	for _, tp := range d.Spec.Traffic {
		if tp.Service == svc {
			return tp
		}
	}
	t.Fatalf("no traffic policy for %q in %+v", svc, d.Spec.Traffic)
	return spec.TrafficPolicy{}
}

func service(t *testing.T, d *spec.Design, name string) spec.Service {
	t.Helper()
	for _, s := range d.Spec.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q", name)
	return spec.Service{}
}

func TestColorHeadersPriorityOrder(t *testing.T) {
	d, _ := importFile(t, "color-headers.yaml")
	if d.Metadata.Name != "howto-k8s-http-headers" || d.Metadata.Namespace != "howto-k8s-http-headers" {
		t.Errorf("metadata: %+v", d.Metadata)
	}
	tp := traffic(t, d, "color")
	if got := routeNames(tp); got != "color-route-blue,color-route-green,color-route-red,color-route-yellow,color-route-white" {
		t.Fatalf("routes must follow App Mesh priority, unprioritised last: %s", got)
	}
	h := func(i int) spec.StringMatch { return tp.Routes[i].Match[0].Headers["color_header"] }
	if h(0).Exact != "blue" || h(1).Regex != ".*green.*" || h(2).Prefix != "red" || !h(3).Present || len(tp.Routes[4].Match) != 0 {
		t.Errorf("header matches: %+v %+v %+v %+v", h(0), h(1), h(2), h(3))
	}
	for i, v := range []string{"blue", "green", "red", "yellow", "white"} {
		if b := tp.Routes[i].Backends; len(b) != 1 || b[0].Version != v {
			t.Errorf("route %d backends %+v, want version %s", i, b, v)
		}
	}
	color := service(t, d, "color")
	if len(color.Versions) != 5 || color.Ports[0].Port != 8080 || color.HealthCheck == nil || color.HealthCheck.Path != "/ping" ||
		color.HealthCheck.Interval.String() != "5s" || color.HealthCheck.UnhealthyThreshold != 2 {
		t.Errorf("color service: %+v", color)
	}
	for _, v := range color.Versions {
		if v.Labels["app"] != "color" || v.Labels["version"] != v.Name {
			t.Errorf("version %s labels %v", v.Name, v.Labels)
		}
	}
	service(t, d, "front") // a node that provides no virtual service is a service of its own
}

// TestColorHeadersIstio is the migration promise: the Istio translation of the imported design
// routes the same requests to the same versions, in the same order, as App Mesh did.
func TestColorHeadersIstio(t *testing.T) {
	a, err := adapters.Lookup("istio")
	if err != nil {
		t.Skip("istio adapter not registered")
	}
	d, _ := importFile(t, "color-headers.yaml")
	out, _, err := a.Translate(context.Background(), d, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var vs *unstructured.Unstructured
	subsets := map[string]map[string]any{}
	for _, o := range out.Objects {
		switch {
		case o.GetKind() == "VirtualService" && o.GetName() == "color":
			vs = o
		case o.GetKind() == "DestinationRule" && o.GetName() == "color":
			ss, _, _ := unstructured.NestedSlice(o.Object, "spec", "subsets")
			for _, s := range ss {
				sm := s.(map[string]any)
				subsets[sm["name"].(string)], _ = sm["labels"].(map[string]any)
			}
		}
	}
	if vs == nil {
		t.Fatal("no VirtualService color")
	}
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	if len(http) != 5 {
		t.Fatalf("want 5 http routes, got %d", len(http))
	}
	want := []struct{ kind, value, subset string }{
		{"exact", "blue", "blue"}, {"regex", ".*green.*", "green"}, {"prefix", "red", "red"}, {"present", "", "yellow"}, {"", "", "white"},
	}
	for i, w := range want {
		h := http[i].(map[string]any)
		route := h["route"].([]any)[0].(map[string]any)
		subset, _, _ := unstructured.NestedString(route, "destination", "subset")
		if subset != w.subset {
			t.Errorf("http[%d] goes to subset %q, want %q", i, subset, w.subset)
		}
		if subsets[subset]["version"] != w.subset || subsets[subset]["app"] != "color" {
			t.Errorf("subset %q selects %v", subset, subsets[subset])
		}
		if w.kind == "" {
			if _, ok := h["match"]; ok {
				t.Errorf("http[%d] must be the catch-all", i)
			}
			continue
		}
		m := h["match"].([]any)[0].(map[string]any)
		hdr, found, _ := unstructured.NestedMap(m, "headers", "color_header")
		if w.kind == "present" {
			// Istio: a header with an empty match checks presence.
			if !found || len(hdr) != 0 {
				t.Errorf("http[%d]: header presence match lost: %v", i, m)
			}
			continue
		}
		if hdr[w.kind] != w.value {
			t.Errorf("http[%d] header match %v, want %s=%s", i, hdr, w.kind, w.value)
		}
	}
}

func TestCanaryRetriesTLS(t *testing.T) {
	d, ws := importFile(t, "canary-retries-tls.yaml")
	tp := traffic(t, d, "colorteller")
	if routeNames(tp) != "api-canary,color-route" {
		t.Fatalf("routes: %s", routeNames(tp))
	}
	m := tp.Routes[0].Match[0]
	if m.Path.Regex != "/api.*" || m.Method != "GET" || m.QueryParams["beta"].Exact != "true" {
		t.Errorf("raw prefix must keep its exact meaning: %+v", m)
	}
	r := tp.Routes[1]
	if r.Backends[0].Version != "v1" || r.Backends[0].Weight != 9 || r.Backends[1].Version != "v2" || r.Backends[1].Weight != 1 {
		t.Errorf("canary: %+v", r.Backends)
	}
	if r.Retries.Attempts != 4 || r.Retries.PerTryTimeout.String() != "2s" || strings.Join(r.Retries.On, ",") != "5xx,gateway-error,connect-failure" || r.Timeout.String() != "10s" {
		t.Errorf("retries/timeout: %+v %s", r.Retries, r.Timeout)
	}
	res := tp.Resilience
	if res == nil || res.OutlierDetection.Consecutive5xx != 5 || res.OutlierDetection.BaseEjectionTime.String() != "30s" ||
		res.Connections.Max != 50 || res.Connections.MaxPendingRequests != 20 {
		t.Errorf("resilience: %+v", res)
	}
	if d.Spec.Security.MTLS != spec.MTLSStrict || d.Spec.Telemetry.AccessLogs.Format != spec.AccessLogJSON {
		t.Errorf("security/telemetry: %+v %+v", d.Spec.Security, d.Spec.Telemetry)
	}
	want := map[string]bool{"egressFilter": false, "timeout.idle": false, "listeners[0].timeout": false}
	for _, w := range ws {
		for k := range want {
			if strings.Contains(w.Path, k) {
				want[k] = true
			}
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no warning for %s: %v", k, ws)
		}
	}
}

func TestGRPCAndUnsupported(t *testing.T) {
	d, ws := importFile(t, "grpc-tcp.yaml")
	tp := traffic(t, d, "color-server")
	if routeNames(tp) != "set-color,default" {
		t.Fatalf("the inverted match cannot be expressed and must be skipped, not widened: %s", routeNames(tp))
	}
	if tp.Routes[0].Match[0].Path.Exact != "/color.ColorService/SetColor" || tp.Routes[0].Match[0].Headers["x-tenant"].Prefix != "gold-" {
		t.Errorf("grpc match: %+v", tp.Routes[0].Match[0])
	}
	if service(t, d, "color-server").Protocol != spec.ProtocolGRPC || service(t, d, "redis").Protocol != spec.ProtocolTCP {
		t.Errorf("protocols from listeners not kept")
	}
	if traffic(t, d, "redis").Resilience.Connections.Max != 100 {
		t.Errorf("tcp connection pool lost")
	}
	var inverted, gateway bool
	for _, w := range ws {
		inverted = inverted || (strings.Contains(w.Path, "invert") && w.Severity == adapters.SeverityError)
		gateway = gateway || strings.Contains(w.Path, "VirtualGateway")
	}
	if !inverted || !gateway {
		t.Errorf("warnings: %v", ws)
	}
}

// TestSelectorFromNodes checks that the pods' labels become the service's selector: a service
// provided by one node takes the node's pod selector, a routed service whose nodes label their
// pods app=<other name> gets the labels the nodes share, and a Kubernetes Service's selector wins.
func TestSelectorFromNodes(t *testing.T) {
	objs := importtest.ParseObjects(t, `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualService
metadata: {name: color, namespace: demo}
spec:
  provider: {virtualRouter: {virtualRouterRef: {name: color-router}}}
---
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualRouter
metadata: {name: color-router, namespace: demo}
spec:
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  routes:
    - name: split
      httpRoute:
        match: {prefix: /}
        action: {weightedTargets: [{virtualNodeRef: {name: teller-blue}, weight: 1}, {virtualNodeRef: {name: teller-red}, weight: 1}]}
---
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: teller-blue, namespace: demo}
spec:
  podSelector: {matchLabels: {app: colorteller, version: blue}}
  listeners: [{portMapping: {port: 8080, protocol: http}}]
---
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: teller-red, namespace: demo}
spec:
  podSelector: {matchLabels: {app: colorteller, version: red}}
  listeners: [{portMapping: {port: 8080, protocol: http}}]
---
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: front, namespace: demo}
spec:
  podSelector: {matchLabels: {app.kubernetes.io/name: front-end}}
  listeners: [{portMapping: {port: 8080, protocol: http}}]
---
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: gateway, namespace: demo}
spec:
  podSelector: {matchLabels: {app: gw}}
  listeners: [{portMapping: {port: 8080, protocol: http}}]
---
apiVersion: v1
kind: Service
metadata: {name: gateway, namespace: demo}
spec:
  selector: {component: gateway}
  ports: [{port: 8080}]
`)
	d, _, err := importFn(context.Background(), objs)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for name, want := range map[string]map[string]string{
		"color":   {"app": "colorteller"},
		"front":   {"app.kubernetes.io/name": "front-end"},
		"gateway": {"component": "gateway"},
	} {
		if got := service(t, d, name).Selector; !reflect.DeepEqual(got, want) {
			t.Errorf("service %s: selector %v, want %v", name, got, want)
		}
	}
}
