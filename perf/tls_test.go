package perf_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/perf"
)

// mtlsServer starts an HTTPS server with a SPIFFE certificate of reviews.shop that requires a
// client certificate of the mesh CA and records the callers' SPIFFE IDs; it returns the server
// and the files of a client certificate (frontend.shop) and the CA root.
func mtlsServer(t *testing.T) (*httptest.Server, *perf.TLS, func() []string) {
	t.Helper()
	cp := controlplane.New(controlplane.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	serverCert, err := cp.IssueKeyPair("shop", "reviews", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := cp.IssueKeyPair("shop", "frontend", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(cp.CA().RootPEM())
	var mu sync.Mutex
	var callers []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if len(callers) < 5 && len(r.TLS.PeerCertificates) > 0 && len(r.TLS.PeerCertificates[0].URIs) > 0 {
			callers = append(callers, r.TLS.PeerCertificates[0].URIs[0].String())
		}
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{serverCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	var chain []byte
	for _, der := range clientCert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(clientCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	creds := &perf.TLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), CAFile: filepath.Join(dir, "ca.pem")}
	for path, data := range map[string][]byte{creds.CertFile: chain, creds.KeyFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), creds.CAFile: cp.CA().RootPEM()} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return srv, creds, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), callers...)
	}
}

func TestRunMutualTLSWithSPIFFEServerID(t *testing.T) {
	srv, creds, callers := mtlsServer(t)
	creds.ServerID = "spiffe://cluster.local/ns/shop/sa/reviews"
	res, err := perf.Run(context.Background(), perf.Profile{Name: "mtls", URL: srv.URL + "/", TLS: creds, Connections: 2, Requests: 40}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 40 || res.Errors != 0 {
		t.Fatalf("requests %d errors %d %v, want 40 without errors", res.Requests, res.Errors, res.ErrorCodes)
	}
	got := callers()
	if len(got) == 0 || got[0] != "spiffe://cluster.local/ns/shop/sa/frontend" {
		t.Errorf("server saw callers %v, want the client certificate's spiffe://cluster.local/ns/shop/sa/frontend", got)
	}
}

func TestRunMutualTLSRefusals(t *testing.T) {
	srv, creds, _ := mtlsServer(t)
	cases := []struct {
		name string
		tls  func(perf.TLS) *perf.TLS
		want string
	}{
		{"wrong server ID", func(c perf.TLS) *perf.TLS {
			c.ServerID = "spiffe://cluster.local/ns/shop/sa/ratings"
			return &c
		}, "expected the URI SAN spiffe://cluster.local/ns/shop/sa/ratings"},
		// The server's certificate has a URI SAN only: a name check of 127.0.0.1 fails.
		{"name check without server ID", func(c perf.TLS) *perf.TLS { return &c }, "127.0.0.1"},
		{"no client certificate", func(c perf.TLS) *perf.TLS {
			c.CertFile, c.KeyFile, c.ServerID = "", "", "spiffe://cluster.local/ns/shop/sa/reviews"
			return &c
		}, "client certificate refused"},
		{"missing CA file", func(c perf.TLS) *perf.TLS {
			c.CAFile = filepath.Join(t.TempDir(), "none.pem")
			c.ServerID = "spiffe://cluster.local/ns/shop/sa/reviews"
			return &c
		}, "profile.tls.caFile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := perf.Run(context.Background(), perf.Profile{URL: srv.URL + "/", TLS: tc.tls(*creds), Connections: 1, Requests: 5}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestProfileTLSValidation(t *testing.T) {
	cases := []struct {
		p    perf.Profile
		want string
	}{
		{perf.Profile{URL: "https://127.0.0.1:8443/"}, "profile.tls: required for the https URL"},
		{perf.Profile{URL: "http://127.0.0.1:8080/", TLS: &perf.TLS{Insecure: true}}, "set for the plaintext URL"},
		{perf.Profile{URL: "https://127.0.0.1:8443/", TLS: &perf.TLS{CertFile: "c.pem", CAFile: "ca.pem"}}, "must be given together"},
		{perf.Profile{URL: "https://127.0.0.1:8443/", TLS: &perf.TLS{CertFile: "c.pem", KeyFile: "k.pem"}}, "profile.tls.caFile: required"},
		{perf.Profile{URL: "https://127.0.0.1:8443/", TLS: &perf.TLS{CAFile: "ca.pem", ServerID: "reviews"}}, "is not a URI"},
		{perf.Profile{URL: "https://127.0.0.1:8443/", TLS: &perf.TLS{Insecure: true, ServerID: "spiffe://cluster.local/ns/a/sa/b"}}, "cannot be checked with insecure"},
		{perf.Profile{URL: "ftp://127.0.0.1/"}, `scheme "ftp" is not supported`},
	}
	for _, tc := range cases {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.p, err, tc.want)
		}
	}
	if err := (perf.Profile{URL: "https://127.0.0.1:8443/", TLS: &perf.TLS{CAFile: "ca.pem", ServerID: "spiffe://cluster.local/ns/a/sa/b"}}).Validate(); err != nil {
		t.Errorf("valid https profile: %v", err)
	}
}
