// Package router is the proxy's data path: it binds the listeners of the current routing table,
// serves HTTP/1.1 with a hand-written zero-copy forwarder and h2c/gRPC through golang.org/x/net/http2,
// applies the listener filters (RBAC, local rate limit, fault) and routes requests to upstream
// clusters with timeouts, retries, mirroring and header mutations.
package router

//lint:file-ignore SA1019 h2c (cleartext HTTP/2) is served with x/net/http2 until the move to http.Server.Protocols

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/trellis-mesh/trellis/proxy/identity"
	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/table"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// Server serves every listener of the current table.
type Server struct {
	id     *identity.Store
	tlsReq *tls.Config // client certificate required
	tlsOpt *tls.Config // client certificate verified when sent
	log    *slog.Logger
	stats  *stats.Registry
	up     *upstream.Manager
	tbl    atomic.Pointer[table.Table]
	h2     *http2.Server
	h2base *http.Server

	mu        sync.Mutex
	listeners map[string]*boundListener
	conns     map[*dconn]struct{}
	draining  atomic.Bool
	wg        sync.WaitGroup

	mirrorSem chan struct{}
	c         counters
}

type counters struct {
	rbacDenied, rateLimited, faultAborts, faultDelays, mirrors, mirrorDropped, noRoute, dsTotal, overflow *stats.Counter
	tlsHandshakes, tlsFailures, plaintextRefused                                                          *stats.Counter
	dsActive                                                                                              atomic.Int64
}

type boundListener struct {
	name string
	addr string
	ln   net.Listener
}

type dconn struct {
	c    net.Conn
	idle atomic.Bool
}

// New returns a server. id is the workload identity that terminates mTLS on listeners with a
// downstream TLS context (nil: such listeners refuse TLS connections).
func New(id *identity.Store, up *upstream.Manager, st *stats.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		id:        id,
		log:       log,
		stats:     st,
		up:        up,
		h2:        &http2.Server{MaxConcurrentStreams: 1000},
		listeners: map[string]*boundListener{},
		conns:     map[*dconn]struct{}{},
		mirrorSem: make(chan struct{}, 64),
		h2base:    &http.Server{},
	}
	// Registers the h2 server's graceful shutdown (GOAWAY) on h2base.Shutdown.
	_ = http2.ConfigureServer(s.h2base, s.h2)
	s.c.rbacDenied = st.Counter("trellis_proxy_rbac_denied_total", "", "Requests denied by RBAC.")
	s.c.rateLimited = st.Counter("trellis_proxy_rate_limited_total", "", "Requests rejected by the local rate limit.")
	s.c.faultAborts = st.Counter("trellis_proxy_fault_aborts_total", "", "Requests aborted by fault injection.")
	s.c.faultDelays = st.Counter("trellis_proxy_fault_delays_total", "", "Requests delayed by fault injection.")
	s.c.mirrors = st.Counter("trellis_proxy_mirrored_requests_total", "", "Mirrored request copies sent.")
	s.c.mirrorDropped = st.Counter("trellis_proxy_mirror_dropped_total", "", "Mirrored copies dropped (queue full).")
	s.c.noRoute = st.Counter("trellis_proxy_no_route_total", "", "Requests without a matching route.")
	s.c.dsTotal = st.Counter("trellis_proxy_downstream_connections_total", "", "Downstream connections accepted.")
	s.c.overflow = st.Counter("trellis_proxy_upstream_overflow_total", "", "Requests rejected by circuit breakers.")
	s.c.tlsHandshakes = st.Counter("trellis_proxy_downstream_tls_handshakes_total", "", "Downstream mTLS handshakes completed.")
	s.c.tlsFailures = st.Counter("trellis_proxy_downstream_tls_failures_total", "", "Downstream mTLS handshakes that failed (no, expired or untrusted client certificate, ...).")
	s.c.plaintextRefused = st.Counter("trellis_proxy_downstream_plaintext_refused_total", "", "Plaintext connections closed by a strict mTLS listener.")
	if id != nil {
		s.tlsReq = id.ServerConfig()
		s.tlsOpt = s.tlsReq.Clone()
		s.tlsOpt.ClientAuth = tls.RequestClientCert
		verify := s.tlsReq.VerifyConnection
		s.tlsOpt.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			return verify(cs)
		}
	}
	st.AddCollector(func(w io.Writer) {
		fmt.Fprintf(w, "# HELP trellis_proxy_downstream_connections_active Open downstream connections.\n# TYPE trellis_proxy_downstream_connections_active gauge\ntrellis_proxy_downstream_connections_active %d\n", s.c.dsActive.Load())
	})
	return s
}

// Activity returns the open downstream connections and the number accepted so far.
func (s *Server) Activity() (active int64, accepted uint64) {
	return s.c.dsActive.Load(), s.c.dsTotal.Value()
}

// Table returns the current table (nil before the first Apply).
func (s *Server) Table() *table.Table { return s.tbl.Load() }

// Apply binds listeners that are new or moved, swaps the table atomically and closes listeners
// that disappeared. In-flight requests keep the generation they started with.
func (s *Server) Apply(t *table.Table) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return errors.New("server is draining")
	}
	opened := map[string]*boundListener{}
	for name, l := range t.Listeners {
		if bl := s.listeners[name]; bl != nil && bl.addr == l.Addr {
			continue
		}
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, o := range opened {
				_ = o.ln.Close()
			}
			return fmt.Errorf("listener %q: binding %s: %w", name, l.Addr, err)
		}
		opened[name] = &boundListener{name: name, addr: l.Addr, ln: ln}
	}
	s.tbl.Store(t)
	for name, bl := range s.listeners {
		if l, ok := t.Listeners[name]; !ok || l.Addr != bl.addr {
			_ = bl.ln.Close()
			delete(s.listeners, name)
		}
	}
	for name, bl := range opened {
		s.listeners[name] = bl
		s.wg.Add(1)
		go s.accept(bl)
	}
	return nil
}

// Addr returns the bound address of a listener ("" when not bound).
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bl := s.listeners[name]; bl != nil {
		return bl.ln.Addr().String()
	}
	return ""
}

func (s *Server) accept(bl *boundListener) {
	defer s.wg.Done()
	for {
		c, err := bl.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		dc := &dconn{c: c}
		s.mu.Lock()
		if s.draining.Load() {
			s.mu.Unlock()
			_ = c.Close()
			continue
		}
		s.conns[dc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.c.dsTotal.Inc()
		s.c.dsActive.Add(1)
		go s.serveConn(bl.name, dc)
	}
}

func (s *Server) forget(dc *dconn) {
	s.mu.Lock()
	delete(s.conns, dc)
	s.mu.Unlock()
	s.c.dsActive.Add(-1)
	s.wg.Done()
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func (s *Server) serveConn(listener string, dc *dconn) {
	defer s.forget(dc)
	c := dc.c
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(c)
	dc.idle.Store(true)
	peer := ""
	if mode := s.listenerTLS(listener); mode != nil {
		tc, ok := s.handshake(c, br, mode)
		if !ok {
			br.Reset(nil)
			readerPool.Put(br)
			_ = c.Close()
			return
		}
		if tc != nil {
			// The raw reader only buffered the ClientHello; TLS records are read through tc.
			c = tc
			br = bufio.NewReaderSize(tc, 8<<10)
			peer = identity.PeerID(tc.ConnectionState())
		}
	}
	if b, err := br.Peek(3); err == nil && string(b) == "PRI" {
		if b, err := br.Peek(len(h2Preface)); err == nil && string(b) == h2Preface {
			dc.idle.Store(false)
			s.serveH2(listener, &prefixConn{Conn: c, r: br}, peer)
			return
		}
	}
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(c)
	h := newH1Conn(s, listener, c, br, bw)
	h.peer = peer
	h.serve(dc)
	br.Reset(nil)
	bw.Reset(nil)
	readerPool.Put(br)
	writerPool.Put(bw)
	_ = c.Close()
}

// prefixConn reads buffered bytes (the h2 preface) before the socket.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

func (s *Server) serveH2(listener string, c net.Conn, peer string) {
	defer c.Close()
	h := &genericHandler{s: s, listener: listener}
	opts := &http2.ServeConnOpts{Handler: h, BaseConfig: s.h2base}
	if peer != "" {
		opts.Context = context.WithValue(context.Background(), peerKey{}, peer)
	}
	s.h2.ServeConn(c, opts)
}

// peerKey is the request context key of the verified downstream peer identity.
type peerKey struct{}

// listenerTLS returns the downstream mTLS mode of a listener in the current table (nil: plaintext).
func (s *Server) listenerTLS(name string) *table.DownstreamTLS {
	if t := s.tbl.Load(); t != nil {
		if l := t.Listeners[name]; l != nil {
			return l.TLS
		}
	}
	return nil
}

// handshakeTimeout bounds a downstream TLS handshake.
const handshakeTimeout = 10 * time.Second

// handshake terminates mTLS on a connection of a TLS listener. It peeks the first byte: a TLS
// handshake record (0x16) is answered with the workload certificate and the client certificate is
// verified against the mesh roots (tc is the TLS connection); anything else is plaintext, served
// only when the listener is permissive (tc nil). ok is false when the connection must be closed.
func (s *Server) handshake(c net.Conn, br *bufio.Reader, mode *table.DownstreamTLS) (tc *tls.Conn, ok bool) {
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	b, err := br.Peek(1)
	if err != nil {
		return nil, false
	}
	if b[0] != 0x16 {
		_ = c.SetReadDeadline(time.Time{})
		if mode.AcceptPlaintext {
			return nil, true
		}
		s.c.plaintextRefused.Inc()
		return nil, false
	}
	if s.id == nil {
		s.c.tlsFailures.Inc()
		return nil, false
	}
	cfg := s.tlsOpt
	if mode.RequireClientCert {
		cfg = s.tlsReq
	}
	tc = tls.Server(&prefixConn{Conn: c, r: br}, cfg)
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		s.c.tlsFailures.Inc()
		s.log.Debug("downstream mTLS handshake failed", "remote", c.RemoteAddr().String(), "error", err)
		return nil, false
	}
	_ = c.SetDeadline(time.Time{})
	s.c.tlsHandshakes.Inc()
	return tc, true
}

// Drain stops accepting, closes idle keep-alive connections, and waits for in-flight requests
// until ctx ends; remaining connections are then closed.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for name, bl := range s.listeners {
		_ = bl.ln.Close()
		delete(s.listeners, name)
	}
	s.mu.Unlock()
	// Send GOAWAY on h2c connections; they close once their streams finish.
	go func() { _ = s.h2base.Shutdown(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	for {
		s.mu.Lock()
		for dc := range s.conns {
			if dc.idle.Load() {
				_ = dc.c.SetReadDeadline(time.Now())
			}
		}
		s.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			s.mu.Lock()
			for dc := range s.conns {
				_ = dc.c.Close()
			}
			s.mu.Unlock()
			<-done
			return fmt.Errorf("drain deadline reached: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
