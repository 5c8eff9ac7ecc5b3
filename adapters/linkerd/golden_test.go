package linkerd_test

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/linkerd"
)

// profileCases are the shared cases also translated with the ServiceProfiles option.
var profileCases = []string{"bookinfo-canary", "retries", "split", "path-prefix", "header-match", "timeout"}

// TestGolden translates every shared case and compares with testdata/golden.
func TestGolden(t *testing.T) {
	adaptertest.Run(t, linkerd.New(), adapters.Options{})
}

// TestGoldenServiceProfiles translates a few shared cases with the ServiceProfiles option and
// compares with testdata/golden-serviceprofiles.
func TestGoldenServiceProfiles(t *testing.T) {
	cases := adaptertest.CasesDir(t)
	dir := t.TempDir()
	for _, c := range profileCases {
		src := filepath.Join(cases, c+".yaml")
		if _, err := os.Stat(src); err != nil {
			t.Fatalf("shared case %s is missing: %v", c, err)
		}
		if err := os.Symlink(src, filepath.Join(dir, c+".yaml")); err != nil {
			t.Fatal(err)
		}
	}
	wd, _ := os.Getwd()
	adaptertest.RunDir(t, linkerd.New(), adapters.Options{ServiceProfiles: true}, dir, filepath.Join(wd, "testdata", "golden-serviceprofiles"))
}

// TestGoldenLinkerdCases translates the Linkerd-only cases of testdata/cases (designs whose
// translation matters to Linkerd alone, such as deny rules it expresses as Servers with
// accessPolicy deny) and compares with testdata/golden-cases.
func TestGoldenLinkerdCases(t *testing.T) {
	wd, _ := os.Getwd()
	adaptertest.RunDir(t, linkerd.New(), adapters.Options{}, filepath.Join(wd, "testdata", "cases"), filepath.Join(wd, "testdata", "golden-cases"))
}

// goldenDirs are the golden directories (under testdata) that the CRD and kube-apiserver tests
// check.
var goldenDirs = []string{"golden", "golden-serviceprofiles", "golden-cases"}

// crdObjects drops the core objects (Services, Namespaces), which no CRD defines; the
// integration test applies them to a real API server.
func crdObjects(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetAPIVersion() == "v1" {
			continue
		}
		out = append(out, o)
	}
	return out
}

// TestGoldenObjectsMatchCRDs validates every golden object against the Linkerd and Gateway API
// CRD schemas (structure, value validations and CEL rules).
func TestGoldenObjectsMatchCRDs(t *testing.T) {
	wd, _ := os.Getwd()
	for _, dir := range goldenDirs {
		all := adaptertest.GoldenObjectsIn(t, filepath.Join(wd, "testdata", dir))
		if len(all) == 0 {
			t.Fatalf("no golden objects in testdata/%s", dir)
		}
		for name, objs := range all {
			t.Run(dir+"/"+name, func(t *testing.T) {
				adaptertest.ValidateAgainstCRDs(t, crdObjects(objs), adaptertest.CRDDir("linkerd"), adaptertest.CRDDir("gateway-api"))
			})
		}
	}
}
