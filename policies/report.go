package policies

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Formats lists the output formats of WriteReport.
var Formats = []string{"text", "json", "sarif", "junit", "github"}

// Report is the result of checking one or more designs.
type Report struct {
	// Findings of every design, sorted.
	Findings []Finding `json:"findings"`
	// Rules is the catalogue the findings were produced with.
	Rules []Rule `json:"-"`
	// Threshold is the severity at or above which unsuppressed findings fail the check.
	Threshold Severity `json:"threshold"`
	// Designs is the number of designs checked.
	Designs int `json:"designs"`
	// BaseDir is the directory SARIF and GitHub file paths are made relative to ("" keeps them).
	BaseDir string `json:"-"`
}

// Summary counts a report's findings.
type Summary struct {
	// Error, Warning and Info count unsuppressed findings by severity.
	Error   int `json:"error"`
	Warning int `json:"warning"`
	Info    int `json:"info"`
	// Suppressed counts suppressed findings.
	Suppressed int `json:"suppressed"`
	// Failing counts unsuppressed findings at or above the threshold.
	Failing int `json:"failing"`
}

// Summary counts the report's findings.
func (r *Report) Summary() Summary {
	var s Summary
	for _, f := range r.Findings {
		switch {
		case f.Suppressed:
			s.Suppressed++
		case f.Severity == SeverityError:
			s.Error++
		case f.Severity == SeverityWarning:
			s.Warning++
		default:
			s.Info++
		}
		if f.Counts(r.Threshold) {
			s.Failing++
		}
	}
	return s
}

// Failed reports whether any unsuppressed finding is at or above the threshold.
func (r *Report) Failed() bool { return r.Summary().Failing > 0 }

// WriteReport writes the report in one of Formats.
func WriteReport(w io.Writer, r *Report, format string) error {
	switch format {
	case "", "text":
		return writeText(w, r)
	case "json":
		return writeJSON(w, r)
	case "sarif":
		return writeSARIF(w, r)
	case "junit":
		return writeJUnit(w, r)
	case "github":
		return writeGitHub(w, r)
	}
	return fmt.Errorf("unknown format %q: expected one of %s", format, strings.Join(Formats, ", "))
}

// subject names what a finding is about, istioctl style: "design bookinfo" or
// "istio VirtualService reviews.bookinfo".
func (f Finding) subject() string {
	if f.Object != "" {
		return f.Mesh + " " + f.Object + " (design " + f.Design + ")"
	}
	return "design " + f.Design
}

func (r *Report) relPath(p string) string {
	if p == "" || r.BaseDir == "" {
		return filepath.ToSlash(p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	base, err := filepath.Abs(r.BaseDir)
	if err != nil {
		return filepath.ToSlash(p)
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// writeText prints one line per finding:
// error [SEC-001] (design bookinfo) spec.security.mtls: message (file:line)
func writeText(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		line := fmt.Sprintf("%s [%s] (%s) %s: %s", f.Severity, f.Rule, f.subject(), f.Path, f.Message)
		if loc := f.Location(); loc != "" {
			line += " (" + loc + ")"
		}
		if f.Suppressed {
			line += " [suppressed: " + f.SuppressReason + "]"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	s := r.Summary()
	_, err := fmt.Fprintf(w, "%d design(s) checked: %d error(s), %d warning(s), %d info, %d suppressed; %d at or above %s\n",
		r.Designs, s.Error, s.Warning, s.Info, s.Suppressed, s.Failing, r.Threshold)
	return err
}

func writeJSON(w io.Writer, r *Report) error {
	fs := r.Findings
	if fs == nil {
		fs = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Findings  []Finding `json:"findings"`
		Summary   Summary   `json:"summary"`
		Threshold Severity  `json:"threshold"`
		Designs   int       `json:"designs"`
		Failed    bool      `json:"failed"`
	}{fs, r.Summary(), r.Threshold, r.Designs, r.Failed()})
}

// sarifLevel maps severities onto SARIF result levels.
func sarifLevel(s Severity) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "note"
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation map[string]string `json:"artifactLocation"`
	Region           *sarifRegion      `json:"region,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

type sarifResult struct {
	RuleID       string             `json:"ruleId"`
	RuleIndex    int                `json:"ruleIndex"`
	Level        string             `json:"level"`
	Message      sarifText          `json:"message"`
	Locations    []sarifLocation    `json:"locations,omitempty"`
	Suppressions []sarifSuppression `json:"suppressions,omitempty"`
	Properties   map[string]any     `json:"properties,omitempty"`
}

// writeSARIF writes a SARIF 2.1.0 log with one run: the rule catalogue and the findings.
func writeSARIF(w io.Writer, r *Report) error {
	rules := r.Rules
	index := map[string]int{}
	var srules []sarifRule
	for i, ru := range rules {
		index[ru.ID] = i
		help := ru.Remedy
		if len(ru.Anchors) > 0 {
			help += " (see also: " + strings.Join(ru.Anchors, ", ") + ")"
		}
		tags := []string{ru.Category}
		if ru.Mesh != "" && ru.Mesh != ru.Category {
			tags = append(tags, ru.Mesh)
		}
		srules = append(srules, sarifRule{
			ID:                   ru.ID,
			Name:                 sarifName(ru.Title),
			ShortDescription:     sarifText{ru.Title},
			FullDescription:      sarifText{ru.Description},
			Help:                 sarifText{help},
			DefaultConfiguration: map[string]any{"level": sarifLevel(ru.Severity)},
			Properties:           map[string]any{"tags": tags, "anchors": ru.Anchors, "category": ru.Category},
		})
	}
	results := make([]sarifResult, 0, len(r.Findings))
	for _, f := range r.Findings {
		idx, ok := index[f.Rule]
		if !ok {
			return fmt.Errorf("writing SARIF: finding of rule %s, which is not in the catalogue", f.Rule)
		}
		res := sarifResult{RuleID: f.Rule, RuleIndex: idx, Level: sarifLevel(f.Severity), Message: sarifText{f.Message}}
		loc := sarifLocation{}
		if f.File != "" {
			pl := &sarifPhysical{ArtifactLocation: map[string]string{"uri": r.relPath(f.File)}}
			if f.Line > 0 {
				pl.Region = &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
			}
			loc.PhysicalLocation = pl
		}
		name := f.Design + ":" + f.Path
		if f.Object != "" {
			name = f.Mesh + ":" + f.Object + ":" + f.Path
		}
		loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: name, Kind: "member"}}
		res.Locations = []sarifLocation{loc}
		if f.Suppressed {
			kind := "external"
			if strings.HasPrefix(f.SuppressReason, "annotation:") {
				kind = "inSource"
			}
			res.Suppressions = []sarifSuppression{{Kind: kind, Justification: f.SuppressReason}}
		}
		res.Properties = map[string]any{"design": f.Design, "path": f.Path}
		if f.Mesh != "" {
			res.Properties["mesh"] = f.Mesh
		}
		results = append(results, res)
	}
	type driver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	type run struct {
		Tool struct {
			Driver driver `json:"driver"`
		} `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	r0 := run{Results: results}
	r0.Tool.Driver = driver{Name: "trellis", InformationURI: "https://github.com/trellis-mesh/trellis", Rules: srules}
	log := struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []run  `json:"runs"`
	}{"https://json.schemastore.org/sarif-2.1.0.json", "2.1.0", []run{r0}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// sarifName turns a title into a PascalCase rule name.
func sarifName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// writeJUnit writes one test suite per design and one test case per finding: findings at or
// above the threshold are failures, suppressed ones are skipped, others pass with their
// message in system-out.
func writeJUnit(w io.Writer, r *Report) error {
	byDesign := map[string][]Finding{}
	var names []string
	for _, f := range r.Findings {
		if _, ok := byDesign[f.Design]; !ok {
			names = append(names, f.Design)
		}
		byDesign[f.Design] = append(byDesign[f.Design], f)
	}
	sort.Strings(names)
	out := junitSuites{Name: "trellis check"}
	for _, n := range names {
		s := junitSuite{Name: "design " + n}
		for _, f := range byDesign[n] {
			c := junitCase{
				Name:      fmt.Sprintf("[%s] %s", f.Rule, f.Path),
				Classname: "trellis." + n,
				File:      r.relPath(f.File),
				Line:      f.Line,
			}
			if f.Object != "" {
				c.Name = fmt.Sprintf("[%s] %s %s %s", f.Rule, f.Mesh, f.Object, f.Path)
			}
			text := fmt.Sprintf("%s: %s\nremedy: %s", f.Title, f.Message, f.Remedy)
			if loc := f.Location(); loc != "" {
				text += "\nat " + loc
			}
			switch {
			case f.Suppressed:
				c.Skipped = &junitSkipped{Message: "suppressed: " + f.SuppressReason}
				s.Skipped++
			case f.Counts(r.Threshold):
				c.Failure = &junitFailure{Message: f.Message, Type: string(f.Severity), Text: text}
				s.Failures++
			default:
				c.SystemOut = string(f.Severity) + ": " + text
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// githubEscape escapes workflow-command data (%, CR, LF) and, for properties, ':' and ','.
func githubEscape(s string, property bool) string {
	s = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
	if property {
		s = strings.NewReplacer(":", "%3A", ",", "%2C").Replace(s)
	}
	return s
}

// writeGitHub writes GitHub Actions workflow commands (::error file=…,line=…::message);
// suppressed findings become notices.
func writeGitHub(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		cmd := map[Severity]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "notice"}[f.Severity]
		msg := fmt.Sprintf("%s (%s) %s: %s", f.Rule, f.subject(), f.Path, f.Message)
		if f.Suppressed {
			cmd = "notice"
			msg += " [suppressed: " + f.SuppressReason + "]"
		}
		var props []string
		if f.File != "" {
			props = append(props, "file="+githubEscape(r.relPath(f.File), true))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
				if f.Column > 0 {
					props = append(props, fmt.Sprintf("col=%d", f.Column))
				}
			}
		}
		props = append(props, "title="+githubEscape(f.Rule+" "+f.Title, true))
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), githubEscape(msg, false)); err != nil {
			return err
		}
	}
	return nil
}
