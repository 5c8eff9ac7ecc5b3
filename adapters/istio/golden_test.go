package istio_test

import (
	"path/filepath"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
)

func TestGolden(t *testing.T) {
	adaptertest.Run(t, istio.New(), adapters.Options{})
}

func TestGoldenMeshRoutes(t *testing.T) {
	adaptertest.RunDir(t, istio.New(), adapters.Options{MeshRoutes: true},
		adaptertest.CasesDir(t), filepath.Join("testdata", "golden-meshroutes"))
}

// TestGoldenIstioCases runs the adapter's own edge cases (testdata/cases) against
// testdata/golden-istio.
func TestGoldenIstioCases(t *testing.T) {
	adaptertest.RunDir(t, istio.New(), adapters.Options{TrustDomain: "edge.example"},
		filepath.Join("testdata", "cases"), filepath.Join("testdata", "golden-istio"))
	adaptertest.RunDir(t, istio.New(), adapters.Options{TrustDomain: "edge.example", MeshRoutes: true},
		filepath.Join("testdata", "cases"), filepath.Join("testdata", "golden-istio-meshroutes"))
}

// goldenDirs are every golden directory of the package.
var goldenDirs = []string{"golden", "golden-meshroutes", "golden-istio", "golden-istio-meshroutes"}

func TestGoldenObjectsMatchCRDs(t *testing.T) {
	for _, dir := range goldenDirs {
		for name, objs := range adaptertest.GoldenObjectsIn(t, filepath.Join("testdata", dir)) {
			t.Run(dir+"/"+name, func(t *testing.T) {
				adaptertest.ValidateAgainstCRDs(t, objs, adaptertest.CRDDir("istio"), adaptertest.CRDDir("gateway-api"))
			})
		}
	}
}

func adaptertestValidate(t *testing.T, out *adapters.Output) {
	t.Helper()
	adaptertest.ValidateAgainstCRDs(t, out.Objects, adaptertest.CRDDir("istio"), adaptertest.CRDDir("gateway-api"))
}
