package httpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func reader(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 64) }

func TestReadRequest(t *testing.T) {
	var r Request
	br := reader("GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: reviews:9080\r\nX-Test:  v \r\nContent-Length: 3\r\n\r\nabc" +
		"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
		"GET http://other:81/p HTTP/1.0\r\n\r\n")
	if err := ReadRequest(br, &r); err != nil {
		t.Fatal(err)
	}
	if r.Method != "GET" || r.Path() != "/a/b" || r.Query() != "x=1&y=2" || r.Host != "reviews:9080" || r.Minor != 1 {
		t.Fatalf("parsed %+v", r)
	}
	if v, _ := r.Headers.Get("x-test"); v != "v" {
		t.Errorf("X-Test = %q", v)
	}
	if r.Framing.ContentLength != 3 || r.Framing.Chunked || r.Framing.Close {
		t.Errorf("framing %+v", r.Framing)
	}
	var body bytes.Buffer
	bw := bufio.NewWriter(&body)
	if _, err := CopyBody(bw, br, r.Framing); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	if body.String() != "abc" {
		t.Errorf("body %q", body.String())
	}
	if err := ReadRequest(br, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Framing.Chunked || r.Framing.ContentLength != -1 {
		t.Errorf("chunked framing %+v", r.Framing)
	}
	b, err := ReadBody(br, r.Framing, nil, 1<<10)
	if err != nil || string(b) != "abc" {
		t.Fatalf("ReadBody = %q, %v", b, err)
	}
	if err := ReadRequest(br, &r); err != nil {
		t.Fatal(err)
	}
	if r.Host != "other:81" || r.URI != "/p" || !r.Framing.Close {
		t.Errorf("absolute-form HTTP/1.0: %+v", r)
	}
	if err := ReadRequest(br, &r); !errors.Is(err, io.EOF) {
		t.Errorf("end: %v", err)
	}
}

func TestReadRequestErrors(t *testing.T) {
	for _, in := range []string{
		"GET / HTTP/1.1\r\n\r\n",                                       // no Host
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",                            // protocol
		"GET /\r\nHost: a\r\n\r\n",                                     // request line
		"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",           // header name
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",      // length
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", // coding
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	} {
		var r Request
		if err := ReadRequest(reader(in), &r); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestChunkedPassThroughKeepsTrailers(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n4;ext=1\r\nwxyz\r\n0\r\ngrpc-status: 0\r\n\r\nNEXT"
	br := reader(in)
	var resp Response
	if err := ReadResponse(br, &resp); err != nil {
		t.Fatal(err)
	}
	f := ResponseFraming("GET", &resp)
	if !f.Chunked || resp.Status != 200 || resp.Reason != "OK" {
		t.Fatalf("resp %+v", resp)
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	if _, err := CopyBody(bw, br, f); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	if out.String() != "4;ext=1\r\nwxyz\r\n0\r\ngrpc-status: 0\r\n\r\n" {
		t.Errorf("copied %q", out.String())
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "NEXT" {
		t.Errorf("over-read: rest %q", rest)
	}
}

func TestResponseFraming(t *testing.T) {
	var resp Response
	if err := ReadResponse(reader("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"), &resp); err != nil {
		t.Fatal(err)
	}
	if f := ResponseFraming("GET", &resp); f.HasBody() {
		t.Error("204 has a body")
	}
	if err := ReadResponse(reader("HTTP/1.1 200 OK\r\n\r\nuntil close"), &resp); err != nil {
		t.Fatal(err)
	}
	if f := ResponseFraming("GET", &resp); !f.Close || f.ContentLength != -1 {
		t.Errorf("close-delimited framing %+v", f)
	}
	if f := ResponseFraming("HEAD", &resp); f.HasBody() {
		t.Error("HEAD response has a body")
	}
}

func TestReadBodyLimit(t *testing.T) {
	_, err := ReadBody(reader("abcdef"), Framing{ContentLength: 6}, nil, 4)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func BenchmarkReadRequest(b *testing.B) {
	raw := "GET /api/v1/items?page=2 HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Request-Id: 1234\r\n\r\n"
	src := strings.NewReader("")
	br := bufio.NewReaderSize(src, 4096)
	var r Request
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src.Reset(raw)
		br.Reset(src)
		if err := ReadRequest(br, &r); err != nil {
			b.Fatal(err)
		}
	}
}
