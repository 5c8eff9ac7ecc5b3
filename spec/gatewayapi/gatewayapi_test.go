package gatewayapi_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/all"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/gatewayapi"
)

func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatal(err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

// golden compares got with testdata/golden/<name>, rewriting it when UPDATE_GOLDEN=1.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	var a, b any
	if err := yaml.Unmarshal(want, &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	wa, _ := yaml.Marshal(a)
	gb, _ := yaml.Marshal(b)
	if !bytes.Equal(wa, gb) {
		t.Errorf("%s differs from golden (UPDATE_GOLDEN=1 rewrites it)\n--- want\n%s\n--- got\n%s", name, wa, gb)
	}
}

func importFile(t *testing.T, file string) (*spec.Design, []adapters.Warning) {
	t.Helper()
	d, ws, err := gatewayapi.Import(context.Background(), readObjects(t, filepath.Join("testdata", file)), gatewayapi.Options{})
	if err != nil {
		t.Fatalf("importing %s: %v", file, err)
	}
	return d, ws
}

// TestGolden imports every realistic Gateway API input, stores the design and the warnings as golden
// files, and checks that the design re-loads through the loader and translates for every mesh.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 3 {
		t.Fatalf("want at least 3 Gateway API inputs, have %d", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			d, ws := importFile(t, filepath.Base(f))
			out, err := yaml.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".design.yaml", out)
			var lines []string
			for _, w := range ws {
				lines = append(lines, w.String())
			}
			golden(t, name+".warnings.yaml", mustYAML(t, lines))
			if _, err := spec.LoadBytes(name+".design.yaml", out); err != nil {
				t.Fatalf("imported design does not load back: %v", err)
			}
			for _, mesh := range []string{"istio", "linkerd", "consul", "native"} {
				a, err := adapters.Lookup(mesh)
				if err != nil {
					continue
				}
				if _, _, err := a.Translate(context.Background(), d, adapters.Options{}); err != nil {
					t.Errorf("translating the imported design for %s: %v", mesh, err)
				}
			}
		})
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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
