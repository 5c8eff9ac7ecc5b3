package policies

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/consul"  // the consul adapter for mesh rules
	_ "github.com/trellis-mesh/trellis/adapters/linkerd" // the linkerd adapter for mesh rules
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// stepCounter counts the evaluation steps OPA reports to a query tracer: a measure of a rule's
// work that, unlike time, does not depend on the machine or its load.
type stepCounter struct{ n atomic.Int64 }

func (c *stepCounter) Enabled() bool               { return true }
func (c *stepCounter) TraceEvent(topdown.Event)    { c.n.Add(1) }
func (c *stepCounter) Config() topdown.TraceConfig { return topdown.TraceConfig{} }
func (c *stepCounter) steps() int64                { return c.n.Load() }

var _ topdown.QueryTracer = (*stepCounter)(nil)

// TestRulesScaleLinearly guards every rule against quadratic shapes (a partial set rule queried
// with a bound key inside a loop re-runs its whole body each time; a lookup that scans every
// service for every object): it counts each rule's evaluation steps on generated designs of 60
// and 240 services, with their Istio, Linkerd and Consul output, with and without access rules
// (so rules that only do work when they find something are exercised too), and fails when 4× the
// services take more than 6× the steps — a linear rule takes at most 4×, a quadratic one about 16×.
// Steps are counted, not timed, so the test does not depend on the machine.
func TestRulesScaleLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates every rule with tracing on four designs per mesh")
	}
	ctx := context.Background()
	e := newEngine(t, Options{Workers: 1})
	const small, large, limit = 60, 240, 6.0
	for _, mesh := range []string{"istio", "linkerd", "consul"} {
		a, err := adapters.Lookup(mesh)
		if err != nil {
			t.Fatal(err)
		}
		for _, variant := range []string{"access rules", "no access rules"} {
			steps := map[string][2]int64{}
			for i, n := range []int{small, large} {
				d := spectest.Design(n)
				if variant == "no access rules" {
					d.Spec.Security.Access = nil
				}
				out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
				if err != nil {
					t.Fatal(err)
				}
				in, err := Input(d, map[string]*adapters.Output{mesh: out})
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range e.queries {
					if q.rule.Mesh != "" && q.rule.Mesh != mesh {
						continue
					}
					c := &stepCounter{}
					if _, err := q.q.Eval(ctx, rego.EvalParsedInput(in), rego.EvalQueryTracer(c)); err != nil {
						t.Fatalf("%s on %s (%d services): %v", q.rule.ID, mesh, n, err)
					}
					s := steps[q.rule.ID]
					s[i] = c.steps()
					steps[q.rule.ID] = s
				}
			}
			for id, s := range steps {
				if s[0] == 0 {
					t.Errorf("%s with %s, %s: no evaluation steps counted", id, mesh, variant)
					continue
				}
				if r := float64(s[1]) / float64(s[0]); r > limit {
					t.Errorf("%s with %s, %s: %d steps for %d services, %d for %d: %.1f× for %d× the services (limit %.0f×): the rule is superlinear",
						id, mesh, variant, s[0], small, s[1], large, r, large/small, limit)
				}
			}
			if testing.Verbose() {
				t.Log(describeSteps(mesh, variant, steps))
			}
		}
	}
}

// describeSteps formats the largest step ratios of one run, for -v.
func describeSteps(mesh, variant string, steps map[string][2]int64) string {
	worst, ratio := "", 0.0
	for id, s := range steps {
		if s[0] > 0 && float64(s[1])/float64(s[0]) > ratio {
			worst, ratio = id, float64(s[1])/float64(s[0])
		}
	}
	return fmt.Sprintf("%s, %s: %d rules, largest step ratio %.2f× (%s)", mesh, variant, len(steps), ratio, worst)
}
