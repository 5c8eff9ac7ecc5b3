package spectest

import (
	"bytes"
	"testing"
)

func TestGenerateLoads(t *testing.T) {
	for _, n := range []int{1, 2, 10, 137} {
		d := Design(n)
		if len(d.Spec.Services) != n || len(d.Spec.Traffic) != n || len(d.Spec.Security.Access) != n {
			t.Errorf("n=%d: %d services, %d policies, %d rules", n, len(d.Spec.Services), len(d.Spec.Traffic), len(d.Spec.Security.Access))
		}
		routes := 0
		for _, tp := range d.Spec.Traffic {
			routes += len(tp.Routes)
		}
		if n >= 10 && routes < 2*n-n/5 {
			t.Errorf("n=%d: only %d routes", n, routes)
		}
	}
	if !bytes.Equal(Generate(50), Generate(50)) {
		t.Error("Generate is not deterministic")
	}
}
