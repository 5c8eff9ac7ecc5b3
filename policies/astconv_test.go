package policies

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// TestToASTMatchesJSON checks the direct conversion against the JSON round trip for every shared
// case, every example design and a generated design.
func TestToASTMatchesJSON(t *testing.T) {
	files, _ := filepath.Glob("../spec/testdata/cases/*.yaml")
	more, _ := filepath.Glob("../examples/designs/*.yaml")
	var designs []*spec.Design
	for _, f := range append(files, more...) {
		ds, err := spec.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		designs = append(designs, ds...)
	}
	designs = append(designs, spectest.Design(50))
	if len(designs) < 25 {
		t.Fatalf("only %d designs", len(designs))
	}
	for _, d := range designs {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got, err := toAST(reflect.ValueOf(d))
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("design %s: direct conversion differs from JSON:\n got %s\nwant %s", d.Metadata.Name, got, want)
		}
	}
}
