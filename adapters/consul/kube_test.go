package consul_test

import (
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/internal/kubetest"
)

// TestGoldenCRDsApplyToKubeAPIServer server-side applies every CRD golden (strict field
// validation) into a real kube-apiserver with the consul-k8s CRDs installed.
func TestGoldenCRDsApplyToKubeAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	golden := goldenObjects(t, crdGoldenDirs(t))
	if len(golden) == 0 {
		t.Fatal("no golden files")
	}
	cfg := kubetest.Start(t, adaptertest.CRDDir("consul"))
	names := make([]string, 0, len(golden))
	for n := range golden {
		names = append(names, n)
	}
	sort.Strings(names)
	applied := 0
	for _, name := range names {
		objs := golden[name]
		// Cases share object names (ProxyDefaults "global" per namespace); each case gets its
		// own namespace so one case's objects do not overwrite another's.
		ns := "case-" + name
		copies := make([]*unstructured.Unstructured, len(objs))
		for i, o := range objs {
			c := o.DeepCopy()
			c.SetNamespace(ns + "-" + c.GetNamespace())
			if len(c.GetNamespace()) > 63 {
				c.SetNamespace(strings.TrimRight(c.GetNamespace()[:63], "-"))
			}
			copies[i] = c
		}
		for i, err := range adaptertest.ApplyAll(t, cfg, copies) {
			if err != nil {
				t.Errorf("%s: %s/%s: %v", name, copies[i].GetKind(), copies[i].GetName(), err)
			} else {
				applied++
			}
		}
	}
	t.Logf("applied %d objects from %d goldens", applied, len(names))
}
