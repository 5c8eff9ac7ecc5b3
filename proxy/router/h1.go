package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-mesh/trellis/proxy/httpwire"
	"github.com/trellis-mesh/trellis/proxy/table"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// maxBufferedBody bounds request bodies buffered for retries and mirroring.
const maxBufferedBody = 1 << 20

// h1Conn is the state of one downstream HTTP/1.1 connection.
type h1Conn struct {
	s        *Server
	listener string
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	req      httpwire.Request
	resp     httpwire.Response
	body     []byte
	remote   string
	peer     string // SPIFFE ID verified by mTLS ("" for plaintext)
}

func newH1Conn(s *Server, listener string, c net.Conn, br *bufio.Reader, bw *bufio.Writer) *h1Conn {
	return &h1Conn{s: s, listener: listener, c: c, br: br, bw: bw}
}

// h1view adapts a connection's current request to table.Req. It is pointer-shaped, so that
// converting it to the interface does not allocate.
type h1view struct{ h *h1Conn }

func (v h1view) Method() string { return v.h.req.Method }
func (v h1view) Host() string   { return v.h.req.Host }
func (v h1view) Path() string   { return v.h.req.Path() }
func (v h1view) Query() string  { return v.h.req.Query() }
func (v h1view) Peer() string   { return v.h.peer }
func (v h1view) Header(name string) (string, bool) {
	if isPeerHeader(name) {
		return v.h.peer, v.h.peer != ""
	}
	return v.h.req.Headers.Get(name)
}

// isPeerHeader reports whether name is table.PeerIdentityHeader (never trusted from the wire).
func isPeerHeader(name string) bool {
	return len(name) == len(table.PeerIdentityHeader) && strings.EqualFold(name, table.PeerIdentityHeader)
}

func (h *h1Conn) serve(dc *dconn) {
	for {
		dc.idle.Store(true)
		if h.s.draining.Load() {
			return
		}
		err := httpwire.ReadRequest(h.br, &h.req)
		dc.idle.Store(false)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !isClosed(err) {
				h.localReply(400, "bad request: "+err.Error(), nil, true)
				_ = h.bw.Flush()
			}
			return
		}
		keep := h.handle()
		if h.br.Buffered() == 0 || !keep {
			if err := h.bw.Flush(); err != nil {
				return
			}
		}
		if !keep {
			return
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset")
}

// handle processes one request; it returns false when the connection must be closed.
func (h *h1Conn) handle() bool {
	start := time.Now()
	req := &h.req
	closeAfter := req.Framing.Close || h.s.draining.Load()
	if req.Upgrade {
		h.localReply(501, "protocol upgrades are not supported by trellis proxy", nil, true)
		return false
	}
	t := h.s.tbl.Load()
	var l *table.Listener
	if t != nil {
		l = t.Listeners[h.listener]
	}
	if l == nil {
		h.localReply(503, "listener not configured", nil, true)
		return false
	}
	view := h1view{h}
	if l.RBAC != nil && !l.RBAC.Allowed(view) {
		h.s.c.rbacDenied.Inc()
		l.Local.Observe(403, time.Since(start))
		return h.localReply(403, "RBAC: access denied", nil, closeAfter || req.Framing.HasBody())
	}
	if l.RateLimit != nil && !l.RateLimit.Allow() {
		h.s.c.rateLimited.Inc()
		l.Local.Observe(l.RateLimit.Status, time.Since(start))
		return h.localReply(l.RateLimit.Status, "local_rate_limited", rateLimitedHeader, closeAfter || req.Framing.HasBody())
	}
	var rt *table.Route
	if l.Routes != nil {
		rt = l.Routes.Find(view)
	}
	if rt == nil {
		h.s.c.noRoute.Inc()
		l.Local.Observe(404, time.Since(start))
		return h.localReply(404, "no route", nil, closeAfter || req.Framing.HasBody())
	}
	if rt.Direct != nil {
		rt.Stats.Observe(rt.Direct.Status, time.Since(start))
		return h.localReply(rt.Direct.Status, rt.Direct.Body, nil, closeAfter || req.Framing.HasBody())
	}
	if l.Fault && rt.Fault != nil {
		if abort, status, grpc := h.s.applyFault(rt.Fault); abort {
			rt.Stats.Observe(status, time.Since(start))
			if grpc >= 0 {
				return h.localReply(200, "", grpcStatusHeaders(grpc), closeAfter || req.Framing.HasBody())
			}
			return h.localReply(status, "fault filter abort", nil, closeAfter || req.Framing.HasBody())
		}
	}
	wc := rt.Pick(rand.Uint32N(rt.TotalWeight))
	cl := wc.Cluster
	if cl == nil {
		wc.Stats.Observe(503, time.Since(start))
		return h.localReply(503, "no healthy upstream", nil, closeAfter || req.Framing.HasBody())
	}
	if cl.HTTP2 {
		return h.viaGeneric(l, rt, wc, start, closeAfter)
	}
	if !cl.AcquireRequest() {
		h.s.c.overflow.Inc()
		wc.Stats.Observe(503, time.Since(start))
		return h.localReply(503, "upstream overflow", overloadedHeader, closeAfter || req.Framing.HasBody())
	}
	defer cl.ReleaseRequest()

	if req.Framing.HasBody() {
		if v, ok := req.Headers.Get("Expect"); ok && strings.EqualFold(v, "100-continue") {
			// Answer locally so the client sends its body; the Expect header is not forwarded.
			h.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := h.bw.Flush(); err != nil {
				return false
			}
		}
	}
	// Buffer the body when it may be sent more than once.
	buffered := false
	h.body = h.body[:0]
	if req.Framing.HasBody() && (rt.Retry != nil || len(rt.Mirrors) > 0) {
		b, err := httpwire.ReadBody(h.br, req.Framing, h.body, maxBufferedBody)
		h.body = b
		if err != nil {
			if errors.Is(err, httpwire.ErrBodyTooLarge) {
				wc.Stats.Observe(413, time.Since(start))
				h.localReply(413, "request body too large to buffer for retries", nil, true)
			}
			return false
		}
		buffered = true
	}
	replayable := buffered || !req.Framing.HasBody()
	if len(rt.Mirrors) > 0 {
		h.s.mirrorH1(rt, req, h.body)
	}
	hash, hasHash := uint64(0), false
	if len(rt.HashPolicies) > 0 {
		if h.remote == "" {
			h.remote = h.c.RemoteAddr().String()
		}
		hash, hasHash = rt.Hash(view, h.remote)
	}
	var deadline time.Time
	if rt.Timeout > 0 {
		deadline = start.Add(rt.Timeout)
	}
	retries := 0
	maxRetries := 0
	if rt.Retry != nil && replayable {
		maxRetries = rt.Retry.NumRetries
	}
	for attempt := 0; ; attempt++ {
		ep, err := cl.Pick(hash, hasHash)
		if err != nil {
			wc.Stats.Observe(503, time.Since(start))
			return h.localReply(503, "no healthy upstream", nil, closeAfter || !replayable)
		}
		tryDeadline := deadline
		perTry := false
		if rt.Retry != nil && rt.Retry.PerTry > 0 {
			if pd := time.Now().Add(rt.Retry.PerTry); deadline.IsZero() || pd.Before(deadline) {
				tryDeadline, perTry = pd, true
			}
		}
		ep.Begin()
		conn, kind, err := h.tryOnce(cl, ep, rt, wc, l, tryDeadline, buffered, replayable)
		ep.End()
		if err == nil {
			status := h.resp.Status
			cl.Report(ep, status)
			if retries < maxRetries && rt.Retry.RetryStatus(status, grpcStatusOf(h.resp.Headers)) && h.canRetry(deadline) && cl.AcquireRetry() {
				h.discardResponse(conn, req.Method)
				retries++
				ok := h.backoff(rt.Retry, retries, deadline)
				cl.ReleaseRetry()
				if ok {
					continue
				}
				wc.Stats.Observe(504, time.Since(start))
				return h.localReply(504, "upstream request timeout", nil, closeAfter)
			}
			keep := h.relayResponse(conn, rt, wc, req.Method, closeAfter)
			wc.Stats.Observe(status, time.Since(start))
			return keep
		}
		if kind == failOverflow {
			h.s.c.overflow.Inc()
			wc.Stats.Observe(503, time.Since(start))
			return h.localReply(503, "upstream overflow", overloadedHeader, closeAfter || !replayable)
		}
		cl.Report(ep, 0)
		timedOut := kind == failTimeout && !perTry
		if !timedOut && kind != failDownstream && retries < maxRetries && (kind == failTimeout || rt.Retry.RetryError(kind == failConnect)) && h.canRetry(deadline) && cl.AcquireRetry() {
			retries++
			ok := h.backoff(rt.Retry, retries, deadline)
			cl.ReleaseRetry()
			if ok {
				continue
			}
			timedOut = true
		}
		switch {
		case kind == failDownstream:
			wc.Stats.Observe(499, time.Since(start))
			return false
		case timedOut || kind == failTimeout:
			wc.Stats.Observe(504, time.Since(start))
			return h.localReply(504, "upstream request timeout", nil, closeAfter || !replayable)
		default:
			wc.Stats.Observe(503, time.Since(start))
			return h.localReply(503, "upstream connect error or disconnect/reset before headers", nil, closeAfter || !replayable)
		}
	}
}

func (h *h1Conn) canRetry(deadline time.Time) bool {
	return deadline.IsZero() || time.Now().Before(deadline)
}

// backoff sleeps before a retry; false means the route deadline passed.
func (h *h1Conn) backoff(p *table.RetryPolicy, n int, deadline time.Time) bool {
	d := p.Backoff(n)
	if !deadline.IsZero() && time.Now().Add(d).After(deadline) {
		return false
	}
	time.Sleep(d)
	return true
}

type failKind int

const (
	failNone failKind = iota
	failConnect
	failReset
	failTimeout
	failOverflow
	failDownstream
)

func classify(err error) failKind {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return failTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failTimeout
	}
	return failReset
}

// tryOnce sends the request to ep and reads the response head into h.resp.
func (h *h1Conn) tryOnce(cl *upstream.Cluster, ep *upstream.Endpoint, rt *table.Route, wc *table.WeightedCluster, l *table.Listener, deadline time.Time, buffered, replayable bool) (*upstream.Conn, failKind, error) {
	for stale := 0; ; stale++ {
		conn, err := cl.Get(deadline, ep)
		if err != nil {
			if errors.Is(err, upstream.ErrOverflow) {
				return nil, failOverflow, err
			}
			if classify(err) == failTimeout {
				return nil, failTimeout, err
			}
			return nil, failConnect, err
		}
		if !deadline.IsZero() {
			_ = conn.SetDeadline(deadline)
			conn.HasDeadline = true
		} else if conn.HasDeadline {
			_ = conn.SetDeadline(time.Time{})
			conn.HasDeadline = false
		}
		reused := conn.Reused
		h.writeRequestHead(conn.BW, rt, wc, l, buffered)
		var werr error
		if buffered {
			_, werr = conn.BW.Write(h.body)
		} else if h.req.Framing.HasBody() {
			if _, err := httpwire.CopyBody(conn.BW, h.br, h.req.Framing); err != nil {
				conn.Close()
				// The downstream body could not be read: nothing to retry.
				return nil, failDownstream, err
			}
		}
		if werr == nil {
			werr = conn.BW.Flush()
		}
		if werr == nil {
			werr = httpwire.ReadResponse(conn.BR, &h.resp)
			for werr == nil && h.resp.Status == 100 {
				werr = httpwire.ReadResponse(conn.BR, &h.resp)
			}
		}
		if werr != nil {
			conn.Close()
			if reused && replayable && stale < 2 && classify(werr) != failTimeout {
				continue // a stale keep-alive connection: retry transparently on a new one
			}
			return nil, classify(werr), werr
		}
		return conn, failNone, nil
	}
}

var crlf = []byte("\r\n")

func (h *h1Conn) writeRequestHead(w *bufio.Writer, rt *table.Route, wc *table.WeightedCluster, l *table.Listener, buffered bool) {
	req := &h.req
	w.WriteString(req.Method)
	w.WriteByte(' ')
	if rt.NeedsRewrite() {
		p := rt.RewritePath(req.Path())
		w.WriteString(p)
		if q := req.Query(); q != "" {
			w.WriteByte('?')
			w.WriteString(q)
		}
	} else {
		w.WriteString(req.URI)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	if rt.HostRewrite != "" {
		w.WriteString(rt.HostRewrite)
	} else {
		w.WriteString(req.Host)
	}
	w.Write(crlf)
	ops := &rt.Headers
	hasOps := !ops.Empty() || !wc.Headers.Empty()
	for i := range req.Headers {
		hd := &req.Headers[i]
		n := hd.Name
		if (len(n) == 4 && strings.EqualFold(n, "host")) || (len(n) == 6 && strings.EqualFold(n, "expect")) {
			continue
		}
		if httpwire.IsHopByHop(n) {
			continue
		}
		if (buffered || req.Framing.Chunked) && len(n) == 14 && strings.EqualFold(n, "content-length") {
			continue
		}
		if isPeerHeader(n) {
			continue // never trusted from the wire; the inbound side sets the verified value below
		}
		if hasOps && (table.Removes(ops.ReqRemove, n) || table.Removes(wc.Headers.ReqRemove, n) || overwritten(ops.ReqAdd, n) || overwritten(wc.Headers.ReqAdd, n)) {
			continue
		}
		w.WriteString(n)
		w.WriteString(": ")
		w.WriteString(hd.Value)
		w.Write(crlf)
	}
	if hasOps {
		writeAdds(w, ops.ReqAdd, req.Headers)
		writeAdds(w, wc.Headers.ReqAdd, req.Headers)
	}
	if !l.Outbound && h.peer != "" {
		w.WriteString(table.PeerIdentityHeader)
		w.WriteString(": ")
		w.WriteString(h.peer)
		w.Write(crlf)
	}
	switch {
	case buffered:
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.Itoa(len(h.body)))
		w.Write(crlf)
	case req.Framing.Chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	w.Write(crlf)
}

func overwritten(ops []table.HeaderOp, name string) bool {
	for i := range ops {
		if ops[i].Overwrite && strings.EqualFold(ops[i].Name, name) {
			return true
		}
	}
	return false
}

func writeAdds(w *bufio.Writer, ops []table.HeaderOp, existing httpwire.Headers) {
	for i := range ops {
		op := &ops[i]
		if op.IfAbsent {
			if _, ok := existing.Get(op.Name); ok {
				continue
			}
		}
		w.WriteString(op.Name)
		w.WriteString(": ")
		w.WriteString(op.Value)
		w.Write(crlf)
	}
}

// discardResponse drops a response that will be retried, keeping the connection when cheap.
func (h *h1Conn) discardResponse(conn *upstream.Conn, method string) {
	f := httpwire.ResponseFraming(method, &h.resp)
	if !f.Close && !f.Chunked && f.ContentLength >= 0 && f.ContentLength <= 64<<10 {
		if _, err := conn.BR.Discard(int(f.ContentLength)); err == nil {
			conn.Put()
			return
		}
	}
	conn.Close()
}

// relayResponse writes the response head and streams the body downstream.
func (h *h1Conn) relayResponse(conn *upstream.Conn, rt *table.Route, wc *table.WeightedCluster, method string, closeAfter bool) bool {
	resp := &h.resp
	f := httpwire.ResponseFraming(method, resp)
	if f.Close && !f.Chunked && f.ContentLength < 0 {
		closeAfter = true // body delimited by close: so is ours
	}
	w := h.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(resp.Status))
	w.WriteByte(' ')
	w.WriteString(resp.Reason)
	w.Write(crlf)
	ops := &rt.Headers
	hasOps := len(ops.RespAdd) > 0 || len(ops.RespRemove) > 0 || len(wc.Headers.RespAdd) > 0 || len(wc.Headers.RespRemove) > 0
	for i := range resp.Headers {
		hd := &resp.Headers[i]
		if httpwire.IsHopByHop(hd.Name) {
			continue
		}
		if hasOps && (table.Removes(ops.RespRemove, hd.Name) || table.Removes(wc.Headers.RespRemove, hd.Name) || overwritten(ops.RespAdd, hd.Name) || overwritten(wc.Headers.RespAdd, hd.Name)) {
			continue
		}
		w.WriteString(hd.Name)
		w.WriteString(": ")
		w.WriteString(hd.Value)
		w.Write(crlf)
	}
	if hasOps {
		writeAdds(w, ops.RespAdd, resp.Headers)
		writeAdds(w, wc.Headers.RespAdd, resp.Headers)
	}
	if f.Chunked {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeAfter {
		w.WriteString("Connection: close\r\n")
	}
	w.Write(crlf)
	if _, err := httpwire.CopyBody(w, conn.BR, f); err != nil {
		conn.Close()
		return false
	}
	if f.Close || resp.Framing.Close {
		conn.Close()
	} else {
		conn.Put()
	}
	return !closeAfter
}

var (
	overloadedHeader  = []string{"x-envoy-overloaded", "true"}
	rateLimitedHeader = []string{"x-ratelimit-limited", "true"}
)

func grpcStatusHeaders(code int) []string {
	return []string{"content-type", "application/grpc", "grpc-status", strconv.Itoa(code), "grpc-message", "fault filter abort"}
}

// localReply writes a locally generated response; it returns false when the connection closes.
func (h *h1Conn) localReply(status int, body string, hdrs []string, closeConn bool) bool {
	w := h.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(status))
	w.WriteByte(' ')
	w.WriteString(statusText(status))
	w.Write(crlf)
	for i := 0; i+1 < len(hdrs); i += 2 {
		w.WriteString(hdrs[i])
		w.WriteString(": ")
		w.WriteString(hdrs[i+1])
		w.Write(crlf)
	}
	if body != "" {
		w.WriteString("Content-Type: text/plain\r\n")
	}
	w.WriteString("Content-Length: ")
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\nServer: trellis-proxy\r\n")
	if closeConn {
		w.WriteString("Connection: close\r\n")
	}
	w.Write(crlf)
	w.WriteString(body)
	return !closeConn
}

func statusText(code int) string {
	if t := httpStatusText(code); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(code)
}

func grpcStatusOf(hs httpwire.Headers) string {
	v, _ := hs.Get("grpc-status")
	return v
}
