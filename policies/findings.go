package policies

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec"
)

// Finding is one rule violation.
type Finding struct {
	// Rule is the rule's id ("TRF-012").
	Rule string `json:"rule"`
	// Severity is the rule's severity.
	Severity Severity `json:"severity"`
	// Title is the rule's title.
	Title string `json:"title"`
	// Message says what is wrong in this instance.
	Message string `json:"message"`
	// Design is the name of the design checked.
	Design string `json:"design"`
	// Path is the field path in the design ("spec.traffic[0].routes[1].timeout"), or, for mesh
	// rules, the field path inside the generated object named by Object.
	Path string `json:"path"`
	// Object names the generated object of a mesh rule as "Kind name.namespace". Empty for rules
	// on the design.
	Object string `json:"object,omitempty"`
	// File is the design file, when known.
	File string `json:"file,omitempty"`
	// Line is the 1-based line of Path in File, when known (0 otherwise).
	Line int `json:"line,omitempty"`
	// Column is the 1-based column of Path in File, when known (0 otherwise).
	Column int `json:"column,omitempty"`
	// Remedy says how to fix the finding.
	Remedy string `json:"remedy"`
	// Mesh is the mesh of a mesh rule; empty for rules on the design.
	Mesh string `json:"mesh,omitempty"`
	// Suppressed is true when a config ignore entry or a trellis.dev/ignore annotation covers
	// the finding. Suppressed findings are reported but do not count for the exit code.
	Suppressed bool `json:"suppressed"`
	// SuppressReason is the reason given with the suppression.
	SuppressReason string `json:"suppressReason,omitempty"`

	service string // service the finding concerns (mesh rules), for annotation suppression
}

// Counts reports whether the finding is unsuppressed and at or above threshold.
func (f Finding) Counts(threshold Severity) bool {
	return !f.Suppressed && f.Severity.Rank() >= threshold.Rank()
}

// Location formats "file:line" (or "file", or "") for the finding.
func (f Finding) Location() string {
	switch {
	case f.File == "":
		return ""
	case f.Line == 0:
		return f.File
	default:
		return f.File + ":" + strconv.Itoa(f.Line)
	}
}

// positioner is implemented by designs loaded from files (provided by the spec package).
type positioner interface {
	Position(path string) (spec.Position, bool)
}

// positionPtr is the pointer-returning variant of positioner.
type positionPtr interface {
	Position(path string) *spec.Position
}

// sourceFiler names the file a design was loaded from.
type sourceFiler interface {
	SourceFile() string
}

// position finds path (or its nearest ancestor with a known position) in d's source file.
func position(d *spec.Design, path string) (spec.Position, bool) {
	var get func(string) (spec.Position, bool)
	switch p := any(d).(type) {
	case positioner:
		get = p.Position
	case positionPtr:
		get = func(s string) (spec.Position, bool) {
			if pos := p.Position(s); pos != nil {
				return *pos, true
			}
			return spec.Position{}, false
		}
	default:
		return spec.Position{}, false
	}
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := get(p); ok && pos.Line > 0 {
			return pos, true
		}
	}
	return spec.Position{}, false
}

// parentPath drops the last segment of a field path: a.b[1] -> a.b -> a -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// newFinding converts one element of a rule's findings set.
func newFinding(r *Rule, x any, d *spec.Design) (Finding, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return Finding{}, fmt.Errorf("rule %s (%s): each finding must be an object {msg, path}, got %T", r.ID, r.File, x)
	}
	msg, _ := m["msg"].(string)
	if msg == "" {
		return Finding{}, fmt.Errorf("rule %s (%s): finding without a msg string: %v", r.ID, r.File, m)
	}
	f := Finding{
		Rule: r.ID, Severity: r.Severity, Title: r.Title, Message: msg, Remedy: r.Remedy,
		Mesh: r.Mesh, Design: d.Metadata.Name,
	}
	f.Path, _ = m["path"].(string)
	f.service, _ = m["service"].(string)
	if o, ok := m["object"].(map[string]any); ok {
		kind, _ := o["kind"].(string)
		name, _ := o["name"].(string)
		ns, _ := o["namespace"].(string)
		f.Object = kind + " " + name
		if ns != "" {
			f.Object += "." + ns
		}
	}
	if sf, ok := any(d).(sourceFiler); ok {
		f.File = sf.SourceFile()
	}
	designPath := f.Path
	if f.Object != "" {
		designPath = servicePath(d, f.service)
	}
	if pos, ok := position(d, designPath); ok {
		f.Line, f.Column = pos.Line, pos.Column
		if pos.File != "" {
			f.File = pos.File
		}
	}
	return f, nil
}

// servicePath is the field path of the named service ("" when unknown).
func servicePath(d *spec.Design, name string) string {
	if name == "" {
		return ""
	}
	for i, s := range d.Spec.Services {
		if s.Name == name {
			return fmt.Sprintf("spec.services[%d]", i)
		}
	}
	return ""
}

// SortFindings orders findings by file, line, rule, object and path.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Design != b.Design {
			return a.Design < b.Design
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// Config is a policy configuration file (.trellis-policy.yaml).
type Config struct {
	// Ignore suppresses rules, everywhere or on some paths.
	Ignore []IgnoreEntry `json:"ignore"`
}

// IgnoreEntry suppresses one rule.
type IgnoreEntry struct {
	// Rule is the rule id. Required.
	Rule string `json:"rule"`
	// Reason says why the rule does not apply. Required.
	Reason string `json:"reason"`
	// Paths restrict the suppression to findings whose path is one of these, or below one of
	// them; "*" matches any run of characters ("spec.traffic[*].routes[*].timeout"). Default
	// none: every finding of the rule.
	Paths []string `json:"paths,omitempty"`
	// Designs restrict the suppression to designs with these names. Default none: every design.
	Designs []string `json:"designs,omitempty"`

	patterns []*regexp.Regexp
}

// DefaultConfigFile is the configuration file read from the working directory when present.
const DefaultConfigFile = ".trellis-policy.yaml"

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy config: %w", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses a configuration; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s: invalid policy config: %w (expected ignore: [{rule: ID, reason: \"why\", paths: [...]}])", name, err)
	}
	for i := range c.Ignore {
		e := &c.Ignore[i]
		if !ruleIDPattern.MatchString(e.Rule) {
			return nil, fmt.Errorf("%s: ignore[%d].rule: expected a rule id such as TRF-012, got %q", name, i, e.Rule)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return nil, fmt.Errorf("%s: ignore[%d].reason: a reason is required for suppressing %s", name, i, e.Rule)
		}
		for _, p := range e.Paths {
			parts := strings.Split(p, "*")
			for k := range parts {
				parts[k] = regexp.QuoteMeta(parts[k])
			}
			e.patterns = append(e.patterns, regexp.MustCompile(`^`+strings.Join(parts, `.*`)+`($|[.\[])`))
		}
	}
	return &c, nil
}

func (e *IgnoreEntry) matches(f *Finding) bool {
	if e.Rule != f.Rule {
		return false
	}
	if len(e.Designs) > 0 && !contains(e.Designs, f.Design) {
		return false
	}
	if len(e.patterns) == 0 {
		return true
	}
	for _, p := range e.patterns {
		if p.MatchString(f.Path) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseIgnoreAnnotation reads a trellis.dev/ignore value: one "RULE-ID: reason" per line. Lines
// without a reason are returned in bad (they suppress nothing; rule GEN-002 reports them).
func ParseIgnoreAnnotation(v string) (ok map[string]string, bad []string) {
	ok = map[string]string{}
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, found := strings.Cut(line, ":")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		if !found || reason == "" || !ruleIDPattern.MatchString(id) {
			bad = append(bad, line)
			continue
		}
		ok[id] = reason
	}
	return ok, bad
}

var ownerPattern = regexp.MustCompile(`^spec\.(services|externalServices|traffic|security\.access)\[(\d+)\]`)

// applySuppressions marks findings covered by cfg or by trellis.dev/ignore annotations.
func applySuppressions(fs []Finding, d *spec.Design, cfg *Config) {
	designIgnores, _ := ParseIgnoreAnnotation(d.Metadata.Annotations[spec.IgnoreAnnotation])
	for i := range fs {
		f := &fs[i]
		if cfg != nil {
			for k := range cfg.Ignore {
				if cfg.Ignore[k].matches(f) {
					f.Suppressed, f.SuppressReason = true, "config: "+cfg.Ignore[k].Reason
					break
				}
			}
		}
		if f.Suppressed {
			continue
		}
		path := f.Path
		if f.Object != "" {
			path = servicePath(d, f.service)
		}
		if ann := ownerAnnotations(d, path); ann != nil {
			if ids, _ := ParseIgnoreAnnotation(ann[spec.IgnoreAnnotation]); ids[f.Rule] != "" {
				f.Suppressed, f.SuppressReason = true, "annotation: "+ids[f.Rule]
				continue
			}
		}
		if r := designIgnores[f.Rule]; r != "" {
			f.Suppressed, f.SuppressReason = true, "annotation: "+r
		}
	}
}

// ownerAnnotations returns the annotations of the service, external service, traffic policy or
// access rule that path lies in (nil when none).
func ownerAnnotations(d *spec.Design, path string) map[string]string {
	m := ownerPattern.FindStringSubmatch(path)
	if m == nil {
		return nil
	}
	i, _ := strconv.Atoi(m[2])
	switch m[1] {
	case "services":
		if i < len(d.Spec.Services) {
			return d.Spec.Services[i].Annotations
		}
	case "externalServices":
		if i < len(d.Spec.ExternalServices) {
			return d.Spec.ExternalServices[i].Annotations
		}
	case "traffic":
		if i < len(d.Spec.Traffic) {
			return d.Spec.Traffic[i].Annotations
		}
	case "security.access":
		if d.Spec.Security != nil && i < len(d.Spec.Security.Access) {
			return d.Spec.Security.Access[i].Annotations
		}
	}
	return nil
}
