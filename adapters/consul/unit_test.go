package consul_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/consul"
	"github.com/trellis-mesh/trellis/spec"
)

func TestPercentagesSumToExactly100(t *testing.T) {
	cases := [][]int64{{1, 1, 1}, {1, 2}, {90, 10}, {7, 7, 7, 7, 7, 7}, {1, 10000}, {3, 0, 3}, {9999, 1, 1}}
	for _, ws := range cases {
		ps := consul.Percentages(ws)
		var hundredths int64
		for i, p := range ps {
			h := math.Round(p * 100)
			if math.Abs(h-p*100) > 1e-6 {
				t.Errorf("%v: %v is not a multiple of 0.01", ws, p)
			}
			if ws[i] == 0 && p != 0 {
				t.Errorf("%v: a zero weight got %v", ws, p)
			}
			hundredths += int64(h)
		}
		if hundredths != 10000 {
			t.Errorf("%v: percentages %v sum to %d hundredths, want 10000", ws, ps, hundredths)
		}
	}
	got := consul.Percentages([]int64{1, 2})
	if got[0] != 33.33 || got[1] != 66.67 {
		t.Errorf("1:2 gave %v, want [33.33 66.67] (remainder on the largest weight)", got)
	}
	got = consul.Percentages([]int64{1, 1, 1})
	if got[0] != 33.34 || got[1] != 33.33 || got[2] != 33.33 {
		t.Errorf("1:1:1 gave %v, want the remainder on the first of equal weights", got)
	}
}

func TestKeyCasing(t *testing.T) {
	for camel, consulKey := range map[string]string{
		"http": "HTTP", "pathPrefix": "PathPrefix", "mutualTLSMode": "MutualTLSMode",
		"jsonWebKeySet": "JSONWebKeySet", "jsonFormat": "JSONFormat", "sourceIP": "SourceIP",
		"enforcingConsecutive5xx": "EnforcingConsecutive5xx", "jwt": "JWT", "uri": "URI",
		"allowEnablingPermissiveMutualTLS": "AllowEnablingPermissiveMutualTLS",
	} {
		if got := consul.ConsulKey(camel); got != consulKey {
			t.Errorf("ConsulKey(%q) = %q, want %q", camel, got, consulKey)
		}
		if got := consul.CamelKey(consulKey); got != camel {
			t.Errorf("CamelKey(%q) = %q, want %q", consulKey, got, camel)
		}
	}
	if got := consul.CamelKey("retry_on_status_codes"); got != "retryOnStatusCodes" {
		t.Errorf("snake alias: got %q", got)
	}
}

func loadDesign(t *testing.T, y string) *spec.Design {
	t.Helper()
	ds, err := spec.LoadBytes("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

const canaryDesign = `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: web
    - name: api
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
  traffic:
    - service: api
      routes:
        - name: default
          backends: [{version: v1, weight: 2}, {version: v2, weight: 1}]
  security:
    mtls: permissive
    requestAuthentication:
      - name: corp
        services: [api]
        issuer: https://corp.example
        jwksURI: https://corp.example/jwks.json
`

func TestConfigEntriesAreInWriteOrder(t *testing.T) {
	d := loadDesign(t, canaryDesign)
	for _, format := range []string{consul.FormatCRD, consul.FormatConfigEntry} {
		out, _, err := consul.New().Translate(context.Background(), d, adapters.Options{ConsulFormat: format})
		if err != nil {
			t.Fatal(err)
		}
		entries, err := consul.ConfigEntries(out)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range entries {
			kinds = append(kinds, e["Kind"].(string)+"/"+func() string { s, _ := e["Name"].(string); return s }())
			for _, k := range []string{"apiVersion", "kind", "metadata", "spec"} {
				if _, ok := e[k]; ok {
					t.Errorf("%s: entry %v keeps Kubernetes field %q", format, e["Kind"], k)
				}
			}
		}
		want := "mesh/,proxy-defaults/global,service-defaults/api,service-defaults/web,jwt-provider/corp,service-resolver/api,service-splitter/api,service-intentions/api"
		if got := strings.Join(kinds, ","); got != want {
			t.Errorf("%s: order\n got %s\nwant %s", format, got, want)
		}
	}
}

func TestTranslateRejectsUnknownFormat(t *testing.T) {
	d := loadDesign(t, canaryDesign)
	_, _, err := consul.New().Translate(context.Background(), d, adapters.Options{ConsulFormat: "hcl"})
	if err == nil || !strings.Contains(err.Error(), `options.consulFormat "hcl"`) {
		t.Fatalf("got %v, want an error naming the option", err)
	}
}

// TestImportOwnGoldensWithoutLoss imports every golden of both forms and expects no warning
// about a field the importer does not understand: whatever the translation writes, the import
// reads.
func TestImportOwnGoldensWithoutLoss(t *testing.T) {
	for _, dirs := range [][]string{crdGoldenDirs(t), configEntryGoldenDirs(t)} {
		for name, objs := range goldenObjects(t, dirs) {
			_, ws, err := consul.New().Import(context.Background(), objs, adapters.ImportOptions{})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			for _, w := range ws {
				if strings.Contains(w.Lost, "not imported") && w.Severity != adapters.SeverityInfo {
					t.Errorf("%s: %s", name, w)
				}
			}
		}
	}
}

func TestImportWarnsAboutWhatTheDesignCannotHold(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"Kind": "service-defaults", "Name": "api", "Protocol": "http"}},
		{Object: map[string]any{"Kind": "service-resolver", "Name": "api",
			"Failover": map[string]any{"*": map[string]any{"Datacenters": []any{"dc2"}}},
			"Subsets":  map[string]any{"blue": map[string]any{"Filter": `Service.Tags contains "blue"`}}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}},
	}
	d, ws, err := consul.New().Import(context.Background(), objs, adapters.ImportOptions{Name: "imp"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, w := range ws {
		lines = append(lines, w.Path+": "+w.Lost)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`ServiceResolver/api.spec.failover: field "failover" has no equivalent in the design`,
		`ServiceResolver/api.spec.subsets.blue.filter: filter "Service.Tags contains \"blue\"" is not a conjunction`,
		`ConfigMap x (v1): not a Consul object`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if len(d.Spec.Services) != 1 || d.Spec.Services[0].Protocol != spec.ProtocolHTTP || len(d.Spec.Services[0].Versions) != 1 {
		t.Errorf("imported services %+v, want api (http) with one version", d.Spec.Services)
	}
}

func TestImportUnquotedTutorialFilter(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"Kind": "service-resolver", "Name": "api", "DefaultSubset": "v1",
			"Subsets": map[string]any{"v1": map[string]any{"Filter": "Service.Meta.version == v1"}}}},
	}
	d, _, err := consul.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Services[0].Versions[0].Labels["version"]; got != "v1" {
		t.Errorf("version label %q, want v1", got)
	}
	if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Routes[0].Backends[0].Version != "v1" {
		t.Errorf("default subset not imported as the default route: %+v", d.Spec.Traffic)
	}
}
