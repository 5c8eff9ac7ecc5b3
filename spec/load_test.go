package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidCases loads every shared case: each must load, and be stable under Default.
func TestValidCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.yaml")
	if err != nil || len(files) < 25 {
		t.Fatalf("want at least 25 cases, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			ds, err := LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 {
				t.Fatalf("want one design per case, got %d", len(ds))
			}
			d := ds[0]
			if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); d.Metadata.Name != want && f != "testdata/cases/bookinfo-canary.yaml" {
				t.Errorf("metadata.name %q, want the file name %q", d.Metadata.Name, want)
			}
			if d.SourceFile() != f {
				t.Errorf("SourceFile() = %q", d.SourceFile())
			}
		})
	}
}

// errorLine renders a violation the way .errors files list it.
func errorLine(v Violation) string {
	line, col := 0, 0
	if v.Pos != nil {
		line, col = v.Pos.Line, v.Pos.Column
	}
	return fmt.Sprintf("%d:%d %s: %s", line, col, v.Path, v.Message)
}

// TestInvalidCases loads every invalid case and compares its violations with <case>.errors:
// one line per violation, "LINE:COL PATH: MESSAGE-SUBSTRING", in order.
// UPDATE_GOLDEN=1 rewrites the files with the full messages.
func TestInvalidCases(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 12 {
		t.Fatalf("want at least 12 invalid cases, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := LoadFile(f)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %v", err)
			}
			var got []string
			for _, v := range ve.Violations {
				if v.Pos == nil || v.Pos.File != f {
					t.Errorf("violation without a position in %s: %v", f, v)
				}
				got = append(got, errorLine(v))
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".errors"
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(want) != len(got) {
				t.Errorf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for i := 0; i < len(want) && i < len(got); i++ {
				if !matchErrorLine(got[i], want[i]) {
					t.Errorf("violation %d:\n got  %s\n want %s", i, got[i], want[i])
				}
			}
		})
	}
}

// matchErrorLine compares "LINE:COL PATH: MESSAGE" exactly on position and path and as a
// substring on the message.
func matchErrorLine(got, want string) bool {
	gh, gm, _ := strings.Cut(got, ": ")
	wh, wm, _ := strings.Cut(want, ": ")
	// The path may contain ": " only inside quoted keys, which no case uses.
	return gh == wh && strings.Contains(gm, wm)
}

func loadViolations(t *testing.T, name, src string) []Violation {
	t.Helper()
	_, err := LoadBytes(name, []byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	return ve.Violations
}

func TestUnknownFieldSuggestion(t *testing.T) {
	vs := loadViolations(t, "f.yaml", "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: x}\nspec:\n  servces: []\n")
	if len(vs) != 1 || vs[0].Hint != `did you mean "services"?` || vs[0].Path != "spec.servces" || vs[0].Pos.String() != "f.yaml:5:3" {
		t.Fatalf("got %+v", vs)
	}
	if !strings.Contains(vs[0].String(), `f.yaml:5:3: spec.servces: unknown field "servces" (expected one of services, externalServices`) {
		t.Errorf("String() = %s", vs[0])
	}
}

func TestPositionAccessor(t *testing.T) {
	src := "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: x}\nspec:\n  services:\n    - name: a\n      labels_: null\n"
	_ = src
	d := mustLoad(t, "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: x}\nspec:\n  services:\n    - name: a\n      versions:\n        - {name: v1, labels: {app.kubernetes.io/v: \"1\"}}\n  traffic:\n    - service: a\n      routes:\n        - backends: [{version: v1}]\n")
	for path, want := range map[string]string{
		"spec.services[0].name": "test.yaml:6:13",
		`spec.services[0].versions[0].labels["app.kubernetes.io/v"]`: "test.yaml:8:52",
		"spec.traffic[0].routes[0].backends[0].weight":               "test.yaml:12:22", // defaulted: nearest ancestor
		"spec.traffic[0].routes[0].name":                             "test.yaml:12:11",
	} {
		p, ok := d.Position(path)
		if !ok || p.String() != want {
			t.Errorf("Position(%s) = %v %v, want %s", path, p, ok, want)
		}
	}
	if _, ok := (&Design{}).Position("spec"); ok {
		t.Error("a design built in code has no positions")
	}
}

func TestJSONWithTabsAndMultipleDocuments(t *testing.T) {
	js := "{\n\t\"apiVersion\": \"trellis.dev/v1alpha1\",\n\t\"kind\": \"Design\",\n\t\"metadata\": {\"name\": \"j\"},\n\t\"spec\": {\"services\": [{\"name\": \"a\", \"ports\": [{\"port\": 0}]}]}\n}\n"
	vs := loadViolations(t, "d.json", js)
	if len(vs) != 1 || vs[0].Pos.String() != "d.json:5:57" {
		t.Fatalf("got %v", vs)
	}
	ds, err := LoadBytes("m.yaml", []byte("# only a comment\n---\napiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: a}\n---\n---\napiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: b}\n"))
	if err != nil || len(ds) != 2 || ds[1].Metadata.Name != "b" {
		t.Fatalf("got %v %v", ds, err)
	}
	if p, _ := ds[1].Position("metadata.name"); p.Line != 10 {
		t.Errorf("second document position = %v", p)
	}
	ds, err = LoadBytes("list.json", []byte(`[{"apiVersion":"trellis.dev/v1alpha1","kind":"Design","metadata":{"name":"a"}},{"apiVersion":"trellis.dev/v1alpha1","kind":"Design","metadata":{"name":"b"}}]`))
	if err != nil || len(ds) != 2 {
		t.Fatalf("list: %v %v", ds, err)
	}
	if ds, err := LoadBytes("empty.yaml", []byte("\n# nothing\n")); err != nil || len(ds) != 0 {
		t.Errorf("empty file: %v %v", ds, err)
	}
}

func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc := func(name string) string {
		return "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: " + name + "}\n"
	}
	write("b.yaml", doc("b"))
	write("sub/a.yml", doc("a"))
	write("sub/c.json", `{"apiVersion":"trellis.dev/v1alpha1","kind":"Design","metadata":{"name":"c"}}`)
	write("notes.txt", "not a design")
	write(".hidden/x.yaml", "garbage: [")
	ds, err := LoadPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Metadata.Name)
	}
	if strings.Join(names, ",") != "b,a,c" {
		t.Errorf("names = %v, want files in lexical order b.yaml, sub/a.yml, sub/c.json", names)
	}
	write("sub/dup.yaml", doc("b"))
	write("sub/e.yaml", doc("e")+"spec:\n  services: [{name: A}]\n")
	_, err = LoadPaths(dir)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 2 {
		t.Fatalf("want 2 violations, got %v", err)
	}
	if !strings.Contains(ve.Violations[0].Message, `design name "b" is already used at `+filepath.Join(dir, "b.yaml")+":3:18") {
		t.Errorf("duplicate design: %v", ve.Violations[1])
	}
	if _, err := LoadPaths(filepath.Join(dir, "missing")); err == nil || errors.As(err, &ve) {
		t.Errorf("missing path: want an I/O error, got %v", err)
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: x}\nl0: &l0 [{name: a}]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("spec:\n  services: *l11\n")
	vs := loadViolations(t, "bomb.yaml", b.String())
	found := false
	for _, v := range vs {
		if strings.Contains(v.Message, "alias expansion") || strings.Contains(v.Message, "expected an object") {
			found = true
		}
	}
	if !found {
		t.Errorf("got %v", vs)
	}
}

func TestSourceShorthandAndTypeErrorSuppression(t *testing.T) {
	d := mustLoad(t, "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: x}\nspec:\n  services: [{name: a}, {name: b}]\n  security:\n    access: [{destination: a, sources: [b, {namespace: ops}]}]\n")
	if got := d.Spec.Security.Access[0].Sources; got[0] != (Source{Service: "b"}) || got[1] != (Source{Namespace: "ops"}) {
		t.Errorf("sources = %+v", got)
	}
	// A port that fails to decode is reported once, not again as "port is missing".
	vs := loadViolations(t, "t.yaml", "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: x}\nspec:\n  services: [{name: a, ports: [{port: [1]}]}]\n")
	if len(vs) != 1 || !strings.Contains(vs[0].Message, "expected an integer") {
		t.Errorf("got %v", vs)
	}
}
