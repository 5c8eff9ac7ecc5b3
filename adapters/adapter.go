// Package adapters holds the contract between the vendor-neutral design and the meshes Trellis
// translates to: the Adapter interface, its optional capabilities (Importer, Installer, Detector),
// the Output and Warning types, the capability matrix and the registry of adapters.
package adapters

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/spec"
)

// Label keys every generated Kubernetes object carries, so that apply can prune what a design no
// longer produces.
const (
	// LabelManagedBy is set to ManagedByValue on every generated object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "trellis"
	// LabelDesign is set to the design's name on every generated object.
	LabelDesign = "trellis.dev/design"
)

// Adapter translates designs onto one mesh. Translate is pure (no I/O) and deterministic: the
// same design always gives the same objects in the same order with the same names.
type Adapter interface {
	// Name is the mesh's short name ("istio", "linkerd", "consul", "native").
	Name() string
	// Capabilities says, for every Feature, how well the mesh can express it.
	Capabilities() Capabilities
	// Translate turns a defaulted, valid design into the mesh's configuration. Every feature of
	// the design the mesh cannot express fully is reported as a Warning, never dropped silently.
	// An error means the design cannot be translated at all (or, with Options.Strict, that a
	// warning occurred).
	Translate(ctx context.Context, d *spec.Design, opts Options) (*Output, []Warning, error)
}

// Importer is implemented by adapters that can turn existing mesh objects back into a design.
type Importer interface {
	// Import builds a design from mesh objects (parsed from files or read from a cluster). What
	// does not map onto the design is reported as a Warning.
	Import(ctx context.Context, objs []*unstructured.Unstructured, opts ImportOptions) (*spec.Design, []Warning, error)
}

// WorkloadReader is implemented by importers that also read workload objects (Deployments,
// StatefulSets, Pods, Argo Rollouts, ...) for what mesh objects leave out, such as the container
// port a Service's named targetPort refers to. Callers that set workloads aside (`trellis import`
// reads them for identities) give them to an importer only when ReadsWorkloads reports true.
type WorkloadReader interface {
	Importer
	// ReadsWorkloads reports whether Import uses workload objects.
	ReadsWorkloads() bool
}

// ImportOptions tunes an import.
type ImportOptions struct {
	// Name is the name of the resulting design. Default: the objects' namespace, or "imported".
	Name string
	// Namespace is the design's namespace. Default: the namespace most objects are in.
	Namespace string
}

// Options tunes a translation. Adapters ignore options that do not concern them.
type Options struct {
	// Strict turns every warning into an error.
	Strict bool
	// MeshRoutes makes the Istio adapter emit Gateway API mesh routes (HTTPRoute with a Service
	// parentRef) instead of VirtualServices where they can express the route.
	MeshRoutes bool
	// ServiceProfiles makes the Linkerd adapter emit legacy ServiceProfiles (retry budgets).
	ServiceProfiles bool
	// ConsulFormat is "crd" (consul-k8s custom resources, the default) or "config-entry" (plain
	// Consul config entries for `consul config write` and the HTTP API).
	ConsulFormat string
	// TrustDomain is the mesh's trust domain. Default "cluster.local".
	TrustDomain string
}

// TrustDomainOrDefault returns the trust domain, "cluster.local" when unset.
func (o Options) TrustDomainOrDefault() string {
	if o.TrustDomain == "" {
		return "cluster.local"
	}
	return o.TrustDomain
}

// Output is the result of a translation: Kubernetes-style objects in a stable order.
type Output struct {
	// Objects are the generated objects, sorted by apiVersion, kind, namespace and name. For
	// meshes configured without Kubernetes (Consul config entries, xDS resources), objects are
	// still expressed with apiVersion/kind/metadata.name so one renderer and one golden format
	// serve every adapter.
	Objects []*unstructured.Unstructured
}

// Severity grades a warning or a finding.
type Severity string

// The severities, from least to most serious.
const (
	// SeverityInfo is for information: nothing is lost.
	SeverityInfo Severity = "info"
	// SeverityWarning means part of the intent is lost or approximated.
	SeverityWarning Severity = "warning"
	// SeverityError means the intent cannot be expressed at all.
	SeverityError Severity = "error"
)

// Warning reports a part of a design that a mesh cannot express fully.
type Warning struct {
	// Path is the field path in the design ("spec.traffic[0].routes[1].fault").
	Path string `json:"path"`
	// Mesh is the adapter's name.
	Mesh string `json:"mesh"`
	// Feature is the capability-matrix feature concerned.
	Feature Feature `json:"feature"`
	// Lost says, in a sentence, what is lost or approximated.
	Lost string `json:"lost"`
	// Severity grades the loss.
	Severity Severity `json:"severity"`
}

// String formats the warning on one line: "warning: istio: spec.x: message [feature]".
func (w Warning) String() string {
	s := string(w.Severity) + ": " + w.Mesh + ": " + w.Path + ": " + w.Lost
	if w.Feature != "" {
		s += " [" + string(w.Feature) + "]"
	}
	return s
}
