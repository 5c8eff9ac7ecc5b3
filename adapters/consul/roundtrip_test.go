package consul_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/consul"
	"github.com/trellis-mesh/trellis/spec"
)

// normalize renders objects for a semantic comparison: intention source descriptions (which
// list the design rules an intention came from) are dropped, everything else is kept.
func normalize(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var copies []*unstructured.Unstructured
	for _, o := range objs {
		c := o.DeepCopy()
		for _, path := range [][]string{{"spec", "sources"}, {"Sources"}} {
			srcs, ok, _ := unstructured.NestedSlice(c.Object, path...)
			if !ok {
				continue
			}
			var kept []any
			for _, s := range srcs {
				m, ok := s.(map[string]any)
				if !ok {
					kept = append(kept, s)
					continue
				}
				delete(m, "description")
				delete(m, "Description")
				// Under Consul's default allow (every configuration compared here), a wildcard
				// source allowed at L4 admits what no source at all admits: the importer makes
				// it explicit because a design's allow rules admit only the callers they name.
				if (m["name"] == "*" || m["Name"] == "*") && (m["action"] == "allow" || m["Action"] == "allow") {
					continue
				}
				kept = append(kept, m)
			}
			_ = unstructured.SetNestedSlice(c.Object, kept, path...)
		}
		copies = append(copies, c)
	}
	b, err := adapters.RenderYAML(copies)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lossyRoundTrips are the shared cases whose Consul output cannot be read back into the same
// design, each with the reason (the translation warns about each of these losses).
var lossyRoundTrips = map[string]string{
	"grpc-service": "health checks live on the service registration; the onlyPassing subsets they produce do not say how instances are checked",
}

// TestRoundTripDesign checks import(translate(d)) ≈ d for every shared case, in both output
// forms, by translating the imported design again: the Consul configuration must be the same.
func TestRoundTripDesign(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(adaptertest.CasesDir(t), "*.yaml"))
	if len(files) == 0 {
		t.Skip("no shared cases")
	}
	extra, _ := filepath.Glob(filepath.Join(extraCasesDir(), "*.yaml"))
	files = append(files, extra...)
	a := consul.New()
	for _, format := range []string{consul.FormatCRD, consul.FormatConfigEntry} {
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			t.Run(format+"/"+name, func(t *testing.T) {
				if why, ok := lossyRoundTrips[name]; ok {
					t.Skip(why)
				}
				designs, err := spec.LoadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				d := designs[0]
				opts := adapters.Options{ConsulFormat: format}
				out, _, err := a.Translate(context.Background(), d, opts)
				if err != nil {
					t.Fatal(err)
				}
				back, _, err := a.Import(context.Background(), out.Objects, adapters.ImportOptions{Name: d.Metadata.Name, Namespace: d.Metadata.Namespace})
				if err != nil {
					t.Fatal(err)
				}
				back.Metadata.Labels = d.Metadata.Labels // labels are not mesh configuration
				back.Default()
				if vs := back.Validate(); len(vs) > 0 {
					t.Fatalf("imported design is invalid: %v", vs)
				}
				again, _, err := a.Translate(context.Background(), back, opts)
				if err != nil {
					t.Fatal(err)
				}
				if diff := adaptertest.DiffYAML([]byte(normalize(t, out.Objects)), []byte(normalize(t, again.Objects))); diff != "" {
					t.Errorf("translate(import(translate(d))) differs from translate(d) (-first +second):\n%s", diff)
				}
				checkDesignParts(t, d, back)
			})
		}
	}
}

// checkDesignParts compares the parts of the design an import must restore exactly.
func checkDesignParts(t *testing.T, want, got *spec.Design) {
	t.Helper()
	svc := func(d *spec.Design) []string {
		var out []string
		for _, s := range d.Spec.Services {
			var vs []string
			for _, v := range s.Versions {
				vs = append(vs, v.Name)
			}
			sort.Strings(vs)
			out = append(out, s.Name+":"+string(s.Protocol)+":"+strings.Join(vs, ","))
		}
		sort.Strings(out)
		return out
	}
	if w, g := svc(want), svc(got); strings.Join(w, " ") != strings.Join(g, " ") {
		t.Errorf("services: got %v, want %v", g, w)
	}
	routes := func(d *spec.Design) []string {
		var out []string
		for _, tp := range d.Spec.Traffic {
			for _, r := range tp.Routes {
				out = append(out, tp.Service+"/"+r.Name)
			}
		}
		sort.Strings(out)
		return out
	}
	wantRoutes := routes(want)
	gotRoutes := map[string]bool{}
	for _, r := range routes(got) {
		gotRoutes[r] = true
	}
	for _, r := range wantRoutes {
		// Routes that Consul's default route carries come back as "default".
		if !gotRoutes[r] && !gotRoutes[strings.SplitN(r, "/", 2)[0]+"/default"] {
			t.Errorf("route %s not restored (got %v)", r, routes(got))
		}
	}
}

// TestRoundTripConsulConfig checks translate(import(x)) ≈ x for hand-written Consul
// configurations in the style of HashiCorp's tutorials (testdata/consul-configs), in the form
// they are written in.
func TestRoundTripConsulConfig(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "consul-configs", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no testdata/consul-configs")
	}
	a := consul.New()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := adaptertest.ParseYAMLDocs(raw)
			if err != nil {
				t.Fatal(err)
			}
			var x []*unstructured.Unstructured
			for _, doc := range docs {
				x = append(x, &unstructured.Unstructured{Object: doc.(map[string]any)})
			}
			format := consul.FormatCRD
			if x[0].GetAPIVersion() != consul.CRDAPIVersion {
				format = consul.FormatConfigEntry
			}
			d, warnings, err := a.Import(context.Background(), x, adapters.ImportOptions{Name: "tutorial", Namespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range warnings {
				if w.Severity != adapters.SeverityInfo {
					t.Errorf("unexpected import warning: %s", w)
				}
			}
			d.Default()
			if vs := d.Validate(); len(vs) > 0 {
				t.Fatalf("imported design is invalid: %v", vs)
			}
			out, _, err := a.Translate(context.Background(), d, adapters.Options{ConsulFormat: format})
			if err != nil {
				t.Fatal(err)
			}
			want := normalize(t, stripTrellis(x))
			got := normalize(t, stripTrellis(out.Objects))
			if diff := adaptertest.DiffYAML([]byte(want), []byte(got)); diff != "" {
				t.Errorf("translate(import(x)) differs from x (-x +got):\n%s", diff)
			}
		})
	}
}

// stripTrellis removes the bookkeeping Trellis adds (labels, annotations, Meta) and the
// envelope of config entries, so hand-written configurations compare with generated ones.
func stripTrellis(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		c := o.DeepCopy()
		if c.GetAPIVersion() == consul.CRDAPIVersion {
			c.SetLabels(nil)
			c.SetAnnotations(nil)
			c.SetNamespace("")
		} else {
			e, _ := consul.ConfigEntry(wrap(c))
			delete(e, "Meta")
			e["apiVersion"] = "x"
			e["kind"], _ = e["Kind"].(string)
			name, _ := e["Name"].(string)
			e["metadata"] = map[string]any{"name": name}
			c = &unstructured.Unstructured{Object: e}
		}
		out = append(out, c)
	}
	return out
}

func wrap(o *unstructured.Unstructured) *unstructured.Unstructured {
	c := o.DeepCopy()
	c.Object["apiVersion"] = consul.ConfigEntryAPIVersion
	if c.Object["kind"] == nil {
		c.Object["kind"] = "x"
	}
	return c
}
