package table

import (
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3" // registers the tls_inspector listener filter type
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/trellis-mesh/trellis/proxy/identity"
)

// DownstreamTLS is a listener's mTLS mode, from its filter chains' transport sockets.
type DownstreamTLS struct {
	// RequireClientCert requires (and verifies) a client certificate on TLS connections.
	RequireClientCert bool
	// AcceptPlaintext accepts connections that do not start a TLS handshake (permissive: a
	// raw_buffer filter chain beside the TLS one).
	AcceptPlaintext bool
}

// chooseChains picks the filter chain whose HTTP connection manager the listener runs (the TLS
// chain when there is one) and the listener's downstream TLS mode (nil: plaintext only). Several
// chains are accepted only in the permissive shape Envoy and Istio use: one chain matching
// transport_protocol "tls" with a TLS transport socket and one plaintext chain.
func (b *Builder) chooseChains(l *listenerv3.Listener) (int, *DownstreamTLS, error) {
	chains := l.GetFilterChains()
	tlsIdx, plainIdx := -1, -1
	var mode *DownstreamTLS
	for i, fc := range chains {
		ts := fc.GetTransportSocket()
		if ts == nil {
			if plainIdx < 0 {
				plainIdx = i
			}
			continue
		}
		if ts.GetName() != "envoy.transport_sockets.tls" && !strings.HasSuffix(ts.GetTypedConfig().GetTypeUrl(), "DownstreamTlsContext") {
			return 0, nil, fmt.Errorf("filter_chains[%d].transport_socket: unsupported %q (expected envoy.transport_sockets.tls)", i, ts.GetName())
		}
		var d tlsv3.DownstreamTlsContext
		if err := ts.GetTypedConfig().UnmarshalTo(&d); err != nil {
			return 0, nil, fmt.Errorf("filter_chains[%d].transport_socket.typed_config: %w", i, err)
		}
		if err := checkSDSNames(d.GetCommonTlsContext()); err != nil {
			return 0, nil, fmt.Errorf("filter_chains[%d].transport_socket.typed_config.common_tls_context.%w", i, err)
		}
		if b.Upstream.Identity == nil {
			return 0, nil, fmt.Errorf("filter_chains[%d].transport_socket: mTLS needs a workload identity; hint: run the proxy against a control plane that issues certificates (--xds), not --bootstrap", i)
		}
		if tlsIdx < 0 {
			tlsIdx = i
			mode = &DownstreamTLS{RequireClientCert: d.GetRequireClientCertificate().GetValue()}
		}
	}
	switch {
	case tlsIdx < 0:
		if len(chains) > 1 {
			b.Log.Warn("listener has several filter chains; only the first is used", "listener", l.GetName())
		}
		return 0, nil, nil
	case plainIdx >= 0:
		mode.AcceptPlaintext = true
	}
	if len(chains) > 2 {
		b.Log.Warn("listener has more than a TLS and a plaintext filter chain; the others are ignored", "listener", l.GetName())
	}
	return tlsIdx, mode, nil
}

// checkSDSNames accepts the secrets the control plane issues ("default", "ROOTCA"); inline
// certificates on listeners are not supported.
func checkSDSNames(c *tlsv3.CommonTlsContext) error {
	if len(c.GetTlsCertificates()) > 0 {
		return fmt.Errorf("tls_certificates: inline certificates are not supported; expected tls_certificate_sds_secret_configs [%q]", identity.CertSecret)
	}
	for i, s := range c.GetTlsCertificateSdsSecretConfigs() {
		if s.GetName() != identity.CertSecret {
			return fmt.Errorf("tls_certificate_sds_secret_configs[%d].name: unknown secret %q; expected %q", i, s.GetName(), identity.CertSecret)
		}
	}
	if n := ValidationSecretName(c); n != "" && n != identity.RootSecret {
		return fmt.Errorf("validation_context_sds_secret_config.name: unknown secret %q; expected %q", n, identity.RootSecret)
	}
	return nil
}

// ValidationSecretName returns the SDS validation context's name (plain or combined), "" if none.
func ValidationSecretName(c *tlsv3.CommonTlsContext) string {
	if v := c.GetValidationContextSdsSecretConfig(); v != nil {
		return v.GetName()
	}
	return c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig().GetName()
}

// applySecrets installs the SDS secrets into the identity store: the roots ("ROOTCA" validation
// context) first, then the certificate chain ("default"). Unknown secrets are ignored.
func (b *Builder) applySecrets(secrets []*tlsv3.Secret) error {
	if len(secrets) == 0 {
		return nil
	}
	if b.Upstream.Identity == nil {
		b.Log.Warn("ignoring SDS secrets: the proxy has no workload identity")
		return nil
	}
	for i, s := range secrets {
		if s.GetName() != identity.RootSecret {
			continue
		}
		pemBytes, err := dataSource(s.GetValidationContext().GetTrustedCa())
		if err == nil {
			err = b.Upstream.Identity.SetRoots(pemBytes)
		}
		if err != nil {
			return fmt.Errorf("secret[%d] %q: validation_context.trusted_ca: %w", i, s.GetName(), err)
		}
	}
	for i, s := range secrets {
		switch s.GetName() {
		case identity.RootSecret:
		case identity.CertSecret:
			pemBytes, err := dataSource(s.GetTlsCertificate().GetCertificateChain())
			if err != nil {
				return fmt.Errorf("secret[%d] %q: tls_certificate.certificate_chain: %w", i, s.GetName(), err)
			}
			if pk := s.GetTlsCertificate().GetPrivateKey(); pk != nil {
				// A static key pair (bootstrap): the key comes with the certificate.
				keyPEM, err := dataSource(pk)
				if err == nil {
					err = b.Upstream.Identity.SetKeyPair(pemBytes, keyPEM)
				}
				if err != nil {
					return fmt.Errorf("secret[%d] %q: %w", i, s.GetName(), err)
				}
				continue
			}
			if c := b.Upstream.Identity.Certificate(); c != nil && samePEM(c.Certificate, pemBytes) {
				continue
			}
			if err := b.Upstream.Identity.SetCertificate(pemBytes); err != nil {
				return fmt.Errorf("secret[%d] %q: tls_certificate.%w", i, s.GetName(), err)
			}
		default:
			b.Log.Warn("ignoring unknown SDS secret", "secret", s.GetName())
		}
	}
	return nil
}

// dataSource reads an inline or file data source.
func dataSource(d *corev3.DataSource) ([]byte, error) {
	switch {
	case d == nil:
		return nil, fmt.Errorf("missing")
	case len(d.GetInlineBytes()) > 0:
		return d.GetInlineBytes(), nil
	case d.GetInlineString() != "":
		return []byte(d.GetInlineString()), nil
	case d.GetFilename() != "":
		b, err := os.ReadFile(d.GetFilename())
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("expected inline_bytes, inline_string or filename")
}

// samePEM reports whether pemBytes encodes exactly the DER chain.
func samePEM(chain [][]byte, pemBytes []byte) bool {
	var got [][]byte
	rest := pemBytes
	for {
		blk, r := pemDecode(rest)
		if blk == nil {
			break
		}
		got = append(got, blk)
		rest = r
	}
	if len(got) != len(chain) {
		return false
	}
	for i := range got {
		if string(got[i]) != string(chain[i]) {
			return false
		}
	}
	return true
}

func pemDecode(b []byte) ([]byte, []byte) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, nil
	}
	return blk.Bytes, rest
}

// usesMTLS reports whether a listener or cluster of the table needs the workload certificate.
func (t *Table) usesMTLS() bool {
	for _, l := range t.Listeners {
		if l.TLS != nil {
			return true
		}
	}
	for _, c := range t.Clusters {
		if c.MeshTLS() {
			return true
		}
	}
	return false
}
