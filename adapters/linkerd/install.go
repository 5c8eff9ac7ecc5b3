package linkerd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
)

var _ adapters.Installer = (*Adapter)(nil)

// DefaultChartVersion is the Linkerd edge chart version installed by default (edge-26.8.3).
const DefaultChartVersion = "2026.8.3"

// Charts returns Linkerd's CRD and control-plane charts. Linkerd needs an identity trust anchor
// and issuer: Charts generates them (ECDSA P-256, the anchor valid 10 years, the issuer 1 year)
// as `linkerd install` and the Linkerd docs' step commands do.
func (a *Adapter) Charts(opts adapters.InstallOptions) ([]adapters.Chart, error) {
	v := opts.Version
	if v == "" {
		v = DefaultChartVersion
	}
	td := opts.TrustDomainOrDefault()
	anchorPEM, issuerPEM, issuerKeyPEM, err := identityCerts(td, time.Now())
	if err != nil {
		return nil, fmt.Errorf("generating linkerd identity certificates: %w", err)
	}
	const repo = "https://helm.linkerd.io/edge"
	return []adapters.Chart{
		{Repo: repo, Name: "linkerd-crds", Version: v, Release: "linkerd-crds", Namespace: "linkerd"},
		{Repo: repo, Name: "linkerd-control-plane", Version: v, Release: "linkerd-control-plane", Namespace: "linkerd",
			Values: map[string]any{
				"identityTrustDomain":     td,
				"identityTrustAnchorsPEM": anchorPEM,
				"identity": map[string]any{"issuer": map[string]any{"tls": map[string]any{
					"crtPEM": issuerPEM, "keyPEM": issuerKeyPEM,
				}}},
			}},
	}, nil
}

// identityCerts creates a trust anchor (root.linkerd.<td>) and an identity issuer
// (identity.linkerd.<td>) signed by it.
func identityCerts(trustDomain string, now time.Time) (anchor, issuer, issuerKey string, err error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root.linkerd." + trustDomain},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return "", "", "", err
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return "", "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	iss := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "identity.linkerd." + trustDomain},
		NotBefore: now.Add(-time.Minute), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
	}
	issDER, err := x509.CreateCertificate(rand.Reader, iss, rootCert, &key.PublicKey, rootKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", "", err
	}
	enc := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return enc("CERTIFICATE", rootDER), enc("CERTIFICATE", issDER), enc("EC PRIVATE KEY", keyDER), nil
}
