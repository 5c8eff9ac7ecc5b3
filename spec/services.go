package spec

// Protocol is the application protocol a service speaks.
type Protocol string

// The protocols a service may speak.
const (
	// ProtocolHTTP is HTTP/1.1 (and HTTP/2 when negotiated). L7 features are available.
	ProtocolHTTP Protocol = "http"
	// ProtocolHTTP2 is HTTP/2, including h2c. L7 features are available.
	ProtocolHTTP2 Protocol = "http2"
	// ProtocolGRPC is gRPC over HTTP/2. L7 features are available; aborts use gRPC status codes.
	ProtocolGRPC Protocol = "grpc"
	// ProtocolTCP is opaque TCP. Only L4 features (splits by weight, connection limits, mTLS,
	// identity-based access without HTTP conditions) are available.
	ProtocolTCP Protocol = "tcp"
)

// Protocols lists every valid Protocol in documentation order.
var Protocols = []Protocol{ProtocolHTTP, ProtocolHTTP2, ProtocolGRPC, ProtocolTCP}

// IsL7 reports whether the protocol allows HTTP-level routing and policy.
func (p Protocol) IsL7() bool { return p == ProtocolHTTP || p == ProtocolHTTP2 || p == ProtocolGRPC }

// Service is a workload inside the mesh.
type Service struct {
	// Name is the service's name (the Kubernetes Service name): a DNS-1123 label, unique within the
	// design. Traffic policies, backends and access rules refer to services by this name. Required.
	Name string `json:"name"`
	// Namespace is the service's namespace. Default: the design's metadata.namespace.
	Namespace string `json:"namespace,omitempty"`
	// Protocol is the application protocol. Default "http".
	Protocol Protocol `json:"protocol,omitempty"`
	// Ports the service listens on. Default: one port, 80, named after the protocol.
	Ports []Port `json:"ports,omitempty"`
	// Identity is the workload identity (Kubernetes service account name) of the service's pods.
	// Default: the service's name.
	Identity string `json:"identity,omitempty"`
	// Selector is the set of pod labels (label key to value) that selects the service's workloads,
	// the same labels its Kubernetes Service selects: adapters emit it wherever a mesh object
	// selects pods (Istio workload selectors, Linkerd Server podSelector, per-version Services).
	// Keys and values follow Kubernetes label syntax. Default {app: <name>}; an empty or missing
	// selector means the default.
	Selector map[string]string `json:"selector,omitempty"`
	// Versions are named subsets of the service's instances, selected by pod labels (in addition
	// to the selector). Default none: all instances form one unnamed version.
	Versions []Version `json:"versions,omitempty"`
	// HealthCheck configures active health checking of the service's instances by the callers'
	// proxies. Default nil: no active checks (passive outlier detection may still apply).
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// Annotations carry tool settings such as IgnoreAnnotation. Default none.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// SelectorLabels returns the pod labels that select the service's workloads: its selector, or
// the default {app: <name>} when the selector is empty. The result is a fresh map.
func (s *Service) SelectorLabels() map[string]string {
	if len(s.Selector) == 0 {
		return map[string]string{DefaultSelectorLabel: s.Name}
	}
	out := make(map[string]string, len(s.Selector))
	for k, v := range s.Selector {
		out[k] = v
	}
	return out
}

// VersionLabels returns the pod labels that select one version of the service: the service's
// selector plus the version's labels (which, in a valid design, never contradict it). The result
// is a fresh map.
func (s *Service) VersionLabels(v *Version) map[string]string {
	out := s.SelectorLabels()
	for k, val := range v.Labels {
		out[k] = val
	}
	return out
}

// InferSelector is for importers that learn a service's versions but not its selector (no
// Kubernetes Service in their input). When the selector is empty and some version gives the
// default selector's label (app) another value than the service's name, so that the default
// {app: <name>} would contradict it, the selector becomes the labels every version shares. It
// reports false when no selector fits (the versions contradict the default and share no labels);
// the design is then invalid until the user sets the selector. A default-compatible service is
// left alone: guessing a broader selector from the versions' shared labels could make policies
// select other workloads' pods.
func (s *Service) InferSelector() bool {
	if len(s.Selector) > 0 || len(s.Versions) == 0 {
		return true
	}
	contradicts := false
	sets := make([]map[string]string, len(s.Versions))
	for i, v := range s.Versions {
		sets[i] = v.Labels
		if val, ok := v.Labels[DefaultSelectorLabel]; ok && val != s.Name {
			contradicts = true
		}
	}
	if !contradicts {
		return true
	}
	common := CommonLabels(sets...)
	if len(common) == 0 {
		return false
	}
	s.Selector = common
	return true
}

// CommonLabels returns the labels (key and value) every one of the label sets carries; nil when
// there are no sets.
func CommonLabels(sets ...map[string]string) map[string]string {
	if len(sets) == 0 {
		return nil
	}
	out := make(map[string]string, len(sets[0]))
	for k, v := range sets[0] {
		out[k] = v
	}
	for _, set := range sets[1:] {
		for k, v := range out {
			if set[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// Port is one port of a service.
type Port struct {
	// Port is the service port, 1-65535. Required.
	Port int32 `json:"port"`
	// Name is the port's name. Default: the service's protocol (for example "http"), suffixed
	// with the port number when the service has several ports ("http-8080").
	Name string `json:"name,omitempty"`
	// TargetPort is the container port, 1-65535. Default: the same as Port.
	TargetPort int32 `json:"targetPort,omitempty"`
}

// Version is a named subset of a service's instances.
type Version struct {
	// Name is the version's name (for example "v1"): a DNS-1123 label unique within the service.
	// Required.
	Name string `json:"name"`
	// Labels select the version's pods among the pods the service's selector selects. Required, at
	// least one label in Kubernetes label syntax; two versions of one service must not have
	// identical labels, and a label key the selector also has must carry the selector's value.
	Labels map[string]string `json:"labels"`
}

// ExternalService is a destination outside the mesh.
type ExternalService struct {
	// Name identifies the external service in traffic policies and access rules: a DNS-1123 label
	// unique among services and external services. Required.
	Name string `json:"name"`
	// Hosts are the DNS names callers use (for example "api.stripe.com"). Required, at least one;
	// a leading "*." wildcard is allowed.
	Hosts []string `json:"hosts"`
	// Ports the external service is reached on. Default: 443 named "https" when TLS is set,
	// otherwise 80 named "http".
	Ports []Port `json:"ports,omitempty"`
	// Protocol is the protocol callers speak to the proxy. Default "http" (the proxy originates TLS
	// when TLS.Mode is "originate"), or "tcp" when TLS.Mode is "passthrough".
	Protocol Protocol `json:"protocol,omitempty"`
	// TLS configures how the mesh reaches the external service over TLS. Default nil: plaintext.
	TLS *ExternalTLS `json:"tls,omitempty"`
	// Annotations carry tool settings such as IgnoreAnnotation. Default none.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ExternalTLSMode says who speaks TLS to an external service.
type ExternalTLSMode string

// The TLS modes for external services.
const (
	// ExternalTLSOriginate makes the caller's proxy originate TLS: the app speaks plaintext.
	ExternalTLSOriginate ExternalTLSMode = "originate"
	// ExternalTLSPassthrough means the app itself speaks TLS; the proxy forwards bytes.
	ExternalTLSPassthrough ExternalTLSMode = "passthrough"
)

// ExternalTLS is TLS towards an external service.
type ExternalTLS struct {
	// Mode is "originate" or "passthrough". Default "originate".
	Mode ExternalTLSMode `json:"mode,omitempty"`
	// SNI is the server name sent in the TLS handshake. Default: the first host.
	SNI string `json:"sni,omitempty"`
	// CACertificates is the path, on the proxy, of the PEM bundle that verifies the server.
	// Default "": the proxy's system roots are used (verification still happens).
	CACertificates string `json:"caCertificates,omitempty"`
	// SubjectAltNames the server certificate must carry one of. Default none: the SNI is verified.
	SubjectAltNames []string `json:"subjectAltNames,omitempty"`
	// InsecureSkipVerify disables server certificate verification. Default false (verify).
	// Setting it is reported by policy SEC-003.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// HealthCheckProtocol is the protocol of an active health check.
type HealthCheckProtocol string

// The active health-check protocols.
const (
	// HealthCheckHTTP sends an HTTP GET to Path and expects a 2xx response.
	HealthCheckHTTP HealthCheckProtocol = "http"
	// HealthCheckGRPC calls grpc.health.v1.Health/Check and expects SERVING.
	HealthCheckGRPC HealthCheckProtocol = "grpc"
	// HealthCheckTCP opens a TCP connection.
	HealthCheckTCP HealthCheckProtocol = "tcp"
)

// HealthCheck is an active health check of a service's instances.
type HealthCheck struct {
	// Protocol is "http", "grpc" or "tcp". Default: "grpc" for gRPC services, "tcp" for TCP
	// services, otherwise "http".
	Protocol HealthCheckProtocol `json:"protocol,omitempty"`
	// Path is the HTTP path probed. Default "/healthz" for http checks; must be empty otherwise.
	Path string `json:"path,omitempty"`
	// Port is the port probed. Default: the service's first port.
	Port int32 `json:"port,omitempty"`
	// Interval between checks. Default 10s; must be positive.
	Interval Duration `json:"interval,omitzero"`
	// Timeout of one check. Default 1s; must be positive and no longer than Interval.
	Timeout Duration `json:"timeout,omitzero"`
	// HealthyThreshold is the number of consecutive successes that mark an instance healthy.
	// Default 1.
	HealthyThreshold int32 `json:"healthyThreshold,omitempty"`
	// UnhealthyThreshold is the number of consecutive failures that mark an instance unhealthy.
	// Default 3.
	UnhealthyThreshold int32 `json:"unhealthyThreshold,omitempty"`
}
