package adapters

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/spec"
)

// NewObject builds an unstructured object carrying the Trellis labels (LabelManagedBy and
// LabelDesign, plus the design's own metadata labels) with the given spec. A nil spec leaves the
// object without a "spec" field. Values in spec must be JSON-compatible (map[string]any, []any,
// string, bool, int64, float64); use Normalize to convert typed values.
func NewObject(apiVersion, kind, namespace, name string, d *spec.Design, objSpec map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{}}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetName(name)
	if namespace != "" {
		o.SetNamespace(namespace)
	}
	o.SetLabels(DesignLabels(d))
	if objSpec != nil {
		o.Object["spec"] = objSpec
	}
	return o
}

// DesignLabels returns the labels every object generated from d carries: the design's metadata
// labels, LabelManagedBy=ManagedByValue and LabelDesign=<design name>.
func DesignLabels(d *spec.Design) map[string]string {
	labels := map[string]string{LabelManagedBy: ManagedByValue}
	if d != nil {
		for k, v := range d.Metadata.Labels {
			labels[k] = v
		}
		labels[LabelManagedBy] = ManagedByValue
		labels[LabelDesign] = d.Metadata.Name
	}
	return labels
}

// Normalize converts v (structs, typed maps and slices, integers of any width) into the
// JSON-compatible values unstructured objects hold, by a JSON round trip. Integers become int64,
// other numbers float64.
func Normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("normalizing value: %w", err)
	}
	return unmarshalJSONValue(b)
}

func unmarshalJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return convertNumbers(out), nil
}

func convertNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = convertNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = convertNumbers(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	default:
		return v
	}
}

// SortWarnings sorts warnings by path, then feature, then message, for stable output.
func SortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].Path != ws[j].Path {
			return ws[i].Path < ws[j].Path
		}
		if ws[i].Feature != ws[j].Feature {
			return ws[i].Feature < ws[j].Feature
		}
		return ws[i].Lost < ws[j].Lost
	})
}
