package policies

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/consul"  // the consul adapter for mesh rules
	_ "github.com/trellis-mesh/trellis/adapters/linkerd" // the linkerd adapter for mesh rules
	"github.com/trellis-mesh/trellis/spec"
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
		for _, variant := range []string{"access rules", "no access rules", "findings"} {
			steps := map[string][2]int64{}
			firing := map[string]bool{}
			for i, n := range []int{small, large} {
				var d *spec.Design
				switch variant {
				case "findings":
					d = richDesign(t, n/3)
				default:
					d = spectest.Design(n)
				}
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
					rs, err := q.q.Eval(ctx, rego.EvalParsedInput(in), rego.EvalQueryTracer(c))
					if err != nil {
						t.Fatalf("%s on %s (%d services): %v", q.rule.ID, mesh, n, err)
					}
					if i == 1 && len(rs) > 0 && len(rs[0].Expressions) > 0 {
						if set, ok := rs[0].Expressions[0].Value.([]any); ok && len(set) > 0 {
							firing[q.rule.ID] = true
						}
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
				t.Logf("%s; %d rules report findings: %v", describeSteps(mesh, variant, steps), len(firing), slices.Sorted(maps.Keys(firing)))
			}
		}
	}
}

// richDesign generates a valid design of groups × 3 services that makes most rules do their work
// and report findings: external services with TLS origination, mirrors, faults that abort every
// request or outlast their timeout, weights that cannot be expressed exactly, retries without a
// timeout, mTLS overrides, allow and deny rules with identities and L7 conditions, JWT, Wasm
// extensions that fail open, and suppressions (valid, malformed and of unknown rules).
func richDesign(t *testing.T, groups int) *spec.Design {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata: {name: rich-%d, namespace: shop}\nspec:\n  services:\n", spec.APIVersion, spec.Kind, groups)
	for i := range groups {
		fmt.Fprintf(&b, `    - name: web-%[1]d
      ports: [{port: 8080}, {port: 15090, name: metrics}]
      identity: web-%[1]d
      versions: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
      annotations:
        trellis.dev/ignore: |
          TRF-012: timeouts come from the client library
          XYZ-999: a rule that does not exist
    - name: api-%[1]d
      protocol: grpc
      ports: [{port: 50051}]
      versions: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
    - name: db-%[1]d
      protocol: tcp
      ports: [{port: 5432}]
`, i)
	}
	b.WriteString("  externalServices:\n")
	for i := range groups {
		fmt.Fprintf(&b, "    - name: ext-%[1]d\n      hosts: [ext-%[1]d.example.com]\n      tls: {mode: originate, subjectAltNames: [ext-%[1]d.example.com]}\n", i)
	}
	b.WriteString("  traffic:\n")
	for i := range groups {
		fmt.Fprintf(&b, `    - service: web-%[1]d
      routes:
        - name: broken
          match: [{path: {prefix: /broken}}]
          backends: [{version: v1}]
          timeout: 1s
          fault: {abort: {httpStatus: 503, percent: 100}}
        - name: slow
          match: [{path: {prefix: /slow}, method: GET}]
          backends: [{version: v1}]
          timeout: 1s
          fault: {delay: {fixed: 2s, percent: 50}}
        - name: default
          backends: [{version: v1, weight: 1}, {version: v2, weight: 2}]
          mirror: {service: api-%[1]d, version: v2, percent: 10}
          retries: {attempts: 5, on: [5xx]}
    - service: ext-%[1]d
      routes:
        - name: default
          timeout: 10s
          retries: {attempts: 2, perTryTimeout: 4s, on: [connect-failure, reset]}
`, i)
	}
	b.WriteString("  security:\n    mtls: strict\n    defaultPolicy: deny\n    mtlsOverrides:\n")
	for i := range groups {
		fmt.Fprintf(&b, "      - {service: web-%[1]d, port: 15090, mode: disabled}\n      - {service: db-%[1]d, mode: permissive}\n", i)
	}
	b.WriteString("    access:\n")
	for i := range groups {
		fmt.Fprintf(&b, `      - name: web-to-api-%[1]d
        destination: api-%[1]d
        sources: [web-%[1]d, {identity: batch, namespace: jobs}]
        when: [{paths: [/shop.v1.Api/*]}]
      - name: api-to-db-%[1]d
        destination: db-%[1]d
        sources: [api-%[1]d]
        when: [{ports: [5432]}]
      - name: block-admin-%[1]d
        destination: web-%[1]d
        action: deny
        sources: [{namespace: "*"}]
        when: [{paths: [/admin/*, "/items/[0-9]+"], methods: [GET]}]
`, i)
	}
	b.WriteString("    requestAuthentication:\n")
	for i := range groups {
		fmt.Fprintf(&b, "      - name: jwt-%[1]d\n        services: [web-%[1]d]\n        issuer: https://login.example.com\n        jwksURI: https://login.example.com/jwks.json\n", i)
	}
	b.WriteString("  extensions:\n")
	for i := range groups {
		fmt.Fprintf(&b, "    - name: stamp-%[1]d\n      source: oci://ghcr.io/example/stamp:1.0.0\n      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n      phase: authz\n      services: [api-%[1]d]\n      failurePolicy: fail-open\n", i)
	}
	b.WriteString("  telemetry:\n    tracing: {endpoint: otel.observability:4317, samplingPercent: 100}\n")
	ds, err := spec.LoadBytes("rich.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("generated design does not load: %v", err)
	}
	// What the loader would have refused: conflicting mTLS overrides (GEN-001) and malformed
	// suppressions (GEN-002).
	sec := ds[0].Spec.Security
	for _, o := range slices.Clone(sec.MTLSOverrides) {
		if o.Port == 0 {
			o.Mode = spec.MTLSStrict
			sec.MTLSOverrides = append(sec.MTLSOverrides, o)
		}
	}
	for i := range ds[0].Spec.Services {
		if a := ds[0].Spec.Services[i].Annotations; a != nil {
			a["trellis.dev/ignore"] += "not a suppression\n"
		}
	}
	return ds[0]
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

// BenchmarkCheckSteps counts the evaluation steps of the whole catalogue on the 1,000- and
// 10,000-service benchmark designs with their Istio output, and reports their ratio: the work
// of the check, free of the machine's noise (10.0 is exactly linear). The loop does nothing;
// read the metrics.
func BenchmarkCheckSteps(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b, Options{Workers: 1})
	var total [2]int64
	for i, n := range []int{1000, 10000} {
		t := benchTarget(b, n)
		in, err := Input(t.Design, t.Meshes)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range e.queries {
			if q.rule.Mesh != "" && t.Meshes[q.rule.Mesh] == nil {
				continue
			}
			c := &stepCounter{}
			if _, err := q.q.Eval(ctx, rego.EvalParsedInput(in), rego.EvalQueryTracer(c)); err != nil {
				b.Fatal(err)
			}
			total[i] += c.steps()
		}
	}
	b.ResetTimer()
	for b.Loop() {
	}
	b.ReportMetric(float64(total[0]), "steps1k")
	b.ReportMetric(float64(total[1]), "steps10k")
	b.ReportMetric(float64(total[1])/float64(total[0]), "steps10k/steps1k")
}
