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
)

// parseTransportSocket turns an envoy.transport_sockets.tls UpstreamTlsContext into a client TLS
// configuration (nil for plaintext). Without a validation context the peer is not verified, as in
// Envoy; with one, the chain is checked against trusted_ca (or the system roots) and the server
// name, and the certificate must carry one of the listed DNS subject alt names.
func parseTransportSocket(ts *corev3.TransportSocket) (*tls.Config, error) {
	if ts == nil {
		return nil, nil
	}
	if ts.GetName() != "envoy.transport_sockets.tls" && ts.GetTypedConfig().GetTypeUrl() != "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext" {
		return nil, fmt.Errorf("transport_socket: unsupported %q (expected envoy.transport_sockets.tls)", ts.GetName())
	}
	var u tlsv3.UpstreamTlsContext
	if err := ts.GetTypedConfig().UnmarshalTo(&u); err != nil {
		return nil, fmt.Errorf("transport_socket.typed_config: %w", err)
	}
	cfg := &tls.Config{ServerName: u.GetSni(), MinVersion: tls.VersionTLS12}
	vc := u.GetCommonTlsContext().GetValidationContext()
	if vc == nil {
		cfg.InsecureSkipVerify = true //nolint:gosec // Envoy semantics: no validation context, no verification
		return cfg, nil
	}
	if ca := vc.GetTrustedCa(); ca != nil {
		var pem []byte
		switch {
		case ca.GetFilename() != "":
			b, err := os.ReadFile(ca.GetFilename())
			if err != nil {
				return nil, fmt.Errorf("transport_socket.common_tls_context.validation_context.trusted_ca: %w", err)
			}
			pem = b
		case ca.GetInlineString() != "":
			pem = []byte(ca.GetInlineString())
		case len(ca.GetInlineBytes()) > 0:
			pem = ca.GetInlineBytes()
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("transport_socket.common_tls_context.validation_context.trusted_ca: no PEM certificate found")
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
	return cfg, nil
}

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
