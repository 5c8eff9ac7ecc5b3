// Package importtest runs the design importers (SMI, Gateway API, App Mesh) over the realistic
// inputs in their testdata folders and compares the resulting designs and warnings with golden
// files: testdata/golden/<input>.design.yaml and <input>.warnings.yaml, compared as data;
// UPDATE_GOLDEN=1 rewrites them. Every imported design must load back through the loader and
// translate for every registered mesh.
package importtest

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
	_ "github.com/trellis-mesh/trellis/adapters/all" // every mesh, for the translation check
	"github.com/trellis-mesh/trellis/spec"
)

// ImportFunc is an importer under test.
type ImportFunc func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error)

// ReadObjects parses a multi-document YAML or JSON file into objects.
func ReadObjects(t testing.TB, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseObjects(t, path, b)
}

// ParseObjects parses multi-document YAML or JSON text into objects.
func ParseObjects(t testing.TB, text string) []*unstructured.Unstructured {
	t.Helper()
	return parseObjects(t, "objects", []byte(text))
}

func parseObjects(t testing.TB, path string, b []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("parsing %s: %v", path, err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

// ImportFile imports testdata/<file> and fails the test on an error.
func ImportFile(t testing.TB, fn ImportFunc, file string) (*spec.Design, []adapters.Warning) {
	t.Helper()
	d, ws, err := fn(context.Background(), ReadObjects(t, filepath.Join("testdata", file)))
	if err != nil {
		t.Fatalf("importing %s: %v", file, err)
	}
	return d, ws
}

// RunGolden imports every testdata/*.yaml input (at least minInputs of them) and checks the
// designs and warnings against their golden files, that each design loads back, and that it
// translates for every registered mesh.
func RunGolden(t *testing.T, fn ImportFunc, minInputs int) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < minInputs {
		t.Fatalf("want at least %d realistic inputs in testdata, have %d", minInputs, len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			d, ws := ImportFile(t, fn, filepath.Base(f))
			out, err := yaml.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			Golden(t, name+".design.yaml", out)
			var lines []string
			for _, w := range ws {
				lines = append(lines, w.String())
			}
			ls, err := yaml.Marshal(lines)
			if err != nil {
				t.Fatal(err)
			}
			Golden(t, name+".warnings.yaml", ls)
			if _, err := spec.LoadBytes(name+".design.yaml", out); err != nil {
				t.Fatalf("imported design does not load back: %v", err)
			}
			for _, mesh := range adapters.Names() {
				a, _ := adapters.Lookup(mesh)
				if _, _, err := a.Translate(context.Background(), d, adapters.Options{}); err != nil {
					t.Errorf("translating the imported design for %s: %v", mesh, err)
				}
			}
		})
	}
}

// Golden compares got with testdata/golden/<name> as YAML data, rewriting the file when
// UPDATE_GOLDEN=1.
func Golden(t testing.TB, name string, got []byte) {
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
