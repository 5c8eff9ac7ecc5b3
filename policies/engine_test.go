package policies

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/consul"
	_ "github.com/trellis-mesh/trellis/adapters/linkerd"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// loadDesign loads a design from YAML; header fields are added when missing.
func loadDesign(t testing.TB, body string) *spec.Design {
	t.Helper()
	if !strings.Contains(body, "apiVersion:") {
		body = "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata: {name: test, namespace: ns}\n" + body
	}
	ds, err := spec.LoadBytes("design.yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

func pick(fs []Finding, rule string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// TestSharedCasesAndExamples checks every shared case and example design, translated to Istio,
// Linkerd and Consul, and asserts the findings that must (and must not) appear.
func TestSharedCasesAndExamples(t *testing.T) {
	cases, _ := filepath.Glob("../spec/testdata/cases/*.yaml")
	examples, _ := filepath.Glob("../examples/designs/*.yaml")
	files := append(cases, examples...)
	if len(cases) < 25 {
		t.Fatalf("only %d shared cases", len(cases))
	}
	e := newEngine(t, Options{})
	ctx := context.Background()
	got := map[string]map[string]bool{} // design -> rules
	total := 0
	for _, f := range files {
		ds, err := spec.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			tg := Target{Design: d, Meshes: map[string]*adapters.Output{}}
			for _, m := range []string{"istio", "linkerd", "consul"} {
				a, err := adapters.Lookup(m)
				if err != nil {
					t.Fatal(err)
				}
				out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				tg.Meshes[m] = out
			}
			fs, err := e.Check(ctx, tg, nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			key := f + "#" + d.Metadata.Name
			got[key] = map[string]bool{}
			for _, x := range fs {
				total++
				got[key][x.Rule] = true
				if x.File != f || x.Line == 0 {
					t.Errorf("%s: finding %s %s has no position (%q:%d)", f, x.Rule, x.Path, x.File, x.Line)
				}
				if x.Mesh != "" {
					t.Logf("%s: mesh finding %s %s %s: %s", f, x.Rule, x.Object, x.Path, x.Message)
				}
			}
		}
	}
	t.Logf("%d designs, %d findings", len(got), total)
	caseKey := func(file, name string) string { return "../spec/testdata/cases/" + file + ".yaml#" + name }
	for design, rules := range map[string][]string{
		caseKey("mtls-disabled", "mtls-disabled"):     {"SEC-001"},
		caseKey("mtls-permissive", "mtls-permissive"): {"SEC-001"},
		caseKey("mtls-overrides", "mtls-overrides"):   {"SEC-001"},
		caseKey("wasm", "wasm"):                       {"GEN-003"},
		caseKey("external-api", "external-api"):       {"SEC-012"},
		caseKey("retries", "retries"):                 {"TRF-015"},
		caseKey("bookinfo-canary", "bookinfo"):        {"SEC-004", "SEC-005"},
	} {
		if got[design] == nil {
			t.Errorf("design %s not checked", design)
		}
		for _, r := range rules {
			if !got[design][r] {
				t.Errorf("design %s: expected a %s finding, got %v", design, r, got[design])
			}
		}
	}
	// zero-trust suppresses a real rule (OBS-003) with a reason: no GEN-004.
	if got[caseKey("zero-trust", "zero-trust")]["GEN-004"] {
		t.Error("zero-trust: GEN-004 for a suppression of an existing rule")
	}
	// Well-formed designs and correct adapter output: none of these may fire anywhere.
	for design, rules := range got {
		for _, never := range []string{"TRF-001", "TRF-002", "TRF-004", "TRF-005", "TRF-006", "TRF-007", "TRF-009", "TRF-011", "SEC-002", "SEC-007", "IST-002", "IST-003", "IST-004", "LKD-002", "CSL-001", "CSL-002", "CSL-003"} {
			if rules[never] {
				t.Errorf("design %s: unexpected %s finding", design, never)
			}
		}
	}
	if rules := got[caseKey("zero-trust", "zero-trust")]; rules == nil || rules["SEC-004"] || rules["SEC-005"] || rules["SEC-001"] {
		t.Errorf("zero-trust baseline has security findings: %v", rules)
	}
}

func TestMeshFindingsSuppressedPerService(t *testing.T) {
	d := loadDesign(t, `spec:
  services:
    - name: web
    - name: legacy
      annotations:
        trellis.dev/ignore: "LKD-002: port closed on purpose until the migration"
`)
	server := func(name, app string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
			"metadata": map[string]any{"name": name, "namespace": "ns"},
			"spec":     map[string]any{"port": int64(80), "podSelector": map[string]any{"matchLabels": map[string]any{"app": app}}},
		}}
	}
	out := &adapters.Output{Objects: []*unstructured.Unstructured{server("web-http", "web"), server("legacy-http", "legacy")}}
	fs, err := newEngine(t, Options{}).Check(context.Background(), Target{Design: d, Meshes: map[string]*adapters.Output{"linkerd": out}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lkd := pick(fs, "LKD-002")
	if len(lkd) != 2 {
		t.Fatalf("LKD-002 findings: %+v", lkd)
	}
	for _, f := range lkd {
		switch f.Object {
		case "Server legacy-http.ns":
			if !f.Suppressed || f.SuppressReason != "annotation: port closed on purpose until the migration" || f.Line != 7 {
				t.Errorf("legacy finding: %+v", f)
			}
		case "Server web-http.ns":
			if f.Suppressed || f.Mesh != "linkerd" || f.Path != "spec" || f.Line != 6 {
				t.Errorf("web finding: %+v", f)
			}
		default:
			t.Errorf("unexpected object %q", f.Object)
		}
	}
	// Without the linkerd output the mesh rule does not run.
	fs, err = newEngine(t, Options{}).Check(context.Background(), Target{Design: d}, nil)
	if err != nil || len(pick(fs, "LKD-002")) != 0 {
		t.Errorf("mesh rule ran without mesh output: %v %v", err, fs)
	}
}

func TestUnknownRulesInConfig(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte("ignore:\n  - {rule: TRF-012, reason: a}\n  - {rule: TEL-001, reason: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := newEngine(t, Options{}).UnknownRules(cfg)
	if len(got) != 1 || got[0] != "ignore[1].rule: TEL-001" {
		t.Errorf("UnknownRules = %v", got)
	}
}

// TestConsulConfigEntries checks that the Consul rules find the same problems in the adapter's
// plain config entries as in its consul-k8s custom resources: on every shared case as
// generated (no findings), and with every ServiceDefaults protocol forced to tcp and every
// splitter's first weight raised by one (findings of CSL-001, CSL-002 and CSL-003).
func TestConsulConfigEntries(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{})
	a, err := adapters.Lookup("consul")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../spec/testdata/cases/*.yaml")
	type key struct{ rule, service string }
	findings := func(d *spec.Design, format string, breakIt bool) map[key]int {
		out, _, err := adapters.Translate(ctx, a, d, adapters.Options{ConsulFormat: format})
		if err != nil {
			t.Fatal(err)
		}
		if breakIt {
			for _, o := range out.Objects {
				breakConsulObject(t, o.Object, format)
			}
		}
		fs, err := e.Check(ctx, Target{Design: d, Meshes: map[string]*adapters.Output{"consul": out}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[key]int{}
		for _, f := range fs {
			if f.Mesh == "consul" {
				got[key{f.Rule, f.service}]++
			}
		}
		return got
	}
	rules := map[string]bool{}
	for _, f := range files {
		ds, err := spec.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			for _, breakIt := range []bool{false, true} {
				crd, ce := findings(d, "crd", breakIt), findings(d, "config-entry", breakIt)
				if !reflect.DeepEqual(crd, ce) {
					t.Errorf("%s (broken %v): consul findings differ:\ncustom resources %v\nconfig entries   %v", f, breakIt, crd, ce)
				}
				if !breakIt && len(ce) > 0 {
					t.Errorf("%s: findings on adapter output: %v", f, ce)
				}
				for k := range ce {
					rules[k.rule] = true
				}
			}
		}
	}
	for _, r := range []string{"CSL-001", "CSL-002", "CSL-003"} {
		if !rules[r] {
			t.Errorf("%s never fired on the broken outputs", r)
		}
	}
}

// breakConsulObject sets a ServiceDefaults protocol to tcp and raises a splitter's first weight.
func breakConsulObject(t *testing.T, o map[string]any, format string) {
	t.Helper()
	fields, protocol, splits, weight := o, "Protocol", "Splits", "Weight"
	if format == "crd" {
		fields, _ = o["spec"].(map[string]any)
		protocol, splits, weight = "protocol", "splits", "weight"
	}
	if fields == nil {
		return
	}
	switch o["kind"] {
	case "ServiceDefaults":
		fields[protocol] = "tcp"
	case "ServiceSplitter":
		list, _ := fields[splits].([]any)
		if len(list) == 0 {
			return
		}
		s := list[0].(map[string]any)
		switch w := s[weight].(type) {
		case int64:
			s[weight] = w + 1
		case float64:
			s[weight] = w + 1
		default:
			t.Fatalf("splitter weight %T", w)
		}
	}
}

// TestProgress checks the progress callback: one call per rule evaluation, serialized, done
// rising by one up to the total, which counts every applicable rule of every design (mesh rules
// only for the meshes a design was translated to).
func TestProgress(t *testing.T) {
	ctx := context.Background()
	var calls [][2]int
	e := newEngine(t, Options{Workers: 3, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }})
	a, err := adapters.Lookup("istio")
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := spectest.Design(20), spectest.Design(5)
	out, _, err := adapters.Translate(ctx, a, d1, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	targets := []Target{{Design: d1, Meshes: map[string]*adapters.Output{"istio": out}}, {Design: d2}}
	want := 0
	for _, r := range e.Rules() {
		switch r.Mesh {
		case "":
			want += 2
		case "istio":
			want++
		}
	}
	if _, err := e.CheckAll(ctx, targets, nil); err != nil {
		t.Fatal(err)
	}
	if len(calls) != want {
		t.Fatalf("%d progress calls, want %d (one per rule evaluation)", len(calls), want)
	}
	for i, c := range calls {
		if c != [2]int{i + 1, want} {
			t.Fatalf("call %d = (done %d, total %d), want (%d, %d)", i, c[0], c[1], i+1, want)
		}
	}
}
