package smi_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/all"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/importtest"
	"github.com/trellis-mesh/trellis/spec/smi"
)

func importFn(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
	return smi.Import(ctx, objs, smi.Options{})
}

func importFile(t *testing.T, file string) (*spec.Design, []adapters.Warning) {
	t.Helper()
	return importtest.ImportFile(t, importFn, file)
}

// TestGolden imports every realistic input and compares designs and warnings with golden files.
func TestGolden(t *testing.T) { importtest.RunGolden(t, importFn, 4) }

func TestBookstoreSemantics(t *testing.T) {
	d, ws := importFile(t, "osm-bookstore.yaml")
	if d.Metadata.Namespace != "bookstore" || d.Spec.Security.DefaultPolicy != spec.ActionDeny {
		t.Fatalf("SMI is default deny in the objects' namespace: got ns %q, policy %q", d.Metadata.Namespace, d.Spec.Security.DefaultPolicy)
	}
	tp := d.Spec.Traffic[0]
	if tp.Service != "bookstore" || len(tp.Routes) != 1 {
		t.Fatalf("traffic: %+v", tp)
	}
	bs := tp.Routes[0].Backends
	if len(bs) != 2 || bs[0].Service != "bookstore" || bs[0].Weight != 75 || bs[1].Service != "bookstore-v2" || bs[1].Weight != 25 {
		t.Fatalf("backends: %+v", bs)
	}
	var bookstore, mysql *spec.AccessRule
	for i := range d.Spec.Security.Access {
		r := &d.Spec.Security.Access[i]
		switch r.Destination {
		case "bookstore":
			bookstore = r
		case "mysql":
			mysql = r
		}
	}
	if bookstore == nil || mysql == nil {
		t.Fatalf("access rules: %+v", d.Spec.Security.Access)
	}
	if bookstore.Sources[0].Identity != "bookbuyer" || bookstore.Sources[0].Namespace != "bookbuyer" {
		t.Errorf("source: %+v", bookstore.Sources)
	}
	// buy-a-book's regex ".*a-book.*new" cannot be an access path: it must not be imported (narrower
	// access, never wider), and a warning must say so. books-bought is imported exactly.
	if len(bookstore.When) != 1 || bookstore.When[0].Paths[0] != "/books-bought" || bookstore.When[0].Methods[0] != "GET" {
		t.Errorf("conditions: %+v", bookstore.When)
	}
	if bookstore.When[0].Headers["client-app"].Regex != "bookbuyer" {
		t.Errorf("header condition from the list-of-maps form lost: %+v", bookstore.When[0].Headers)
	}
	found := false
	for _, w := range ws {
		if strings.Contains(w.Lost, ".*a-book.*new") && w.Severity == adapters.SeverityError {
			found = true
		}
	}
	if !found {
		t.Errorf("no error warning for the unconvertible path regex: %v", ws)
	}
	if len(mysql.When) != 1 || len(mysql.When[0].Ports) != 1 || mysql.When[0].Ports[0] != 3306 {
		t.Errorf("TCPRoute ports: %+v", mysql.When)
	}
}

func TestV1alpha1Forms(t *testing.T) {
	d, _ := importFile(t, "v1alpha1-quantities.yaml")
	bs := d.Spec.Traffic[0].Routes[0].Backends
	if bs[0].Weight != 500 || bs[1].Weight != 1000 {
		t.Fatalf("quantity weights read as thousandths: %+v", bs)
	}
	r := d.Spec.Security.Access[0]
	if len(r.When) != 1 || r.When[0].Paths[0] != "/metrics" || r.Sources[0].Namespace != "monitoring" {
		t.Fatalf("top-level matches/specs of v1alpha1 not read: %+v", r)
	}
}

func TestMatchedSplitKeepsRootForOtherTraffic(t *testing.T) {
	d, _ := importFile(t, "matched-split.yaml")
	rs := d.Spec.Traffic[0].Routes
	if len(rs) != 2 {
		t.Fatalf("want a matched split and a default route, got %+v", rs)
	}
	if len(rs[0].Match) != 2 || rs[0].Match[0].Method != "GET" || rs[0].Match[1].Method != "POST" {
		t.Errorf("one match per method: %+v", rs[0].Match)
	}
	if rs[0].Match[0].Path.Regex != "/api/.*" || rs[0].Match[0].Headers["user-agent"].Regex != ".*Firefox.*" {
		t.Errorf("match: %+v", rs[0].Match[0])
	}
	if len(rs[1].Match) != 0 || rs[1].Backends[0].Service != "website" {
		t.Errorf("default route must send unmatched traffic to the root service: %+v", rs[1])
	}
}

func TestBadInputIsAWarningNotAPanic(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit", "metadata": map[string]any{"name": "x"}, "spec": map[string]any{"service": "a", "backends": []any{map[string]any{"service": "b", "weight": "lots"}}}}},
		{Object: map[string]any{"apiVersion": "access.smi-spec.io/v1alpha3", "kind": "TrafficTarget", "metadata": map[string]any{"name": "y"}, "spec": map[string]any{"destination": map[string]any{"kind": "Pod", "name": "a"}}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "z"}}},
	}
	d, ws, err := smi.Import(context.Background(), objs, smi.Options{Name: "bad"})
	if err != nil {
		t.Fatalf("bad SMI objects must give warnings, not an invalid design: %v", err)
	}
	if len(d.Spec.Traffic) != 0 || len(ws) < 3 {
		t.Fatalf("traffic %+v, warnings %v", d.Spec.Traffic, ws)
	}
}

// TestServiceSelectors checks that Kubernetes Services among the input give the services'
// selectors.
func TestServiceSelectors(t *testing.T) {
	objs := importtest.ParseObjects(t, `
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: web, namespace: shop}
spec:
  service: web
  backends: [{service: web-stable, weight: 90}, {service: web-canary, weight: 10}]
---
apiVersion: v1
kind: Service
metadata: {name: web-canary, namespace: shop}
spec: {selector: {service: web, track: canary}, ports: [{port: 80}]}
`)
	d, ws, err := importFn(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if strings.Contains(w.Path, "Service shop/web-canary") {
			t.Errorf("the Kubernetes Service is reported: %s", w)
		}
	}
	found := false
	for _, s := range d.Spec.Services {
		if s.Name == "web-canary" {
			found = true
			if len(s.Selector) != 2 || s.Selector["track"] != "canary" {
				t.Errorf("web-canary selector = %v, want the Service's", s.Selector)
			}
		}
	}
	if !found {
		t.Errorf("no service web-canary in %+v", d.Spec.Services)
	}
}
