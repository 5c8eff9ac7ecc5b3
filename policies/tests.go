package policies

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego unit test.
type TestResult struct {
	// Package is the test's Rego package.
	Package string `json:"package"`
	// Name is the test rule's name.
	Name string `json:"name"`
	// Location is file:line of the test.
	Location string `json:"location"`
	// Pass is true when the test succeeded.
	Pass bool `json:"pass"`
	// Skip is true for tests named todo_test_*.
	Skip bool `json:"skip,omitempty"`
	// Error is an evaluation error, if any.
	Error string `json:"error,omitempty"`
}

// RunTests runs the Rego unit tests (rules named test_* in any package) of the built-in
// catalogue, or, when dirs is not empty, of the rules and tests under dirs together with the
// built-in helpers and rules (so user tests can use them). Policies that do not parse or compile,
// or rules without complete metadata, yield a *PolicyError naming file:line.
func RunTests(ctx context.Context, dirs []string) ([]TestResult, error) {
	srcs, err := builtinSources(len(dirs) == 0)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		more, err := dirSources(d, true)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, more...)
	}
	mods, err := parseSources(srcs)
	if err != nil {
		return nil, err
	}
	// The rules under test must honour the metadata contract too.
	if _, err := buildCatalogue(mods, nil); err != nil {
		return nil, err
	}
	ch, err := tester.NewRunner().SetModules(mods).EnableTracing(false).RunTests(ctx, nil)
	if err != nil {
		return nil, &PolicyError{Problems: []string{formatRegoErr(err)}}
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{
			Package: strings.TrimPrefix(r.Package, "data."),
			Name:    r.Name,
			Pass:    r.Pass(),
			Skip:    r.Skip,
		}
		if r.Location != nil {
			tr.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		if r.Error != nil {
			tr.Error = formatRegoErr(r.Error)
			tr.Pass = false
		}
		out = append(out, tr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Package != out[j].Package {
			return out[i].Package < out[j].Package
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// testedPackages returns, for Rego test modules, every rule package referenced from a test_*
// rule, keyed by package path without "data.", with the names of the tests referencing it.
func testedPackages(mods map[string]*ast.Module) map[string][]string {
	out := map[string][]string{}
	for _, m := range mods {
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if !strings.HasPrefix(name, "test_") {
				continue
			}
			ast.WalkRefs(r, func(ref ast.Ref) bool {
				s := ref.String()
				if strings.HasPrefix(s, "data.") {
					if i := strings.Index(s, "."+findingsRule); i > 0 {
						out[strings.TrimPrefix(s[:i], "data.")] = append(out[strings.TrimPrefix(s[:i], "data.")], name)
					}
				}
				return false
			})
		}
	}
	return out
}
