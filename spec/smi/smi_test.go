package smi_test

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
	"github.com/trellis-mesh/trellis/spec/smi"
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
	d, ws, err := smi.Import(context.Background(), readObjects(t, filepath.Join("testdata", file)), smi.Options{})
	if err != nil {
		t.Fatalf("importing %s: %v", file, err)
	}
	return d, ws
}

// TestGolden imports every realistic SMI input, stores the design and the warnings as golden
// files, and checks that the design re-loads through the loader and translates for every mesh.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < 4 {
		t.Fatalf("want at least 4 SMI inputs, have %d", len(files))
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
