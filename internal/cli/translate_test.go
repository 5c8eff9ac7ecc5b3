package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

func TestTranslateWritesManifestsAndWarnings(t *testing.T) {
	code, out, errOut := run(t, "translate", "-f", repoPath("spec", "testdata", "cases", "bookinfo-canary.yaml"), "--mesh", "istio")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	objs, err := parseObjects("stdout", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetLabels()[adapters.LabelManagedBy] != adapters.ManagedByValue {
			t.Errorf("%s/%s lacks the managed-by label", o.GetKind(), o.GetName())
		}
	}
	if kinds["VirtualService"] != 2 || kinds["DestinationRule"] != 3 || kinds["AuthorizationPolicy"] != 3 {
		t.Errorf("unexpected objects: %v", kinds)
	}
	if !strings.Contains(errOut, "spec.telemetry.tracing.endpoint") {
		t.Errorf("the tracing warning is missing from stderr: %q", errOut)
	}
}

func TestTranslateStrictFailsOnWarnings(t *testing.T) {
	code, out, errOut := run(t, "translate", "-f", repoPath("spec", "testdata", "cases", "rate-limit.yaml"), "--mesh", "istio", "--strict")
	if code != ExitInvalid {
		t.Fatalf("exit %d, want %d", code, ExitInvalid)
	}
	if out != "" {
		t.Errorf("strict failure still wrote manifests")
	}
	if !strings.Contains(errOut, "resilience.rateLimit") || !strings.Contains(errOut, "strict") {
		t.Errorf("stderr does not explain the failure: %q", errOut)
	}
	// The same design without warnings-producing features passes strict mode.
	if code, _, errOut := run(t, "translate", "-f", repoPath("spec", "testdata", "cases", "split.yaml"), "--mesh", "istio", "--strict"); code != ExitOK {
		t.Errorf("split.yaml in strict mode: exit %d: %s", code, errOut)
	}
}

func TestTranslateJSONAndMeshRoutes(t *testing.T) {
	code, out, errOut := run(t, "translate", "-f", repoPath("spec", "testdata", "cases", "timeout.yaml"), "--mesh", "istio", "--mesh-routes", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	found := false
	for _, it := range list.Items {
		if it["kind"] == "HTTPRoute" {
			found = true
		}
	}
	if list.Kind != "List" || !found {
		t.Errorf("want a List with an HTTPRoute, got kind %q, %d items", list.Kind, len(list.Items))
	}
}

func TestTranslateErrors(t *testing.T) {
	if code, _, errOut := run(t, "translate", "-f", repoPath("spec", "testdata", "cases", "split.yaml"), "--mesh", "nosuchmesh"); code != ExitUsage || !strings.Contains(errOut, "istio") {
		t.Errorf("unknown mesh: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := run(t, "translate", "--mesh", "istio"); code != ExitUsage {
		t.Errorf("no -f: exit %d", code)
	}
	invalid, _ := filepath.Glob(repoPath("spec", "testdata", "invalid", "*.yaml"))
	if len(invalid) == 0 {
		t.Skip("no invalid designs")
	}
	code, _, errOut := run(t, "translate", "-f", invalid[0], "--mesh", "istio")
	if code != ExitInvalid || !strings.Contains(errOut, "spec.") {
		t.Errorf("invalid design: exit %d, stderr %q", code, errOut)
	}
}

func TestMeshesFormats(t *testing.T) {
	code, out, _ := run(t, "meshes")
	if code != ExitOK || !strings.Contains(out, "istio") || !strings.Contains(out, "NATIVE") {
		t.Errorf("table: exit %d: %q", code, out)
	}
	code, out, _ = run(t, "meshes", "-o", "json")
	var infos []meshInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil || code != ExitOK {
		t.Fatalf("json: exit %d, %v", code, err)
	}
	for _, i := range infos {
		if i.Name == "istio" && (!i.Import || i.Native+i.Partial+i.Unsupported != len(adapters.Features)) {
			t.Errorf("istio entry wrong: %+v", i)
		}
	}
	if code, out, _ = run(t, "meshes", "-o", "markdown"); code != ExitOK || out != adapters.MatrixMarkdown() {
		t.Errorf("markdown output differs from adapters.MatrixMarkdown")
	}
	if code, _, _ = run(t, "meshes", "-o", "xml"); code != ExitUsage {
		t.Errorf("bad format: exit %d", code)
	}
}

func TestImportIstioProducesALoadableDesign(t *testing.T) {
	code, out, errOut := run(t, "import", "istio", "-f", repoPath("adapters", "istio", "testdata", "import", "bookinfo.yaml"), "--name", "bookinfo")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ds, err := spec.LoadBytes("imported.yaml", []byte(out))
	if err != nil {
		t.Fatalf("imported design does not load: %v\n%s", err, out)
	}
	d := ds[0]
	if d.Metadata.Name != "bookinfo" || len(d.Spec.Services) != 4 || len(d.Spec.Traffic) < 3 {
		t.Errorf("unexpected design: name %q, %d services, %d traffic policies", d.Metadata.Name, len(d.Spec.Services), len(d.Spec.Traffic))
	}
	if !strings.Contains(errOut, "meshConfig") {
		t.Errorf("the tracing endpoint warning is missing: %q", errOut)
	}
}

func TestImportErrorsCarryFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	content := "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n"
	if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "import", "istio", "-f", bad)
	if code != ExitInvalid || !strings.Contains(errOut, bad+":") {
		t.Errorf("exit %d, stderr %q: want the file name with a line", code, errOut)
	}
	noKind := filepath.Join(dir, "nokind.yaml")
	_ = os.WriteFile(noKind, []byte("---\nfoo: bar\n"), 0o644)
	code, _, errOut = run(t, "import", "istio", "-f", noKind)
	if code != ExitInvalid || !strings.Contains(errOut, noKind+":2") {
		t.Errorf("missing kind: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut = run(t, "import", "nosuchsource", "-f", noKind); code != ExitUsage || !strings.Contains(errOut, "istio") {
		t.Errorf("unknown source: exit %d, stderr %q", code, errOut)
	}
}

func TestRegisteredImportSourceIsUsed(t *testing.T) {
	registerImportSource("cli-test-source", func(_ context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
		d := &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: "from-test", Namespace: "x"}}
		for _, o := range objs {
			d.Spec.Services = append(d.Spec.Services, spec.Service{Name: o.GetName()})
		}
		return d, []adapters.Warning{{Path: "p", Mesh: "cli-test-source", Feature: "f", Lost: "something", Severity: adapters.SeverityInfo}}, nil
	})
	f := filepath.Join(t.TempDir(), "in.json")
	_ = os.WriteFile(f, []byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-a"}}]}`), 0o644)
	code, out, errOut := run(t, "import", "cli-test-source", "-f", f, "-o", "json")
	if code != ExitOK || !strings.Contains(out, `"svc-a"`) || !strings.Contains(errOut, "something") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestTranslateReadsStdin(t *testing.T) {
	data, err := os.ReadFile(repoPath("spec", "testdata", "cases", "split.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := Main([]string{"translate", "-f", "-", "--mesh", "istio"}, bytes.NewReader(data), &out, &errb)
	if code != ExitOK || !strings.Contains(out.String(), "kind: VirtualService") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
