package spec

import (
	"encoding/json"
	"fmt"
)

// MTLSMode is how strictly services require mutual TLS from their callers.
type MTLSMode string

// The mTLS modes.
const (
	// MTLSStrict accepts only mutual-TLS connections from meshed callers.
	MTLSStrict MTLSMode = "strict"
	// MTLSPermissive accepts mutual TLS and plaintext (for migrating callers into the mesh).
	MTLSPermissive MTLSMode = "permissive"
	// MTLSDisabled accepts plaintext only. Not every mesh can express it.
	MTLSDisabled MTLSMode = "disabled"
)

// PolicyAction is what an authorization decision does.
type PolicyAction string

// The policy actions.
const (
	// ActionAllow lets matching requests through.
	ActionAllow PolicyAction = "allow"
	// ActionDeny refuses matching requests (HTTP 403, or a reset connection for TCP).
	ActionDeny PolicyAction = "deny"
)

// Security is the zero-trust configuration of the design's services.
type Security struct {
	// MTLS is the mesh-wide mTLS mode. Default "strict".
	MTLS MTLSMode `json:"mtls,omitempty"`
	// MTLSOverrides set another mode for one service (optionally one port). Default none.
	MTLSOverrides []MTLSOverride `json:"mtlsOverrides,omitempty"`
	// DefaultPolicy is what happens to a request to a destination that has no allow rule, when no
	// deny rule matches it: "allow" or "deny". A destination with at least one allow rule admits
	// only the requests its allow rules match, whatever this policy (as Istio's ALLOW policies
	// and Linkerd's authorizations do). Default "allow" (the meshes' own default); policy SEC-004
	// recommends "deny".
	DefaultPolicy PolicyAction `json:"defaultPolicy,omitempty"`
	// Access rules allow or deny requests to a destination. Deny rules win over allow rules; a
	// destination with an allow rule refuses what no allow rule matches. Default none.
	Access []AccessRule `json:"access,omitempty"`
	// RequestAuthentication validates JWTs on requests to services. Default none.
	RequestAuthentication []JWTRule `json:"requestAuthentication,omitempty"`
}

// MTLSOverride sets the mTLS mode of one service or one port of it.
type MTLSOverride struct {
	// Service is the name of a service in the design. Required.
	Service string `json:"service"`
	// Port restricts the override to one service port. Default 0: every port.
	Port int32 `json:"port,omitempty"`
	// Mode is the mTLS mode for the service. Required.
	Mode MTLSMode `json:"mode"`
}

// AccessRule allows or denies requests from sources to a destination service. Once a destination
// has an allow rule, requests no allow rule of it matches are denied.
type AccessRule struct {
	// Name identifies the rule in generated objects and findings: a DNS-1123 label unique within
	// the design. Default: "<destination>-<action>-<index>".
	Name string `json:"name,omitempty"`
	// Destination is the name of the service the rule protects. Required.
	Destination string `json:"destination"`
	// Action is "allow" or "deny". Default "allow".
	Action PolicyAction `json:"action,omitempty"`
	// Sources the rule applies to; any one matching suffices. A plain string is shorthand for
	// {service: NAME}. Required, at least one; {namespace: "*"} or {service: "*"} means any caller.
	Sources []Source `json:"sources"`
	// When restricts the rule to requests matching any one of these conditions. Default none: all
	// requests from the sources. HTTP conditions need an L7 destination.
	When []AccessCondition `json:"when,omitempty"`
	// Annotations carry tool settings such as IgnoreAnnotation. Default none.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Source identifies callers. Exactly one field must be set.
type Source struct {
	// Service is the name of a calling service of the design (its identity is used), or "*".
	Service string `json:"service,omitempty"`
	// Identity is a workload identity (service account) in Namespace, or in the design's
	// namespace when Namespace is empty.
	Identity string `json:"identity,omitempty"`
	// Namespace matches every workload in a namespace ("*": any namespace). With Identity, it
	// qualifies the identity instead.
	Namespace string `json:"namespace,omitempty"`
}

// UnmarshalJSON accepts a plain string as shorthand for {service: NAME}.
func (s *Source) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*s = Source{Service: name}
		return nil
	}
	type plain Source
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("source: expected a service name or an object with service, identity or namespace: %w", err)
	}
	*s = Source(p)
	return nil
}

// AccessCondition restricts an access rule to some requests; all its set fields must hold.
type AccessCondition struct {
	// Methods the request may use (upper case). Default none: any method.
	Methods []string `json:"methods,omitempty"`
	// Paths the request may target: exact paths, or prefixes ending in "*" ("/api/*").
	// Default none: any path.
	Paths []string `json:"paths,omitempty"`
	// Ports the request may target. Default none: any port.
	Ports []int32 `json:"ports,omitempty"`
	// Headers the request must carry. Default none.
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// JWTRule validates JSON Web Tokens on requests to services.
type JWTRule struct {
	// Name identifies the rule: a DNS-1123 label unique within the design. Required.
	Name string `json:"name"`
	// Services the rule applies to, by name. Default none: every service of the design.
	Services []string `json:"services,omitempty"`
	// Issuer is the expected "iss" claim. Required.
	Issuer string `json:"issuer"`
	// JWKSURI is the HTTPS URL of the issuer's JSON Web Key Set. Exactly one of JWKSURI and JWKS.
	JWKSURI string `json:"jwksURI,omitempty"`
	// JWKS is an inline JSON Web Key Set.
	JWKS string `json:"jwks,omitempty"`
	// Audiences the "aud" claim must contain one of. Default none: any audience.
	Audiences []string `json:"audiences,omitempty"`
	// Optional lets requests without a token through (a present token must still be valid).
	// Default false: a valid token is required.
	Optional bool `json:"optional,omitempty"`
	// FromHeader is the header carrying the token, read as "Bearer <token>" when it is
	// Authorization. Default "Authorization".
	FromHeader string `json:"fromHeader,omitempty"`
	// ForwardToken keeps the token on the request forwarded to the service. Default false.
	ForwardToken bool `json:"forwardToken,omitempty"`
}
