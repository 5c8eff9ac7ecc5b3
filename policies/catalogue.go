package policies

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// builtinFS holds the built-in rule catalogue and its Rego unit tests.
//
//go:embed rego
var builtinFS embed.FS

// Severity grades a finding.
type Severity string

// The severities, from least to most serious.
const (
	// SeverityInfo is advice; nothing is wrong.
	SeverityInfo Severity = "info"
	// SeverityWarning is a likely problem or a departure from best practice.
	SeverityWarning Severity = "warning"
	// SeverityError is a configuration that is wrong or unsafe.
	SeverityError Severity = "error"
)

// Rank orders severities: info 1, warning 2, error 3, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityError:
		return 3
	}
	return 0
}

// ParseSeverity reads "info", "warning" or "error".
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(s))
	if sev.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q: expected info, warning or error", s)
	}
	return sev, nil
}

// Rule is one entry of the policy catalogue, built from a Rego package's METADATA block.
type Rule struct {
	// ID is the rule's identifier ("TRF-012").
	ID string `json:"id"`
	// Title is a short summary.
	Title string `json:"title"`
	// Description explains what the rule checks and why.
	Description string `json:"description"`
	// Severity is the severity of the rule's findings.
	Severity Severity `json:"severity"`
	// Category is traffic, security, telemetry, general or a mesh name.
	Category string `json:"category"`
	// Remedy says how to fix a finding.
	Remedy string `json:"remedy"`
	// Anchors name the checks of other tools the rule mirrors (IST0xxx, KIAxxxx, Kyverno policies).
	Anchors []string `json:"anchors"`
	// Mesh is the mesh whose generated objects the rule inspects; "" for rules on the design.
	Mesh string `json:"mesh,omitempty"`
	// Package is the Rego package that implements the rule.
	Package string `json:"package"`
	// File is the Rego file that defines the rule.
	File string `json:"file"`
	// Builtin is true for rules of the built-in catalogue.
	Builtin bool `json:"builtin"`
}

var ruleIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*-[0-9]{3}$`)

// source is one Rego file.
type source struct {
	name    string // file name shown in errors and the catalogue
	text    string
	builtin bool
}

// builtinSources returns the embedded Rego files; tests are included when withTests is set.
func builtinSources(withTests bool) ([]source, error) {
	var out []source
	err := fs.WalkDir(builtinFS, "rego", func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		if !withTests && strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		b, err := builtinFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading built-in policy %s: %w", p, err)
		}
		out = append(out, source{name: "policies/" + p, text: string(b), builtin: true})
		return nil
	})
	return out, err
}

// dirSources reads every .rego file under dir (recursively).
func dirSources(dir string, withTests bool) ([]source, error) {
	var out []source
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reading policy directory: %w", err)
	}
	if !st.IsDir() {
		if !strings.HasSuffix(dir, ".rego") {
			return nil, fmt.Errorf("reading policies: %s is neither a directory nor a .rego file", dir)
		}
		b, err := os.ReadFile(dir)
		if err != nil {
			return nil, fmt.Errorf("reading policy: %w", err)
		}
		return []source{{name: dir, text: string(b)}}, nil
	}
	err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".rego") {
			return err
		}
		if !withTests && strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading policy: %w", err)
		}
		out = append(out, source{name: p, text: string(b)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading policy directory %s: %w", dir, err)
	}
	return out, nil
}

// parseSources parses Rego files with annotations; a parse error names file:line.
func parseSources(srcs []source) (map[string]*ast.Module, error) {
	mods := make(map[string]*ast.Module, len(srcs))
	var errs []string
	for _, s := range srcs {
		m, err := ast.ParseModuleWithOpts(s.name, s.text, ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, formatRegoErr(err))
			continue
		}
		mods[s.name] = m
	}
	if len(errs) > 0 {
		return nil, &PolicyError{Problems: errs}
	}
	return mods, nil
}

// PolicyError reports broken policies (parse or compile errors, missing metadata), each problem
// prefixed with file:line.
type PolicyError struct {
	// Problems lists each problem as "file:line: message".
	Problems []string
}

// Error lists the problems, one per line.
func (e *PolicyError) Error() string {
	return "invalid policy:\n  " + strings.Join(e.Problems, "\n  ")
}

// formatRegoErr turns OPA's errors into "file:line: message" lines.
func formatRegoErr(err error) string {
	if errs, ok := err.(ast.Errors); ok {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			if e.Location != nil {
				lines = append(lines, fmt.Sprintf("%s:%d: %s", e.Location.File, e.Location.Row, e.Message))
			} else {
				lines = append(lines, e.Message)
			}
		}
		return strings.Join(lines, "\n  ")
	}
	return err.Error()
}

// findingsRule is the name of the rule every policy package defines.
const findingsRule = "findings"

// buildCatalogue reads the METADATA block of every package that defines a findings rule. A
// package with findings but incomplete metadata is an error naming file:line.
func buildCatalogue(mods map[string]*ast.Module, builtin map[string]bool) ([]Rule, error) {
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	var rules []Rule
	var problems []string
	seen := map[string]string{}
	for _, name := range names {
		m := mods[name]
		if !definesFindings(m) {
			continue
		}
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		var ann *ast.Annotations
		for _, a := range m.Annotations {
			if a.Scope == "package" || a.Scope == "subpackages" {
				ann = a
				break
			}
		}
		loc := fmt.Sprintf("%s:%d", name, m.Package.Location.Row)
		if ann == nil {
			problems = append(problems, fmt.Sprintf("%s: package %s defines %q but has no # METADATA block (title, description, custom: {id, severity, category, remedy, anchors})", loc, pkg, findingsRule))
			continue
		}
		r, missing := ruleFromAnnotations(ann)
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: package %s: METADATA lacks or has invalid %s", loc, pkg, strings.Join(missing, ", ")))
			continue
		}
		r.Package, r.File, r.Builtin = pkg, name, builtin[name]
		if prev, dup := seen[r.ID]; dup {
			problems = append(problems, fmt.Sprintf("%s: rule id %s already defined in %s", loc, r.ID, prev))
			continue
		}
		seen[r.ID] = loc
		rules = append(rules, r)
	}
	if len(problems) > 0 {
		return nil, &PolicyError{Problems: problems}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	return rules, nil
}

func definesFindings(m *ast.Module) bool {
	for _, r := range m.Rules {
		if r.Head.Name.String() == findingsRule || (len(r.Head.Reference) > 0 && r.Head.Reference[0].Value.String() == findingsRule) {
			return true
		}
	}
	return false
}

// ruleFromAnnotations reads a Rule; missing lists absent or invalid fields.
func ruleFromAnnotations(a *ast.Annotations) (Rule, []string) {
	var missing []string
	r := Rule{Title: a.Title, Description: a.Description}
	if r.Title == "" {
		missing = append(missing, "title")
	}
	if r.Description == "" {
		missing = append(missing, "description")
	}
	str := func(k string) string {
		s, _ := a.Custom[k].(string)
		return s
	}
	r.ID = str("id")
	if !ruleIDPattern.MatchString(r.ID) {
		missing = append(missing, "custom.id (like ABC-123)")
	}
	r.Severity = Severity(str("severity"))
	if r.Severity.Rank() == 0 {
		missing = append(missing, "custom.severity (info|warning|error)")
	}
	r.Category = str("category")
	if r.Category == "" {
		missing = append(missing, "custom.category")
	}
	r.Remedy = str("remedy")
	if r.Remedy == "" {
		missing = append(missing, "custom.remedy")
	}
	if list, ok := a.Custom["anchors"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" {
				r.Anchors = append(r.Anchors, s)
			}
		}
	}
	if len(r.Anchors) == 0 {
		missing = append(missing, "custom.anchors (a non-empty list)")
	}
	r.Mesh = str("mesh")
	return r, missing
}
