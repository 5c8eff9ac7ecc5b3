package gatewayapi_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/all"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/gatewayapi"
	"github.com/trellis-mesh/trellis/spec/importtest"
)

func importFn(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
	return gatewayapi.Import(ctx, objs, gatewayapi.Options{})
}

func importFile(t *testing.T, file string) (*spec.Design, []adapters.Warning) {
	t.Helper()
	return importtest.ImportFile(t, importFn, file)
}

// TestGolden imports every realistic input and compares designs and warnings with golden files.
func TestGolden(t *testing.T) { importtest.RunGolden(t, importFn, 3) }

func TestBookinfoReviews(t *testing.T) {
	d, _ := importFile(t, "bookinfo-reviews.yaml")
	var reviews, ratings *spec.TrafficPolicy
	for i := range d.Spec.Traffic {
		switch d.Spec.Traffic[i].Service {
		case "reviews":
			reviews = &d.Spec.Traffic[i]
		case "ratings":
			ratings = &d.Spec.Traffic[i]
		}
	}
	if reviews == nil || ratings == nil {
		t.Fatalf("traffic: %+v", d.Spec.Traffic)
	}
	r0, r1 := reviews.Routes[0], reviews.Routes[1]
	if r0.Match[0].Headers["end-user"].Exact != "jason" || r0.Backends[0].Service != "reviews-v2" {
		t.Errorf("jason route: %+v", r0)
	}
	if len(r1.Match) != 0 || r1.Backends[0].Weight != 90 || r1.Backends[1].Weight != 10 || r1.Timeout.String() != "2s" {
		t.Errorf("canary route: %+v", r1)
	}
	rr := ratings.Routes[0]
	if rr.Headers.Request.Set["x-canary"] != "false" || rr.Headers.Request.Remove[0] != "X-Debug" {
		t.Errorf("header ops: %+v", rr.Headers.Request)
	}
	if rr.Mirror == nil || rr.Mirror.Service != "ratings-shadow" || rr.Mirror.Percent != 10 {
		t.Errorf("mirror: %+v", rr.Mirror)
	}
	for _, s := range d.Spec.Services {
		if s.Name == "reviews" && (len(s.Ports) != 1 || s.Ports[0].Port != 9080) {
			t.Errorf("parentRef port not kept: %+v", s.Ports)
		}
	}
}

// TestPrecedenceAcrossRoutes checks that routes of two HTTPRoutes on one Service are merged in
// Gateway API precedence order, not in file order.
func TestPrecedenceAcrossRoutes(t *testing.T) {
	d, ws := importFile(t, "linkerd-podinfo.yaml")
	if len(d.Spec.Traffic) != 1 {
		t.Fatalf("the Gateway-parented route must be skipped: %+v", d.Spec.Traffic)
	}
	var names []string
	for _, r := range d.Spec.Traffic[0].Routes {
		names = append(names, r.Name)
	}
	want := "status,api,backend-router-0,backend-router-1"
	if strings.Join(names, ",") != want {
		t.Fatalf("route order %v, want %s", names, want)
	}
	api := d.Spec.Traffic[0].Routes[1]
	if api.Match[0].Path.Prefix != "/api" || api.Match[0].Method != "POST" || api.Rewrite.Prefix != "/v2" {
		t.Errorf("api route: %+v %+v", api.Match[0], api.Rewrite)
	}
	if api.Retries == nil || api.Retries.Attempts != 2 || api.Retries.PerTryTimeout.String() != "1s" ||
		strings.Join(api.Retries.On, ",") != "503,504" || api.Retries.Backoff.BaseInterval.String() != "100ms" {
		t.Errorf("retries: %+v", api.Retries)
	}
	skipped := false
	for _, w := range ws {
		if strings.Contains(w.Path, "frontend-ingress") {
			skipped = true
		}
	}
	if !skipped {
		t.Errorf("no warning about the skipped north-south route: %v", ws)
	}
}

func TestGRPCRoute(t *testing.T) {
	d, _ := importFile(t, "emojivoto-grpc.yaml")
	if d.Spec.Services[0].Protocol != spec.ProtocolGRPC {
		t.Fatalf("GRPCRoute parents are grpc services: %+v", d.Spec.Services[0])
	}
	rs := d.Spec.Traffic[0].Routes
	if rs[0].Match[0].Path.Exact != "/emojivoto.v1.EmojiService/ListAll" || rs[0].Match[0].Headers["x-beta"].Exact != "1" {
		t.Errorf("method match: %+v", rs[0].Match[0])
	}
	if rs[1].Match[0].Path.Prefix != "/emojivoto.v1.EmojiService" || rs[1].Backends[0].Weight != 3 || rs[1].Backends[1].Weight != 1 {
		t.Errorf("service match and split: %+v", rs[1])
	}
}

func TestInvalidObjectsAreWarnings(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": map[string]any{"name": "x", "namespace": "a"},
			"spec": map[string]any{"parentRefs": "not-a-list"}}},
		{Object: map[string]any{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": map[string]any{"name": "y", "namespace": "a"},
			"spec": map[string]any{"parentRefs": []any{map[string]any{"kind": "Service", "name": "s"}}, "rules": []any{map[string]any{
				"matches": []any{map[string]any{"path": map[string]any{"type": "RegularExpression", "value": "(["}}}}}}}},
	}
	_, ws, err := gatewayapi.Import(context.Background(), objs, gatewayapi.Options{})
	if err != nil {
		t.Fatalf("want warnings, not an error: %v", err)
	}
	if len(ws) < 2 {
		t.Fatalf("want a warning per bad object, got %v", ws)
	}
}

// TestServiceSelectors checks that Kubernetes Services among the input give the services'
// selectors (the default one is left implicit) and are not reported as skipped.
func TestServiceSelectors(t *testing.T) {
	objs := importtest.ParseObjects(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: shop}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
  rules: [{backendRefs: [{name: reviews-v1, port: 9080, weight: 90}, {name: reviews-v2, port: 9080, weight: 10}]}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews-v1, namespace: shop}
spec: {selector: {app.kubernetes.io/name: reviews, app.kubernetes.io/version: v1}, ports: [{port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {selector: {app: reviews}, ports: [{port: 9080}]}
`)
	d, ws, err := importFn(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if strings.Contains(w.Path, "Service shop/") {
			t.Errorf("a Kubernetes Service is reported: %s", w)
		}
	}
	sel := map[string]map[string]string{}
	for _, s := range d.Spec.Services {
		sel[s.Name] = s.Selector
	}
	if got := sel["reviews-v1"]; len(got) != 2 || got["app.kubernetes.io/version"] != "v1" {
		t.Errorf("reviews-v1 selector = %v, want the Service's", got)
	}
	if got := sel["reviews"]; len(got) != 1 || got["app"] != "reviews" {
		t.Errorf("reviews selector = %v, want the default", got)
	}
	if got := sel["reviews-v2"]; len(got) != 1 || got["app"] != "reviews-v2" {
		t.Errorf("reviews-v2 (no Service) selector = %v, want the default", got)
	}
}
