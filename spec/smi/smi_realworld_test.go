package smi_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/spec/smi"
)

// OSM and Linkerd demos apply TrafficMetrics next to splits; it is SMI, and the warning says so
// instead of calling it foreign.
func TestImportNamesSMIKindsWithoutEquivalent(t *testing.T) {
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "metrics.smi-spec.io/v1alpha1", "kind": "TrafficMetrics",
			"metadata": map[string]any{"name": "api-metrics", "namespace": "store"},
			"resource": map[string]any{"name": "api", "kind": "Deployment"}}},
		{Object: map[string]any{"apiVersion": "split.smi-spec.io/v1alpha2", "kind": "TrafficSplit",
			"metadata": map[string]any{"name": "api", "namespace": "store"},
			"spec": map[string]any{"service": "api.store", "backends": []any{
				map[string]any{"service": "api-blue", "weight": int64(1)},
				map[string]any{"service": "api-green", "weight": int64(3)},
			}}}},
	}
	d, ws, err := smi.Import(context.Background(), objs, smi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Spec.Traffic) != 1 || len(d.Spec.Traffic[0].Routes[0].Backends) != 2 {
		t.Errorf("traffic = %+v", d.Spec.Traffic)
	}
	found := false
	for _, w := range ws {
		if strings.Contains(w.String(), "TrafficMetrics") {
			found = true
			if strings.Contains(w.String(), "not an SMI resource") {
				t.Errorf("TrafficMetrics called foreign: %s", w)
			}
		}
	}
	if !found {
		t.Errorf("TrafficMetrics not reported: %v", ws)
	}
}
