package spec

// ExtensionPhase is where in the proxy's filter chain an extension runs.
type ExtensionPhase string

// The extension phases.
const (
	// PhaseAuthn runs before authentication filters.
	PhaseAuthn ExtensionPhase = "authn"
	// PhaseAuthz runs before authorization filters.
	PhaseAuthz ExtensionPhase = "authz"
	// PhaseStats runs before the stats filter.
	PhaseStats ExtensionPhase = "stats"
	// PhaseUnspecified runs at the end of the chain, just before routing.
	PhaseUnspecified ExtensionPhase = "unspecified"
)

// FailurePolicy says what the proxy does when an extension cannot be loaded or fails.
type FailurePolicy string

// The failure policies.
const (
	// FailClosed refuses requests when the extension is unavailable.
	FailClosed FailurePolicy = "fail-closed"
	// FailOpen skips the extension when it is unavailable.
	FailOpen FailurePolicy = "fail-open"
)

// Extension is a WebAssembly (proxy-wasm) plugin attached to services' inbound traffic.
type Extension struct {
	// Name identifies the extension: a DNS-1123 label unique within the design. Required.
	Name string `json:"name"`
	// Source is where the module comes from: "oci://registry/repo:tag" or an "https://" URL.
	// Required.
	Source string `json:"source"`
	// SHA256 is the module's hex-encoded SHA-256 digest, verified before loading. Required.
	SHA256 string `json:"sha256"`
	// Config is passed to the plugin as its configuration (JSON). Default none.
	Config map[string]any `json:"config,omitempty"`
	// Phase is "authn", "authz", "stats" or "unspecified". Default "unspecified".
	Phase ExtensionPhase `json:"phase,omitempty"`
	// Priority orders extensions within a phase; higher runs first. Default 0.
	Priority int32 `json:"priority,omitempty"`
	// Services the extension applies to, by name. Default none: every service of the design.
	Services []string `json:"services,omitempty"`
	// FailurePolicy is "fail-closed" or "fail-open". Default "fail-closed".
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
}
