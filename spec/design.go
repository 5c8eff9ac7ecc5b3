// Package spec defines the vendor-neutral Trellis design: one description of a team's services and
// what they want from a service mesh (traffic, security, telemetry, extensions). Every adapter,
// policy, API and the dashboard consume the types in this package.
//
// Conventions: every field states its default and what its zero value means. Defaults are applied
// by Design.Default (the loader calls it); adapters always see a defaulted design.
package spec

// APIVersion is the only apiVersion a design file may declare.
const APIVersion = "trellis.dev/v1alpha1"

// Kind is the only kind a design file may declare.
const Kind = "Design"

// Design is one vendor-neutral description of a mesh configuration.
type Design struct {
	// APIVersion must be "trellis.dev/v1alpha1". Required.
	APIVersion string `json:"apiVersion"`
	// Kind must be "Design". Required.
	Kind string `json:"kind"`
	// Metadata names the design. Required.
	Metadata Metadata `json:"metadata"`
	// Spec holds the desired mesh behaviour. Default empty: a valid design that does nothing.
	Spec DesignSpec `json:"spec"`

	// src is where the design was loaded from (nil when built in code); see Position.
	src *source `json:"-"`
}

// Metadata identifies a design.
type Metadata struct {
	// Name is the design's name: a DNS-1123 label, unique among designs. Required.
	Name string `json:"name"`
	// Namespace is the Kubernetes namespace generated objects go to and the default namespace of
	// every service. Default "default".
	Namespace string `json:"namespace,omitempty"`
	// Labels are copied onto every generated object. Default none.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations carry tool settings, for example "trellis.dev/ignore" (see IgnoreAnnotation).
	// Default none.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// IgnoreAnnotation is the annotation key that suppresses policy rules on the object that carries
// it (the design's metadata, a service, a traffic policy or an access rule). Its value is one
// line per rule, "RULE-ID: reason"; the reason is required. Suppressed findings are still reported
// as suppressed, never hidden.
const IgnoreAnnotation = "trellis.dev/ignore"

// DesignSpec is the desired state of a design.
type DesignSpec struct {
	// Services are the workloads inside the mesh. Default none.
	Services []Service `json:"services,omitempty"`
	// ExternalServices are destinations outside the mesh that workloads call. Default none.
	ExternalServices []ExternalService `json:"externalServices,omitempty"`
	// Traffic holds at most one traffic policy per service. Default none: the mesh's default
	// routing (round robin to all instances) applies.
	Traffic []TrafficPolicy `json:"traffic,omitempty"`
	// Security holds mTLS, authorization and request authentication. Default nil: treated as
	// mTLS strict with an allow-all default policy and no access rules.
	Security *Security `json:"security,omitempty"`
	// Telemetry holds metrics, tracing and access-log settings. Default nil: the mesh's defaults.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
	// Extensions are WebAssembly plugins attached to services. Default none.
	Extensions []Extension `json:"extensions,omitempty"`
}
