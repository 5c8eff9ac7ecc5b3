package native

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Stable resource names shared with the proxy (see notes/xds-contract.md).
const (
	// ListenerOutbound is the listener the local app sends outgoing requests to.
	ListenerOutbound = "outbound"
	// ListenerInbound is the listener other proxies reach this instance on.
	ListenerInbound = "inbound"
	// RouteOutbound is the RouteConfiguration of the outbound listener.
	RouteOutbound = "outbound"
	// RouteInbound is the RouteConfiguration of the inbound listener.
	RouteInbound = "inbound"
	// PeerIdentityHeader is set by the receiving proxy to the caller's SPIFFE ID verified by mTLS
	// (information for the app); a value sent by a client is never trusted.
	PeerIdentityHeader = "x-trellis-peer-identity"
)

// Resources are the design-level xDS resources of one or more designs: what every proxy of the
// mesh shares, plus the inbound HTTP filters of each service. ForNode turns them into one proxy's
// snapshot. Resources are immutable once built; ForNode never modifies them.
type Resources struct {
	// TrustDomain is the SPIFFE trust domain principals were built with.
	TrustDomain string
	// Outbound is the "outbound" RouteConfiguration: one virtual host per service.
	Outbound *routev3.RouteConfiguration
	// Clusters are the outbound clusters (EDS for services, DNS for external services), sorted by
	// name.
	Clusters []*clusterv3.Cluster
	// Subsets say, for each EDS cluster, which registered instances are its endpoints, sorted by
	// cluster name.
	Subsets []Subset
	// Services holds the inbound side of every service, keyed "<svc>.<ns>".
	Services map[string]*ServiceResources
}

// Subset selects the instances of one EDS cluster.
type Subset struct {
	// Cluster is the EDS cluster's name ("outbound|9080|v2|reviews.default").
	Cluster string
	// Service is the service's key, "<svc>.<ns>".
	Service string
	// Version is the version's name, "" for all instances.
	Version string
	// Labels an instance must carry (all of them) to belong to the subset; empty for all instances.
	Labels map[string]string
}

// ServiceResources is the inbound side of one service.
type ServiceResources struct {
	// Name is the service's name.
	Name string
	// Namespace is the service's namespace.
	Namespace string
	// Protocol is the service's protocol.
	Protocol spec.Protocol
	// Identity is the service's workload identity.
	Identity string
	// TargetPort is the app's port (the first port's target port).
	TargetPort int32
	// HTTPFilters run on the inbound listener before the router, in order (wasm, RBAC, rate limit).
	HTTPFilters []*hcmv3.HttpFilter
	// MTLS is the inbound listener's mTLS mode (strict, permissive or disabled).
	MTLS spec.MTLSMode
}

// ServiceKeys returns the keys of every service, sorted.
func (r *Resources) ServiceKeys() []string {
	keys := make([]string, 0, len(r.Services))
	for k := range r.Services {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// svcInfo is the defaulted view of a service or external service used while building.
type svcInfo struct {
	path     string // "spec.services[3]" or "spec.externalServices[0]"
	name     string
	ns       string
	key      string // "<svc>.<ns>", or the external service's first host
	protocol spec.Protocol
	ports    []spec.Port
	identity string
	versions []spec.Version
	service  *spec.Service
	external *spec.ExternalService
	policy   *spec.TrafficPolicy
	polPath  string
}

func (s *svcInfo) firstPort() int32 { return s.ports[0].Port }

func (s *svcInfo) hasPort(p int32) bool {
	for _, x := range s.ports {
		if x.Port == p {
			return true
		}
	}
	return false
}

func (s *svcInfo) version(name string) *spec.Version {
	for i := range s.versions {
		if s.versions[i].Name == name {
			return &s.versions[i]
		}
	}
	return nil
}

func clusterName(port int32, version, key string) string {
	return "outbound|" + strconv.Itoa(int(port)) + "|" + version + "|" + key
}

// InboundCluster is the name of the STATIC cluster that forwards inbound requests to the app.
func InboundCluster(key string) string { return "inbound|" + key }

func isInboundCluster(name string) bool { return strings.HasPrefix(name, "inbound|") }

// builder accumulates resources and warnings for one design.
type builder struct {
	d        *spec.Design
	opts     adapters.Options
	td       string
	services []*svcInfo // services then external services, in design order
	byName   map[string]*svcInfo
	clusters map[string]*clusterv3.Cluster
	budgets  map[string]string // cluster -> path of the route whose budget it carries
	warns    []adapters.Warning
	res      *Resources
}

func (b *builder) warn(path string, f adapters.Feature, sev adapters.Severity, format string, args ...any) {
	b.warns = append(b.warns, adapters.Warning{Path: path, Mesh: Name, Feature: f, Lost: fmt.Sprintf(format, args...), Severity: sev})
}

// Build translates one design into design-level resources. It is pure and deterministic. The
// design should be defaulted and valid (spec.LoadFile does both); Build still fills the documented
// defaults it needs and reports references it cannot resolve as an error, never a panic.
func Build(d *spec.Design, opts adapters.Options) (res *Resources, warns []adapters.Warning, err error) {
	defer recoverAny(&err, "building xDS resources for design "+strconv.Quote(designName(d)))
	if d == nil {
		return nil, nil, fmt.Errorf("building xDS resources: nil design")
	}
	b := &builder{
		d: d, opts: opts, td: opts.TrustDomainOrDefault(),
		byName:   map[string]*svcInfo{},
		clusters: map[string]*clusterv3.Cluster{},
		budgets:  map[string]string{},
		res: &Resources{
			TrustDomain: opts.TrustDomainOrDefault(),
			Services:    map[string]*ServiceResources{},
		},
	}
	if err := b.index(); err != nil {
		return nil, nil, fmt.Errorf("building xDS resources for design %q: %w", d.Metadata.Name, err)
	}
	steps := []func() error{b.buildClusters, b.buildRoutes, b.buildInbound, b.buildDesignWarnings}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, b.warns, fmt.Errorf("building xDS resources for design %q: %w", d.Metadata.Name, err)
		}
	}
	names := make([]string, 0, len(b.clusters))
	for n := range b.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.res.Clusters = append(b.res.Clusters, b.clusters[n])
	}
	sort.Slice(b.res.Subsets, func(i, j int) bool { return b.res.Subsets[i].Cluster < b.res.Subsets[j].Cluster })
	return b.res, b.warns, nil
}

func designName(d *spec.Design) string {
	if d == nil {
		return ""
	}
	return d.Metadata.Name
}

func (b *builder) designNamespace() string {
	if b.d.Metadata.Namespace != "" {
		return b.d.Metadata.Namespace
	}
	return "default"
}

func (b *builder) index() error {
	ns := b.designNamespace()
	for i := range b.d.Spec.Services {
		s := &b.d.Spec.Services[i]
		si := &svcInfo{path: fmt.Sprintf("spec.services[%d]", i), name: s.Name, ns: s.Namespace, protocol: s.Protocol,
			ports: s.Ports, identity: s.Identity, versions: s.Versions, service: s}
		if si.name == "" {
			return fmt.Errorf("%s.name: a service needs a name; expected a DNS-1123 label", si.path)
		}
		if si.ns == "" {
			si.ns = ns
		}
		if si.protocol == "" {
			si.protocol = spec.ProtocolHTTP
		}
		if len(si.ports) == 0 {
			si.ports = []spec.Port{{Port: 80}}
		}
		if si.identity == "" {
			si.identity = si.name
		}
		si.key = si.name + "." + si.ns
		if _, dup := b.byName[si.name]; dup {
			return fmt.Errorf("%s.name: service %q is declared twice; expected unique service names", si.path, si.name)
		}
		b.byName[si.name] = si
		b.services = append(b.services, si)
	}
	for i := range b.d.Spec.ExternalServices {
		e := &b.d.Spec.ExternalServices[i]
		si := &svcInfo{path: fmt.Sprintf("spec.externalServices[%d]", i), name: e.Name, ns: ns, protocol: e.Protocol,
			ports: e.Ports, external: e}
		if si.name == "" || len(e.Hosts) == 0 {
			return fmt.Errorf("%s: an external service needs a name and at least one host", si.path)
		}
		tlsMode := spec.ExternalTLSMode("")
		if e.TLS != nil {
			tlsMode = e.TLS.Mode
			if tlsMode == "" {
				tlsMode = spec.ExternalTLSOriginate
			}
		}
		if si.protocol == "" {
			si.protocol = spec.ProtocolHTTP
			if tlsMode == spec.ExternalTLSPassthrough {
				si.protocol = spec.ProtocolTCP
			}
		}
		if len(si.ports) == 0 {
			if e.TLS != nil {
				si.ports = []spec.Port{{Port: 443, Name: "https"}}
			} else {
				si.ports = []spec.Port{{Port: 80, Name: "http"}}
			}
		}
		si.key = e.Hosts[0]
		if _, dup := b.byName[si.name]; dup {
			return fmt.Errorf("%s.name: %q is already the name of a service; expected unique names among services and external services", si.path, si.name)
		}
		b.byName[si.name] = si
		b.services = append(b.services, si)
	}
	for i := range b.d.Spec.Traffic {
		p := &b.d.Spec.Traffic[i]
		path := fmt.Sprintf("spec.traffic[%d]", i)
		si, ok := b.byName[p.Service]
		if !ok {
			return fmt.Errorf("%s.service: unknown service %q; expected the name of a service or external service of the design", path, p.Service)
		}
		if si.policy != nil {
			return fmt.Errorf("%s.service: service %q already has a traffic policy (%s); expected at most one per service", path, p.Service, si.polPath)
		}
		si.policy, si.polPath = p, path
	}
	return nil
}

// buildDesignWarnings reports design features outside the xDS subset the bundled proxy consumes.
func (b *builder) buildDesignWarnings() error {
	sec := b.d.Spec.Security
	b.mtlsWarnings()
	if sec != nil {
		for i := range sec.RequestAuthentication {
			b.warn(fmt.Sprintf("spec.security.requestAuthentication[%d]", i), adapters.FeatureJWT, adapters.SeverityError,
				"JWT rule %q is not enforced: JWT authentication is outside the xDS subset of the bundled proxy", sec.RequestAuthentication[i].Name)
		}
	}
	for i, e := range b.d.Spec.Extensions {
		lost := "the bundled proxy ignores wasm filters for now: extension %q does not run (an Envoy sidecar runs it)"
		if strings.HasPrefix(e.Source, "oci://") {
			lost += "; oci:// modules also need an agent to pull them, Envoy fetches only http(s) URLs"
		}
		b.warn(fmt.Sprintf("spec.extensions[%d]", i), adapters.FeatureWasm, adapters.SeverityWarning, lost, e.Name)
	}
	if t := b.d.Spec.Telemetry; t != nil {
		if t.Metrics != nil && !t.Metrics.IsEnabled() {
			b.warn("spec.telemetry.metrics.enabled", adapters.FeatureMetrics, adapters.SeverityInfo,
				"metrics cannot be turned off: every bundled proxy exports Prometheus metrics on its admin /stats")
		}
		if t.Tracing != nil {
			b.warn("spec.telemetry.tracing", adapters.FeatureTracing, adapters.SeverityWarning,
				"tracing to %s is not configured: tracing is outside the xDS subset of the bundled proxy", t.Tracing.Endpoint)
			if t.Tracing.SamplingPercent != nil {
				b.warn("spec.telemetry.tracing.samplingPercent", adapters.FeatureTracingSampling, adapters.SeverityWarning,
					"the tracing sampling rate is not configured: tracing is outside the xDS subset of the bundled proxy")
			}
		}
		if t.AccessLogs != nil && t.AccessLogs.Enabled {
			b.warn("spec.telemetry.accessLogs", adapters.FeatureAccessLogs, adapters.SeverityWarning,
				"access logs are not configured: HttpConnectionManager access_log is outside the xDS subset of the bundled proxy")
		}
	}
	return nil
}
