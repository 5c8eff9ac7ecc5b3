package native

import (
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// SDS secret names of the mesh identity, as Istio names them. The control plane serves them per
// node on the ADS stream.
const (
	// SecretCert is the workload certificate chain. With the CSR flow of `trellis proxy` it carries
	// the chain only: the private key never leaves the proxy.
	SecretCert = "default"
	// SecretRoots is the validation context with the mesh root certificate.
	SecretRoots = "ROOTCA"
	// TLSInspector is the listener filter that tells TLS from plaintext on permissive listeners.
	TLSInspector = "envoy.filters.listener.tls_inspector"
)

// mtlsMode returns the mTLS mode of one port of a service (port 0: the service-wide mode): the
// override for that port, else the service's override, else the design's mode (default strict).
func (b *builder) mtlsMode(service string, port int32) spec.MTLSMode {
	sec := b.d.Spec.Security
	mode := spec.MTLSStrict
	if sec == nil {
		return mode
	}
	if sec.MTLS != "" {
		mode = sec.MTLS
	}
	svcMode := spec.MTLSMode("")
	for _, o := range sec.MTLSOverrides {
		if o.Service != service || o.Mode == "" {
			continue
		}
		if o.Port == 0 && svcMode == "" {
			svcMode = o.Mode
		}
		if port != 0 && o.Port == port {
			return o.Mode
		}
	}
	if svcMode != "" {
		return svcMode
	}
	return mode
}

// listenerMode returns the mode of a service's inbound listener, which serves every port of the
// service: the mode shared by all ports, or permissive when they differ (plaintext and mTLS
// callers must both get through; the per-port choice is then made by the callers' clusters).
func (b *builder) listenerMode(s *svcInfo) spec.MTLSMode {
	var mode spec.MTLSMode
	for i, p := range s.ports {
		m := b.mtlsMode(s.name, p.Port)
		if i == 0 {
			mode = m
			continue
		}
		if m != mode {
			b.warn(s.path+".ports", adapters.FeatureMTLSStrict, adapters.SeverityWarning,
				"service %q mixes mTLS modes across its ports; its inbound listener (one for every port) accepts mTLS and plaintext, callers use mTLS only on the ports that are not disabled", s.name)
			return spec.MTLSPermissive
		}
	}
	return mode
}

func sdsSecret(name string) *tlsv3.SdsSecretConfig {
	return &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsSource()}
}

func tls13() *tlsv3.TlsParameters {
	return &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_3}
}

// meshUpstreamTLS is the transport socket of a mesh cluster: the workload certificate as client
// certificate, and the server verified against the mesh roots with the destination's SPIFFE ID.
func meshUpstreamTLS(spiffeID string) *corev3.TransportSocket {
	ctx := &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsParams:                      tls13(),
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsSecret(SecretCert)},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			DefaultValidationContext: &tlsv3.CertificateValidationContext{MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
				SanType: tlsv3.SubjectAltNameMatcher_URI,
				Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: spiffeID}},
			}}},
			ValidationContextSdsSecretConfig: sdsSecret(SecretRoots),
		}},
	}}
	return &corev3.TransportSocket{Name: tlsTransportSocket, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
}

// meshDownstreamTLS is the transport socket of an inbound listener: the workload certificate, a
// client certificate required and verified against the mesh roots.
func meshDownstreamTLS() *corev3.TransportSocket {
	ctx := &tlsv3.DownstreamTlsContext{
		RequireClientCertificate: wrapperspb.Bool(true),
		CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsParams:                      tls13(),
			AlpnProtocols:                  []string{"h2", "http/1.1"},
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{sdsSecret(SecretCert)},
			ValidationContextType:          &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{ValidationContextSdsSecretConfig: sdsSecret(SecretRoots)},
		},
	}
	return &corev3.TransportSocket{Name: tlsTransportSocket, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(ctx)}}
}

// applyInboundMTLS shapes an inbound listener for its mode: strict, one mTLS filter chain;
// permissive, a tls_inspector and two chains (transport_protocol "tls" with mTLS, "raw_buffer"
// plaintext), as Envoy and Istio do; disabled, the plaintext chain unchanged.
func applyInboundMTLS(l *listenerv3.Listener, mode spec.MTLSMode) {
	if mode == spec.MTLSDisabled || mode == "" || len(l.FilterChains) != 1 {
		return
	}
	chain := l.FilterChains[0]
	if mode == spec.MTLSStrict {
		chain.TransportSocket = meshDownstreamTLS()
		return
	}
	l.ListenerFilters = []*listenerv3.ListenerFilter{{Name: TLSInspector, ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: mustAny(&tlsinspectorv3.TlsInspector{})}}}
	tlsChain := &listenerv3.FilterChain{
		Name:             "inbound-mtls",
		FilterChainMatch: &listenerv3.FilterChainMatch{TransportProtocol: "tls"},
		Filters:          chain.Filters,
		TransportSocket:  meshDownstreamTLS(),
	}
	plain := &listenerv3.FilterChain{
		Name:             "inbound-plaintext",
		FilterChainMatch: &listenerv3.FilterChainMatch{TransportProtocol: "raw_buffer"},
		Filters:          chain.Filters,
	}
	l.FilterChains = []*listenerv3.FilterChain{tlsChain, plain}
}

// NodeSecrets returns the SDS secrets of one node: its certificate chain ("default", omitted
// when nil) and the mesh roots ("ROOTCA").
func NodeSecrets(chainPEM, rootPEM []byte) []types.Resource {
	var out []types.Resource
	if len(chainPEM) > 0 {
		out = append(out, &tlsv3.Secret{Name: SecretCert, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: chainPEM}},
		}}})
	}
	out = append(out, &tlsv3.Secret{Name: SecretRoots, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
		TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: rootPEM}},
	}}})
	return out
}

// mtlsWarnings reports what the bundled mesh cannot express about mTLS.
func (b *builder) mtlsWarnings() {
	sec := b.d.Spec.Security
	if sec == nil {
		return
	}
	for i, o := range sec.MTLSOverrides {
		if _, ok := b.byName[o.Service]; !ok {
			b.warn(fmt.Sprintf("spec.security.mtlsOverrides[%d].service", i), adapters.FeatureMTLSStrict, adapters.SeverityWarning,
				"mTLS override for unknown service %q is ignored", o.Service)
		}
	}
}
