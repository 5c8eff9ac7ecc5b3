package adapters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// SortObjects sorts objects in place by apiVersion, kind, namespace and name: the canonical order
// of an Output.
func SortObjects(objs []*unstructured.Unstructured) {
	type keyed struct {
		k [4]string
		o *unstructured.Unstructured
	}
	ks := make([]keyed, len(objs))
	sorted := true
	for i, o := range objs {
		ks[i] = keyed{[4]string{o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName()}, o}
		if i > 0 && keyLess(ks[i].k, ks[i-1].k) {
			sorted = false
		}
	}
	if sorted {
		return
	}
	sort.SliceStable(ks, func(i, j int) bool { return keyLess(ks[i].k, ks[j].k) })
	for i := range ks {
		objs[i] = ks[i].o
	}
}

func keyLess(a, b [4]string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Sort puts the output's objects in canonical order (see SortObjects).
func (o *Output) Sort() {
	if o != nil {
		SortObjects(o.Objects)
	}
}

// RenderYAML renders objects canonically as multi-document YAML: objects in canonical order
// (apiVersion, kind, namespace, name), keys sorted, documents separated by "---". The objects
// themselves are not reordered; a sorted copy of the slice is rendered.
func RenderYAML(objs []*unstructured.Unstructured) ([]byte, error) {
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	SortObjects(sorted)
	var b bytes.Buffer
	for i, o := range sorted {
		if i > 0 {
			b.WriteString("---\n")
		}
		doc, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("rendering %s as yaml: %w", ObjectRef(o), err)
		}
		b.Write(doc)
	}
	return b.Bytes(), nil
}

// RenderJSON renders objects canonically as one indented JSON Kubernetes List (apiVersion v1,
// kind List) with objects in canonical order and keys sorted, so `kubectl apply -f` accepts it.
func RenderJSON(objs []*unstructured.Unstructured) ([]byte, error) {
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	SortObjects(sorted)
	items := make([]any, len(sorted))
	for i, o := range sorted {
		items[i] = o.Object
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering objects as json: %w", err)
	}
	return append(b, '\n'), nil
}

// Render renders objects in the named format: "yaml" (the default when format is empty) or
// "json".
func Render(objs []*unstructured.Unstructured, format string) ([]byte, error) {
	switch strings.ToLower(format) {
	case "", "yaml", "yml":
		return RenderYAML(objs)
	case "json":
		return RenderJSON(objs)
	default:
		return nil, fmt.Errorf("unknown output format %q: expected yaml or json", format)
	}
}

// ObjectRef names an object for messages: "kind/namespace/name (apiVersion)".
func ObjectRef(o *unstructured.Unstructured) string {
	ns := o.GetNamespace()
	if ns != "" {
		ns += "/"
	}
	return fmt.Sprintf("%s %s%s (%s)", o.GetKind(), ns, o.GetName(), o.GetAPIVersion())
}
