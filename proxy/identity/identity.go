// Package identity holds the proxy's workload identity for mTLS between sidecars: the private key
// it generates at start (never sent anywhere, never logged), the certificate signing request it
// sends to the control plane in its node metadata, and the certificate chain and trust anchors the
// control plane returns as SDS Secrets ("default" and "ROOTCA").
//
// The current certificate and roots are swapped atomically, and TLS configurations read them per
// handshake (GetCertificate, GetClientCertificate, VerifyConnection), so a rotation never touches
// established connections or in-flight requests.
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Secret names of the SDS resources, as Istio names them.
const (
	// CertSecret is the workload certificate chain (+ key held locally).
	CertSecret = "default"
	// RootSecret is the validation context holding the mesh root(s).
	RootSecret = "ROOTCA"
)

// Store is the proxy's identity: its key pair and the current certificate and trust anchors.
type Store struct {
	key   *ecdsa.PrivateKey
	csr   []byte
	cert  atomic.Pointer[tls.Certificate]
	roots atomic.Pointer[x509.CertPool]
	id    atomic.Pointer[string]
}

// New generates an ECDSA P-256 key and a CSR for spiffeID (the control plane decides the
// certificate's actual identity; the CSR only proves possession of the key).
func New(spiffeID string) (*Store, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the workload key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: spiffeID}}, key)
	if err != nil {
		return nil, fmt.Errorf("creating the certificate signing request: %w", err)
	}
	return &Store{key: key, csr: csr}, nil
}

// CSR returns the certificate signing request, base64 (standard encoding) of its DER, as sent in
// the node metadata.
func (s *Store) CSR() string { return base64.StdEncoding.EncodeToString(s.csr) }

// SetCertificate installs a PEM certificate chain signed for the store's key. The leaf must carry
// a SPIFFE URI SAN and match the private key; when roots are known the chain must verify.
func (s *Store) SetCertificate(chainPEM []byte) error {
	var chain [][]byte
	rest := chainPEM
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		return errors.New("certificate_chain: no PEM certificate found")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return fmt.Errorf("certificate_chain: %w", err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&s.key.PublicKey) {
		return errors.New("certificate_chain: the certificate is not for this proxy's key (was it signed for another instance?)")
	}
	id := SPIFFEOf(leaf)
	if id == "" {
		return errors.New("certificate_chain: the certificate has no spiffe:// URI SAN")
	}
	if roots := s.roots.Load(); roots != nil {
		var inter []*x509.Certificate
		for _, der := range chain[1:] {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("certificate_chain: %w", err)
			}
			inter = append(inter, c)
		}
		if _, err := verify(leaf, inter, roots, x509.ExtKeyUsageClientAuth, time.Now()); err != nil {
			return fmt.Errorf("certificate_chain: does not verify against the mesh roots: %w", err)
		}
	}
	s.cert.Store(&tls.Certificate{Certificate: chain, PrivateKey: s.key, Leaf: leaf})
	s.id.Store(&id)
	return nil
}

// SetKeyPair installs a certificate chain with its own private key (PEM), for static
// configurations (a bootstrap's secrets) where no control plane signs the proxy's key.
func (s *Store) SetKeyPair(chainPEM, keyPEM []byte) error {
	c, err := tls.X509KeyPair(chainPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("tls_certificate: %w", err)
	}
	id := SPIFFEOf(c.Leaf)
	if id == "" {
		return errors.New("tls_certificate.certificate_chain: the certificate has no spiffe:// URI SAN")
	}
	s.cert.Store(&c)
	s.id.Store(&id)
	return nil
}

// SetRoots installs the trust anchors (PEM).
func (s *Store) SetRoots(pemBytes []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return errors.New("trusted_ca: no PEM certificate found")
	}
	s.roots.Store(pool)
	return nil
}

// Ready reports whether a certificate and roots are installed.
func (s *Store) Ready() bool { return s.cert.Load() != nil && s.roots.Load() != nil }

// ID returns the SPIFFE ID of the current certificate ("" before one is installed).
func (s *Store) ID() string {
	if p := s.id.Load(); p != nil {
		return *p
	}
	return ""
}

// NotAfter returns the current certificate's expiry (zero before one is installed).
func (s *Store) NotAfter() time.Time {
	if c := s.cert.Load(); c != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

// Certificate returns the current certificate (nil before one is installed).
func (s *Store) Certificate() *tls.Certificate { return s.cert.Load() }

var errNoCert = errors.New("mTLS: no workload certificate from the control plane yet")

// ServerConfig returns the inbound TLS configuration: TLS 1.3, the current certificate, and a
// client certificate required and verified against the current roots. The verified peer's SPIFFE
// ID is read with PeerID after the handshake.
func (s *Store) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:                  tls.VersionTLS13,
		NextProtos:                  []string{"h2", "http/1.1"},
		DynamicRecordSizingDisabled: true, // full records from the start: keep-alive RPCs between sidecars
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := s.cert.Load(); c != nil {
				return c, nil
			}
			return nil, errNoCert
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := s.verifyPeer(cs, x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// ClientConfig returns the TLS configuration for connections to peer proxies: TLS 1.3, the current
// certificate as client certificate, and the server's chain verified against the current roots
// with a SPIFFE ID in allowed (any mesh identity when allowed is empty).
func (s *Store) ClientConfig(allowed []string) *tls.Config {
	allowed = slices.Clone(allowed)
	return &tls.Config{
		MinVersion:                  tls.VersionTLS13,
		DynamicRecordSizingDisabled: true,
		InsecureSkipVerify:          true, //nolint:gosec // verified in VerifyConnection against the rotating mesh roots and SPIFFE IDs
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := s.cert.Load(); c != nil {
				return c, nil
			}
			return nil, errNoCert
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := s.verifyPeer(cs, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if len(allowed) > 0 && !slices.Contains(allowed, id) {
				return fmt.Errorf("mTLS: peer identity %s is not one allowed for this destination %v", id, allowed)
			}
			return nil
		},
	}
}

// verifyPeer checks the peer chain against the current roots and returns its SPIFFE ID.
func (s *Store) verifyPeer(cs tls.ConnectionState, usage x509.ExtKeyUsage) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", errors.New("mTLS: the peer sent no certificate")
	}
	roots := s.roots.Load()
	if roots == nil {
		return "", errors.New("mTLS: no mesh roots from the control plane yet")
	}
	return verify(cs.PeerCertificates[0], cs.PeerCertificates[1:], roots, usage, time.Now())
}

func verify(leaf *x509.Certificate, inter []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) (string, error) {
	var pool *x509.CertPool
	if len(inter) > 0 {
		pool = x509.NewCertPool()
		for _, c := range inter {
			pool.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return "", fmt.Errorf("mTLS: peer certificate: %w", err)
	}
	id := SPIFFEOf(leaf)
	if id == "" {
		return "", errors.New("mTLS: peer certificate has no spiffe:// URI SAN")
	}
	return id, nil
}

// SPIFFEOf returns the first spiffe:// URI SAN of a certificate ("" when none).
func SPIFFEOf(c *x509.Certificate) string {
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

// PeerID returns the SPIFFE ID of a verified TLS peer ("" when the peer sent no certificate).
func PeerID(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return SPIFFEOf(cs.PeerCertificates[0])
}
