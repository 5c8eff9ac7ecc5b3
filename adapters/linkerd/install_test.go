package linkerd

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
)

// TestChartsIdentity checks that the generated issuer chains to the trust anchor and is a CA for
// the configured trust domain, as Linkerd's identity controller requires.
func TestChartsIdentity(t *testing.T) {
	charts, err := New().Charts(adapters.InstallOptions{TrustDomain: "prod.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) != 2 || charts[0].Name != "linkerd-crds" || charts[1].Name != "linkerd-control-plane" {
		t.Fatalf("charts: %+v", charts)
	}
	v := charts[1].Values
	parse := func(s string) *x509.Certificate {
		b, _ := pem.Decode([]byte(s))
		if b == nil {
			t.Fatalf("not PEM: %q", s)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	anchor := parse(v["identityTrustAnchorsPEM"].(string))
	tls := v["identity"].(map[string]any)["issuer"].(map[string]any)["tls"].(map[string]any)
	issuer := parse(tls["crtPEM"].(string))
	if _, err := x509.ParseECPrivateKey(func() []byte { b, _ := pem.Decode([]byte(tls["keyPEM"].(string))); return b.Bytes }()); err != nil {
		t.Fatalf("issuer key: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(anchor)
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("issuer does not chain to the anchor: %v", err)
	}
	if !issuer.IsCA || issuer.Subject.CommonName != "identity.linkerd.prod.example" || v["identityTrustDomain"] != "prod.example" {
		t.Fatalf("issuer: CA=%v CN=%s", issuer.IsCA, issuer.Subject.CommonName)
	}
	if time.Until(issuer.NotAfter) < 300*24*time.Hour {
		t.Errorf("issuer expires too soon: %s", issuer.NotAfter)
	}
}
