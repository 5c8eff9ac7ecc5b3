// Package meshca is the bundled mesh's certificate authority: an ECDSA P-256 root that signs
// short-lived workload certificates whose only name is a SPIFFE URI SAN
// (spiffe://<trust-domain>/ns/<namespace>/sa/<identity>), and the join token that authorises a
// proxy to ask for one.
//
// Delivery is CSR based: a proxy generates its private key, sends a certificate signing request
// in its xDS node metadata and receives the signed certificate chain as an SDS Secret. The CA
// never sees, stores or logs workload private keys; only the CSR's public key is used (its subject
// and extensions are ignored: the identity in the certificate is the one the control plane
// authorised for the node). Rotation re-signs the same public key before half of the certificate's
// lifetime has passed; the proxy's key itself changes every time the proxy starts.
//
// The root is generated on first start and persisted (ca-cert.pem, ca-key.pem, mode 0600 in a
// 0700 directory) or loaded from files an operator provides (bring your own CA, which may be an
// intermediate of an organisation's PKI).
package meshca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside a CA directory.
const (
	// CertFile is the root certificate (PEM).
	CertFile = "ca-cert.pem"
	// KeyFile is the root's private key (PKCS#8 PEM), mode 0600.
	KeyFile = "ca-key.pem"
	// TokenFile is the join token proxies present (mode 0600).
	TokenFile = "join-token"
)

// DefaultTTL is the lifetime of a workload certificate.
const DefaultTTL = 24 * time.Hour

// CA signs workload certificates.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// Generate creates a new self-signed ECDSA P-256 root valid for ten years.
func Generate(trustDomain string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the mesh CA key: %w", err)
	}
	serial, err := randSerial()
	if err != nil {
		return nil, err
	}
	td := trustDomainOr(trustDomain)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Trellis mesh"}, CommonName: "Trellis mesh root CA (" + td + ")"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: td}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-signing the mesh CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Load reads a CA from a PEM certificate and a PEM private key (PKCS#8, PKCS#1 or SEC 1). The
// certificate must be a CA certificate matching the key.
func Load(certPath, keyPath string) (*CA, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("reading the mesh CA certificate: %w", err)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading the mesh CA key: %w", err)
	}
	return Parse(cb, kb)
}

// Parse builds a CA from PEM bytes (see Load).
func Parse(certPEM, keyPEM []byte) (*CA, error) {
	cblk, _ := pem.Decode(certPEM)
	if cblk == nil || cblk.Type != "CERTIFICATE" {
		return nil, errors.New("mesh CA certificate: expected a PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("mesh CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("mesh CA certificate: not a CA certificate (basicConstraints CA:TRUE expected)")
	}
	kblk, _ := pem.Decode(keyPEM)
	if kblk == nil {
		return nil, errors.New("mesh CA key: expected a PEM private key block")
	}
	var key any
	switch kblk.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kblk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kblk.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kblk.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("mesh CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("mesh CA key: unsupported key type %T", key)
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, errors.New("mesh CA key: does not match the CA certificate's public key")
	}
	return &CA{cert: cert, key: signer, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cblk.Bytes})}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// LoadOrCreate loads the CA persisted in dir, or generates one and persists it (directory 0700,
// files 0600) when dir holds none.
func LoadOrCreate(dir, trustDomain string) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		ca, err := Load(certPath, keyPath)
		return ca, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating the mesh CA directory: %w", err)
	}
	ca, err = Generate(trustDomain)
	if err != nil {
		return nil, false, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, false, fmt.Errorf("encoding the mesh CA key: %w", err)
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})); err != nil {
		return nil, false, err
	}
	if err := writeFile(certPath, ca.certPEM); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// writeFile writes data with mode 0600 (also when the file existed with a wider mode).
func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("restricting %s: %w", path, err)
	}
	return nil
}

// RootPEM returns the root certificate (PEM), the trust anchor proxies verify peers against.
func (c *CA) RootPEM() []byte { return c.certPEM }

// Root returns the parsed root certificate.
func (c *CA) Root() *x509.Certificate { return c.cert }

// Sign issues a workload certificate for the CSR's public key with spiffeID as its only URI SAN,
// valid for ttl (DefaultTTL when 0) and usable for TLS server and client authentication. The CSR's
// self-signature is checked (proof of possession); its requested names are ignored. The returned
// chain is PEM: the leaf, then the CA certificate when the CA is an intermediate.
func (c *CA) Sign(csrDER []byte, spiffeID string, ttl time.Duration) (chainPEM []byte, notAfter time.Time, err error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("parsing the certificate signing request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, time.Time{}, fmt.Errorf("certificate signing request: bad self-signature: %w", err)
	}
	u, err := ParseSPIFFE(spiffeID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	serial, err := randSerial()
	if err != nil {
		return nil, time.Time{}, err
	}
	now := time.Now()
	notAfter = now.Add(ttl)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Trellis mesh"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("signing the workload certificate for %s: %w", spiffeID, err)
	}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if !isSelfSigned(c.cert) {
		chain = append(chain, c.certPEM...)
	}
	return chain, notAfter, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil
}

// SPIFFEID returns spiffe://<trust-domain>/ns/<namespace>/sa/<identity>, the principal format
// the adapters use.
func SPIFFEID(trustDomain, namespace, identity string) string {
	return "spiffe://" + trustDomainOr(trustDomain) + "/ns/" + namespace + "/sa/" + identity
}

// ParseSPIFFE checks that s is a SPIFFE ID (spiffe://<trust-domain>/<path>).
func ParseSPIFFE(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "spiffe" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !strings.HasPrefix(u.Path, "/") {
		return nil, fmt.Errorf("SPIFFE ID %q: expected spiffe://<trust-domain>/ns/<namespace>/sa/<identity>", s)
	}
	return u, nil
}

func trustDomainOr(td string) string {
	if td == "" {
		return "cluster.local"
	}
	return td
}

func randSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a certificate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// NewToken returns a random join token (32 bytes, URL-safe base64).
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a join token: %w", err)
	}
	return "trellis-join-" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// LoadOrCreateToken reads the join token stored at path, or creates one there (mode 0600).
func LoadOrCreateToken(path string) (token string, created bool, err error) {
	if b, err := os.ReadFile(path); err == nil {
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", false, fmt.Errorf("join token file %s is empty; hint: delete it to generate a new token", path)
		}
		return t, false, nil
	}
	t, err := NewToken()
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("creating the join token directory: %w", err)
	}
	if err := writeFile(path, []byte(t+"\n")); err != nil {
		return "", false, err
	}
	return t, true, nil
}

// ReadToken reads a join token file (surrounding whitespace trimmed).
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the join token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("join token file %s is empty", path)
	}
	return t, nil
}

// TokenEqual compares a presented token with the expected one in constant time.
func TokenEqual(presented, expected string) bool {
	a := sha256.Sum256([]byte(presented))
	b := sha256.Sum256([]byte(expected))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && expected != ""
}
