package istio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

func telemetryDesign(t *testing.T, name, telemetry string) *spec.Design {
	t.Helper()
	src := "apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata:\n  name: " + name + "\nspec:\n  services:\n  - name: web\n    namespace: shop\n  telemetry:\n" + telemetry
	ds, err := spec.LoadBytes(name+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return ds[0]
}

func istiodMeshConfig(t *testing.T, opts adapters.InstallOptions) string {
	t.Helper()
	charts, err := (&Adapter{}).Charts(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || charts[0].Name != "base" || charts[1].Name != "istiod" {
		t.Fatalf("charts: %+v", charts)
	}
	b, err := json.Marshal(charts[1].Values["meshConfig"])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChartsMeshConfigFromDesigns: the designs' tracing collectors become extensionProviders named
// like the providers their Telemetry objects reference, with fully qualified service hosts, and
// JSON access logs set the mesh-wide encoding.
func TestChartsMeshConfigFromDesigns(t *testing.T) {
	a := telemetryDesign(t, "a", "    tracing:\n      provider: otlp\n      endpoint: otel-collector.observability:4317\n    accessLogs:\n      enabled: true\n      format: json\n")
	b := telemetryDesign(t, "b", "    tracing:\n      provider: zipkin\n      endpoint: zipkin.tracing.svc:9411\n")
	c := telemetryDesign(t, "c", "    tracing:\n      provider: otlp\n      endpoint: otel-collector.observability:4317\n")
	got := istiodMeshConfig(t, adapters.InstallOptions{TrustDomain: "prod.example", Designs: []*spec.Design{a, b, c}})
	want := `{"accessLogEncoding":"JSON","accessLogFile":"/dev/stdout","extensionProviders":[` +
		`{"name":"otlp","opentelemetry":{"port":4317,"service":"otel-collector.observability.svc.cluster.local"}},` +
		`{"name":"zipkin","zipkin":{"port":9411,"service":"zipkin.tracing.svc.cluster.local"}}],"trustDomain":"prod.example"}`
	if got != want {
		t.Errorf("meshConfig\n got %s\nwant %s", got, want)
	}
	// The Telemetry object of design a names the provider the install defines.
	out, _, err := (&Adapter{}).Translate(t.Context(), a, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range out.Objects {
		if o.GetKind() == "Telemetry" {
			b, _ := json.Marshal(o.Object["spec"])
			found = strings.Contains(string(b), `"providers":[{"name":"otlp"}]`)
		}
	}
	if !found {
		t.Error("the Telemetry object does not name provider otlp")
	}
	if got := istiodMeshConfig(t, adapters.InstallOptions{}); got != `{"trustDomain":"cluster.local"}` {
		t.Errorf("no designs: %s", got)
	}
}

// TestChartsMeshConfigConflicts: mesh-wide values two designs disagree on are an error naming both.
func TestChartsMeshConfigConflicts(t *testing.T) {
	for name, tc := range map[string]struct {
		a, b, want string
	}{
		"collectors": {
			"    tracing:\n      endpoint: otel-a.obs:4317\n", "    tracing:\n      endpoint: otel-b.obs:4317\n",
			`designs "a" and "b" send otlp traces to different collectors`,
		},
		"log formats": {
			"    accessLogs:\n      enabled: true\n      format: json\n", "    accessLogs:\n      enabled: true\n      format: text\n",
			`designs "a" and "b" ask for json and text access logs`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&Adapter{}).Charts(adapters.InstallOptions{Designs: []*spec.Design{telemetryDesign(t, "a", tc.a), telemetryDesign(t, "b", tc.b)}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "hint:") {
				t.Fatalf("error = %v, want it to contain %q and a hint", err, tc.want)
			}
		})
	}
}
