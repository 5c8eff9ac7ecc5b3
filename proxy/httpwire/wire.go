// Package httpwire is the hand-written HTTP/1.1 codec of the proxy's fast path: it parses request and
// response heads with a single string allocation per head and copies bodies (Content-Length, chunked
// or until close) between buffered connections without re-framing them.
package httpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxHeadBytes bounds the size of a request or response head.
const MaxHeadBytes = 64 << 10

// ErrHeadTooLarge is returned when a head exceeds MaxHeadBytes.
var ErrHeadTooLarge = errors.New("http head too large")

// Header is one header field; Name keeps the case it had on the wire.
type Header struct {
	// Name is the field name.
	Name string
	// Value is the field value with surrounding whitespace trimmed.
	Value string
}

// Headers is an ordered header list with case-insensitive lookups.
type Headers []Header

// Get returns the first value of name and whether it was present.
func (h Headers) Get(name string) (string, bool) {
	for i := range h {
		if strings.EqualFold(h[i].Name, name) {
			return h[i].Value, true
		}
	}
	return "", false
}

// Framing describes how a message body is delimited.
type Framing struct {
	// ContentLength is the body length, or -1 when unknown.
	ContentLength int64
	// Chunked is true for Transfer-Encoding: chunked.
	Chunked bool
	// Close is true when the connection must be closed after the message.
	Close bool
}

// HasBody reports whether a body follows the head.
func (f Framing) HasBody() bool { return f.Chunked || f.ContentLength != 0 }

// Request is a parsed HTTP/1.x request head. All strings share one allocation.
type Request struct {
	// Method is the request method.
	Method string
	// URI is the request target as sent (path and query).
	URI string
	// Minor is the HTTP minor version (0 or 1).
	Minor int
	// Host is the Host header (or the authority of an absolute URI).
	Host string
	// Headers are all header fields in order.
	Headers Headers
	// Framing is the request body framing.
	Framing Framing
	// Upgrade is true when the request asks for a protocol upgrade (websocket, h2c).
	Upgrade bool

	buf []byte
}

// Path returns the URI without the query string.
func (r *Request) Path() string {
	if i := strings.IndexByte(r.URI, '?'); i >= 0 {
		return r.URI[:i]
	}
	return r.URI
}

// Query returns the raw query string (without '?').
func (r *Request) Query() string {
	if i := strings.IndexByte(r.URI, '?'); i >= 0 {
		return r.URI[i+1:]
	}
	return ""
}

// Response is a parsed HTTP/1.x response head.
type Response struct {
	// Status is the status code.
	Status int
	// Reason is the reason phrase.
	Reason string
	// Minor is the HTTP minor version.
	Minor int
	// Headers are all header fields in order.
	Headers Headers
	// Framing is the response body framing (computed without knowledge of the request method).
	Framing Framing

	buf []byte
}

// readHead reads header lines up to the empty line into buf and returns it as one string.
func readHead(br *bufio.Reader, buf []byte) (string, []byte, error) {
	buf = buf[:0]
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				buf = append(buf, line...)
				if len(buf) > MaxHeadBytes {
					return "", buf, ErrHeadTooLarge
				}
				continue
			}
			if err == io.EOF && len(buf)+len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", buf, err
		}
		buf = append(buf, line...)
		if len(buf) > MaxHeadBytes {
			return "", buf, ErrHeadTooLarge
		}
		if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
			if len(buf) == len(line) { // leading empty line before a request: skip (RFC 9112 2.2)
				buf = buf[:0]
				continue
			}
			return string(buf), buf, nil
		}
	}
}

// nextLine splits s at the next CRLF or LF.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseHeaders parses header lines from s into hs and computes framing.
func parseHeaders(s string, hs Headers) (Headers, Framing, bool, error) {
	fr := Framing{ContentLength: -1}
	upgrade := false
	var te string
	for {
		var line string
		line, s = nextLine(s)
		if line == "" {
			break
		}
		c := strings.IndexByte(line, ':')
		if c <= 0 {
			return hs, fr, false, fmt.Errorf("malformed header line %q", line)
		}
		name := line[:c]
		if strings.IndexByte(name, ' ') >= 0 || strings.IndexByte(name, '\t') >= 0 {
			return hs, fr, false, fmt.Errorf("malformed header name %q", name)
		}
		val := strings.TrimSpace(line[c+1:])
		hs = append(hs, Header{Name: name, Value: val})
		switch len(name) {
		case 14:
			if strings.EqualFold(name, "Content-Length") {
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil || n < 0 {
					return hs, fr, false, fmt.Errorf("bad Content-Length %q", val)
				}
				if fr.ContentLength >= 0 && fr.ContentLength != n {
					return hs, fr, false, errors.New("conflicting Content-Length headers")
				}
				fr.ContentLength = n
			}
		case 17:
			if strings.EqualFold(name, "Transfer-Encoding") {
				te = val
			}
		case 10:
			if strings.EqualFold(name, "Connection") {
				if containsToken(val, "close") {
					fr.Close = true
				}
				if containsToken(val, "upgrade") {
					upgrade = true
				}
			}
		}
	}
	if te != "" {
		if !strings.EqualFold(te, "chunked") && !strings.HasSuffix(strings.ToLower(te), "chunked") {
			return hs, fr, false, fmt.Errorf("unsupported Transfer-Encoding %q", te)
		}
		fr.Chunked = true
		fr.ContentLength = -1
	}
	return hs, fr, upgrade, nil
}

// containsToken reports whether the comma-separated list v contains token (case-insensitive).
func containsToken(v, token string) bool {
	for v != "" {
		var part string
		if i := strings.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			part, v = v, ""
		}
		if strings.EqualFold(strings.TrimSpace(part), token) {
			return true
		}
	}
	return false
}

// ReadRequest reads a request head from br into r, reusing r's buffers.
func ReadRequest(br *bufio.Reader, r *Request) error {
	head, buf, err := readHead(br, r.buf)
	r.buf = buf
	if err != nil {
		return err
	}
	line, rest := nextLine(head)
	sp1 := strings.IndexByte(line, ' ')
	sp2 := strings.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return fmt.Errorf("malformed request line %q", line)
	}
	r.Method, r.URI = line[:sp1], line[sp1+1:sp2]
	switch line[sp2+1:] {
	case "HTTP/1.1":
		r.Minor = 1
	case "HTTP/1.0":
		r.Minor = 0
	default:
		return fmt.Errorf("unsupported protocol %q", line[sp2+1:])
	}
	r.Headers, r.Framing, r.Upgrade, err = parseHeaders(rest, r.Headers[:0])
	if err != nil {
		return err
	}
	if r.Framing.ContentLength < 0 && !r.Framing.Chunked {
		r.Framing.ContentLength = 0 // requests without framing have no body
	}
	if r.Minor == 0 {
		if v, ok := r.Headers.Get("Connection"); !ok || !containsToken(v, "keep-alive") {
			r.Framing.Close = true
		}
	}
	r.Host, _ = r.Headers.Get("Host")
	if strings.HasPrefix(r.URI, "http://") || strings.HasPrefix(r.URI, "https://") {
		u := r.URI[strings.Index(r.URI, "//")+2:]
		i := strings.IndexByte(u, '/')
		if i < 0 {
			r.Host, r.URI = u, "/"
		} else {
			r.Host, r.URI = u[:i], u[i:]
		}
	}
	if r.Host == "" && r.Minor == 1 {
		return errors.New("missing Host header")
	}
	return nil
}

// ReadResponse reads a response head from br into r, reusing r's buffers.
func ReadResponse(br *bufio.Reader, r *Response) error {
	head, buf, err := readHead(br, r.buf)
	r.buf = buf
	if err != nil {
		return err
	}
	line, rest := nextLine(head)
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.") || line[8] != ' ' {
		return fmt.Errorf("malformed status line %q", line)
	}
	r.Minor = int(line[7] - '0')
	code, err := strconv.Atoi(line[9:12])
	if err != nil || code < 100 {
		return fmt.Errorf("malformed status code in %q", line)
	}
	r.Status = code
	r.Reason = strings.TrimSpace(line[12:])
	r.Headers, r.Framing, _, err = parseHeaders(rest, r.Headers[:0])
	if err != nil {
		return err
	}
	if r.Minor == 0 {
		if v, ok := r.Headers.Get("Connection"); !ok || !containsToken(v, "keep-alive") {
			r.Framing.Close = true
		}
	}
	return nil
}

// BodylessResponse reports whether a response to method with status never carries a body.
func BodylessResponse(method string, status int) bool {
	return method == "HEAD" || status == 204 || status == 304 || (status >= 100 && status < 200)
}

// ResponseFraming returns the effective framing of a response to method; a response without
// Content-Length or chunked encoding is delimited by connection close.
func ResponseFraming(method string, r *Response) Framing {
	f := r.Framing
	if BodylessResponse(method, r.Status) {
		f.ContentLength, f.Chunked = 0, false
		return f
	}
	if !f.Chunked && f.ContentLength < 0 {
		f.Close = true
	}
	return f
}

// IsHopByHop reports whether name is a hop-by-hop header that a proxy must not forward.
func IsHopByHop(name string) bool {
	switch len(name) {
	case 2:
		return strings.EqualFold(name, "TE")
	case 7:
		return strings.EqualFold(name, "Upgrade") || strings.EqualFold(name, "Trailer")
	case 10:
		return strings.EqualFold(name, "Connection") || strings.EqualFold(name, "Keep-Alive")
	case 16:
		return strings.EqualFold(name, "Proxy-Connection")
	case 17:
		return strings.EqualFold(name, "Transfer-Encoding")
	case 19:
		return strings.EqualFold(name, "Proxy-Authorization")
	}
	return false
}
