package policies

import (
	"context"
	"strings"
	"testing"
)

func TestBuiltinCatalogueCompiles(t *testing.T) {
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Rules()) == 0 {
		t.Fatal("empty catalogue")
	}
}

// TestRegoUnitTests runs every *_test.rego of the built-in catalogue through OPA's tester.
func TestRegoUnitTests(t *testing.T) {
	res, err := RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		t.Fatal("no Rego tests found")
	}
	for _, r := range res {
		if !r.Pass && !r.Skip {
			t.Errorf("%s %s.%s failed %s", r.Location, r.Package, r.Name, r.Error)
		}
	}
	_ = strings.TrimSpace
}
