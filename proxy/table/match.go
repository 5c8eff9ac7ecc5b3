package table

//lint:file-ignore SA1019 the proxy reads deprecated xDS fields on purpose: control planes in the field still send them

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Req is the view of a request that matching needs; both the HTTP/1.1 fast path and the net/http
// (h2c, gRPC) path implement it.
type Req interface {
	// Method returns the request method.
	Method() string
	// Host returns the authority (Host header or :authority).
	Host() string
	// Path returns the path without the query string.
	Path() string
	// Query returns the raw query string without '?'.
	Query() string
	// Header returns the first value of a header (case-insensitive name). For PeerIdentityHeader
	// it returns the verified peer identity (Peer), never what the client sent.
	Header(name string) (string, bool)
	// Peer returns the SPIFFE ID of the downstream peer verified by mTLS ("" without mTLS).
	Peer() string
}

// header resolves pseudo-headers as Envoy does.
func header(r Req, name string) (string, bool) {
	if name != "" && name[0] == ':' {
		switch name {
		case ":authority":
			return r.Host(), true
		case ":method":
			return r.Method(), true
		case ":path":
			if q := r.Query(); q != "" {
				return r.Path() + "?" + q, true
			}
			return r.Path(), true
		case ":scheme":
			return "http", true
		}
		return "", false
	}
	return r.Header(name)
}

// StringMatch is a compiled envoy.type.matcher.v3.StringMatcher.
type StringMatch func(string) bool

func compileRegex(re string) (*regexp.Regexp, error) {
	rx, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		return nil, fmt.Errorf("invalid RE2 regex %q: %w", re, err)
	}
	return rx, nil
}

func compileStringMatcher(m *matcherv3.StringMatcher) (StringMatch, error) {
	if m == nil {
		return func(string) bool { return true }, nil
	}
	ic := m.GetIgnoreCase()
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		want := p.Exact
		if ic {
			return func(s string) bool { return strings.EqualFold(s, want) }, nil
		}
		return func(s string) bool { return s == want }, nil
	case *matcherv3.StringMatcher_Prefix:
		want := p.Prefix
		if ic {
			want = strings.ToLower(want)
			return func(s string) bool { return len(s) >= len(want) && strings.EqualFold(s[:len(want)], want) }, nil
		}
		return func(s string) bool { return strings.HasPrefix(s, want) }, nil
	case *matcherv3.StringMatcher_Suffix:
		want := p.Suffix
		if ic {
			return func(s string) bool { return len(s) >= len(want) && strings.EqualFold(s[len(s)-len(want):], want) }, nil
		}
		return func(s string) bool { return strings.HasSuffix(s, want) }, nil
	case *matcherv3.StringMatcher_Contains:
		want := p.Contains
		if ic {
			want = strings.ToLower(want)
			return func(s string) bool { return strings.Contains(strings.ToLower(s), want) }, nil
		}
		return func(s string) bool { return strings.Contains(s, want) }, nil
	case *matcherv3.StringMatcher_SafeRegex:
		rx, err := compileRegex(p.SafeRegex.GetRegex())
		if err != nil {
			return nil, fmt.Errorf("safe_regex: %w", err)
		}
		return rx.MatchString, nil
	default:
		return nil, fmt.Errorf("unsupported string matcher %T", p)
	}
}

// headerMatch is a compiled HeaderMatcher.
type headerMatch struct {
	name    string
	present *bool
	value   StringMatch
	invert  bool
	absent  bool // treat_missing_header_as_empty
}

func compileHeaderMatcher(h *routev3.HeaderMatcher) (headerMatch, error) {
	hm := headerMatch{name: strings.ToLower(h.GetName()), invert: h.GetInvertMatch(), absent: h.GetTreatMissingHeaderAsEmpty()}
	if hm.name == "" {
		return hm, fmt.Errorf("name: must not be empty")
	}
	var err error
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case nil:
		t := true
		hm.present = &t
	case *routev3.HeaderMatcher_PresentMatch:
		v := s.PresentMatch
		hm.present = &v
	case *routev3.HeaderMatcher_StringMatch:
		hm.value, err = compileStringMatcher(s.StringMatch)
	case *routev3.HeaderMatcher_ExactMatch:
		want := s.ExactMatch
		hm.value = func(v string) bool { return v == want }
	case *routev3.HeaderMatcher_PrefixMatch:
		want := s.PrefixMatch
		hm.value = func(v string) bool { return strings.HasPrefix(v, want) }
	case *routev3.HeaderMatcher_SuffixMatch:
		want := s.SuffixMatch
		hm.value = func(v string) bool { return strings.HasSuffix(v, want) }
	case *routev3.HeaderMatcher_ContainsMatch:
		want := s.ContainsMatch
		hm.value = func(v string) bool { return strings.Contains(v, want) }
	case *routev3.HeaderMatcher_SafeRegexMatch:
		var rx *regexp.Regexp
		rx, err = compileRegex(s.SafeRegexMatch.GetRegex())
		if err == nil {
			hm.value = rx.MatchString
		}
	default:
		err = fmt.Errorf("unsupported header match %T", s)
	}
	return hm, err
}

func (h *headerMatch) match(r Req) bool {
	v, ok := header(r, h.name)
	if !ok && h.absent {
		v, ok = "", true
	}
	var res bool
	switch {
	case h.present != nil:
		res = ok == *h.present
	case !ok:
		return false // a missing header never matches a value matcher, even inverted
	default:
		res = h.value(v)
	}
	return res != h.invert
}

type queryMatch struct {
	name    string
	present bool
	value   StringMatch
}

func compileQueryMatcher(q *routev3.QueryParameterMatcher) (queryMatch, error) {
	qm := queryMatch{name: q.GetName()}
	if qm.name == "" {
		return qm, fmt.Errorf("name: must not be empty")
	}
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case *routev3.QueryParameterMatcher_PresentMatch:
		qm.present = s.PresentMatch
	case *routev3.QueryParameterMatcher_StringMatch:
		var err error
		qm.value, err = compileStringMatcher(s.StringMatch)
		if err != nil {
			return qm, fmt.Errorf("string_match: %w", err)
		}
	default:
		qm.present = true
	}
	return qm, nil
}

func (q *queryMatch) match(raw string) bool {
	for raw != "" {
		var kv string
		if i := strings.IndexByte(raw, '&'); i >= 0 {
			kv, raw = raw[:i], raw[i+1:]
		} else {
			kv, raw = raw, ""
		}
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if k != q.name {
			continue
		}
		if q.value == nil {
			return q.present
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		return q.value(v)
	}
	return q.value == nil && !q.present
}
