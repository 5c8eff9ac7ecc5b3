package policies

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// TestDesignOnlyAnalysis checks which rules may start on the design part of the input: every
// built-in design rule, no mesh rule, and no user rule that can reach input.meshes in any way.
func TestDesignOnlyAnalysis(t *testing.T) {
	dir := t.TempDir()
	rule := func(id, body string) string {
		return fmt.Sprintf(`# METADATA
# title: t
# description: d
# custom:
#   id: %s
#   severity: info
#   category: general
#   remedy: r
#   anchors: [x]
package user.%s

import data.trellis.lib

%s
`, id, "r"+id[4:], body)
	}
	cases := map[string]bool{
		"USR-001": true,  // reads the design only
		"USR-002": false, // reads input.meshes directly
		"USR-003": false, // through a library function
		"USR-004": false, // through the whole input document
		"USR-005": false, // through a helper rule of its own
		"USR-006": false, // with a computed key
		"USR-007": true,  // through library lookups over the design
	}
	bodies := map[string]string{
		"USR-001": `findings contains {"msg": s.name, "path": "spec"} if some s in input.spec.services`,
		"USR-002": `findings contains {"msg": "x", "path": "spec"} if count(input.meshes) > 100`,
		"USR-003": `findings contains {"msg": "x", "path": "spec"} if count(lib.objects("istio")) > 100`,
		"USR-004": `findings contains {"msg": "x", "path": "spec"} if object.get(input, "meshes", {}).istio`,
		"USR-005": "n := count(input.meshes.istio.objects)\n\nfindings contains {\"msg\": \"x\", \"path\": \"spec\"} if n > 100",
		"USR-006": `findings contains {"msg": "x", "path": "spec"} if { some k; input[k].istio }`,
		"USR-007": `findings contains {"msg": n, "path": "spec"} if { some n, _ in lib.services; lib.is_l7(n) }`,
	}
	for id, body := range bodies {
		writeFile(t, dir, id+".rego", rule(id, body))
	}
	e := newEngine(t, Options{PolicyDirs: []string{dir}})
	for _, q := range e.queries {
		want := q.rule.Mesh == ""
		if !q.rule.Builtin {
			want = cases[q.rule.ID]
		}
		if q.designOnly != want {
			t.Errorf("%s (%s): designOnly = %v, want %v", q.rule.ID, q.rule.File, q.designOnly, want)
		}
	}
}

// TestPartitionedCheckIdentical checks that the findings do not depend on how the work is split:
// one worker evaluating every rule on the whole input, or several workers with design-only rules
// started on the design part, rules reordered by learned cost (second rounds), and several
// designs checked in one CheckAll call or one by one. The targets are generated designs and every
// shared case, each with its Istio, Linkerd and Consul output.
func TestPartitionedCheckIdentical(t *testing.T) {
	ctx := context.Background()
	var targets []Target
	designs := []*spec.Design{flawed(spectest.Design(150)), spectest.Design(37)}
	files, _ := filepath.Glob("../spec/testdata/cases/*.yaml")
	for _, f := range files {
		ds, err := spec.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		designs = append(designs, ds...)
	}
	for _, d := range designs {
		tg := Target{Design: d, Meshes: map[string]*adapters.Output{}}
		for _, m := range []string{"istio", "linkerd", "consul"} {
			a, err := adapters.Lookup(m)
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tg.Meshes[m] = out
		}
		targets = append(targets, tg)
	}
	whole := newEngine(t, Options{Workers: 1})
	whole.whole = true
	want := make([][]Finding, len(targets))
	total := 0
	for i, tg := range targets {
		fs, err := whole.Check(ctx, tg, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = fs
		total += len(fs)
	}
	rules := map[string]int{}
	for _, f := range want[0] {
		rules[f.Rule]++
	}
	t.Logf("generated design: %d findings %v; %d in all", len(want[0]), rules, total)
	if len(want[0]) == 0 || total < 50 {
		t.Fatalf("too few findings to compare: %d on the generated design, %d in all", len(want[0]), total)
	}
	for _, workers := range []int{2, 3, 8} {
		e := newEngine(t, Options{Workers: workers})
		for round := range 2 {
			got, err := e.CheckAll(ctx, targets, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range targets {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("workers=%d round %d, CheckAll, design %s: findings differ from the one-piece check:\n got %d %v\nwant %d %v",
						workers, round, targets[i].Design.Metadata.Name, len(got[i]), got[i], len(want[i]), want[i])
				}
				one, err := e.Check(ctx, targets[i], nil)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(one, want[i]) {
					t.Errorf("workers=%d round %d, Check, design %s: findings differ from the one-piece check", workers, round, targets[i].Design.Metadata.Name)
				}
			}
		}
	}
}

// flawed breaks a generated design in places so that rules on the design and on the generated
// objects have findings: routes without timeouts, retries without outlier detection, access
// rules for undeclared services, undefined versions.
func flawed(d *spec.Design) *spec.Design {
	for i := range d.Spec.Traffic {
		tp := &d.Spec.Traffic[i]
		switch {
		case i%5 == 0 && len(tp.Routes) > 0:
			tp.Routes[0].Timeout = spec.Duration{}
		case i%7 == 1 && tp.Resilience != nil:
			tp.Resilience.OutlierDetection = nil
		case i%11 == 2 && len(tp.Routes) > 0 && len(tp.Routes[0].Backends) > 0:
			tp.Routes[0].Backends[0].Version = "v9"
		}
	}
	for i := range d.Spec.Security.Access {
		if i%9 == 4 {
			d.Spec.Security.Access[i].Destination = fmt.Sprintf("ghost-%d", i)
		}
	}
	return d
}
