// Package adaptertest is the conformance runner every mesh adapter's tests share: it runs every
// shared design of spec/testdata/cases through an adapter and compares the canonical output with
// the adapter's golden files; it validates generated objects against the meshes' real CRD
// schemas (copied, with their license notices, into testdata/crds/); and it server-side applies
// objects to a real kube-apiserver.
//
// Usage, in an adapter package's test (one line per check):
//
//	func TestGolden(t *testing.T) {
//		adaptertest.Run(t, istio.New(), adapters.Options{})
//	}
//
//	func TestGoldenObjectsMatchCRDs(t *testing.T) {
//		for name, objs := range adaptertest.GoldenObjects(t) {
//			t.Run(name, func(t *testing.T) {
//				adaptertest.ValidateAgainstCRDs(t, objs, adaptertest.CRDDir("istio"))
//			})
//		}
//	}
//
// Golden files live in the calling package's testdata/golden/: <case>.yaml (the objects,
// canonical multi-document YAML), <case>.warnings (expected warnings, one "path [feature] lost"
// per line, sorted; absent when there are none) and, for a case whose translation must fail,
// <case>.error (a substring of the expected error). `UPDATE_GOLDEN=1 go test ./adapters/<mesh>/`
// rewrites them; review the diff before committing.
package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// UpdateEnv is the environment variable that, set to "1", makes the runner rewrite golden files.
const UpdateEnv = "UPDATE_GOLDEN"

// Updating reports whether golden files are being rewritten (UPDATE_GOLDEN=1).
func Updating() bool { return os.Getenv(UpdateEnv) == "1" }

// ModuleRoot returns the directory of the module's go.mod, found by walking up from the current
// directory (a package's test runs in its package directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("adaptertest: getting working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("adaptertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CasesDir returns the absolute path of the shared designs, spec/testdata/cases.
func CasesDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), "spec", "testdata", "cases")
}

// GoldenDir returns the calling package's golden directory, testdata/golden (absolute).
func GoldenDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("adaptertest: getting working directory: %v", err)
	}
	return filepath.Join(dir, "testdata", "golden")
}

// Run translates every shared case (spec/testdata/cases/*.yaml) with a and opts and compares
// the result with the calling package's golden files (testdata/golden/<case>.yaml,
// .warnings, .error), one subtest per case. See the package documentation.
func Run(t *testing.T, a adapters.Adapter, opts adapters.Options) {
	t.Helper()
	RunDir(t, a, opts, CasesDir(t), GoldenDir(t))
}

// RunDir is Run with explicit directories: every *.yaml design in casesDir is translated and
// compared with goldenDir/<case>.{yaml,warnings,error}. Adapters use it for their own extra cases
// or for a second set of goldens under other options.
func RunDir(t *testing.T, a adapters.Adapter, opts adapters.Options, casesDir, goldenDir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(casesDir, "*.yaml"))
	if err != nil {
		t.Fatalf("adaptertest: listing cases: %v", err)
	}
	if len(files) == 0 {
		if _, statErr := os.Stat(casesDir); errors.Is(statErr, os.ErrNotExist) {
			t.Skipf("adaptertest: no cases directory %s yet", casesDir)
		}
		t.Fatalf("adaptertest: no *.yaml cases in %s", casesDir)
	}
	sort.Strings(files)
	if Updating() {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatalf("adaptertest: %v", err)
		}
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			runCase(t, a, opts, file, filepath.Join(goldenDir, name))
		})
	}
}

// TranslateFile loads every design of file and translates it with a (strictness from opts
// applies), returning the objects of all designs and the warnings, sorted.
func TranslateFile(ctx context.Context, a adapters.Adapter, opts adapters.Options, file string) ([]*unstructured.Unstructured, []adapters.Warning, error) {
	designs, err := spec.LoadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s: %w", file, err)
	}
	return TranslateDesigns(ctx, a, opts, designs)
}

// TranslateDesigns translates every design with a (strictness from opts applies), returning the
// objects of all designs in canonical order and the warnings, sorted.
func TranslateDesigns(ctx context.Context, a adapters.Adapter, opts adapters.Options, designs []*spec.Design) ([]*unstructured.Unstructured, []adapters.Warning, error) {
	var objs []*unstructured.Unstructured
	var warnings []adapters.Warning
	for _, d := range designs {
		out, ws, err := adapters.Translate(ctx, a, d, opts)
		warnings = append(warnings, ws...)
		if err != nil {
			return nil, warnings, err
		}
		objs = append(objs, out.Objects...)
	}
	adapters.SortObjects(objs)
	adapters.SortWarnings(warnings)
	return objs, warnings, nil
}

// WarningLines formats warnings as the golden .warnings file holds them: one
// "path [feature] lost" per line, sorted, without a trailing newline.
func WarningLines(ws []adapters.Warning) []string {
	lines := make([]string, 0, len(ws))
	for _, w := range ws {
		lines = append(lines, fmt.Sprintf("%s [%s] %s", w.Path, w.Feature, w.Lost))
	}
	sort.Strings(lines)
	return lines
}

func runCase(t *testing.T, a adapters.Adapter, opts adapters.Options, file, golden string) {
	designs, err := spec.LoadFile(file)
	if err != nil {
		t.Fatalf("case does not load (a shared case must be valid): %v", err)
	}
	objs, warnings, err := TranslateDesigns(context.Background(), a, opts, designs)
	if err != nil {
		if Updating() {
			writeGolden(t, golden+".error", []byte(err.Error()+"\n"))
			removeGolden(t, golden+".yaml")
			removeGolden(t, golden+".warnings")
			return
		}
		want, rerr := os.ReadFile(golden + ".error")
		if rerr != nil {
			t.Fatalf("translation failed unexpectedly (no golden %s.error): %v", filepath.Base(golden), err)
		}
		if sub := strings.TrimSpace(string(want)); !strings.Contains(err.Error(), sub) {
			t.Fatalf("translation error %q does not contain the expected %q", err, sub)
		}
		return
	}
	if _, statErr := os.Stat(golden + ".error"); statErr == nil && !Updating() {
		t.Fatalf("translation succeeded but golden %s.error expects a failure", filepath.Base(golden))
	}
	rendered, err := adapters.RenderYAML(objs)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	lines := WarningLines(warnings)
	if Updating() {
		removeGolden(t, golden+".error")
		writeGolden(t, golden+".yaml", rendered)
		if len(lines) > 0 {
			writeGolden(t, golden+".warnings", []byte(strings.Join(lines, "\n")+"\n"))
		} else {
			removeGolden(t, golden+".warnings")
		}
		return
	}
	want, err := os.ReadFile(golden + ".yaml")
	if err != nil {
		t.Fatalf("missing golden file (run with %s=1 to create it, then review): %v", UpdateEnv, err)
	}
	if diff := DiffYAML(want, rendered); diff != "" {
		t.Errorf("objects differ from %s.yaml (-golden +got):\n%s", filepath.Base(golden), diff)
	}
	var wantLines []string
	if b, err := os.ReadFile(golden + ".warnings"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(l) != "" {
				wantLines = append(wantLines, strings.TrimRight(l, " \r"))
			}
		}
		sort.Strings(wantLines)
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading warnings golden: %v", err)
	}
	if !reflect.DeepEqual(nonNil(wantLines), nonNil(lines)) {
		t.Errorf("warnings differ from %s.warnings (-golden +got):\n%s", filepath.Base(golden),
			lineDiff(strings.Join(wantLines, "\n")+"\n", strings.Join(lines, "\n")+"\n"))
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeGolden(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("writing golden: %v", err)
	}
}

func removeGolden(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removing stale golden: %v", err)
	}
}

// ParseYAMLDocs parses multi-document YAML (or JSON) into generic values, skipping empty
// documents. Numbers are normalized so that 1 and 1.0 compare equal.
func ParseYAMLDocs(data []byte) ([]any, error) {
	var docs []any
	for i, doc := range splitDocs(data) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		v = numbers(v)
		if v != nil {
			docs = append(docs, v)
		}
	}
	return docs, nil
}

// numbers turns json.Numbers into int64 when integral (as the API server decodes them) and
// float64 otherwise, so that 1 and 1.0 compare equal.
func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return f
	}
	return v
}

func splitDocs(data []byte) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.TrimRight(line, " \r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

// ParseObjects parses multi-document YAML into unstructured objects, skipping empty documents;
// every document must be an object with apiVersion and kind.
func ParseObjects(data []byte) ([]*unstructured.Unstructured, error) {
	docs, err := ParseYAMLDocs(data)
	if err != nil {
		return nil, err
	}
	objs := make([]*unstructured.Unstructured, 0, len(docs))
	for i, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("document %d: expected an object, got %T", i+1, d)
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetAPIVersion() == "" || o.GetKind() == "" {
			return nil, fmt.Errorf("document %d: apiVersion and kind are required", i+1)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// DiffYAML compares two multi-document YAML texts as data (key order, formatting and number
// spelling do not matter). It returns "" when they are equal, otherwise a unified diff of their
// canonical renderings.
func DiffYAML(want, got []byte) string {
	w, werr := ParseYAMLDocs(want)
	g, gerr := ParseYAMLDocs(got)
	if werr != nil || gerr != nil {
		return fmt.Sprintf("cannot parse: golden: %v; got: %v", werr, gerr)
	}
	if reflect.DeepEqual(w, g) {
		return ""
	}
	return lineDiff(canonical(w), canonical(g))
}

func canonical(docs []any) string {
	var b strings.Builder
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		out, err := yaml.Marshal(d)
		if err != nil {
			fmt.Fprintf(&b, "# unrenderable: %v\n", err)
			continue
		}
		b.Write(out)
	}
	return b.String()
}

func lineDiff(a, b string) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: "golden", ToFile: "got", Context: 3,
	})
	if err != nil {
		return err.Error()
	}
	return d
}

// GoldenObjects parses every testdata/golden/*.yaml file of the calling package, keyed by file
// name without extension, for schema validation and integration tests.
func GoldenObjects(t testing.TB) map[string][]*unstructured.Unstructured {
	t.Helper()
	return GoldenObjectsIn(t, GoldenDir(t))
}

// GoldenObjectsIn is GoldenObjects for an explicit directory.
func GoldenObjectsIn(t testing.TB, dir string) map[string][]*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatalf("adaptertest: listing goldens: %v", err)
	}
	out := map[string][]*unstructured.Unstructured{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("adaptertest: %v", err)
		}
		objs, err := ParseObjects(b)
		if err != nil {
			t.Fatalf("adaptertest: parsing %s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = objs
	}
	return out
}
