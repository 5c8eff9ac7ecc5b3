package perf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"fortio.org/fortio/fhttp"
)

// TLS configures the load generator's TLS connections to an https target.
type TLS struct {
	// CertFile and KeyFile are the PEM client certificate (chain) and private key presented to
	// the target, for mutual TLS. Both or neither.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// CAFile holds the PEM roots that verify the target's certificate. Required unless Insecure.
	CAFile string `json:"caFile,omitempty"`
	// ServerID, when set, is the URI SAN (a SPIFFE ID such as
	// spiffe://cluster.local/ns/shop/sa/reviews) the target's certificate must carry, instead of
	// a DNS name or IP matching the URL's host. The load generator (fortio) can only verify names,
	// so the ID and the chain are checked by a handshake before the run; fortio's own
	// connections to the same loopback address then skip verification.
	ServerID string `json:"serverID,omitempty"`
	// Insecure skips verifying the target's certificate (a client certificate is still sent).
	Insecure bool `json:"insecure,omitempty"`
}

// validate checks the settings' consistency and that the files are readable.
func (t *TLS) validate() error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, fmt.Errorf("profile.tls: certFile %q and keyFile %q must be given together", t.CertFile, t.KeyFile))
	}
	if t.CAFile == "" && !t.Insecure {
		errs = append(errs, errors.New("profile.tls.caFile: required to verify the target; hint: set insecure: true to skip verification"))
	}
	if t.ServerID != "" {
		if u, err := url.Parse(t.ServerID); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("profile.tls.serverID: %q is not a URI; expected a SPIFFE ID such as spiffe://cluster.local/ns/shop/sa/reviews", t.ServerID))
		}
		if t.Insecure {
			errs = append(errs, errors.New("profile.tls.serverID: cannot be checked with insecure: true; expected one of them"))
		}
	}
	return errors.Join(errs...)
}

// config builds the crypto/tls configuration of the pre-run check (TLS 1.2 or later, as fortio
// uses); serverName is the name or IP verified when ServerID is empty.
func (t *TLS) config(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: t.Insecure || t.ServerID != ""}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("profile.tls: loading the client certificate %s / key %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pemBytes, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("profile.tls.caFile: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("profile.tls.caFile: %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = roots
	}
	if t.ServerID != "" {
		want := t.ServerID
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the target sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			leaf := cs.PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				return fmt.Errorf("verifying the target's certificate: %w", err)
			}
			var got []string
			for _, u := range leaf.URIs {
				if u.String() == want {
					return nil
				}
				got = append(got, u.String())
			}
			return fmt.Errorf("the target's certificate names %v, expected the URI SAN %s", got, want)
		}
	}
	return cfg, nil
}

// checkTLS completes one TLS handshake with the target at addr (the pinned loopback address),
// verifying its certificate as configured and that it accepts the client certificate (TLS 1.3
// servers report a refused client certificate after the handshake, hence the read).
func checkTLS(ctx context.Context, t *TLS, serverName, addr string) error {
	cfg, err := t.config(serverName)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("profile.tls: handshake with %s: %w", addr, err)
	}
	defer c.Close()
	// A TLS 1.3 server rejects a client certificate after the client's handshake completed: a
	// short read surfaces that alert (a timeout means the connection was kept: accepted).
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return fmt.Errorf("profile.tls: %s closed the connection after the handshake (client certificate refused?): %w", addr, err)
		}
	}
	return nil
}

// fortioTLS maps the settings to fortio's options. With ServerID fortio skips verification: the
// pre-run check verified the ID (fortio can only check names).
func (t *TLS) fortioTLS() fhttp.TLSOptions {
	return fhttp.TLSOptions{Cert: t.CertFile, Key: t.KeyFile, CACert: t.CAFile, Insecure: t.Insecure || t.ServerID != ""}
}
