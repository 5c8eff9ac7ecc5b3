package consul_test

import (
	"path/filepath"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/consul"
)

// goldenConfigEntryDir holds the goldens of the "config-entry" form.
func goldenConfigEntryDir(t testing.TB) string {
	return filepath.Join(filepath.Dir(adaptertest.GoldenDir(t)), "golden-config-entry")
}

func TestGoldenCRD(t *testing.T) {
	adaptertest.Run(t, consul.New(), adapters.Options{ConsulFormat: consul.FormatCRD})
}

func TestGoldenConfigEntry(t *testing.T) {
	adaptertest.RunDir(t, consul.New(), adapters.Options{ConsulFormat: consul.FormatConfigEntry},
		adaptertest.CasesDir(t), goldenConfigEntryDir(t))
}

func TestGoldenObjectsMatchCRDs(t *testing.T) {
	golden := adaptertest.GoldenObjects(t)
	if len(golden) == 0 {
		t.Fatal("no golden files; run with UPDATE_GOLDEN=1 first")
	}
	for name, objs := range golden {
		t.Run(name, func(t *testing.T) {
			adaptertest.ValidateAgainstCRDs(t, objs, adaptertest.CRDDir("consul"))
		})
	}
}
