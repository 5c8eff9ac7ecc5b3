package router

//lint:file-ignore SA1019 the test client speaks h2c with x/net/http2 like the proxy does

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/table"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// echo answers with the method, path and body it received; /trailer sends a chunked body with a
// trailer; /close sends a body delimited by connection close.
func echo(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/trailer":
			w.Header().Set("Trailer", "X-Checksum")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "part1")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part2")
			w.Header().Set("X-Checksum", "abc")
			return
		case "/close":
			hj, _, _ := w.(http.Hijacker).Hijack()
			_, _ = io.WriteString(hj, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close")
			_ = hj.Close()
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d %s", r.Method, r.URL.RequestURI(), len(b), r.Header.Get("X-Trellis-Peer-Identity"))
		if len(b) < 64 {
			_, _ = w.Write(b)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

func startServer(t *testing.T, up string) string {
	t.Helper()
	return startServerWith(t, up, "")
}

// startServerWith serves a bootstrap whose "app" cluster gets the extra YAML (indented cluster
// fields, e.g. a transport_socket).
func startServerWith(t *testing.T, up, extra string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host, upPort, _ := net.SplitHostPort(up)
	y := fmt.Sprintf(`
static_resources:
  listeners:
  - name: outbound
    address: {socket_address: {address: 127.0.0.1, port_value: %d}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: o
          route_config:
            name: o
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: {prefix: /retry}
                route: {cluster: app, retry_policy: {retry_on: 5xx, num_retries: 2}}
              - match: {prefix: /}
                route: {cluster: app}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: app
    type: STATIC
    load_assignment:
      cluster_name: app
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: %s, port_value: %s}}}}]}]
%s`, port, host, upPort, extra)
	res, err := table.ParseBootstrap("test.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	up2 := upstream.NewManager(nil)
	st := stats.NewRegistry()
	tbl, err := table.NewBuilder(up2, st, nil).Build(res)
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, up2, st, nil)
	if err := s.Apply(tbl); err != nil {
		t.Fatal(err)
	}
	up2.Commit(tbl.Clusters)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Drain(ctx)
	})
	return s.Addr("outbound")
}

func TestHTTP1Bodies(t *testing.T) {
	addr := startServer(t, echo(t))
	c := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + addr
	do := func(req *http.Request) (string, http.Header) {
		t.Helper()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), resp.Trailer
	}
	id := "" // the x-trellis-peer-identity header a client sends is never forwarded
	req, _ := http.NewRequest("POST", base+"/p?q=1", strings.NewReader("hello"))
	req.Header.Set("X-Trellis-Peer-Identity", "spiffe://cluster.local/ns/default/sa/spoofed")
	if got, _ := do(req); got != "POST /p?q=1 5 "+id+"hello" {
		t.Errorf("content-length body: %q", got)
	}
	req, _ = http.NewRequest("POST", base+"/chunked", io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")))
	req.ContentLength = -1
	if got, _ := do(req); got != "POST /chunked 4 "+id+"abcd" {
		t.Errorf("chunked body: %q", got)
	}
	big := bytes.Repeat([]byte("x"), 5<<20)
	req, _ = http.NewRequest("PUT", base+"/big", bytes.NewReader(big))
	if got, _ := do(req); got != fmt.Sprintf("PUT /big %d %s", len(big), id) {
		t.Errorf("5 MiB streamed body: %q", got)
	}
	req, _ = http.NewRequest("POST", base+"/retry", bytes.NewReader([]byte("buffered")))
	if got, _ := do(req); got != "POST /retry 8 "+id+"buffered" {
		t.Errorf("buffered body: %q", got)
	}
	req, _ = http.NewRequest("GET", base+"/trailer", nil)
	if got, tr := do(req); got != "part1part2" || tr.Get("X-Checksum") != "abc" {
		t.Errorf("trailers: %q %v", got, tr)
	}
	req, _ = http.NewRequest("GET", base+"/close", nil)
	if got, _ := do(req); got != "until-close" {
		t.Errorf("close-delimited: %q", got)
	}
	req, _ = http.NewRequest("HEAD", base+"/h", nil)
	if got, _ := do(req); got != "" {
		t.Errorf("HEAD body: %q", got)
	}
}

func TestExpectContinueAndRawClient(t *testing.T) {
	addr := startServer(t, echo(t))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q", line)
	}
	_, _ = br.ReadString('\n')
	fmt.Fprintf(conn, "abc")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(b), "POST /e 3") {
		t.Errorf("body %q", b)
	}
	// Pipelined requests on the same connection keep their order.
	fmt.Fprintf(conn, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"GET /one", "GET /two"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.HasPrefix(string(b), want) {
			t.Errorf("pipelined: %q, want %s", b, want)
		}
	}
	// Garbage gets a 400 and the connection closes.
	fmt.Fprintf(conn, "NONSENSE\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("malformed request: %v %v", resp, err)
	}
}

func TestH2CDownstreamToHTTP1Upstream(t *testing.T) {
	addr := startServer(t, echo(t))
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, n, a string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, n, a)
	}}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Post("http://"+addr+"/h2", "text/plain", strings.NewReader("xyz"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(b) != "POST /h2 3 xyz" {
		t.Errorf("h2c: proto %d body %q", resp.ProtoMajor, b)
	}
}

func TestTLSUpstream(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %s %v", r.URL.Path, r.TLS != nil)
	}))
	defer ts.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := func(san string) string {
		return fmt.Sprintf(`    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: example.com
        common_tls_context:
          validation_context:
            trusted_ca: {filename: %q}
            match_typed_subject_alt_names: [{san_type: DNS, matcher: {exact: %q}}]
`, caFile, san)
	}
	up := strings.TrimPrefix(ts.URL, "https://")
	addr := startServerWith(t, up, sock("example.com"))
	resp, err := http.Get("http://" + addr + "/secure")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "tls /secure true" {
		t.Fatalf("TLS upstream: %d %q", resp.StatusCode, b)
	}
	// A certificate without the required SAN is refused (503, nothing sent in clear text).
	addr = startServerWith(t, up, sock("other.example.org"))
	resp, err = http.Get("http://" + addr + "/secure")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("SAN mismatch: got %d, want 503", resp.StatusCode)
	}
}
