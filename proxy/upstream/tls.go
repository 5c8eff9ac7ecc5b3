package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/trellis-mesh/trellis/proxy/identity"
)

// parseTransportSocket turns an envoy.transport_sockets.tls UpstreamTlsContext into a client TLS
// configuration (nil for plaintext). Without a validation context the peer is not verified, as in
// Envoy; with one, the chain is checked against trusted_ca (or the system roots) and the server
// name, and the certificate must carry one of the listed DNS subject alt names.
func parseTransportSocket(ts *corev3.TransportSocket, id *identity.Store) (*tls.Config, bool, error) {
	if ts == nil {
		return nil, false, nil
	}
	if ts.GetName() != "envoy.transport_sockets.tls" && ts.GetTypedConfig().GetTypeUrl() != "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" {
		return nil, false, fmt.Errorf("transport_socket: unsupported %q (expected envoy.transport_sockets.tls)", ts.GetName())
	}
	var u tlsv3.UpstreamTlsContext
	if err := ts.GetTypedConfig().UnmarshalTo(&u); err != nil {
		return nil, false, fmt.Errorf("transport_socket.typed_config: %w", err)
	}
	if common := u.GetCommonTlsContext(); len(common.GetTlsCertificateSdsSecretConfigs()) > 0 || common.GetValidationContextSdsSecretConfig() != nil || common.GetCombinedValidationContext() != nil {
		cfg, err := meshTLS(common, id)
		return cfg, true, err
	}
	cfg := &tls.Config{ServerName: u.GetSni(), MinVersion: tls.VersionTLS12}
	vc := u.GetCommonTlsContext().GetValidationContext()
	if vc == nil {
		cfg.InsecureSkipVerify = true //nolint:gosec // Envoy semantics: no validation context, no verification
		return cfg, false, nil
	}
	if ca := vc.GetTrustedCa(); ca != nil {
		var pem []byte
		switch {
		case ca.GetFilename() != "":
			b, err := os.ReadFile(ca.GetFilename())
			if err != nil {
				return nil, false, fmt.Errorf("transport_socket.common_tls_context.validation_context.trusted_ca: %w", err)
			}
			pem = b
		case ca.GetInlineString() != "":
			pem = []byte(ca.GetInlineString())
		case len(ca.GetInlineBytes()) > 0:
			pem = ca.GetInlineBytes()
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, false, errors.New("transport_socket.common_tls_context.validation_context.trusted_ca: no PEM certificate found")
		}
		cfg.RootCAs = pool
	}
	var sans []string
	for _, m := range vc.GetMatchTypedSubjectAltNames() {
		if e := m.GetMatcher().GetExact(); e != "" {
			sans = append(sans, e)
		}
	}
	if len(sans) > 0 {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no peer certificate")
			}
			for _, n := range cs.PeerCertificates[0].DNSNames {
				if slices.Contains(sans, n) {
					return nil
				}
			}
			return fmt.Errorf("peer certificate has none of the subject alt names %v", sans)
		}
	}
	return cfg, false, nil
}

// meshTLS builds the client configuration of a mesh cluster: the workload certificate ("default")
// from SDS as client certificate, the peer verified against the mesh roots ("ROOTCA") and its
// SPIFFE ID checked against the exact URI subject alt names of the (combined) validation context.
func meshTLS(c *tlsv3.CommonTlsContext, id *identity.Store) (*tls.Config, error) {
	const path = "transport_socket.typed_config.common_tls_context"
	for i, s := range c.GetTlsCertificateSdsSecretConfigs() {
		if s.GetName() != identity.CertSecret {
			return nil, fmt.Errorf("%s.tls_certificate_sds_secret_configs[%d].name: unknown secret %q; expected %q", path, i, s.GetName(), identity.CertSecret)
		}
	}
	vname := c.GetValidationContextSdsSecretConfig().GetName()
	if vname == "" {
		vname = c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetName()
	}
	if vname != identity.RootSecret {
		return nil, fmt.Errorf("%s: validation context secret %q; expected %q (the mesh roots)", path, vname, identity.RootSecret)
	}
	if id == nil {
		return nil, fmt.Errorf("%s: mTLS needs a workload identity; hint: run the proxy against a control plane that issues certificates (--xds), not --bootstrap", path)
	}
	var allowed []string
	for i, m := range c.GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames() {
		e := m.GetMatcher().GetExact()
		if e == "" || (m.GetSanType() != tlsv3.SubjectAltNameMatcher_URI && m.GetSanType() != tlsv3.SubjectAltNameMatcher_SAN_TYPE_UNSPECIFIED) {
			return nil, fmt.Errorf("%s.combined_validation_context.default_validation_context.match_typed_subject_alt_names[%d]: expected an exact URI matcher (a SPIFFE ID)", path, i)
		}
		allowed = append(allowed, e)
	}
	return id.ClientConfig(allowed), nil
}

// MeshTLS reports whether the cluster originates mTLS with the workload certificate.
func (c *Cluster) MeshTLS() bool { return c.mesh }

// TLS returns the cluster's client TLS configuration (nil for plaintext upstreams).
func (c *Cluster) TLS() *tls.Config { return c.tls }

// H1TLS returns the cluster's net/http transport for HTTP/1.1 over TLS.
func (c *Cluster) H1TLS() *http.Transport {
	st := c.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.h1tls == nil {
		st.h1tls = &http.Transport{
			DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialTLS(ctx, network, addr, st.tlsCfg.Load())
			},
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true,
		}
	}
	return st.h1tls
}

func dialTLS(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil || cfg == nil {
		return nc, err
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}
