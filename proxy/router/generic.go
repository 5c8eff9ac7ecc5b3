package router

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-mesh/trellis/proxy/table"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// genericHandler serves h2c (and gRPC) downstream requests through net/http types; it is also used
// for HTTP/1.1 requests routed to h2c clusters.
type genericHandler struct {
	s        *Server
	listener string
}

// httpView adapts *http.Request to table.Req.
type httpView struct{ r *http.Request }

func (v httpView) Method() string { return v.r.Method }
func (v httpView) Host() string   { return v.r.Host }
func (v httpView) Path() string   { return v.r.URL.EscapedPath() }
func (v httpView) Query() string  { return v.r.URL.RawQuery }
func (v httpView) Peer() string   { return peerOf(v.r) }
func (v httpView) Header(name string) (string, bool) {
	if isPeerHeader(name) {
		p := peerOf(v.r)
		return p, p != ""
	}
	vs := v.r.Header.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

func (g *genericHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := g.s
	start := time.Now()
	t := s.tbl.Load()
	var l *table.Listener
	if t != nil {
		l = t.Listeners[g.listener]
	}
	if l == nil {
		genericLocal(w, r, 503, "listener not configured", nil)
		return
	}
	view := httpView{r}
	if l.RBAC != nil && !l.RBAC.Allowed(view) {
		s.c.rbacDenied.Inc()
		l.Local.Observe(403, time.Since(start))
		genericLocal(w, r, 403, "RBAC: access denied", nil)
		return
	}
	if l.RateLimit != nil && !l.RateLimit.Allow() {
		s.c.rateLimited.Inc()
		l.Local.Observe(l.RateLimit.Status, time.Since(start))
		genericLocal(w, r, l.RateLimit.Status, "local_rate_limited", rateLimitedHeader)
		return
	}
	var rt *table.Route
	if l.Routes != nil {
		rt = l.Routes.Find(view)
	}
	if rt == nil {
		s.c.noRoute.Inc()
		l.Local.Observe(404, time.Since(start))
		genericLocal(w, r, 404, "no route", nil)
		return
	}
	if rt.Direct != nil {
		rt.Stats.Observe(rt.Direct.Status, time.Since(start))
		genericLocal(w, r, rt.Direct.Status, rt.Direct.Body, nil)
		return
	}
	if l.Fault && rt.Fault != nil {
		if abort, status, grpc := s.applyFault(rt.Fault); abort {
			rt.Stats.Observe(status, time.Since(start))
			if grpc >= 0 {
				grpcLocal(w, grpc, "fault filter abort")
				return
			}
			genericLocal(w, r, status, "fault filter abort", nil)
			return
		}
	}
	wc := rt.Pick(rand.Uint32N(rt.TotalWeight))
	s.forwardGeneric(w, r, l, rt, wc, start)
}

// forwardGeneric proxies r to the weighted cluster wc with the route's timeout and retries.
func (s *Server) forwardGeneric(w http.ResponseWriter, r *http.Request, l *table.Listener, rt *table.Route, wc *table.WeightedCluster, start time.Time) {
	cl := wc.Cluster
	if cl == nil {
		wc.Stats.Observe(503, time.Since(start))
		genericLocal(w, r, 503, "no healthy upstream", nil)
		return
	}
	if !cl.AcquireRequest() {
		s.c.overflow.Inc()
		wc.Stats.Observe(503, time.Since(start))
		genericLocal(w, r, 503, "upstream overflow", overloadedHeader)
		return
	}
	defer cl.ReleaseRequest()
	var body []byte
	buffered := false
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if hasBody && (rt.Retry != nil || len(rt.Mirrors) > 0) && r.ContentLength >= 0 && r.ContentLength <= maxBufferedBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBufferedBody+1))
		if err != nil {
			wc.Stats.Observe(400, time.Since(start))
			return
		}
		body, buffered = b, true
	}
	replayable := buffered || !hasBody
	if len(rt.Mirrors) > 0 && replayable {
		s.mirror(rt, r.Method, r.URL.RequestURI(), r.Host, r.Header, body)
	}
	ctx := r.Context()
	var cancel context.CancelFunc
	if rt.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, rt.Timeout)
		defer cancel()
	}
	hash, hasHash := rt.Hash(httpView{r}, r.RemoteAddr)
	maxRetries := 0
	if rt.Retry != nil && replayable {
		maxRetries = rt.Retry.NumRetries
	}
	rtp, scheme := s.transport(cl)
	path := r.URL.EscapedPath()
	if rt.NeedsRewrite() {
		path = rt.RewritePath(path)
	}
	host := r.Host
	if rt.HostRewrite != "" {
		host = rt.HostRewrite
	}
	for attempt := 0; ; attempt++ {
		ep, err := cl.Pick(hash, hasHash)
		if err != nil {
			wc.Stats.Observe(503, time.Since(start))
			genericLocal(w, r, 503, "no healthy upstream", nil)
			return
		}
		tctx, tcancel := ctx, context.CancelFunc(func() {})
		perTry := false
		if rt.Retry != nil && rt.Retry.PerTry > 0 {
			tctx, tcancel = context.WithTimeout(ctx, rt.Retry.PerTry)
			perTry = true
		}
		out := s.outRequest(tctx, r, l, rt, wc, ep.Addr, path, host, body, buffered)
		out.URL.Scheme = scheme
		ep.Begin()
		resp, err := rtp.RoundTrip(out)
		if err == nil {
			cl.Report(ep, resp.StatusCode)
			if attempt < maxRetries && rt.Retry.RetryStatus(resp.StatusCode, resp.Header.Get("grpc-status")) && ctx.Err() == nil && cl.AcquireRetry() {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				_ = resp.Body.Close()
				ep.End()
				tcancel()
				ok := sleepCtx(ctx, rt.Retry.Backoff(attempt+1))
				cl.ReleaseRetry()
				if ok {
					continue
				}
				wc.Stats.Observe(504, time.Since(start))
				genericLocal(w, r, 504, "upstream request timeout", nil)
				return
			}
			relayGeneric(w, resp, rt, wc)
			_ = resp.Body.Close()
			ep.End()
			tcancel()
			wc.Stats.Observe(resp.StatusCode, time.Since(start))
			return
		}
		ep.End()
		tcancel()
		if r.Context().Err() != nil {
			wc.Stats.Observe(499, time.Since(start))
			return
		}
		cl.Report(ep, 0)
		timedOut := ctx.Err() != nil
		perTryTimeout := perTry && !timedOut && errors.Is(err, context.DeadlineExceeded)
		if !timedOut && attempt < maxRetries && (perTryTimeout || rt.Retry.RetryError(isDialError(err))) && cl.AcquireRetry() {
			ok := sleepCtx(ctx, rt.Retry.Backoff(attempt+1))
			cl.ReleaseRetry()
			if ok {
				continue
			}
			timedOut = true
		}
		if timedOut || perTryTimeout {
			wc.Stats.Observe(504, time.Since(start))
			genericLocal(w, r, 504, "upstream request timeout", nil)
			return
		}
		wc.Stats.Observe(503, time.Since(start))
		genericLocal(w, r, 503, "upstream connect error or disconnect/reset before headers", nil)
		return
	}
}

func isDialError(err error) bool {
	return strings.Contains(err.Error(), "dial") || strings.Contains(err.Error(), "connection refused")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) outRequest(ctx context.Context, r *http.Request, l *table.Listener, rt *table.Route, wc *table.WeightedCluster, addr, path, host string, body []byte, buffered bool) *http.Request {
	out := r.Clone(ctx)
	out.RequestURI = ""
	out.URL = &url.URL{Scheme: "http", Host: addr, Opaque: "", RawPath: "", Path: "", RawQuery: r.URL.RawQuery}
	if p, err := url.PathUnescape(path); err == nil {
		out.URL.Path = p
		if p != path {
			out.URL.RawPath = path
		}
	} else {
		out.URL.Path = path
	}
	out.Host = host
	for _, hname := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Proxy-Authorization"} {
		out.Header.Del(hname)
	}
	if te := r.Header.Get("Te"); te != "" && !strings.Contains(strings.ToLower(te), "trailers") {
		out.Header.Del("Te")
	}
	applyHeaderOps(out.Header, rt.Headers.ReqRemove, rt.Headers.ReqAdd)
	applyHeaderOps(out.Header, wc.Headers.ReqRemove, wc.Headers.ReqAdd)
	out.Header.Del(table.PeerIdentityHeader)
	if p := peerOf(r); p != "" && !l.Outbound {
		out.Header.Set(table.PeerIdentityHeader, p)
	}
	if buffered {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return out
}

func applyHeaderOps(h http.Header, remove []string, add []table.HeaderOp) {
	for _, n := range remove {
		h.Del(n)
	}
	for _, op := range add {
		switch {
		case op.IfAbsent:
			if h.Get(op.Name) == "" {
				h.Add(op.Name, op.Value)
			}
		case op.Overwrite:
			h.Set(op.Name, op.Value)
		default:
			h.Add(op.Name, op.Value)
		}
	}
}

func relayGeneric(w http.ResponseWriter, resp *http.Response, rt *table.Route, wc *table.WeightedCluster) {
	dst := w.Header()
	for k, vs := range resp.Header {
		switch k {
		case "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Trailer":
			continue
		}
		dst[k] = append(dst[k][:0], vs...)
	}
	applyHeaderOps(dst, rt.Headers.RespRemove, rt.Headers.RespAdd)
	applyHeaderOps(dst, wc.Headers.RespRemove, wc.Headers.RespAdd)
	for k := range resp.Trailer {
		dst.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	if resp.Header.Get("Grpc-Status") != "" {
		// A gRPC trailers-only response: returning without a body or a flush lets the server send
		// one HEADERS frame with END_STREAM, as the client expects.
		return
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			break
		}
	}
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			dst.Add(http.TrailerPrefix+k, v)
		}
	}
}

func genericLocal(w http.ResponseWriter, r *http.Request, status int, body string, hdrs []string) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		grpcLocal(w, httpToGRPC(status), body)
		return
	}
	for i := 0; i+1 < len(hdrs); i += 2 {
		w.Header().Set(hdrs[i], hdrs[i+1])
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func grpcLocal(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Grpc-Status", strconv.Itoa(code))
	w.Header().Set("Grpc-Message", msg)
	w.WriteHeader(200)
}

// httpToGRPC maps a local-reply HTTP status to a gRPC status as Envoy does.
func httpToGRPC(status int) int {
	switch status {
	case 400:
		return 13
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 12
	case 429, 502, 503, 504:
		return 14
	}
	return 2
}

// peerOf returns the verified downstream peer identity of a request ("" without mTLS).
func peerOf(r *http.Request) string {
	p, _ := r.Context().Value(peerKey{}).(string)
	return p
}

// applyFault applies delay then abort; it returns whether to abort with which status.
func (s *Server) applyFault(f *table.Fault) (bool, int, int) {
	if f.DelayPerMillion > 0 && f.Delay > 0 && rand.Uint32N(1_000_000) < f.DelayPerMillion {
		s.c.faultDelays.Inc()
		time.Sleep(f.Delay)
	}
	if f.AbortPerMillion > 0 && rand.Uint32N(1_000_000) < f.AbortPerMillion {
		s.c.faultAborts.Inc()
		if f.AbortGRPC >= 0 {
			return true, 200, f.AbortGRPC
		}
		return true, f.AbortStatus, -1
	}
	return false, 0, -1
}

// mirror sends a fire-and-forget copy of a request to each sampled mirror cluster.
func (s *Server) mirror(rt *table.Route, method, uri, host string, hdr http.Header, body []byte) {
	for _, m := range rt.Mirrors {
		if m.PerMillion < 1_000_000 && rand.Uint32N(1_000_000) >= m.PerMillion {
			continue
		}
		select {
		case s.mirrorSem <- struct{}{}:
		default:
			s.c.mirrorDropped.Inc()
			continue
		}
		s.c.mirrors.Inc()
		h := hdr.Clone()
		go func(c *upstream.Cluster) {
			defer func() { <-s.mirrorSem }()
			ep, err := c.Pick(0, false)
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, method, "http://"+ep.Addr+uri, bytes.NewReader(body))
			if err != nil {
				return
			}
			req.Header = h
			for _, n := range []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade"} {
				req.Header.Del(n)
			}
			req.Header.Del(table.PeerIdentityHeader)
			hh, port, found := strings.Cut(host, ":")
			req.Host = hh + "-shadow"
			if found {
				req.Host += ":" + port
			}
			rtp, scheme := s.transport(c)
			req.URL.Scheme = scheme
			resp, err := rtp.RoundTrip(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
		}(m.Cluster)
	}
}

func httpStatusText(code int) string { return http.StatusText(code) }

// transport returns the round tripper and URL scheme for a cluster: h2c/h2 (TLS is added by the
// cluster's dialer), HTTP/1.1 over TLS, or plain HTTP/1.1.
func (s *Server) transport(c *upstream.Cluster) (http.RoundTripper, string) {
	switch {
	case c.HTTP2:
		return c.H2(), "http"
	case c.TLS() != nil:
		return c.H1TLS(), "https"
	default:
		return s.up.H1, "http"
	}
}
