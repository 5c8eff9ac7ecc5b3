package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/trellis-mesh/trellis/adapters"
)

var metav1GetOptions = metav1.GetOptions{}

// Action says what applying did to one object.
type Action string

// The actions.
const (
	// Created means the object did not exist.
	Created Action = "created"
	// Configured means the object existed and changed.
	Configured Action = "configured"
	// Unchanged means the object existed and stayed the same.
	Unchanged Action = "unchanged"
	// Pruned means the object was deleted because its design no longer produces it.
	Pruned Action = "pruned"
)

// Result is the outcome for one object.
type Result struct {
	// Object is "<kind>.<group>/<namespace>/<name>".
	Object string `json:"object"`
	// Action is what happened (or, with DryRun, what would happen).
	Action Action `json:"action"`
}

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// DryRun asks the API server to validate and compute every change without persisting any.
	DryRun bool
	// Prune deletes objects labelled for Design that the objects given no longer include. Only
	// mesh configuration kinds (custom resources) are pruned, never core objects such as Services
	// or Namespaces, which Trellis only annotates.
	Prune bool
	// Design is the design's name; required with Prune.
	Design string
	// Progress, when set, is called after each object.
	Progress func(done, total int, r Result)
}

// ApplyError reports a failed apply: which objects failed and why, and exactly which changes
// were made before the failure (none when the dry run already failed).
type ApplyError struct {
	// Failed maps object references to the API server's reasons.
	Failed map[string]error
	// Applied lists the changes made before the failure.
	Applied []Result
}

// Error lists the failures and what was applied.
func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d object(s) rejected", len(e.Failed))
	for ref, err := range e.Failed {
		fmt.Fprintf(&b, "\n  %s: %v", ref, err)
	}
	if len(e.Applied) == 0 {
		b.WriteString("\nnothing was changed in the cluster")
	} else {
		fmt.Fprintf(&b, "\n%d change(s) were applied before the failure:", len(e.Applied))
		for _, r := range e.Applied {
			fmt.Fprintf(&b, "\n  %s %s", r.Object, r.Action)
		}
	}
	return b.String()
}

// Apply server-side applies objs. Every object is first applied as a server-side dry run; if any
// is rejected, nothing is written and the error lists every rejection. Namespaces the objects need
// are created. With Prune, objects labelled for the design that objs no longer include are
// deleted afterwards.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]Result, error) {
	if opts.Prune && opts.Design == "" {
		return nil, errors.New("prune needs the design's name")
	}
	// 1. Every kind must be served.
	failed := map[string]error{}
	for _, o := range objs {
		if _, _, err := c.resource(o); err != nil {
			failed[adapters.ObjectRef(o)] = err
		}
	}
	if len(failed) > 0 {
		return nil, &ApplyError{Failed: failed}
	}
	// 2. Dry run every object (namespaces that do not exist yet are dry-run created too).
	missingNS, err := c.missingNamespaces(ctx, objs)
	if err != nil {
		return nil, err
	}
	for _, ns := range missingNS {
		if err := c.createNamespace(ctx, ns, true); err != nil {
			return nil, err
		}
	}
	for _, o := range objs {
		probe := o
		if contains(missingNS, o.GetNamespace()) {
			// The namespace only exists after the real run and the API server cannot dry-run into
			// it: validate a copy in "default" instead (schemas do not depend on the namespace).
			probe = o.DeepCopy()
			probe.SetNamespace("default")
		}
		if _, err := c.patch(ctx, probe, true); err != nil {
			failed[adapters.ObjectRef(o)] = err
		}
	}
	if len(failed) > 0 {
		return nil, &ApplyError{Failed: failed}
	}
	// 3. The real run (or the dry run's report).
	var results []Result
	total := len(objs)
	for _, ns := range missingNS {
		if !opts.DryRun {
			if err := c.createNamespace(ctx, ns, false); err != nil {
				return nil, &ApplyError{Failed: map[string]error{"namespace/" + ns: err}, Applied: results}
			}
		}
		results = append(results, Result{Object: "Namespace/" + ns, Action: Created})
	}
	for i, o := range objs {
		before, err := c.get(ctx, o)
		if err != nil {
			return results, &ApplyError{Failed: map[string]error{adapters.ObjectRef(o): err}, Applied: results}
		}
		if opts.DryRun && contains(missingNS, o.GetNamespace()) {
			// Validated above in "default"; in a namespace that does not exist yet it is new.
			r := Result{Object: adapters.ObjectRef(o), Action: Created}
			results = append(results, r)
			if opts.Progress != nil {
				opts.Progress(i+1, total, r)
			}
			continue
		}
		after, err := c.patch(ctx, o, opts.DryRun)
		if err != nil {
			return results, &ApplyError{Failed: map[string]error{adapters.ObjectRef(o): err}, Applied: results}
		}
		r := Result{Object: adapters.ObjectRef(o), Action: Created}
		if before != nil {
			r.Action = Configured
			if after.GetResourceVersion() == before.GetResourceVersion() || (opts.DryRun && sameContent(before, after)) {
				r.Action = Unchanged
			}
		}
		results = append(results, r)
		if opts.Progress != nil {
			opts.Progress(i+1, total, r)
		}
	}
	if opts.Prune {
		pruned, err := c.prune(ctx, objs, opts.Design, opts.DryRun)
		results = append(results, pruned...)
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sameContent compares what an apply controls: labels, annotations and everything but metadata
// and status.
func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(o *unstructured.Unstructured) map[string]any {
		m := map[string]any{}
		for k, v := range o.Object {
			if k != "metadata" && k != "status" {
				m[k] = v
			}
		}
		m["labels"] = o.GetLabels()
		m["annotations"] = o.GetAnnotations()
		return m
	}
	x, _ := json.Marshal(strip(a))
	y, _ := json.Marshal(strip(b))
	return string(x) == string(y)
}

// patch server-side applies one object with strict field validation.
func (c *Client) patch(ctx context.Context, o *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	ri, _, err := c.resource(o)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", adapters.ObjectRef(o), err)
	}
	force := true
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: "Strict"}
	if dryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	out, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, po)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Client) missingNamespaces(ctx context.Context, objs []*unstructured.Unstructured) ([]string, error) {
	var missing []string
	seen := map[string]bool{}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	for _, o := range objs {
		n := o.GetNamespace()
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		ns.SetName(n)
		live, err := c.get(ctx, ns)
		if err != nil {
			return nil, err
		}
		if live == nil {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

func (c *Client) createNamespace(ctx context.Context, name string, dryRun bool) error {
	co := metav1.CreateOptions{FieldManager: FieldManager}
	if dryRun {
		co.DryRun = []string{metav1.DryRunAll}
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("v1")
	obj.SetKind("Namespace")
	obj.SetName(name)
	_, err := c.dyn.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(ctx, obj, co)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// prune deletes custom resources labelled for the design that keep is missing.
func (c *Client) prune(ctx context.Context, keep []*unstructured.Unstructured, design string, dryRun bool) ([]Result, error) {
	want := map[objectKey]bool{}
	for _, o := range keep {
		want[keyOf(o)] = true
	}
	gvrs, err := c.prunableResources()
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, g := range gvrs {
		list, err := c.dyn.Resource(g.gvr).List(ctx, listOptions(design))
		if err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				continue
			}
			return results, fmt.Errorf("listing %s for pruning: %w", g.gvr, err)
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetGroupVersionKind(g.gvk)
			if want[keyOf(o)] {
				continue
			}
			do := metav1.DeleteOptions{}
			if dryRun {
				do.DryRun = []string{metav1.DryRunAll}
			}
			ri := c.dyn.Resource(g.gvr).Namespace(o.GetNamespace())
			if err := ri.Delete(ctx, o.GetName(), do); err != nil && !apierrors.IsNotFound(err) {
				return results, fmt.Errorf("pruning %s: %w", adapters.ObjectRef(o), err)
			}
			results = append(results, Result{Object: adapters.ObjectRef(o), Action: Pruned})
		}
	}
	return results, nil
}

// listOptions selects the objects Trellis generated for a design.
func listOptions(design string) metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{
		adapters.LabelManagedBy: adapters.ManagedByValue, adapters.LabelDesign: design,
	}).String()}
}

type prunable struct {
	gvr schema.GroupVersionResource
	gvk schema.GroupVersionKind
}

// prunableResources lists the preferred version of every listable, deletable resource outside
// the core and built-in groups: the mesh configuration kinds.
func (c *Client) prunableResources() ([]prunable, error) {
	lists, err := c.disc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discovering resources for pruning: %w", err)
	}
	var out []prunable
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil || !meshGroup(gv.Group) {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") || !hasVerb(r.Verbs, "delete") {
				continue
			}
			out = append(out, prunable{gvr: gv.WithResource(r.Name), gvk: gv.WithKind(r.Kind)})
		}
	}
	return out, nil
}

// meshGroup reports whether objects of an API group are mesh configuration Trellis may prune.
func meshGroup(g string) bool {
	switch {
	case g == "" || g == "apps" || g == "batch" || g == "rbac.authorization.k8s.io" || g == "apiextensions.k8s.io":
		return false
	case strings.HasSuffix(g, ".k8s.io") && g != "gateway.networking.k8s.io":
		return false
	}
	return true
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}
