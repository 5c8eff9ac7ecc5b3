package policies

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

func TestProfileRules(t *testing.T) {
	e := newEngine(t, Options{})
	b := &testing.B{}
	_ = b
	tg := benchTarget(&testing.B{}, 1000)
	t0 := time.Now()
	in, _ := Input(tg.Design, tg.Meshes)
	t.Logf("input %v", time.Since(t0))
	type r struct{ id string; d time.Duration }
	var rs []r
	for _, q := range e.queries {
		t0 := time.Now()
		_, err := q.q.Eval(context.Background(), rego.EvalParsedInput(in))
		if err != nil { t.Fatal(err) }
		rs = append(rs, r{q.rule.ID, time.Since(t0)})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].d > rs[j].d })
	var tot time.Duration
	for _, x := range rs { tot += x.d }
	t.Logf("total %v", tot)
	for _, x := range rs[:15] { t.Logf("%s %v", x.id, x.d) }
}
