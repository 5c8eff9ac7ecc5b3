package istio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
)

// kubeServices returns the Kubernetes Services a cluster running the design has: Istio objects
// do not carry ports and protocols, the Services do, and `trellis import istio` reads both.
func kubeServices(d *spec.Design) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, s := range d.Spec.Services {
		var ports []any
		for _, p := range s.Ports {
			ports = append(ports, map[string]any{"name": p.Name, "port": int64(p.Port), "targetPort": int64(p.TargetPort), "appProtocol": string(s.Protocol)})
		}
		o := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": s.Name, "namespace": s.Namespace},
			"spec":     map[string]any{"selector": stringsToAny(s.SelectorLabels()), "ports": ports},
		}}
		out = append(out, o)
	}
	return out
}

func stringsToAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// lossy documents, per shared case, why import(translate(d)) cannot equal d beyond what
// normalize already accounts for. An entry that is no longer needed fails the test.
var lossy = map[string]string{
	"lossy": "weights 1:2 become 33/67, the backoff maximum becomes 10× base and regex header " +
		"conditions are dropped (each reported as a warning)",
}

// normalize removes what Istio configuration cannot carry, for every design alike:
//   - annotations (tool settings such as trellis.dev/ignore are not copied into mesh objects);
//   - identities of services that are never an access source (identities only appear in
//     AuthorizationPolicy principals);
//   - the source {service: "*"}, written as {namespace: "*"}: both are a rule without a source;
//   - the tracing endpoint and access-log format (they live in meshConfig, not in CRDs);
//   - health checks (Istio has none; the translation warns);
//   - retry backoff maxInterval (Istio keeps the base interval; the maximum is 10× base);
//   - relative weights, compared as percentages when they are whole percentages;
//   - the order of lists keyed by name (services, external services, traffic policies, access
//     rules, JWT rules, extensions), which carries no meaning.
func normalize(d *spec.Design) *spec.Design {
	c := d.Clone()
	c.Metadata.Annotations = nil
	sources := map[string]bool{}
	if sec := c.Spec.Security; sec != nil {
		for i := range sec.Access {
			a := &sec.Access[i]
			for k, s := range a.Sources {
				sources[s.Service] = true
				// Every service and every namespace are one rule without a source in Istio.
				if s == (spec.Source{Service: "*"}) {
					a.Sources[k] = spec.Source{Namespace: "*"}
				}
			}
		}
	}
	for i := range c.Spec.Services {
		s := &c.Spec.Services[i]
		s.Annotations = nil
		s.HealthCheck = nil
		if !sources[s.Name] {
			s.Identity = s.Name
		}
	}
	for i := range c.Spec.ExternalServices {
		c.Spec.ExternalServices[i].Annotations = nil
	}
	for i := range c.Spec.Traffic {
		tp := &c.Spec.Traffic[i]
		tp.Annotations = nil
		for j := range tp.Routes {
			// Weights are relative: 1:3 and 25:75 are the same split.
			bs := tp.Routes[j].Backends
			total := int32(0)
			for _, b := range bs {
				total += b.Weight
			}
			exact := total > 0
			for _, b := range bs {
				exact = exact && (b.Weight*100)%total == 0
			}
			if exact {
				for k := range bs {
					bs[k].Weight = bs[k].Weight * 100 / total
				}
			}
			if rt := tp.Routes[j].Retries; rt != nil && rt.Backoff != nil {
				rt.Backoff.MaxInterval = spec.Dur(10 * rt.Backoff.BaseInterval.Duration)
			}
		}
	}
	if sec := c.Spec.Security; sec != nil {
		for i := range sec.Access {
			a := &sec.Access[i]
			a.Annotations = nil
			// Sources are alternatives: their order carries no meaning.
			sort.Slice(a.Sources, func(x, y int) bool { return fmt.Sprint(a.Sources[x]) < fmt.Sprint(a.Sources[y]) })
		}
		sort.Slice(sec.Access, func(i, j int) bool { return sec.Access[i].Name < sec.Access[j].Name })
		sort.Slice(sec.RequestAuthentication, func(i, j int) bool {
			return sec.RequestAuthentication[i].Name < sec.RequestAuthentication[j].Name
		})
		for i := range sec.RequestAuthentication {
			sort.Strings(sec.RequestAuthentication[i].Services)
		}
		sort.Slice(sec.MTLSOverrides, func(i, j int) bool {
			a, b := sec.MTLSOverrides[i], sec.MTLSOverrides[j]
			return fmt.Sprint(a.Service, a.Port) < fmt.Sprint(b.Service, b.Port)
		})
	}
	if c.Spec.Security == nil {
		c.Spec.Security = &spec.Security{MTLS: spec.MTLSStrict, DefaultPolicy: spec.ActionAllow}
	}
	if t := c.Spec.Telemetry; t != nil {
		if t.Tracing != nil {
			t.Tracing.Endpoint = ""
		}
		if t.AccessLogs != nil {
			t.AccessLogs.Format = ""
		}
		if t.Metrics == nil && t.Tracing == nil && t.AccessLogs == nil {
			c.Spec.Telemetry = nil
		}
	}
	sort.Slice(c.Spec.Services, func(i, j int) bool { return c.Spec.Services[i].Name < c.Spec.Services[j].Name })
	sort.Slice(c.Spec.ExternalServices, func(i, j int) bool { return c.Spec.ExternalServices[i].Name < c.Spec.ExternalServices[j].Name })
	sort.Slice(c.Spec.Traffic, func(i, j int) bool { return c.Spec.Traffic[i].Service < c.Spec.Traffic[j].Service })
	sort.Slice(c.Spec.Extensions, func(i, j int) bool { return c.Spec.Extensions[i].Name < c.Spec.Extensions[j].Name })
	for i := range c.Spec.Extensions {
		sort.Strings(c.Spec.Extensions[i].Services)
	}
	return c
}

func designYAML(t *testing.T, d *spec.Design) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportOfTranslationIsIdentity checks import(translate(d)) == d for every shared case.
func TestImportOfTranslationIsIdentity(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(adaptertest.CasesDir(t), "*.yaml"))
	if len(files) == 0 {
		t.Skip("no shared cases yet")
	}
	own, _ := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	files = append(files, own...)
	a := istio.New()
	ctx := context.Background()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			ds, err := spec.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
			if err != nil {
				t.Fatal(err)
			}
			objs := append(out.Objects, kubeServices(d)...)
			got, _, err := a.Import(ctx, objs, adapters.ImportOptions{Name: d.Metadata.Name, Namespace: d.Metadata.Namespace})
			if err != nil {
				t.Fatal(err)
			}
			if vs := got.Validate(); len(vs) > 0 {
				t.Errorf("imported design is invalid: %v", vs)
			}
			diff := adaptertest.DiffYAML(designYAML(t, normalize(d)), designYAML(t, normalize(got)))
			reason, documented := lossy[name]
			switch {
			case diff != "" && !documented:
				t.Errorf("import(translate(d)) differs from d (-design +imported):\n%s", diff)
			case diff == "" && documented:
				t.Errorf("case is listed as lossy (%s) but round-trips exactly: remove it from lossy", reason)
			}
		})
	}
}

var durationRe = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`)

// canonicalObject strips what is not configuration (labels Trellis adds, route names, which
// only label routes) and expands short host names the way Istio resolves them (relative to the
// object's namespace), so that objects can be compared by meaning.
func canonicalObject(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	c.SetLabels(nil)
	c.SetAnnotations(nil)
	ns := c.GetNamespace()
	expand := func(h string) string {
		if h != "" && !strings.Contains(h, ".") && h != "*" {
			return h + "." + ns + ".svc.cluster.local"
		}
		return h
	}
	var walk func(v any, key string) any
	walk = func(v any, key string) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "host" {
					if s, ok := e.(string); ok {
						x[k] = expand(s)
						continue
					}
				}
				if str, ok := e.(string); ok && durationRe.MatchString(str) {
					if d, err := time.ParseDuration(str); err == nil {
						x[k] = istio.Dur(spec.Dur(d))
						continue
					}
				}
				x[k] = walk(e, k)
			}
			if key == "http" || key == "tcp" {
				delete(x, "name")
			}
			return x
		case []any:
			for i, e := range x {
				if key == "hosts" {
					if s, ok := e.(string); ok {
						x[i] = expand(s)
						continue
					}
				}
				x[i] = walk(e, key)
			}
			return x
		}
		return v
	}
	walk(c.Object, "")
	return c.Object
}

// TestTranslateOfImportIsIdentity checks translate(import(x)) == x (by meaning) for realistic
// Istio configurations kept in testdata/import.
func TestTranslateOfImportIsIdentity(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "import", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no testdata/import/*.yaml")
	}
	a := istio.New()
	ctx := context.Background()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, err := adaptertest.ParseObjects(data)
			if err != nil {
				t.Fatal(err)
			}
			d, warnings, err := a.Import(ctx, in, adapters.ImportOptions{Name: "bookinfo"})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range warnings {
				t.Logf("import warning: %s", w)
			}
			if vs := d.Validate(); len(vs) > 0 {
				t.Fatalf("imported design is invalid: %v", vs)
			}
			out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want, got []*unstructured.Unstructured
			for _, o := range in {
				if o.GetKind() != "Service" {
					want = append(want, &unstructured.Unstructured{Object: canonicalObject(o)})
				}
			}
			for _, o := range out.Objects {
				got = append(got, &unstructured.Unstructured{Object: canonicalObject(o)})
			}
			wy, _ := adapters.RenderYAML(want)
			gy, _ := adapters.RenderYAML(got)
			if diff := adaptertest.DiffYAML(wy, gy); diff != "" {
				t.Errorf("translate(import(x)) differs from x (-x +translated):\n%s", diff)
			}
		})
	}
}
