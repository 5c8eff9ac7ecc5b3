package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// suppressedDesign has an un-suppressed error (SEC-001), a finding suppressed by the service's
// annotation (SEC-005 on "legacy"), one suppressed by the design's annotation (SEC-004) and one
// suppressed by the config (TRF-012). (Malformed annotations are rejected by validation; GEN-002
// is covered by its Rego tests for designs built in code.)
const suppressedDesign = `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata:
  name: shop
  namespace: shop
  annotations:
    trellis.dev/ignore: |
      SEC-004: the platform namespace policy denies by default
spec:
  services:
    - name: web
    - name: legacy
      annotations:
        trellis.dev/ignore: "SEC-005: retired next quarter, no callers left"
  traffic:
    - service: web
      routes:
        - name: default
          retries: {attempts: 2, perTryTimeout: 1s}
      resilience:
        outlierDetection: {consecutive5xx: 5}
  security:
    mtls: permissive
    access:
      - destination: web
        sources: [{namespace: ingress}]
`

const suppressConfig = `ignore:
  - rule: TRF-012
    reason: web clients set their own deadlines
    paths: ["spec.traffic[*].routes[*].timeout"]
  - rule: OBS-003
    reason: logging is configured by the platform
    designs: [other]
`

func checkSuppressed(t *testing.T) []Finding {
	t.Helper()
	d := loadDesign(t, suppressedDesign)
	cfg, err := ParseConfig("cfg.yaml", []byte(suppressConfig))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := newEngine(t, Options{}).Check(context.Background(), Target{Design: d}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestSuppression(t *testing.T) {
	fs := checkSuppressed(t)
	want := map[string]struct {
		path       string
		suppressed bool
		reason     string
	}{
		"SEC-001": {"spec.security.mtls", false, ""},
		"SEC-004": {"spec.security.defaultPolicy", true, "annotation: the platform namespace policy denies by default"},
		"SEC-005": {"spec.services[1]", true, "annotation: retired next quarter, no callers left"},
		"TRF-012": {"spec.traffic[0].routes[0].timeout", true, "config: web clients set their own deadlines"},
		"OBS-003": {"spec.telemetry.accessLogs", false, ""}, // the config entry is for another design
	}
	for rule, w := range want {
		got := pick(fs, rule)
		if len(got) != 1 {
			t.Errorf("%s: want 1 finding, got %+v", rule, got)
			continue
		}
		f := got[0]
		if f.Path != w.path || f.Suppressed != w.suppressed || f.SuppressReason != w.reason {
			t.Errorf("%s: got path %q suppressed %v reason %q, want %+v", rule, f.Path, f.Suppressed, f.SuppressReason, w)
		}
		if f.File != "design.yaml" || f.Line == 0 {
			t.Errorf("%s: no position: %q:%d", rule, f.File, f.Line)
		}
	}
	rep := &Report{Findings: fs, Threshold: SeverityWarning}
	s := rep.Summary()
	if s.Suppressed != 3 || !rep.Failed() {
		t.Errorf("summary %+v", s)
	}
	// Only suppressed findings at error level: the check passes at --fail-on error.
	var errorsOnly []Finding
	for _, f := range fs {
		if f.Rule == "SEC-004" || f.Rule == "SEC-005" {
			errorsOnly = append(errorsOnly, f)
		}
	}
	if (&Report{Findings: errorsOnly, Threshold: SeverityInfo}).Failed() {
		t.Error("suppressed findings must not fail the check")
	}
}

func TestParseConfigErrors(t *testing.T) {
	for text, want := range map[string]string{
		"ignore: [{rule: TRF-012}]":                  "ignore[0].reason: a reason is required",
		"ignore: [{rule: trf12, reason: x}]":         "ignore[0].rule: expected a rule id",
		"ignore: [{rule: TRF-012, reason: x, p: 1}]": "invalid policy config",
	} {
		_, err := ParseConfig("c.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", text, err, want)
		}
	}
}

func TestParseIgnoreAnnotation(t *testing.T) {
	ok, bad := ParseIgnoreAnnotation("TRF-012: deadline set by client\n# comment\n\nSEC-004:\nnonsense\nOBS-003 : fine")
	if len(ok) != 2 || ok["TRF-012"] != "deadline set by client" || ok["OBS-003"] != "fine" {
		t.Errorf("ok = %v", ok)
	}
	if len(bad) != 2 {
		t.Errorf("bad = %v", bad)
	}
}

func report(t *testing.T) *Report {
	return &Report{Findings: checkSuppressed(t), Rules: newEngine(t, Options{}).Rules(), Threshold: SeverityError, Designs: 1, BaseDir: "."}
}

func render(t *testing.T, r *Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteReport(&b, r, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTextFormat(t *testing.T) {
	out := render(t, report(t), "text")
	for _, want := range []string{
		"error [SEC-001] (design shop) spec.security.mtls: mesh-wide mTLS is permissive (design.yaml:",
		"warning [SEC-005] (design shop) spec.services[1]: ",
		"[suppressed: annotation: retired next quarter, no callers left]",
		"1 design(s) checked: 1 error(s), ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if err := WriteReport(&bytes.Buffer{}, report(t), "yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestJSONFormat(t *testing.T) {
	var doc struct {
		Findings []Finding `json:"findings"`
		Summary  Summary   `json:"summary"`
		Failed   bool      `json:"failed"`
	}
	if err := json.Unmarshal([]byte(render(t, report(t), "json")), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) == 0 || !doc.Failed || doc.Summary.Suppressed != 3 || doc.Summary.Error != 1 {
		t.Errorf("json report: %+v", doc)
	}
}

func TestSARIFFormatValidatesAgainstSchema(t *testing.T) {
	f, err := os.Open("testdata/sarif/sarif-schema-2.1.0-excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, report(t), "sarif")
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("SARIF output does not validate: %v\n%s", err, out)
	}
	// The schema accepts a log; check what GitHub code scanning needs on top.
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID                   string            `json:"id"`
						ShortDescription     map[string]string `json:"shortDescription"`
						Help                 map[string]string `json:"help"`
						DefaultConfiguration map[string]string `json:"defaultConfiguration"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Suppressions []struct{ Kind, Justification string } `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) < 25 {
		t.Fatalf("only %d rules", len(run.Tool.Driver.Rules))
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.ShortDescription["text"] == "" || r.Help["text"] == "" || r.DefaultConfiguration["level"] == "" {
			t.Errorf("rule %s incomplete", r.ID)
		}
	}
	suppressed := 0
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %s points at rule index %d", res.RuleID, res.RuleIndex)
		}
		pl := res.Locations[0].PhysicalLocation
		if pl.ArtifactLocation.URI != "design.yaml" || pl.Region.StartLine < 1 || pl.Region.StartColumn < 1 {
			t.Errorf("result %s location %+v", res.RuleID, pl)
		}
		if len(res.Suppressions) > 0 {
			suppressed++
			if res.RuleID == "TRF-012" && res.Suppressions[0].Kind != "external" || res.RuleID == "SEC-005" && res.Suppressions[0].Kind != "inSource" {
				t.Errorf("result %s suppression %+v", res.RuleID, res.Suppressions)
			}
		}
	}
	if suppressed != 3 {
		t.Errorf("%d suppressed results, want 3", suppressed)
	}
	// A broken log must fail the schema: the test can fail.
	bad := strings.Replace(out, `"level": "error"`, `"level": "fatal"`, 1)
	badDoc, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
	if schema.Validate(badDoc) == nil {
		t.Error("schema accepted an invalid level")
	}
}

func TestJUnitFormat(t *testing.T) {
	out := render(t, report(t), "junit")
	var suites junitSuites
	if err := xml.Unmarshal([]byte(out), &suites); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(suites.Suites) != 1 || suites.Failures != 1 || suites.Skipped != 3 || suites.Tests < 5 {
		t.Errorf("junit counts: tests %d failures %d skipped %d", suites.Tests, suites.Failures, suites.Skipped)
	}
	if !strings.Contains(out, `<failure message="mesh-wide mTLS is permissive" type="error">`) {
		t.Errorf("junit output lacks the SEC-001 failure:\n%s", out)
	}
}

func TestGitHubFormat(t *testing.T) {
	out := render(t, report(t), "github")
	line := regexp.MustCompile(`(?m)^::error file=design\.yaml,line=\d+,col=\d+,title=SEC-001 mTLS is not strict::SEC-001 \(design shop\) spec\.security\.mtls: mesh-wide mTLS is permissive$`)
	if !line.MatchString(out) {
		t.Errorf("github output lacks the SEC-001 annotation:\n%s", out)
	}
	if !strings.Contains(out, "::notice file=design.yaml") || !strings.Contains(out, "[suppressed: config: web clients set their own deadlines]") {
		t.Errorf("suppressed findings must be notices:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "::") {
			t.Errorf("not a workflow command: %q", l)
		}
	}
}
