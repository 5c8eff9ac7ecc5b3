package meshca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
)

func csr(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"ignored.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestLoadOrCreatePersistsPrivately: the first start creates the CA and the token with mode 0600,
// the second loads the same CA.
func TestLoadOrCreatePersistsPrivately(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mesh-ca")
	ca, created, err := meshca.LoadOrCreate(dir, "example.org")
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	for _, f := range []string{meshca.CertFile, meshca.KeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	again, created, err := meshca.LoadOrCreate(dir, "example.org")
	if err != nil || created || !again.Root().Equal(ca.Root()) {
		t.Fatalf("second start: created=%v err=%v same=%v", created, err, again.Root().Equal(ca.Root()))
	}
	if pub, ok := ca.Root().PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("root key %T, want ECDSA P-256", ca.Root().PublicKey)
	}
	tok, created, err := meshca.LoadOrCreateToken(filepath.Join(dir, meshca.TokenFile))
	if err != nil || !created || !strings.HasPrefix(tok, "trellis-join-") {
		t.Fatalf("token %q created=%v err=%v", tok, created, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, meshca.TokenFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("join-token mode %v, want 0600", st.Mode().Perm())
	}
	if again, _, _ := meshca.LoadOrCreateToken(filepath.Join(dir, meshca.TokenFile)); again != tok {
		t.Error("the join token changed on the second start")
	}
	if !meshca.TokenEqual(tok, tok) || meshca.TokenEqual(tok+"x", tok) || meshca.TokenEqual("", "") {
		t.Error("TokenEqual")
	}
}

// TestSignIssuesSPIFFEWorkloadCertificates: only the SPIFFE URI SAN the control plane chose, client
// and server auth, the requested lifetime, chained to the root.
func TestSignIssuesSPIFFEWorkloadCertificates(t *testing.T) {
	ca, err := meshca.Generate("")
	if err != nil {
		t.Fatal(err)
	}
	id := meshca.SPIFFEID("", "shop", "reviews")
	if id != "spiffe://cluster.local/ns/shop/sa/reviews" {
		t.Fatalf("SPIFFEID = %q", id)
	}
	chain, notAfter, err := ca.Sign(csr(t), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(chain)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id || len(leaf.DNSNames) != 0 {
		t.Errorf("names: URIs %v DNS %v, want only %s", leaf.URIs, leaf.DNSNames, id)
	}
	if d := time.Until(notAfter); d < 59*time.Minute || d > time.Hour || !leaf.NotAfter.Equal(notAfter.Truncate(time.Second)) && leaf.NotAfter.Sub(notAfter) > time.Second {
		t.Errorf("not after %v", notAfter)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			t.Errorf("verify for %v: %v", u, err)
		}
	}
	if _, _, err := ca.Sign([]byte("junk"), id, 0); err == nil {
		t.Error("a malformed CSR was signed")
	}
	if _, _, err := ca.Sign(csr(t), "https://not-spiffe", 0); err == nil {
		t.Error("a non-SPIFFE identity was signed")
	}
}

// TestBringYourOwnCA: Parse accepts a CA whose key matches and rejects a mismatched key.
func TestBringYourOwnCA(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := meshca.LoadOrCreate(dir, ""); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, _, err := meshca.LoadOrCreate(other, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := meshca.Load(filepath.Join(dir, meshca.CertFile), filepath.Join(dir, meshca.KeyFile)); err != nil {
		t.Fatalf("own CA: %v", err)
	}
	if _, err := meshca.Load(filepath.Join(dir, meshca.CertFile), filepath.Join(other, meshca.KeyFile)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key: %v", err)
	}
}
