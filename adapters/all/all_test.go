package all_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	_ "github.com/trellis-mesh/trellis/adapters/all"
)

// TestCapabilitiesDocIsFresh checks that docs/capabilities.md is the capability matrix of every
// registered adapter; UPDATE_GOLDEN=1 rewrites it.
func TestCapabilitiesDocIsFresh(t *testing.T) {
	path := filepath.Join(adaptertest.ModuleRoot(t), "docs", "capabilities.md")
	want := adapters.MatrixMarkdown()
	if adaptertest.Updating() {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run UPDATE_GOLDEN=1 go test ./adapters/all/): %v", path, err)
	}
	if string(got) != want {
		t.Errorf("docs/capabilities.md is stale: run UPDATE_GOLDEN=1 go test ./adapters/all/")
	}
}

// TestEveryAdapterDeclaresEveryFeature checks the registry's invariant on the real adapters.
func TestEveryAdapterDeclaresEveryFeature(t *testing.T) {
	if len(adapters.Names()) == 0 {
		t.Fatal("no adapter registered")
	}
	for _, row := range adapters.Matrix() {
		for _, n := range adapters.Names() {
			if _, ok := row.Support[n]; !ok {
				t.Errorf("%s: no capability for %s", n, row.Feature)
			}
		}
	}
}
