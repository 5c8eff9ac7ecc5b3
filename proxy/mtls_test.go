package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
)

// writeKeyPair issues a certificate for spiffeID and writes <dir>/<name>.pem and .key.
func writeKeyPair(t testing.TB, ca *meshca.CA, dir, name, spiffeID string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	chain, _, err := ca.Sign(csr, spiffeID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func secretsJSON(dir, name string) string {
	return fmt.Sprintf(`"secrets": [
    {"name": "default", "tls_certificate": {"certificate_chain": {"filename": %q}, "private_key": {"filename": %q}}},
    {"name": "ROOTCA", "validation_context": {"trusted_ca": {"filename": %q}}}]`,
		filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key"), filepath.Join(dir, "ca.pem"))
}

const routerFilter = `{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}`

// mtlsPair starts a client sidecar (outbound on clientPort -> mTLS expecting serverID) and a
// server sidecar (strict mTLS inbound whose RBAC admits only allowedID) in front of app. tls false
// builds the same pair in plaintext (no RBAC), for comparison.
func mtlsPair(t testing.TB, app string, tls bool, serverID, allowedID string) (clientURL string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := meshca.Generate("")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.RootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	writeKeyPair(t, ca, dir, "client", "spiffe://cluster.local/ns/test/sa/client")
	writeKeyPair(t, ca, dir, "server", "spiffe://cluster.local/ns/test/sa/server")
	cport, sport := freePort(t), freePort(t)
	host, port, _ := splitHostPort(app)
	upTLS, downTLS, secretsC, secretsS, rbac := "", "", "", "", ""
	if tls {
		upTLS = fmt.Sprintf(`, "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      "common_tls_context": {"tls_params": {"tls_minimum_protocol_version": "TLSv1_3"},
        "tls_certificate_sds_secret_configs": [{"name": "default"}],
        "combined_validation_context": {"default_validation_context": {"match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": %q}}]},
          "validation_context_sds_secret_config": {"name": "ROOTCA"}}}}}`, serverID)
		downTLS = `, "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
      "require_client_certificate": true,
      "common_tls_context": {"tls_certificate_sds_secret_configs": [{"name": "default"}], "validation_context_sds_secret_config": {"name": "ROOTCA"}}}}`
		secretsC, secretsS = ", "+secretsJSON(dir, "client"), ", "+secretsJSON(dir, "server")
		rbac = fmt.Sprintf(`{"name": "envoy.filters.http.rbac", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
      "rules": {"action": "ALLOW", "policies": {"client": {"permissions": [{"any": true}], "principals": [{"authenticated": {"principal_name": {"exact": %q}}}]}}}}},`, allowedID)
	}
	client := fmt.Sprintf(`{"static_resources": {
  "listeners": [{"name": "outbound", "address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "outbound", "route_config": {"name": "outbound", "virtual_hosts": [{"name": "s", "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "server", "timeout": "5s"}}]}]},
      "http_filters": [%s]}}]}]}],
  "clusters": [{"name": "server", "type": "STATIC", "connect_timeout": "1s",
    "load_assignment": {"cluster_name": "server", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}}}}]}]}%s}]%s}}`,
		cport, routerFilter, sport, upTLS, secretsC)
	server := fmt.Sprintf(`{"static_resources": {
  "listeners": [{"name": "inbound", "address": {"socket_address": {"address": "127.0.0.1", "port_value": %d}},
    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      "stat_prefix": "inbound", "route_config": {"name": "inbound", "virtual_hosts": [{"name": "in", "domains": ["*"],
        "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app", "timeout": "5s"}}]}]},
      "http_filters": [%s%s]}}]%s}]}],
  "clusters": [{"name": "app", "type": "STATIC", "connect_timeout": "1s",
    "load_assignment": {"cluster_name": "app", "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": %q, "port_value": %s}}}}]}]}}]%s}}`,
		sport, rbac, routerFilter, downTLS, host, port, secretsS)
	for _, b := range []struct{ name, data string }{{"client.json", client}, {"server.json", server}} {
		path := filepath.Join(dir, b.name)
		if err := os.WriteFile(path, []byte(b.data), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		p, err := Start(ctx, Config{Bootstrap: path, DrainTimeout: time.Second})
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", b.name, err)
		}
		t.Cleanup(func() { cancel(); _ = p.Wait() })
		<-p.Ready()
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", cport)
}

func splitHostPort(addr string) (string, string, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:], nil
		}
	}
	return addr, "", fmt.Errorf("no port in %q", addr)
}

// TestStaticMTLSHop: two sidecars from bootstraps with static secrets talk mTLS; the app sees the
// client's verified SPIFFE ID (never the header the client sent), RBAC admits it, and a client
// expecting another server identity, or a server admitting another client, refuses the hop.
func TestStaticMTLSHop(t *testing.T) {
	var seen atomic.Value
	seen.Store("")
	app := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Trellis-Peer-Identity"))
		_, _ = io.WriteString(w, "ok")
	}))
	const serverID, clientID = "spiffe://cluster.local/ns/test/sa/server", "spiffe://cluster.local/ns/test/sa/client"
	url := mtlsPair(t, app, true, serverID, clientID)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Trellis-Peer-Identity", "spiffe://cluster.local/ns/test/sa/admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok" || seen.Load() != clientID {
		t.Fatalf("mTLS hop: %d %q, app saw %q; want 200 and %s", resp.StatusCode, b, seen.Load(), clientID)
	}
	if code, _ := get(t, mtlsPair(t, app, true, "spiffe://cluster.local/ns/test/sa/other", clientID)); code != 503 {
		t.Fatalf("client expecting another server identity: %d, want 503", code)
	}
	if code, _ := get(t, mtlsPair(t, app, true, serverID, "spiffe://cluster.local/ns/test/sa/other")); code != 403 {
		t.Fatalf("server admitting another client: %d, want 403", code)
	}
}

// BenchmarkSidecarHops compares two sidecars in plaintext with the same pair over mTLS (HTTP/1.1
// keep-alive, 16 parallel clients); compare the ns/op of the sub-benchmarks.
func BenchmarkSidecarHops(b *testing.B) {
	body := []byte("01234567890123456789")
	app := startUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plaintext", false}, {"mtls", true}} {
		url := mtlsPair(b, app, tc.tls, "spiffe://cluster.local/ns/test/sa/server", "spiffe://cluster.local/ns/test/sa/client")
		b.Run(tc.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		})
	}
}
