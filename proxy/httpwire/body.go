package httpwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CopyBody copies a body framed by f from src to dst, keeping the chunked encoding as it is (so
// trailers pass through). Bodies delimited by close are copied until EOF. It returns the number of
// body bytes read from src.
func CopyBody(dst *bufio.Writer, src *bufio.Reader, f Framing) (int64, error) {
	switch {
	case f.Chunked:
		return copyChunked(dst, src)
	case f.ContentLength > 0:
		n, err := copyN(dst, src, f.ContentLength)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	case f.ContentLength == 0:
		return 0, nil
	default:
		return copyN(dst, src, -1)
	}
}

// copyN copies n bytes (or until EOF when n < 0) using src's buffer without extra allocations.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) (int64, error) {
	var total int64
	for n < 0 || total < n {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF && n < 0 {
					return total, nil
				}
				return total, err
			}
		}
		avail := src.Buffered()
		if n >= 0 && int64(avail) > n-total {
			avail = int(n - total)
		}
		b, _ := src.Peek(avail)
		if _, err := dst.Write(b); err != nil {
			return total, err
		}
		_, _ = src.Discard(avail)
		total += int64(avail)
		if dst.Buffered() > 0 && src.Buffered() == 0 && (n < 0 || total < n) {
			// Stream: push what we have before blocking on the next read.
			if err := dst.Flush(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// copyChunked forwards a chunked body verbatim (sizes, extensions, data and trailers).
func copyChunked(dst *bufio.Writer, src *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := src.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, fmt.Errorf("reading chunk size: %w", err)
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return total, err
		}
		if _, err := dst.Write(line); err != nil {
			return total, err
		}
		if size == 0 {
			// Trailers, then the final empty line.
			for {
				tl, err := src.ReadSlice('\n')
				if err != nil {
					if err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					return total, fmt.Errorf("reading trailers: %w", err)
				}
				if _, err := dst.Write(tl); err != nil {
					return total, err
				}
				if len(tl) <= 2 && (len(tl) == 1 || tl[0] == '\r') {
					return total, nil
				}
			}
		}
		n, err := copyN(dst, src, size)
		total += n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		crlf, err := src.ReadSlice('\n')
		if err != nil {
			return total, fmt.Errorf("reading chunk end: %w", err)
		}
		if _, err := dst.Write(crlf); err != nil {
			return total, err
		}
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return total, err
			}
		}
	}
}

// parseChunkSize parses a chunk-size line (hex size, optional extensions, CRLF).
func parseChunkSize(line []byte) (int64, error) {
	s := strings.TrimRight(string(line), "\r\n")
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 16, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("malformed chunk size %q", s)
	}
	return n, nil
}

// ReadBody reads a whole body framed by f into buf (appending), failing past limit bytes. Chunked
// bodies are de-chunked (trailers dropped).
func ReadBody(src *bufio.Reader, f Framing, buf []byte, limit int64) ([]byte, error) {
	switch {
	case f.Chunked:
		for {
			line, err := src.ReadSlice('\n')
			if err != nil {
				return buf, fmt.Errorf("reading chunk size: %w", err)
			}
			size, err := parseChunkSize(line)
			if err != nil {
				return buf, err
			}
			if size == 0 {
				for {
					tl, err := src.ReadSlice('\n')
					if err != nil {
						return buf, err
					}
					if len(tl) <= 2 && (len(tl) == 1 || tl[0] == '\r') {
						return buf, nil
					}
				}
			}
			if int64(len(buf))+size > limit {
				return buf, ErrBodyTooLarge
			}
			buf, err = appendN(buf, src, size)
			if err != nil {
				return buf, err
			}
			if _, err := src.ReadSlice('\n'); err != nil {
				return buf, err
			}
		}
	case f.ContentLength > 0:
		if f.ContentLength > limit {
			return buf, ErrBodyTooLarge
		}
		return appendN(buf, src, f.ContentLength)
	case f.ContentLength == 0:
		return buf, nil
	default:
		for {
			b, err := src.Peek(1)
			if err != nil || len(b) == 0 {
				if err == io.EOF {
					return buf, nil
				}
				return buf, err
			}
			n := src.Buffered()
			if int64(len(buf)+n) > limit {
				return buf, ErrBodyTooLarge
			}
			b, _ = src.Peek(n)
			buf = append(buf, b...)
			_, _ = src.Discard(n)
		}
	}
}

// ErrBodyTooLarge is returned by ReadBody when a body exceeds the limit.
var ErrBodyTooLarge = errors.New("body larger than buffer limit")

func appendN(buf []byte, src *bufio.Reader, n int64) ([]byte, error) {
	start := len(buf)
	need := start + int(n)
	if cap(buf) < need {
		nb := make([]byte, start, need)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:need]
	_, err := io.ReadFull(src, buf[start:])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return buf, err
}
