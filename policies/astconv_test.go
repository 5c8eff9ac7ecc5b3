package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trellis-mesh/trellis/adapters"
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

// TestMeshInputMatchesInterfaceToValue checks the conversion of generated objects (Istio,
// Linkerd and Consul output of every shared case) against ast.InterfaceToValue.
func TestMeshInputMatchesInterfaceToValue(t *testing.T) {
	files, _ := filepath.Glob("../spec/testdata/cases/*.yaml")
	ctx := context.Background()
	objects := 0
	for _, f := range files {
		ds, err := spec.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			for _, m := range []string{"istio", "linkerd", "consul"} {
				a, err := adapters.Lookup(m)
				if err != nil {
					t.Fatal(err)
				}
				out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				c := newConverter()
				for _, o := range out.Objects {
					want, err := ast.InterfaceToValue(o.Object)
					if err != nil {
						t.Fatal(err)
					}
					got, err := c.iface(o.Object)
					if err != nil {
						t.Fatal(err)
					}
					objects++
					if got.Value.Compare(want) != 0 {
						t.Errorf("%s %s %s %s: converted object differs:\n got %s\nwant %s", f, m, o.GetKind(), o.GetName(), got, want)
					}
				}
			}
		}
	}
	if objects < 100 {
		t.Errorf("only %d objects compared", objects)
	}
}

// TestMarshalerOutput checks the conversion of json.Marshaler output, plain strings (the fast
// path) and everything else.
func TestMarshalerOutput(t *testing.T) {
	for _, in := range []string{`"2s"`, `"a\"b"`, `"tab\there"`, `"é ü"`, `""`, `null`, `true`, `false`, `12`, `1.5e3`, `{"a":[1,"x"]}`, ` "spaced" `} {
		want, err := ast.ValueFromReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := newConverter().json([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got.Value.Compare(want) != 0 {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}
