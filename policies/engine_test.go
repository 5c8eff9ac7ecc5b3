package policies

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/spec"
)

// loadDesign loads a design from YAML; header fields are added when missing.
func loadDesign(t testing.TB, body string) *spec.Design {
	t.Helper()
	if !strings.Contains(body, "apiVersion:") {
		body = "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: test, namespace: ns}\n" + body
	}
	ds, err := spec.LoadBytes("design.yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

func pick(fs []Finding, rule string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestSharedCases(t *testing.T) {
	files, err := filepath.Glob("../spec/testdata/cases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shared cases: %v", err)
	}
	e := newEngine(t, Options{})
	for _, f := range files {
		ds, err := spec.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			fs, err := e.Check(context.Background(), Target{Design: d}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range fs {
				t.Logf("%s %s [%s] %s: %s (%s) %v", filepath.Base(f), x.Severity, x.Rule, x.Path, x.Message, x.Location(), x.Suppressed)
			}
		}
	}
}
