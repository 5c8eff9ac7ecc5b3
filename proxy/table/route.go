package table

//lint:file-ignore SA1019 the proxy reads deprecated xDS fields on purpose: control planes in the field still send them

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// DefaultTimeout is Envoy's default route timeout.
const DefaultTimeout = 15 * time.Second

// RouteConfig is a compiled RouteConfiguration.
type RouteConfig struct {
	// Name is the route configuration name.
	Name string
	// VHosts are the virtual hosts in order.
	VHosts []*VirtualHost

	exact    map[string]*VirtualHost
	suffix   []domainEntry // "*.example.com" longest first
	prefix   []domainEntry // "example.*" longest first
	wildcard *VirtualHost
}

type domainEntry struct {
	pattern string
	vh      *VirtualHost
}

// VirtualHost is a compiled virtual host.
type VirtualHost struct {
	// Name is the virtual host name.
	Name string
	// Routes are tried in order; the first match wins.
	Routes []*Route
}

// HeaderOp adds or sets a header.
type HeaderOp struct {
	// Name is the header name.
	Name string
	// Value is the header value.
	Value string
	// Overwrite replaces existing values instead of appending.
	Overwrite bool
	// IfAbsent only adds when the header is missing.
	IfAbsent bool
}

// HeaderOps are the header mutations of a route (route config + virtual host + route merged).
type HeaderOps struct {
	// ReqAdd are request headers to add.
	ReqAdd []HeaderOp
	// ReqRemove are request headers to remove (lower case).
	ReqRemove []string
	// RespAdd are response headers to add.
	RespAdd []HeaderOp
	// RespRemove are response headers to remove (lower case).
	RespRemove []string
}

// WeightedCluster is one backend of a route.
type WeightedCluster struct {
	// Name is the cluster name.
	Name string
	// Cluster is nil when the cluster does not exist (503).
	Cluster *upstream.Cluster
	// Weight is the relative weight.
	Weight uint32
	// Stats is the request series of this route/cluster pair.
	Stats *stats.Series
	// Headers are per-cluster header mutations (request_headers_to_add etc.).
	Headers HeaderOps
}

// Mirror is a request mirror policy.
type Mirror struct {
	// Cluster receives the copies.
	Cluster *upstream.Cluster
	// PerMillion is the sampled share.
	PerMillion uint32
}

// HashPolicy computes a ring-hash key.
type HashPolicy struct {
	// Header names a header to hash (lower case).
	Header string
	// Cookie names a cookie to hash.
	Cookie string
	// Query names a query parameter to hash.
	Query string
	// SourceIP hashes the downstream address.
	SourceIP bool
	// Terminal stops at the first policy that produced a value.
	Terminal bool
}

// Fault is a compiled HTTPFault.
type Fault struct {
	// Delay is the fixed delay.
	Delay time.Duration
	// DelayPerMillion is the delayed share.
	DelayPerMillion uint32
	// AbortStatus is the HTTP status of aborts (0 with a gRPC abort).
	AbortStatus int
	// AbortGRPC is the gRPC status of aborts, or -1.
	AbortGRPC int
	// AbortPerMillion is the aborted share.
	AbortPerMillion uint32
}

// DirectResponse is a fixed local reply.
type DirectResponse struct {
	// Status is the HTTP status.
	Status int
	// Body is the inline body.
	Body string
}

// Route is a compiled route.
type Route struct {
	// Name is "<vhost>/<route name or index>".
	Name string

	prefix, path, sepPrefix string
	regex                   *regexp.Regexp
	caseInsensitive         bool
	headers                 []headerMatch
	query                   []queryMatch
	grpcOnly                bool
	prefixRewriteSet        bool

	// Clusters are the route's backends (one for a plain cluster action).
	Clusters []WeightedCluster
	// TotalWeight is the sum of weights.
	TotalWeight uint32
	// Timeout is the route timeout (0 = none).
	Timeout time.Duration
	// Retry is nil without a retry policy.
	Retry *RetryPolicy
	// Mirrors are the mirror policies.
	Mirrors []Mirror
	// PrefixRewrite replaces the matched prefix.
	PrefixRewrite string
	// RegexRewrite rewrites the path with RegexSubst.
	RegexRewrite *regexp.Regexp
	// RegexSubst is the substitution (Envoy \1 style converted to Go ${1}).
	RegexSubst string
	// HostRewrite replaces the Host/:authority.
	HostRewrite string
	// HashPolicies compute the ring-hash key.
	HashPolicies []HashPolicy
	// Headers are the merged header mutations.
	Headers HeaderOps
	// Fault is nil without fault injection.
	Fault *Fault
	// Direct is non-nil for direct_response routes.
	Direct *DirectResponse
	// Stats is used for local replies (no cluster).
	Stats *stats.Series
}

// Match reports whether r matches the route's match block.
func (rt *Route) Match(r Req) bool {
	p := r.Path()
	switch {
	case rt.regex != nil:
		if !rt.regex.MatchString(p) {
			return false
		}
	case rt.path != "":
		if rt.caseInsensitive {
			if !strings.EqualFold(p, rt.path) {
				return false
			}
		} else if p != rt.path {
			return false
		}
	case rt.sepPrefix != "":
		if !(p == rt.sepPrefix || strings.HasPrefix(p, rt.sepPrefix) && len(p) > len(rt.sepPrefix) && p[len(rt.sepPrefix)] == '/' || strings.HasPrefix(p, rt.sepPrefix+"?")) {
			return false
		}
	default:
		if rt.caseInsensitive {
			if len(p) < len(rt.prefix) || !strings.EqualFold(p[:len(rt.prefix)], rt.prefix) {
				return false
			}
		} else if !strings.HasPrefix(p, rt.prefix) {
			return false
		}
	}
	if rt.grpcOnly {
		ct, _ := r.Header("content-type")
		if !strings.HasPrefix(ct, "application/grpc") {
			return false
		}
	}
	for i := range rt.headers {
		if !rt.headers[i].match(r) {
			return false
		}
	}
	if len(rt.query) > 0 {
		q := r.Query()
		for i := range rt.query {
			if !rt.query[i].match(q) {
				return false
			}
		}
	}
	return true
}

// RewritePath applies prefix_rewrite or regex_rewrite to path (without query).
func (rt *Route) RewritePath(path string) string {
	switch {
	case rt.RegexRewrite != nil:
		return rt.RegexRewrite.ReplaceAllString(path, rt.RegexSubst)
	case rt.prefixRewriteSet:
		pre := rt.prefix
		if rt.sepPrefix != "" {
			pre = rt.sepPrefix
		}
		if rt.path != "" {
			pre = rt.path
		}
		if len(path) >= len(pre) {
			return rt.PrefixRewrite + path[len(pre):]
		}
	}
	return path
}

// NeedsRewrite reports whether the route rewrites the path.
func (rt *Route) NeedsRewrite() bool { return rt.RegexRewrite != nil || rt.prefixRewriteSet }

// Select returns the virtual host for host (exact, then suffix and prefix wildcards, then "*"),
// trying the host without its port when nothing matches.
func (rc *RouteConfig) Select(host string) *VirtualHost {
	if vh := rc.selectExact(host); vh != nil {
		return vh
	}
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		if vh := rc.selectExact(host[:i]); vh != nil {
			return vh
		}
	}
	return rc.wildcard
}

func (rc *RouteConfig) selectExact(host string) *VirtualHost {
	if vh, ok := rc.exact[host]; ok {
		return vh
	}
	lh := host
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			lh = strings.ToLower(host)
			break
		}
	}
	if lh != host {
		if vh, ok := rc.exact[lh]; ok {
			return vh
		}
	}
	for _, d := range rc.suffix {
		if strings.HasSuffix(lh, d.pattern) && len(lh) > len(d.pattern) {
			return d.vh
		}
	}
	for _, d := range rc.prefix {
		if strings.HasPrefix(lh, d.pattern) && len(lh) > len(d.pattern) {
			return d.vh
		}
	}
	return nil
}

// Find returns the first route of the selected virtual host that matches r, or nil.
func (rc *RouteConfig) Find(r Req) *Route {
	vh := rc.Select(r.Host())
	if vh == nil {
		return nil
	}
	for _, rt := range vh.Routes {
		if rt.Match(r) {
			return rt
		}
	}
	return nil
}

func percentPerMillion(p *typev3.FractionalPercent) uint32 {
	if p == nil {
		return 0
	}
	n := uint64(p.GetNumerator())
	switch p.GetDenominator() {
	case typev3.FractionalPercent_HUNDRED:
		n *= 10000
	case typev3.FractionalPercent_TEN_THOUSAND:
		n *= 100
	}
	if n > 1_000_000 {
		n = 1_000_000
	}
	return uint32(n)
}

func compileFault(f *faultv3.HTTPFault) (*Fault, error) {
	out := &Fault{AbortGRPC: -1}
	if d := f.GetDelay(); d != nil {
		if d.GetFixedDelay() == nil {
			return nil, fmt.Errorf("delay.fixed_delay: required (header-controlled delays are not supported)")
		}
		out.Delay = d.GetFixedDelay().AsDuration()
		out.DelayPerMillion = percentPerMillion(d.GetPercentage())
	}
	if a := f.GetAbort(); a != nil {
		switch s := a.GetErrorType().(type) {
		case *faultv3.FaultAbort_HttpStatus:
			if s.HttpStatus < 200 || s.HttpStatus >= 600 {
				return nil, fmt.Errorf("abort.http_status: expected 200..599, got %d", s.HttpStatus)
			}
			out.AbortStatus = int(s.HttpStatus)
		case *faultv3.FaultAbort_GrpcStatus:
			out.AbortGRPC = int(s.GrpcStatus)
		default:
			return nil, fmt.Errorf("abort: expected http_status or grpc_status (header aborts are not supported)")
		}
		out.AbortPerMillion = percentPerMillion(a.GetPercentage())
	}
	return out, nil
}

func compileHeaderOps(add []*corev3.HeaderValueOption, remove []string) ([]HeaderOp, []string) {
	var ops []HeaderOp
	for _, h := range add {
		op := HeaderOp{Name: h.GetHeader().GetKey(), Value: h.GetHeader().GetValue()}
		if h.GetHeader().GetRawValue() != nil {
			op.Value = string(h.GetHeader().GetRawValue())
		}
		switch h.GetAppendAction() {
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
			op.Overwrite = true
		case corev3.HeaderValueOption_ADD_IF_ABSENT:
			op.IfAbsent = true
		}
		if a := h.GetAppend(); a != nil && !a.GetValue() { //nolint:staticcheck // legacy field
			op.Overwrite = true
		}
		ops = append(ops, op)
	}
	var rm []string
	for _, r := range remove {
		rm = append(rm, strings.ToLower(r))
	}
	return ops, rm
}

func (h HeaderOps) merge(o HeaderOps) HeaderOps {
	return HeaderOps{
		ReqAdd:     append(append([]HeaderOp{}, h.ReqAdd...), o.ReqAdd...),
		ReqRemove:  append(append([]string{}, h.ReqRemove...), o.ReqRemove...),
		RespAdd:    append(append([]HeaderOp{}, h.RespAdd...), o.RespAdd...),
		RespRemove: append(append([]string{}, h.RespRemove...), o.RespRemove...),
	}
}

// Empty reports whether there are no mutations.
func (h *HeaderOps) Empty() bool {
	return len(h.ReqAdd) == 0 && len(h.ReqRemove) == 0 && len(h.RespAdd) == 0 && len(h.RespRemove) == 0
}

// Removes reports whether name (any case) is in list.
func Removes(list []string, name string) bool {
	for _, r := range list {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

// convertSubst turns Envoy's \1 back-references into Go's ${1}.
func convertSubst(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
			continue
		}
		if s[i] == '$' {
			b.WriteString("$$")
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
