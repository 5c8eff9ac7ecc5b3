package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func checkCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

const cleanDesign = `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: clean, namespace: shop}
spec:
  services:
    - name: web
  traffic:
    - service: web
      routes:
        - name: default
          timeout: 2s
  security:
    mtls: strict
    defaultPolicy: deny
    access:
      - destination: web
        sources: [{namespace: ingress}]
  telemetry:
    accessLogs: {enabled: true}
`

func writeCheckFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	clean := writeCheckFile(t, dir, "clean.yaml", cleanDesign)
	permissive := writeCheckFile(t, dir, "permissive.yaml", strings.Replace(strings.Replace(cleanDesign, "mtls: strict", "mtls: permissive", 1), "name: clean", "name: permissive", 1))
	invalid := writeCheckFile(t, dir, "invalid.yaml", strings.Replace(cleanDesign, "timeout: 2s", "timeout: soon", 1))

	if code, out, errOut := checkCLI(t, "check", clean); code != ExitOK || !strings.Contains(out, "0 error(s), 0 warning(s)") {
		t.Errorf("clean: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ := checkCLI(t, "check", permissive)
	if code != ExitInvalid || !strings.Contains(out, "error [SEC-001] (design permissive) spec.security.mtls: mesh-wide mTLS is permissive ("+permissive+":") {
		t.Errorf("permissive: exit %d\n%s", code, out)
	}
	// The same finding suppressed by a config file no longer fails the check.
	cfg := writeCheckFile(t, dir, "policy.yaml", "ignore:\n  - rule: SEC-001\n    reason: migrating the legacy callers\n")
	if code, out, _ := checkCLI(t, "check", permissive, "--config", cfg); code != ExitOK || !strings.Contains(out, "[suppressed: config: migrating the legacy callers]") {
		t.Errorf("suppressed: exit %d\n%s", code, out)
	}
	// --fail-on info makes the info finding (OBS-003 absent here) and warnings count.
	if code, _, _ := checkCLI(t, "check", clean, "--fail-on", "info"); code != ExitOK {
		t.Errorf("clean --fail-on info: exit %d", code)
	}
	if code, _, errOut := checkCLI(t, "check", invalid); code != ExitInvalid || !strings.Contains(errOut, "spec.traffic[0].routes[0].timeout") {
		t.Errorf("invalid design: exit %d, stderr %s", code, errOut)
	}
	for name, args := range map[string][]string{
		"missing file": {"check", filepath.Join(dir, "nope.yaml")},
		"bad fail-on":  {"check", clean, "--fail-on", "fatal"},
		"bad format":   {"check", clean, "--format", "xml"},
		"bad mesh":     {"check", clean, "--mesh", "kuma"},
		"bad config":   {"check", clean, "--config", writeCheckFile(t, dir, "bad.yaml", "ignore: [{rule: SEC-001}]")},
		"bad policy":   {"check", clean, "--policy-dir", writeCheckFile(t, dir, "broken.rego", "package x\nfindings contains f if {\n")},
		"no args":      {"check"},
	} {
		if code, _, errOut := checkCLI(t, args...); code != ExitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, ExitUsage, errOut)
		}
	}
	if _, _, errOut := checkCLI(t, "check", clean, "--policy-dir", filepath.Join(dir, "broken.rego")); !strings.Contains(errOut, "broken.rego:3") {
		t.Errorf("broken policy error lacks file:line: %s", errOut)
	}
}

func TestCheckWithMeshesAndFormats(t *testing.T) {
	dir := t.TempDir()
	clean := writeCheckFile(t, dir, "clean.yaml", cleanDesign)
	code, out, errOut := checkCLI(t, "check", clean, "--mesh", "istio,linkerd", "--mesh", "consul", "--format", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Designs int  `json:"designs"`
		Failed  bool `json:"failed"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Designs != 1 || doc.Failed {
		t.Errorf("json: %v %+v\n%s", err, doc, out)
	}
	for _, format := range []string{"sarif", "junit", "github", "text"} {
		if code, _, errOut := checkCLI(t, "check", clean, "--format", format); code != ExitOK {
			t.Errorf("%s: exit %d %s", format, code, errOut)
		}
	}
	if code, _, errOut := checkCLI(t, "check", clean, "--mesh", "consul", "--consul-format", "config-entry"); code != ExitOK {
		t.Errorf("--consul-format config-entry: exit %d %s", code, errOut)
	}
	if code, _, errOut := checkCLI(t, "check", clean, "--mesh", "consul", "--consul-format", "hcl"); code != ExitUsage || !strings.Contains(errOut, "expected crd or config-entry") {
		t.Errorf("--consul-format hcl: exit %d %s, want a usage error", code, errOut)
	}
}

func TestPoliciesListAndTest(t *testing.T) {
	code, out, _ := checkCLI(t, "policies", "list")
	if code != ExitOK || !strings.Contains(out, "TRF-012") || !strings.Contains(out, "IST-001") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	code, out, _ = checkCLI(t, "policies", "list", "-o", "json")
	var rules []map[string]any
	if err := json.Unmarshal([]byte(out), &rules); code != ExitOK || err != nil || len(rules) < 25 {
		t.Errorf("list -o json: exit %d, %v, %d rules", code, err, len(rules))
	}
	if code, out, _ := checkCLI(t, "policies", "list", "-o", "yaml"); code != ExitOK || !strings.Contains(out, "id: SEC-001") {
		t.Errorf("list -o yaml: exit %d", code)
	}
	if code, out, _ := checkCLI(t, "policies", "test"); code != ExitOK || !strings.Contains(out, "PASS trellis.rules.traffic_test.test_trf012_fires") {
		t.Errorf("test: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	writeCheckFile(t, dir, "x_test.rego", "package x_test\n\ntest_ok if { 1 == 1 }\n\ntest_bad if { 1 == 2 }\n")
	code, out, _ = checkCLI(t, "policies", "test", dir)
	if code != ExitInvalid || !strings.Contains(out, "FAIL x_test.test_bad") || !strings.Contains(out, "PASS x_test.test_ok") {
		t.Errorf("test DIR: exit %d\n%s", code, out)
	}
}

// TestCheckProgress checks the stage lines of --progress on stderr, and that without the flag a
// non-terminal stderr stays quiet (CI logs and piped output).
func TestCheckProgress(t *testing.T) {
	dir := t.TempDir()
	clean := writeCheckFile(t, dir, "clean.yaml", cleanDesign)
	code, out, errOut := checkCLI(t, "check", clean, "--mesh", "istio,linkerd", "--progress")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	want := []string{"loaded 1 design (1 service) in ", "translated for istio (", "translated for linkerd (", "checked "}
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), errOut)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) || !strings.Contains(lines[i], " in ") {
			t.Errorf("stderr line %d = %q, want it to start with %q and give the time", i+1, lines[i], w)
		}
	}
	if strings.Contains(out, "loaded") {
		t.Errorf("progress went to stdout:\n%s", out)
	}
	if _, _, errOut := checkCLI(t, "check", clean, "--mesh", "istio"); errOut != "" {
		t.Errorf("without --progress and without a terminal, stderr = %q, want nothing", errOut)
	}
}
