package adapters_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

type fakeAdapter struct {
	warnings  []adapters.Warning
	sawStrict bool
}

func (f *fakeAdapter) Name() string { return "fake" }

func (f *fakeAdapter) Capabilities() adapters.Capabilities { return adapters.Capabilities{} }

func (f *fakeAdapter) Translate(_ context.Context, d *spec.Design, opts adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	f.sawStrict = opts.Strict
	return &adapters.Output{Objects: []*unstructured.Unstructured{
		adapters.NewObject("v2", "B", "ns", "b", d, map[string]any{"z": int64(1), "a": "x"}),
		adapters.NewObject("v1", "B", "ns", "b", d, nil),
		adapters.NewObject("v1", "A", "ns2", "a", d, nil),
		adapters.NewObject("v1", "A", "ns1", "z", d, nil),
	}}, append([]adapters.Warning(nil), f.warnings...), nil
}

func design() *spec.Design {
	return &spec.Design{Metadata: spec.Metadata{Name: "demo", Labels: map[string]string{"team": "a", adapters.LabelDesign: "spoofed"}}}
}

func TestTranslateSortsAndLabels(t *testing.T) {
	f := &fakeAdapter{warnings: []adapters.Warning{{Path: "spec.b"}, {Path: "spec.a"}}}
	out, ws, err := adapters.Translate(context.Background(), f, design(), adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, o := range out.Objects {
		order = append(order, o.GetAPIVersion()+"/"+o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
		l := o.GetLabels()
		if l[adapters.LabelManagedBy] != "trellis" || l[adapters.LabelDesign] != "demo" || l["team"] != "a" {
			t.Errorf("labels of %s: %v", o.GetName(), l)
		}
	}
	if got := strings.Join(order, " "); got != "v1/A/ns1/z v1/A/ns2/a v1/B/ns/b v2/B/ns/b" {
		t.Errorf("order: %s", got)
	}
	if ws[0].Path != "spec.a" {
		t.Errorf("warnings not sorted: %v", ws)
	}
}

func TestTranslateStrictTurnsWarningsIntoAnError(t *testing.T) {
	f := &fakeAdapter{warnings: []adapters.Warning{{Path: "spec.x", Mesh: "fake", Feature: adapters.FeatureMirror, Lost: "gone", Severity: adapters.SeverityWarning}}}
	out, ws, err := adapters.Translate(context.Background(), f, design(), adapters.Options{Strict: true})
	var se *adapters.StrictError
	if !errors.As(err, &se) || len(ws) != 1 || out == nil {
		t.Fatalf("want a StrictError with the output and warnings, got %v", err)
	}
	if !strings.Contains(err.Error(), "spec.x: gone [traffic.mirror]") {
		t.Errorf("error does not list the warning: %v", err)
	}
	if f.sawStrict {
		t.Errorf("the adapter should translate non-strictly; strictness is applied uniformly")
	}
	f.warnings = nil
	if _, _, err := adapters.Translate(context.Background(), f, design(), adapters.Options{Strict: true}); err != nil {
		t.Errorf("no warnings, strict: %v", err)
	}
}

func TestRenderCanonical(t *testing.T) {
	f := &fakeAdapter{}
	out, _, _ := adapters.Translate(context.Background(), f, design(), adapters.Options{})
	y, err := adapters.RenderYAML(out.Objects)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(y), "---\n")
	if len(docs) != 4 || !strings.HasPrefix(docs[3], "apiVersion: v2\nkind: B\nmetadata:") || !strings.Contains(docs[3], "spec:\n  a: x\n  z: 1\n") {
		t.Errorf("yaml not canonical:\n%s", y)
	}
	j, err := adapters.Render(out.Objects, "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string `json:"kind"`
		Items []any  `json:"items"`
	}
	if err := json.Unmarshal(j, &list); err != nil || list.Kind != "List" || len(list.Items) != 4 {
		t.Errorf("json list: %v %+v", err, list)
	}
	if _, err := adapters.Render(out.Objects, "toml"); err == nil {
		t.Errorf("unknown format accepted")
	}
}

func TestNormalizeConvertsNumbers(t *testing.T) {
	v, err := adapters.Normalize(map[string]any{"i": int32(3), "f": 1.5, "s": []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if _, ok := m["i"].(int64); !ok {
		t.Errorf("int32 became %T", m["i"])
	}
	if _, ok := m["f"].(float64); !ok {
		t.Errorf("float became %T", m["f"])
	}
	if _, ok := m["s"].([]any); !ok {
		t.Errorf("[]string became %T", m["s"])
	}
}
