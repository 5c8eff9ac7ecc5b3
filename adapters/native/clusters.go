package native

import (
	"fmt"
	"math"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Type URL keys used in typed_extension_protocol_options and transport sockets.
const (
	httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
	tlsTransportSocket     = "envoy.transport_sockets.tls"
)

// anyError carries a failure to pack a message into an Any out of the deep call stacks of Build
// and ForNode; both recover it at their boundary and return it as an error.
type anyError struct{ err error }

// mustAny packs m into an Any. It fails only for a message that cannot be marshalled (for
// example a string field holding invalid UTF-8); Build and ForNode turn that into an error.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(anyError{fmt.Errorf("packing %T: %w", m, err)})
	}
	return a
}

// recoverAny converts an anyError panic into *err (prefixed with what), any other panic
// continues.
func recoverAny(err *error, what string) {
	if r := recover(); r != nil {
		ae, ok := r.(anyError)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("%s: %w", what, ae.err)
	}
}

func dur(d time.Duration) *durationpb.Duration { return durationpb.New(d) }

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// httpProtocolOptions returns the upstream protocol options for a protocol: explicit HTTP/2
// (h2c) for http2 and grpc, nothing for plain HTTP unless maxRequests is set.
func httpProtocolOptions(p spec.Protocol, maxRequestsPerConn int32) map[string]*anypb.Any {
	h2 := p == spec.ProtocolHTTP2 || p == spec.ProtocolGRPC
	if !h2 && maxRequestsPerConn == 0 {
		return nil
	}
	opts := &httpv3.HttpProtocolOptions{}
	if h2 {
		opts.UpstreamProtocolOptions = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
		}}
	} else {
		opts.UpstreamProtocolOptions = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{HttpProtocolOptions: &corev3.Http1ProtocolOptions{}},
		}}
	}
	if maxRequestsPerConn > 0 {
		opts.CommonHttpProtocolOptions = &corev3.HttpProtocolOptions{MaxRequestsPerConnection: wrapperspb.UInt32(uint32(maxRequestsPerConn))}
	}
	return map[string]*anypb.Any{httpProtocolOptionsKey: mustAny(opts)}
}

// buildClusters creates, for every service port, one EDS cluster for all instances and one per
// version, and DNS clusters for external services; then applies resilience and health checks.
func (b *builder) buildClusters() error {
	for _, s := range b.services {
		var res *spec.Resilience
		if s.policy != nil {
			res = s.policy.Resilience
		}
		if s.external != nil {
			if err := b.externalClusters(s, res); err != nil {
				return err
			}
			continue
		}
		if s.protocol == spec.ProtocolTCP {
			b.warn(s.path+".protocol", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"tcp service %q gets clusters but no outbound route: the bundled proxy's listeners proxy HTTP/1.1, HTTP/2 and gRPC only", s.name)
		}
		for _, p := range s.ports {
			subsets := append([]spec.Version{{}}, s.versions...)
			for _, v := range subsets {
				name := clusterName(p.Port, v.Name, s.key)
				c := &clusterv3.Cluster{
					Name:                 name,
					ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
					EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
					LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
				}
				if b.mtlsMode(s.name, p.Port) != spec.MTLSDisabled {
					c.TransportSocket = meshUpstreamTLS(b.spiffe(s.ns, s.identity))
				}
				b.applyResilience(c, s, res)
				if err := b.applyHealthCheck(c, s); err != nil {
					return err
				}
				b.clusters[name] = c
				b.res.Subsets = append(b.res.Subsets, Subset{Cluster: name, Service: s.key, Version: v.Name, Labels: subsetLabels(s.service, v)})
			}
		}
	}
	return nil
}

func (b *builder) applyResilience(c *clusterv3.Cluster, s *svcInfo, res *spec.Resilience) {
	var maxReqPerConn int32
	if res != nil && res.Connections != nil {
		cl := res.Connections
		maxReqPerConn = cl.MaxRequestsPerConnection
		th := &clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_DEFAULT}
		if cl.Max > 0 {
			th.MaxConnections = wrapperspb.UInt32(uint32(cl.Max))
		}
		if cl.MaxPendingRequests > 0 {
			th.MaxPendingRequests = wrapperspb.UInt32(uint32(cl.MaxPendingRequests))
		}
		if cl.MaxRequests > 0 {
			th.MaxRequests = wrapperspb.UInt32(uint32(cl.MaxRequests))
		}
		c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{th}}
		if cl.ConnectTimeout.Duration > 0 {
			c.ConnectTimeout = dur(cl.ConnectTimeout.Duration)
		}
	}
	c.TypedExtensionProtocolOptions = httpProtocolOptions(s.protocol, maxReqPerConn)
	if res == nil {
		return
	}
	if od := res.OutlierDetection; od != nil {
		consecutive, interval, base, maxPct := od.Consecutive5xx, od.Interval.Duration, od.BaseEjectionTime.Duration, od.MaxEjectionPercent
		if consecutive == 0 {
			consecutive = 5
		}
		if interval == 0 {
			interval = 10 * time.Second
		}
		if base == 0 {
			base = 30 * time.Second
		}
		if maxPct == 0 {
			maxPct = 10
		}
		c.OutlierDetection = &clusterv3.OutlierDetection{
			Consecutive_5Xx:    wrapperspb.UInt32(uint32(consecutive)),
			Interval:           dur(interval),
			BaseEjectionTime:   dur(base),
			MaxEjectionPercent: wrapperspb.UInt32(uint32(maxPct)),
		}
	}
	if lb := res.LoadBalancer; lb != nil {
		alg := lb.Algorithm
		if alg == "" && lb.ConsistentHash != nil {
			alg = spec.LBConsistentHash
		}
		switch alg {
		case spec.LBLeastRequest:
			c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
		case spec.LBRandom:
			c.LbPolicy = clusterv3.Cluster_RANDOM
		case spec.LBConsistentHash:
			c.LbPolicy = clusterv3.Cluster_RING_HASH
		default:
			c.LbPolicy = clusterv3.Cluster_ROUND_ROBIN
		}
	}
}

func (b *builder) applyHealthCheck(c *clusterv3.Cluster, s *svcInfo) error {
	if s.service == nil || s.service.HealthCheck == nil {
		return nil
	}
	hc := s.service.HealthCheck
	path := s.path + ".healthCheck"
	proto := effectiveHealthProtocol(s)
	interval, timeout := hc.Interval.Duration, hc.Timeout.Duration
	if interval <= 0 {
		interval = 10 * time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	healthy, unhealthy := hc.HealthyThreshold, hc.UnhealthyThreshold
	if healthy <= 0 {
		healthy = 1
	}
	if unhealthy <= 0 {
		unhealthy = 3
	}
	h := &corev3.HealthCheck{
		Timeout: dur(timeout), Interval: dur(interval),
		HealthyThreshold: wrapperspb.UInt32(uint32(healthy)), UnhealthyThreshold: wrapperspb.UInt32(uint32(unhealthy)),
	}
	switch proto {
	case spec.HealthCheckHTTP:
		p := hc.Path
		if p == "" {
			p = "/healthz"
		}
		hh := &corev3.HealthCheck_HttpHealthCheck{Path: p}
		if s.protocol == spec.ProtocolHTTP2 || s.protocol == spec.ProtocolGRPC {
			hh.CodecClientType = typev3.CodecClientType_HTTP2
		}
		h.HealthChecker = &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: hh}
	case spec.HealthCheckGRPC:
		h.HealthChecker = &corev3.HealthCheck_GrpcHealthCheck_{GrpcHealthCheck: &corev3.HealthCheck_GrpcHealthCheck{}}
	case spec.HealthCheckTCP:
		h.HealthChecker = &corev3.HealthCheck_TcpHealthCheck_{TcpHealthCheck: &corev3.HealthCheck_TcpHealthCheck{}}
	default:
		return fmt.Errorf("%s.protocol: unknown health-check protocol %q; expected http, grpc or tcp", path, proto)
	}
	c.HealthChecks = []*corev3.HealthCheck{h}
	// Warn once per service (on its all-versions cluster of the first port).
	if hc.Port != 0 && hc.Port != s.firstPort() && c.Name == clusterName(s.firstPort(), "", s.key) {
		b.warn(path+".port", adapters.FeatureHealthCheck, adapters.SeverityWarning,
			"health checks of %q reach the instance through its inbound proxy, which forwards to the app's port; port %d is not probed separately", s.name, hc.Port)
	}
	return nil
}

// effectiveHealthProtocol is the service's health-check protocol with its documented default.
func effectiveHealthProtocol(s *svcInfo) spec.HealthCheckProtocol {
	if p := s.service.HealthCheck.Protocol; p != "" {
		return p
	}
	switch s.protocol {
	case spec.ProtocolGRPC:
		return spec.HealthCheckGRPC
	case spec.ProtocolTCP:
		return spec.HealthCheckTCP
	}
	return spec.HealthCheckHTTP
}

// externalClusters creates one DNS cluster per port of an external service, with TLS
// origination when its TLS mode is "originate".
func (b *builder) externalClusters(s *svcInfo, res *spec.Resilience) error {
	e := s.external
	var hosts []string
	for _, h := range e.Hosts {
		if strings.HasPrefix(h, "*") {
			b.warn(s.path+".hosts", adapters.FeatureExternalServices, adapters.SeverityWarning,
				"wildcard host %q of external service %q cannot be resolved by a DNS cluster; it gets no endpoint", h, e.Name)
			continue
		}
		hosts = append(hosts, h)
	}
	if s.protocol == spec.ProtocolTCP {
		b.warn(s.path, adapters.FeatureExternalServices, adapters.SeverityWarning,
			"external service %q (tcp / TLS passthrough) gets a cluster but no outbound route: the bundled proxy's outbound listener is HTTP only", e.Name)
	}
	if len(hosts) == 0 {
		return nil
	}
	for _, p := range s.ports {
		name := clusterName(p.Port, "", s.key)
		c := &clusterv3.Cluster{Name: name, LbPolicy: clusterv3.Cluster_ROUND_ROBIN}
		if len(hosts) == 1 {
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS}
		} else {
			c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		}
		c.LoadAssignment = dnsAssignment(name, hosts, uint32(p.Port))
		b.applyResilience(c, s, res)
		if e.TLS != nil && (e.TLS.Mode == "" || e.TLS.Mode == spec.ExternalTLSOriginate) {
			c.TransportSocket = upstreamTLS(e.TLS, hosts[0])
		}
		b.clusters[name] = c
	}
	return nil
}

func dnsAssignment(name string, hosts []string, port uint32) *endpointv3.ClusterLoadAssignment {
	var lbs []*endpointv3.LbEndpoint
	for _, h := range hosts {
		lbs = append(lbs, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: socketAddress(h, port),
		}}})
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: lbs}}}
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

func upstreamTLS(t *spec.ExternalTLS, firstHost string) *corev3.TransportSocket {
	sni := t.SNI
	if sni == "" {
		sni = firstHost
	}
	ctx := &tlsv3.UpstreamTlsContext{Sni: sni, CommonTlsContext: &tlsv3.CommonTlsContext{}}
	if !t.InsecureSkipVerify {
		vc := &tlsv3.CertificateValidationContext{}
		if t.CACertificates != "" {
			vc.TrustedCa = &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: t.CACertificates}}
		} else {
			vc.SystemRootCerts = &tlsv3.CertificateValidationContext_SystemRootCerts{}
		}
		sans := t.SubjectAltNames
		if len(sans) == 0 {
			sans = []string{sni}
		}
		for _, san := range sans {
			vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tlsv3.SubjectAltNameMatcher{
				SanType: tlsv3.SubjectAltNameMatcher_DNS,
				Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: san}},
			})
		}
		ctx.CommonTlsContext.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
	}
	return &corev3.TransportSocket{Name: tlsTransportSocket, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
}

// fraction converts a percentage (0-100] to a FractionalPercent per million; 0 means 100%.
func fraction(pct float64) *typev3.FractionalPercent {
	if pct <= 0 || pct > 100 {
		pct = 100
	}
	return &typev3.FractionalPercent{Numerator: uint32(math.Round(pct * 10000)), Denominator: typev3.FractionalPercent_MILLION}
}

// subsetLabels returns the labels an instance of a service must carry to be in version v: the
// version's labels without those the service's selector already fixes (every registered
// instance of the service is one of its pods, whatever labels it reports). Nil for the
// all-instances subset, and for a version that is the whole service.
func subsetLabels(s *spec.Service, v spec.Version) map[string]string {
	if v.Name == "" || s == nil {
		return v.Labels
	}
	sel := s.SelectorLabels()
	var out map[string]string
	for k, val := range v.Labels {
		if sel[k] != val {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = val
		}
	}
	return out
}
