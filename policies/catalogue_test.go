package policies

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCatalogueMetadata checks that every built-in rule carries every metadata field and that
// the catalogue covers traffic, security, telemetry, general and every mesh.
func TestCatalogueMetadata(t *testing.T) {
	rules := newEngine(t, Options{}).Rules()
	categories := map[string]int{}
	meshes := map[string]int{}
	for _, r := range rules {
		if r.ID == "" || r.Title == "" || r.Description == "" || r.Severity.Rank() == 0 || r.Category == "" || r.Remedy == "" || len(r.Anchors) == 0 {
			t.Errorf("rule %s (%s) has incomplete metadata: %+v", r.ID, r.File, r)
		}
		if !r.Builtin {
			t.Errorf("rule %s not marked builtin", r.ID)
		}
		categories[r.Category]++
		if r.Mesh != "" {
			meshes[r.Mesh]++
		}
	}
	if n := len(rules) - meshes["istio"] - meshes["linkerd"] - meshes["consul"]; n < 25 {
		t.Errorf("only %d design rules, want >= 25", n)
	}
	for _, c := range []string{"traffic", "security", "telemetry", "general"} {
		if categories[c] == 0 {
			t.Errorf("no rule in category %s", c)
		}
	}
	for _, m := range []string{"istio", "linkerd", "consul"} {
		if meshes[m] < 2 {
			t.Errorf("mesh %s has %d rules, want >= 2", m, meshes[m])
		}
	}
}

// TestEveryRuleIsTested requires, for every rule, a Rego test named test_<id>_fires… and one
// named test_<id>_ok…, both referring to the rule's findings.
func TestEveryRuleIsTested(t *testing.T) {
	srcs, err := builtinSources(true)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := parseSources(srcs)
	if err != nil {
		t.Fatal(err)
	}
	c := ast.NewCompiler()
	c.Compile(mods)
	if c.Failed() {
		t.Fatal(c.Errors)
	}
	tested := testedPackages(c.Modules)
	for _, r := range newEngine(t, Options{}).Rules() {
		key := strings.ToLower(strings.ReplaceAll(r.ID, "-", ""))
		var fires, ok bool
		for _, name := range tested[r.Package] {
			fires = fires || strings.HasPrefix(name, "test_"+key+"_fires")
			ok = ok || strings.HasPrefix(name, "test_"+key+"_ok")
		}
		if !fires || !ok {
			t.Errorf("rule %s (%s): want tests test_%s_fires* (positive) and test_%s_ok* (negative) using data.%s.findings; have %v", r.ID, r.File, key, key, r.Package, tested[r.Package])
		}
	}
}

// TestRegoUnitTests runs every *_test.rego of the built-in catalogue through OPA's tester.
func TestRegoUnitTests(t *testing.T) {
	res, err := RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 2*len(newEngine(t, Options{}).Rules()) {
		t.Fatalf("only %d Rego tests", len(res))
	}
	for _, r := range res {
		if !r.Pass && !r.Skip {
			t.Errorf("%s %s.%s failed %s", r.Location, r.Package, r.Name, r.Error)
		}
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodUserPolicy = `# METADATA
# title: Services must have an owner label
# description: Every service needs an owner so findings reach a team.
# custom:
#   id: ORG-001
#   severity: warning
#   category: general
#   remedy: Add annotation team to the service.
#   anchors: [internal-standard]
package acme.owner

findings contains f if {
	some i, s in input.spec.services
	not s.annotations.team
	f := {"msg": sprintf("service %q has no team annotation", [s.name]), "path": sprintf("spec.services[%d]", [i])}
}
`

const goodUserTest = `package acme.owner_test

import data.acme.owner

test_org001_fires if {
	count(owner.findings) == 1 with input as {"spec": {"services": [{"name": "a"}]}}
}

test_org001_ok if {
	count(owner.findings) == 0 with input as {"spec": {"services": [{"name": "a", "annotations": {"team": "x"}}]}}
}

test_org001_broken if {
	count(owner.findings) == 5 with input as {"spec": {"services": [{"name": "a"}]}}
}
`

func TestUserPolicies(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "owner.rego", goodUserPolicy)
	writeFile(t, dir, "owner_test.rego", goodUserTest)
	e := newEngine(t, Options{PolicyDirs: []string{dir}})
	r, ok := e.Rule("ORG-001")
	if !ok || r.Builtin || r.Severity != SeverityWarning || r.Package != "acme.owner" {
		t.Fatalf("user rule not in catalogue: %+v", r)
	}
	d := loadDesign(t, "spec:\n  services: [{name: a}]\n")
	fs, err := e.Check(context.Background(), Target{Design: d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := pick(fs, "ORG-001"); len(got) != 1 || got[0].Path != "spec.services[0]" {
		t.Fatalf("ORG-001 findings = %+v", got)
	}

	res, err := RunTests(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]bool{}
	for _, r := range res {
		status[r.Name] = r.Pass
	}
	if len(res) != 3 || !status["test_org001_fires"] || !status["test_org001_ok"] || status["test_org001_broken"] {
		t.Fatalf("user test results = %+v", res)
	}
}

func TestBrokenUserPolicies(t *testing.T) {
	cases := map[string]struct{ text, want string }{
		"parse":          {"package acme.x\n\nfindings contains f if {\n  f := \n}\n", "broken.rego:5"},
		"compile":        {"package acme.x\n\nfindings contains f if {\n  f := undefined_fn(1)\n}\n", "broken.rego:4"},
		"no metadata":    {"package acme.x\n\nfindings contains f if {\n  f := {\"msg\": \"x\", \"path\": \"\"}\n  false\n}\n", "broken.rego:1: package acme.x defines \"findings\" but has no # METADATA"},
		"missing fields": {strings.Replace(goodUserPolicy, "#   remedy: Add annotation team to the service.\n", "", 1), "broken.rego:9: package acme.owner: METADATA lacks or has invalid custom.remedy"},
		"bad severity":   {strings.Replace(goodUserPolicy, "severity: warning", "severity: fatal", 1), "custom.severity"},
		"duplicate id":   {strings.Replace(goodUserPolicy, "ORG-001", "TRF-012", 1), "rule id TRF-012 already defined"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "broken.rego", tc.text)
			_, err := New(context.Background(), Options{PolicyDirs: []string{dir}})
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("want *PolicyError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			// "trellis policies test DIR" refuses the same policies.
			if _, err := RunTests(context.Background(), []string{dir}); !errors.As(err, &pe) {
				t.Fatalf("RunTests: want *PolicyError, got %v", err)
			}
		})
	}
}
