package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/spec"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateExitCodes(t *testing.T) {
	casesDir := filepath.Join("..", "..", "spec", "testdata", "cases")
	invalid := filepath.Join("..", "..", "spec", "testdata", "invalid", "bad-weight.yaml")
	code, out, errOut := runCLI(t, "", "validate", casesDir)
	if code != ExitOK || !strings.HasSuffix(out, "files: valid\n") {
		t.Errorf("valid cases: code %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", "validate", invalid)
	if code != ExitInvalid {
		t.Errorf("invalid case: code %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[3] != "3 violations in 1 file: invalid" {
		t.Errorf("output:\n%s", out)
	}
	if !regexp.MustCompile(`^.*bad-weight\.yaml:21:37: spec\.traffic\[0\]\.routes\[1\]\.backends\[0\]\.weight: weight 20000 is out of range \(expected a weight from 0 to 10000; hint: .*\)$`).MatchString(lines[1]) {
		t.Errorf("violation line: %s", lines[1])
	}
	for _, args := range [][]string{
		{"validate"},
		{"validate", "does-not-exist.yaml"},
		{"validate", "-o", "xml", casesDir},
		{"validate", t.TempDir()},
	} {
		if code, _, _ := runCLI(t, "", args...); code != ExitUsage {
			t.Errorf("%v: code %d, want %d", args, code, ExitUsage)
		}
	}
}

func TestValidateJSONAndStdin(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "spec", "testdata", "invalid", "unknown-field.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, string(src), "validate", "-o", "json", "-")
	if code != ExitInvalid {
		t.Fatalf("code %d", code)
	}
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Valid || len(rep.Violations) != 2 || rep.Violations[0].Hint != `did you mean "protocol"?` || rep.Violations[0].Pos.File != "<stdin>" || rep.Violations[0].Pos.Line != 8 {
		t.Errorf("report: %+v", rep)
	}
	code, out, _ = runCLI(t, "", "validate", "-o", "json", filepath.Join("..", "..", "spec", "testdata", "cases", "split.yaml"))
	if code != ExitOK || !strings.Contains(out, `"designs": [`+"\n"+`    "split"`) {
		t.Errorf("code %d:\n%s", code, out)
	}
}

func TestSchemaAndVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "schema")
	if code != ExitOK || out != string(spec.JSONSchema()) {
		t.Errorf("schema: code %d", code)
	}
	code, out, _ = runCLI(t, "", "schema", "-o", "yaml")
	if code != ExitOK || !strings.Contains(out, "$schema: https://json-schema.org/draft/2020-12/schema") {
		t.Errorf("schema yaml: code %d", code)
	}
	code, out, _ = runCLI(t, "", "version", "-o", "json")
	var v versionInfo
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.GoVersion == "" || v.DesignAPIVersion != spec.APIVersion {
		t.Errorf("version json: code %d %s", code, out)
	}
	old := Version
	Version = "v9.9.9"
	defer func() { Version = old }()
	code, out, _ = runCLI(t, "", "version", "-o", "yaml")
	if code != ExitOK || !strings.Contains(out, "version: v9.9.9\n") {
		t.Errorf("version yaml: code %d %s", code, out)
	}
	if code, out, _ = runCLI(t, "", "version"); code != ExitOK || !strings.HasPrefix(out, "trellis v9.9.9") {
		t.Errorf("version text: %s", out)
	}
	if code, _, _ = runCLI(t, "", "version", "-o", "toml"); code != ExitUsage {
		t.Errorf("bad format: code %d", code)
	}
}
