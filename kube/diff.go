package kube

import (
	"context"
	"fmt"
	"sort"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/adapters"
)

// ChangeKind classifies the difference between a generated object and the cluster.
type ChangeKind string

// The change kinds.
const (
	// Missing means the object is generated but not in the cluster.
	Missing ChangeKind = "missing"
	// Drifted means the object is in the cluster with different content (someone edited it, or
	// the design changed since it was applied).
	Drifted ChangeKind = "drifted"
	// InSync means the cluster holds exactly what the design generates.
	InSync ChangeKind = "in-sync"
	// Orphaned means the cluster holds an object labelled for the design that the design no
	// longer generates (apply --prune deletes it).
	Orphaned ChangeKind = "orphaned"
)

// Change is the state of one object.
type Change struct {
	// Object is "<kind>.<group>/<namespace>/<name>".
	Object string `json:"object"`
	// Kind classifies the difference.
	Kind ChangeKind `json:"kind"`
	// Diff is a unified diff from the live object to the generated one (drifted objects only).
	Diff string `json:"diff,omitempty"`
}

// Diff compares generated objects with the cluster: the live object against what a server-side
// dry-run apply would make of it, so defaults the API server adds are not reported as drift.
// design, when set, also lists orphaned objects labelled for it.
func (c *Client) Diff(ctx context.Context, objs []*unstructured.Unstructured, design string) ([]Change, error) {
	var out []Change
	for _, o := range objs {
		live, err := c.get(ctx, o)
		if err != nil {
			return out, err
		}
		ref := adapters.ObjectRef(o)
		if live == nil {
			out = append(out, Change{Object: ref, Kind: Missing})
			continue
		}
		want, err := c.patch(ctx, o, true)
		if err != nil {
			return out, fmt.Errorf("dry-run applying %s: %w", ref, err)
		}
		a, b := comparable(live), comparable(want)
		if a == b {
			out = append(out, Change{Object: ref, Kind: InSync})
			continue
		}
		d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(a), B: difflib.SplitLines(b), FromFile: "live/" + ref, ToFile: "design/" + ref, Context: 3,
		})
		out = append(out, Change{Object: ref, Kind: Drifted, Diff: d})
	}
	if design != "" {
		orphans, err := c.orphans(ctx, objs, design)
		if err != nil {
			return out, err
		}
		out = append(out, orphans...)
	}
	return out, nil
}

// orphans lists labelled objects of the design that objs no longer include.
func (c *Client) orphans(ctx context.Context, keep []*unstructured.Unstructured, design string) ([]Change, error) {
	want := map[objectKey]bool{}
	for _, o := range keep {
		want[keyOf(o)] = true
	}
	gvrs, err := c.prunableResources()
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, g := range gvrs {
		list, err := c.dyn.Resource(g.gvr).List(ctx, listOptions(design))
		if err != nil {
			continue
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetGroupVersionKind(g.gvk)
			if !want[keyOf(o)] {
				out = append(out, Change{Object: adapters.ObjectRef(o), Kind: Orphaned})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out, nil
}

// comparable renders what apply controls as canonical YAML: labels, annotations and everything
// outside metadata and status.
func comparable(o *unstructured.Unstructured) string {
	m := map[string]any{}
	for k, v := range o.Object {
		if k != "metadata" && k != "status" {
			m[k] = v
		}
	}
	md := map[string]any{"name": o.GetName()}
	if ns := o.GetNamespace(); ns != "" {
		md["namespace"] = ns
	}
	if l := o.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	if a := o.GetAnnotations(); len(a) > 0 {
		delete(a, "kubectl.kubernetes.io/last-applied-configuration")
		if len(a) > 0 {
			md["annotations"] = a
		}
	}
	m["metadata"] = md
	b, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return string(b)
}
