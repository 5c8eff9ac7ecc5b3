package istio_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/internal/kubetest"
)

// TestGoldenObjectsApplyToKubeAPIServer installs Istio's and Gateway API's CRDs into a real
// kube-apiserver and server-side applies (strict field validation) every golden object: all
// must be accepted. Deliberately broken objects must be rejected, proving the check has teeth.
func TestGoldenObjectsApplyToKubeAPIServer(t *testing.T) {
	cfg := kubetest.Start(t, adaptertest.CRDDir("istio"), adaptertest.CRDDir("gateway-api"))

	var objs []*unstructured.Unstructured
	var origin []string
	for _, dir := range goldenDirs {
		sets := adaptertest.GoldenObjectsIn(t, filepath.Join("testdata", dir))
		names := make([]string, 0, len(sets))
		for n := range sets {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, o := range sets[n] {
				objs = append(objs, o)
				origin = append(origin, dir+"/"+n)
			}
		}
	}
	if len(objs) == 0 {
		t.Fatal("no golden objects")
	}
	// The hand-written Istio configurations the import round trip starts from must be valid too.
	imports, _ := filepath.Glob(filepath.Join("testdata", "import", "*.yaml"))
	for _, f := range imports {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := adaptertest.ParseObjects(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range in {
			objs = append(objs, o)
			origin = append(origin, f)
		}
	}
	errs := adaptertest.ApplyAll(t, cfg, objs)
	accepted := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", origin[i], err)
			continue
		}
		accepted++
	}
	t.Logf("%d of %d golden and import-source objects accepted", accepted, len(objs))

	broken, err := adaptertest.ParseObjects([]byte(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: broken-mode, namespace: demo}
spec:
  mtls: {mode: SOMETIMES}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken-field, namespace: demo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    retrys: {attempts: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range adaptertest.ApplyAll(t, cfg, broken) {
		if err == nil {
			t.Errorf("broken object %s was accepted", broken[i].GetName())
			continue
		}
		if !strings.Contains(err.Error(), "SOMETIMES") && !strings.Contains(err.Error(), "retrys") {
			t.Errorf("broken object %s rejected for an unexpected reason: %v", broken[i].GetName(), err)
		}
		t.Logf("rejected as expected: %v", err)
	}
}
