package consul_test

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/consul"
)

// goldenConfigEntryDir holds the goldens of the "config-entry" form.
func goldenConfigEntryDir(t testing.TB) string {
	return filepath.Join(filepath.Dir(adaptertest.GoldenDir(t)), "golden-config-entry")
}

// extraCasesDir holds the Consul-specific designs (route-specific splits, rounding).
func extraCasesDir() string { return filepath.Join("testdata", "cases") }

// goldenDirs are every directory of CRD goldens and of config-entry goldens.
func crdGoldenDirs(t testing.TB) []string {
	return []string{adaptertest.GoldenDir(t), filepath.Join("testdata", "golden-extra")}
}

func configEntryGoldenDirs(t testing.TB) []string {
	return []string{goldenConfigEntryDir(t), filepath.Join("testdata", "golden-extra-config-entry")}
}

// goldenObjects merges the goldens of several directories, keyed by case name.
func goldenObjects(t testing.TB, dirs []string) map[string][]*unstructured.Unstructured {
	out := map[string][]*unstructured.Unstructured{}
	for _, d := range dirs {
		for k, v := range adaptertest.GoldenObjectsIn(t, d) {
			out[k] = v
		}
	}
	return out
}

func TestGoldenExtraCRD(t *testing.T) {
	adaptertest.RunDir(t, consul.New(), adapters.Options{ConsulFormat: consul.FormatCRD},
		extraCasesDir(), filepath.Join("testdata", "golden-extra"))
}

func TestGoldenExtraConfigEntry(t *testing.T) {
	adaptertest.RunDir(t, consul.New(), adapters.Options{ConsulFormat: consul.FormatConfigEntry},
		extraCasesDir(), filepath.Join("testdata", "golden-extra-config-entry"))
}

func TestGoldenCRD(t *testing.T) {
	adaptertest.Run(t, consul.New(), adapters.Options{ConsulFormat: consul.FormatCRD})
}

func TestGoldenConfigEntry(t *testing.T) {
	adaptertest.RunDir(t, consul.New(), adapters.Options{ConsulFormat: consul.FormatConfigEntry},
		adaptertest.CasesDir(t), goldenConfigEntryDir(t))
}

func TestGoldenObjectsMatchCRDs(t *testing.T) {
	golden := goldenObjects(t, crdGoldenDirs(t))
	if len(golden) == 0 {
		t.Fatal("no golden files; run with UPDATE_GOLDEN=1 first")
	}
	for name, objs := range golden {
		t.Run(name, func(t *testing.T) {
			adaptertest.ValidateAgainstCRDs(t, objs, adaptertest.CRDDir("consul"))
		})
	}
}
