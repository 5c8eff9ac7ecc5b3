package adaptertest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// echoAdapter emits one ConfigMap-like object per service and a warning per external service;
// a design named "broken" fails.
type echoAdapter struct{}

func (echoAdapter) Name() string                        { return "echo" }
func (echoAdapter) Capabilities() adapters.Capabilities { return adapters.Capabilities{} }
func (echoAdapter) Translate(_ context.Context, d *spec.Design, _ adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	if d.Metadata.Name == "broken" {
		return nil, nil, errors.New("cannot translate broken designs")
	}
	out := &adapters.Output{}
	for _, s := range d.Spec.Services {
		out.Objects = append(out.Objects, adapters.NewObject("v1", "ConfigMap", s.Namespace, s.Name, d, nil))
	}
	var ws []adapters.Warning
	for i := range d.Spec.ExternalServices {
		ws = append(ws, adapters.Warning{Path: "spec.externalServices[" + string(rune('0'+i)) + "]", Feature: adapters.FeatureExternalServices, Lost: "not supported"})
	}
	return out, ws, nil
}

var _ adapters.Adapter = echoAdapter{}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunDirComparesObjectsWarningsAndErrors(t *testing.T) {
	cases, golden := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(cases, "one.yaml"), `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: one, namespace: demo}
spec:
  services: [{name: web}]
  externalServices: [{name: stripe, hosts: [api.stripe.com]}]
`)
	writeFile(t, filepath.Join(cases, "broken.yaml"), `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: broken, namespace: demo}
spec: {}
`)
	// The golden is written with a different key order and formatting: compared as data.
	writeFile(t, filepath.Join(golden, "one.yaml"), `kind: ConfigMap
apiVersion: v1
metadata:
  namespace: demo
  name: web
  labels: {trellis.dev/design: one, app.kubernetes.io/managed-by: trellis}
`)
	writeFile(t, filepath.Join(golden, "one.warnings"), "spec.externalServices[0] [services.external] not supported\n")
	writeFile(t, filepath.Join(golden, "broken.error"), "cannot translate\n")
	RunDir(t, echoAdapter{}, adapters.Options{}, cases, golden)

	objs := GoldenObjectsIn(t, golden)
	if len(objs["one"]) != 1 || objs["one"][0].GetName() != "web" {
		t.Errorf("GoldenObjectsIn: %v", objs)
	}
}

func TestWarningLinesAreSorted(t *testing.T) {
	got := WarningLines([]adapters.Warning{{Path: "b", Feature: "f", Lost: "x"}, {Path: "a", Feature: "g", Lost: "y"}})
	if len(got) != 2 || got[0] != "a [g] y" || got[1] != "b [f] x" {
		t.Errorf("got %q", got)
	}
}

func TestParseObjectsRequiresKind(t *testing.T) {
	if _, err := ParseObjects([]byte("apiVersion: v1\nmetadata: {name: x}\n")); err == nil {
		t.Error("object without kind accepted")
	}
	objs, err := ParseObjects([]byte("---\n# only a comment\n---\napiVersion: v1\nkind: A\nmetadata: {name: x}\n"))
	if err != nil || len(objs) != 1 {
		t.Errorf("got %d objects, %v", len(objs), err)
	}
}
