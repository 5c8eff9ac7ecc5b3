package router

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-mesh/trellis/proxy/httpwire"
	"github.com/trellis-mesh/trellis/proxy/table"
)

// viaGeneric forwards an HTTP/1.1 request through the net/http path (used for h2c clusters).
func (h *h1Conn) viaGeneric(l *table.Listener, rt *table.Route, wc *table.WeightedCluster, start time.Time, closeAfter bool) bool {
	req := &h.req
	u, err := url.ParseRequestURI(req.URI)
	if err != nil {
		return h.localReply(400, "bad request URI", nil, true)
	}
	hdr := make(http.Header, len(req.Headers))
	for _, hd := range req.Headers {
		if httpwire.IsHopByHop(hd.Name) || strings.EqualFold(hd.Name, "host") || strings.EqualFold(hd.Name, "content-length") {
			continue
		}
		hdr.Add(hd.Name, hd.Value)
	}
	var body io.Reader = http.NoBody
	var cl int64
	switch {
	case req.Framing.Chunked:
		body, cl = httputil.NewChunkedReader(h.br), -1
		closeAfter = true // trailers of the chunked body are not consumed
	case req.Framing.ContentLength > 0:
		body, cl = io.LimitReader(h.br, req.Framing.ContentLength), req.Framing.ContentLength
	}
	counted := &countingReader{r: body}
	r := &http.Request{
		Method: req.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Body: io.NopCloser(counted), ContentLength: cl, Host: req.Host,
		RemoteAddr: h.c.RemoteAddr().String(), RequestURI: req.URI,
	}
	if cl == 0 {
		r.Body = http.NoBody
	}
	ctx := context.Background()
	if h.peer != "" {
		ctx = context.WithValue(ctx, peerKey{}, h.peer)
	}
	r = r.WithContext(ctx)
	w := &h1Writer{bw: h.bw, hdr: http.Header{}, closeConn: closeAfter, method: req.Method}
	h.s.forwardGeneric(w, r, l, rt, wc, start)
	w.finish()
	if cl > 0 && counted.n != cl {
		return false
	}
	return !w.closeConn
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// h1Writer is an http.ResponseWriter writing an HTTP/1.1 response to a buffered connection.
type h1Writer struct {
	bw        *bufio.Writer
	hdr       http.Header
	wrote     bool
	chunked   bool
	closeConn bool
	method    string
	status    int
}

func (w *h1Writer) Header() http.Header { return w.hdr }

func (w *h1Writer) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote, w.status = true, code
	w.bw.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	for k, vs := range w.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) || k == "Trailer" {
			continue
		}
		for _, v := range vs {
			w.bw.WriteString(k + ": " + v + "\r\n")
		}
	}
	if w.hdr.Get("Content-Length") == "" && !httpwire.BodylessResponse(w.method, code) {
		w.chunked = true
		w.bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeConn {
		w.bw.WriteString("Connection: close\r\n")
	}
	w.bw.WriteString("\r\n")
}

func (w *h1Writer) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(200)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if w.chunked {
		w.bw.WriteString(strconv.FormatInt(int64(len(b)), 16) + "\r\n")
		n, err := w.bw.Write(b)
		w.bw.WriteString("\r\n")
		return n, err
	}
	return w.bw.Write(b)
}

func (w *h1Writer) Flush() { _ = w.bw.Flush() }

func (w *h1Writer) finish() {
	if !w.wrote {
		w.WriteHeader(200)
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		for k, vs := range w.hdr {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vs {
					w.bw.WriteString(name + ": " + v + "\r\n")
				}
			}
		}
		w.bw.WriteString("\r\n")
	}
}

// mirrorH1 mirrors a fast-path request (body must be buffered or empty).
func (s *Server) mirrorH1(rt *table.Route, req *httpwire.Request, body []byte) {
	hdr := make(http.Header, len(req.Headers))
	for _, hd := range req.Headers {
		if strings.EqualFold(hd.Name, "host") || strings.EqualFold(hd.Name, "content-length") {
			continue
		}
		hdr.Add(hd.Name, hd.Value)
	}
	s.mirror(rt, req.Method, req.URI, req.Host, hdr, append([]byte(nil), body...))
}
