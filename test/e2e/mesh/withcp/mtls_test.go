package withcp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/proxy"
	"github.com/trellis-mesh/trellis/spec"
)

// meshDesign: frontend and ratings call reviews; with the frontendOnly rule only frontend may.
// reviews' mTLS mode and the default policy are set per test.
const meshDesign = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: tls, namespace: mesh}
spec:
  services:
    - {name: frontend, ports: [{port: 8080}]}
    - {name: ratings, ports: [{port: 8080}]}
    - {name: reviews, ports: [{port: 9080}]}
  security:
    mtls: strict
    mtlsOverrides: [{service: reviews, mode: MODE}]
    defaultPolicy: POLICY
ACCESS`

// frontendOnly is the access rule of meshDesign: only frontend may call reviews.
const frontendOnly = `    access:
      - {name: frontend-to-reviews, destination: reviews, sources: [frontend]}
`

const (
	frontendID = "spiffe://cluster.local/ns/mesh/sa/frontend"
	reviewsID  = "spiffe://cluster.local/ns/mesh/sa/reviews"
)

// meshEnv is a control plane with a join token, the reviews sidecar in front of an app that
// records the caller identity its sidecar verified, and caller sidecars started on demand.
type meshEnv struct {
	cp      *controlplane.Server
	xds     string
	token   string
	inbound string // reviews' inbound listener
	seen    atomic.Value
	reviews *proxy.Proxy
}

// startMesh starts the mesh of meshDesign; under the default policy deny, with the frontendOnly
// rule, under allow without access rules (an open mesh).
func startMesh(t *testing.T, mode spec.MTLSMode, policy spec.PolicyAction, ttl time.Duration) *meshEnv {
	t.Helper()
	return startMeshRules(t, mode, policy, ttl, policy == spec.ActionDeny)
}

// startMeshRules starts the mesh of meshDesign, with the frontendOnly rule when withRule.
func startMeshRules(t *testing.T, mode spec.MTLSMode, policy spec.PolicyAction, ttl time.Duration, withRule bool) *meshEnv {
	t.Helper()
	access := ""
	if withRule {
		access = frontendOnly
	}
	text := strings.NewReplacer("MODE", string(mode), "POLICY", string(policy), "ACCESS", access).Replace(meshDesign)
	designs, err := spec.LoadBytes("tls.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := meshca.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	env := &meshEnv{token: tok}
	env.seen.Store("")
	env.cp = controlplane.New(controlplane.Options{JoinToken: tok, CertTTL: ttl})
	if _, err := env.cp.SetDesigns(context.Background(), designs); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = env.cp.Serve(ctx, lis) }()
	t.Cleanup(cancel)
	env.xds = lis.Addr().String()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.seen.Store(r.Header.Get("X-Trellis-Peer-Identity"))
		_, _ = io.WriteString(w, "reviews")
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	env.inbound = freeAddr(t)
	env.reviews = env.sidecar(t, "reviews", env.inbound, l.Addr().String(), tok)
	return env
}

// sidecar starts a proxy for service with the join token token and waits until it holds a
// certificate.
func (e *meshEnv) sidecar(t *testing.T, service, inbound, appAddr, token string) *proxy.Proxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if inbound == "" {
		inbound = freeAddr(t)
	}
	cfg := proxy.Config{XDS: e.xds, Service: service, Namespace: "mesh", Identity: service, JoinToken: token,
		Labels: map[string]string{"app": service}, Inbound: inbound, Outbound: freeAddr(t), App: appAddr,
		Admin: "127.0.0.1:0", DrainTimeout: time.Second, Logger: quiet()}
	p, err := proxy.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = p.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for !p.Identity().Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("%s sidecar got no certificate within 10s (xDS: %+v)", service, p.XDSStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	<-p.Ready()
	return p
}

// callReviews calls reviews through a caller sidecar's outbound listener, retrying briefly while
// the mesh converges (endpoints and secrets arrive asynchronously).
func callReviews(t *testing.T, p *proxy.Proxy, hdr map[string]string, want int) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := call(c, p.ListenerAddr("outbound"), "reviews:9080", "/", hdr)
		if code == want || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMTLSBetweenSidecarsCarriesVerifiedIdentity: frontend -> reviews over mTLS; the reviews app
// sees the SPIFFE ID its sidecar verified in frontend's client certificate.
func TestMTLSBetweenSidecarsCarriesVerifiedIdentity(t *testing.T) {
	env := startMesh(t, spec.MTLSStrict, spec.ActionDeny, 0)
	fe := env.sidecar(t, "frontend", "", "127.0.0.1:1", env.token)
	if got := fe.Identity().ID(); got != frontendID {
		t.Fatalf("frontend certificate identity = %q, want %q", got, frontendID)
	}
	if na := fe.Identity().NotAfter(); time.Until(na) < 23*time.Hour || time.Until(na) > 25*time.Hour {
		t.Errorf("frontend certificate expires at %v, want about 24h from now", na)
	}
	if code, body := callReviews(t, fe, nil, 200); code != 200 || body != "reviews" {
		t.Fatalf("frontend -> reviews: %d %q, want 200", code, body)
	}
	if got := env.seen.Load().(string); got != frontendID {
		t.Fatalf("reviews app saw caller %q, want the verified %q", got, frontendID)
	}
	if n := statValue(t, env.reviews.AdminAddr(), "trellis_proxy_downstream_tls_handshakes_total"); n < 1 {
		t.Fatalf("reviews sidecar completed %v mTLS handshakes, want >= 1", n)
	}
}

// TestSpoofedIdentityHeaderDoesNotPassRBAC: ratings (not allowed) sends frontend's identity in
// x-trellis-peer-identity through its sidecar, and straight to the inbound listener over mTLS
// with its own certificate; both are denied: only the verified certificate counts.
func TestSpoofedIdentityHeaderDoesNotPassRBAC(t *testing.T) {
	env := startMesh(t, spec.MTLSStrict, spec.ActionDeny, 0)
	rt := env.sidecar(t, "ratings", "", "127.0.0.1:1", env.token)
	spoof := map[string]string{"X-Trellis-Peer-Identity": frontendID}
	if code, body := callReviews(t, rt, spoof, 403); code != 403 {
		t.Fatalf("ratings -> reviews with a spoofed identity header: %d %q, want 403", code, body)
	}
	c := mtlsClient(t, env, rt.Identity().Certificate())
	req, _ := http.NewRequest(http.MethodGet, "https://"+env.inbound+"/", nil)
	req.Header.Set("X-Trellis-Peer-Identity", frontendID)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("direct mTLS call as ratings with a spoofed header: %d, want 403", resp.StatusCode)
	}
	if got := env.seen.Load().(string); got != "" {
		t.Fatalf("the reviews app was reached by %q", got)
	}
}

// TestStrictInboundRefusesPlaintext: a plaintext HTTP client cannot reach a strict inbound listener.
func TestStrictInboundRefusesPlaintext(t *testing.T) {
	env := startMesh(t, spec.MTLSStrict, spec.ActionAllow, 0)
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + env.inbound + "/")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("plaintext request to a strict inbound listener: got %d, want the connection refused", resp.StatusCode)
	}
	if n := statValue(t, env.reviews.AdminAddr(), "trellis_proxy_downstream_plaintext_refused_total"); n < 1 {
		t.Fatalf("plaintext_refused = %v, want >= 1", n)
	}
}

// TestPermissiveInboundAcceptsBoth: plaintext and mTLS callers both reach a permissive service;
// only the mTLS one carries an identity.
func TestPermissiveInboundAcceptsBoth(t *testing.T) {
	env := startMesh(t, spec.MTLSPermissive, spec.ActionAllow, 0)
	c := &http.Client{Timeout: 3 * time.Second}
	code, body := call(c, env.inbound, "reviews:9080", "/", nil)
	if code != 200 || body != "reviews" {
		t.Fatalf("plaintext -> permissive reviews: %d %q, want 200", code, body)
	}
	if got := env.seen.Load().(string); got != "" {
		t.Fatalf("plaintext caller seen as %q, want anonymous", got)
	}
	fe := env.sidecar(t, "frontend", "", "127.0.0.1:1", env.token)
	if code, body := callReviews(t, fe, nil, 200); code != 200 {
		t.Fatalf("frontend -> permissive reviews: %d %q, want 200", code, body)
	}
	if got := env.seen.Load().(string); got != frontendID {
		t.Fatalf("mTLS caller seen as %q, want %q", got, frontendID)
	}
}

// TestForeignAndExpiredCertificatesRefused: client certificates from another CA, or expired ones
// from the mesh CA, fail the handshake; a valid one from the mesh CA passes (control).
func TestForeignAndExpiredCertificatesRefused(t *testing.T) {
	env := startMesh(t, spec.MTLSStrict, spec.ActionAllow, 0)
	foreign, err := meshca.Generate("cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	get := func(cert *tls.Certificate) error {
		c := mtlsClient(t, env, cert)
		resp, err := c.Get("https://" + env.inbound + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := get(issue(t, foreign, frontendID, time.Hour)); err == nil {
		t.Fatal("a certificate from a foreign CA was accepted")
	}
	expired := issue(t, env.cp.CA(), frontendID, time.Second)
	time.Sleep(1200 * time.Millisecond)
	if err := get(expired); err == nil {
		t.Fatal("an expired certificate was accepted")
	}
	if err := get(nil); err == nil {
		t.Fatal("a TLS client without a certificate was accepted")
	}
	valid, err := env.cp.IssueKeyPair("mesh", "frontend", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(&valid); err != nil {
		t.Fatalf("a valid mesh certificate was refused: %v", err)
	}
	if got := env.seen.Load().(string); got != frontendID {
		t.Fatalf("app saw %q, want %q", got, frontendID)
	}
}

// TestJoinTokenRequired: a proxy without the join token gets no configuration and no certificate.
func TestJoinTokenRequired(t *testing.T) {
	env := startMesh(t, spec.MTLSStrict, spec.ActionAllow, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := proxy.Start(ctx, proxy.Config{XDS: env.xds, Service: "frontend", Namespace: "mesh", JoinToken: "wrong",
		Inbound: freeAddr(t), Outbound: freeAddr(t), App: "127.0.0.1:1", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.XDSStats().LastError == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Identity().Ready() || p.XDSStats().Acks != 0 {
		t.Fatalf("a proxy with a wrong join token got configuration: %+v", p.XDSStats())
	}
	if !strings.Contains(p.XDSStats().LastError, "join token") {
		t.Errorf("last xDS error %q does not mention the join token", p.XDSStats().LastError)
	}
	cancel()
	_ = p.Wait()
}

// TestRotationUnderLoadFailsNothing: certificates live 3 s and rotate every 1.5 s while a steady
// load runs frontend -> reviews; halfway, after the first certificates expired, the load widens so
// that new connections handshake with rotated certificates. No request may fail.
func TestRotationUnderLoadFailsNothing(t *testing.T) {
	env := startMesh(t, spec.MTLSStrict, spec.ActionDeny, 3*time.Second)
	fe := env.sidecar(t, "frontend", "", "127.0.0.1:1", env.token)
	if code, body := callReviews(t, fe, nil, 200); code != 200 {
		t.Fatalf("warm-up: %d %q", code, body)
	}
	firstFE, firstRV := fe.Identity().Certificate(), env.reviews.Identity().Certificate()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	worker := func() {
		defer wg.Done()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			code, body := call(c, fe.ListenerAddr("outbound"), "reviews:9080", "/", nil)
			if code == 200 {
				ok.Add(1)
				continue
			}
			failed.Add(1)
			firstErr.CompareAndSwap(nil, body)
		}
	}
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go worker()
	}
	time.Sleep(3500 * time.Millisecond) // the first certificates have expired by now
	handshakes := statValue(t, env.reviews.AdminAddr(), "trellis_proxy_downstream_tls_handshakes_total")
	for i := 0; i < 14; i++ {
		wg.Add(1)
		go worker()
	}
	time.Sleep(3000 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during rotation; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if after := statValue(t, env.reviews.AdminAddr(), "trellis_proxy_downstream_tls_handshakes_total"); after <= handshakes {
		t.Fatalf("no new mTLS handshake after the first certificates expired (%v before, %v after)", handshakes, after)
	}
	if ok.Load() < 200 {
		t.Fatalf("only %d requests completed", ok.Load())
	}
	if fe.Identity().Certificate() == firstFE || env.reviews.Identity().Certificate() == firstRV {
		t.Fatal("certificates were not rotated")
	}
	if time.Now().Before(firstRV.Leaf.NotAfter) {
		t.Fatal("the test ended before the first certificates expired")
	}
	t.Logf("%d requests, 0 failed, certificates rotated (reviews now valid until %v)", ok.Load(), env.reviews.Identity().NotAfter().Format(time.RFC3339Nano))
}

// mtlsClient returns an HTTPS client presenting cert (none when nil) that verifies reviews'
// certificate against the mesh root and its SPIFFE ID.
func mtlsClient(t *testing.T, env *meshEnv, cert *tls.Certificate) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(env.cp.CA().Root())
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, //nolint:gosec // verified below
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf := cs.PeerCertificates[0]
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots}); err != nil {
				return err
			}
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != reviewsID {
				return errors.New("server is not reviews")
			}
			return nil
		}}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
}

// issue signs a fresh key for spiffeID with ca.
func issue(t *testing.T, ca *meshca.CA, spiffeID string, ttl time.Duration) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	chain, _, err := ca.Sign(csr, spiffeID, ttl)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(chain)
	return &tls.Certificate{Certificate: [][]byte{blk.Bytes}, PrivateKey: key}
}

func statValue(t *testing.T, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestAllowRuleClosesDestinationUnderDefaultAllow: with the default policy allow, an allow rule
// on reviews admits only frontend (the design's semantics, as in Istio and Linkerd): ratings and
// plaintext callers of the permissive listener are denied.
func TestAllowRuleClosesDestinationUnderDefaultAllow(t *testing.T) {
	env := startMeshRules(t, spec.MTLSPermissive, spec.ActionAllow, 0, true)
	fe := env.sidecar(t, "frontend", "", "127.0.0.1:1", env.token)
	if code, body := callReviews(t, fe, nil, 200); code != 200 {
		t.Fatalf("frontend -> reviews: %d %q, want 200", code, body)
	}
	rt := env.sidecar(t, "ratings", "", "127.0.0.1:1", env.token)
	if code, body := callReviews(t, rt, nil, 403); code != 403 {
		t.Fatalf("ratings -> reviews: %d %q, want 403", code, body)
	}
	c := &http.Client{Timeout: 3 * time.Second}
	if code, body := call(c, env.inbound, "reviews:9080", "/", nil); code != 403 {
		t.Fatalf("plaintext -> reviews: %d %q, want 403", code, body)
	}
}
