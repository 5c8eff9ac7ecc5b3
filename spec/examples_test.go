package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamples loads every example design: they must validate and carry the schema modeline.
func TestExamples(t *testing.T) {
	dir := filepath.Join("..", "examples", "designs")
	ds, err := LoadPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 3 {
		t.Fatalf("want at least 3 examples, got %d", len(ds))
	}
	for _, d := range ds {
		b, err := os.ReadFile(d.SourceFile())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "# yaml-language-server: $schema=../../spec/design.schema.json\n") {
			t.Errorf("%s: missing the schema modeline", d.SourceFile())
		}
	}
}
