package policies

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestProfileInput(t *testing.T) {
	tg := benchTarget(&testing.B{}, 1000)
	for i := 0; i < 2; i++ {
		t0 := time.Now()
		b, _ := json.Marshal(tg.Design)
		t1 := time.Now()
		ast.ValueFromReader(bytes.NewReader(b))
		t2 := time.Now()
		for _, o := range tg.Meshes["istio"].Objects {
			ast.InterfaceToValue(o.Object)
		}
		t3 := time.Now()
		Input(tg.Design, tg.Meshes)
		t.Logf("marshal %v decode %v objs %v input %v (%d bytes)", t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3), len(b))
	}
}
