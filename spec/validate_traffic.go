package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// GRPCStatusCodes lists the gRPC status names accepted in AbortFault.GRPCStatus.
var GRPCStatusCodes = []string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

func (v *validator) traffic(p string, tp *TrafficPolicy) {
	proto, known := v.protocolOf(tp.Service)
	if !v.serviceRef(p+".service", tp.Service, true) {
		known = false
	}
	_, external := v.externals[tp.Service]
	l7 := !known || proto != ProtocolTCP
	names := map[string]bool{}
	for i := range tp.Routes {
		r := &tp.Routes[i]
		rp := p + ".routes[" + strconv.Itoa(i) + "]"
		v.dnsLabel(rp+".name", r.Name, false)
		if r.Name != "" && names[r.Name] {
			v.add(rp+".name", fmt.Sprintf("duplicate route name %q", r.Name), "route names unique within the traffic policy", "")
		}
		names[r.Name] = true
		if len(r.Match) == 0 && i < len(tp.Routes)-1 {
			v.add(rp, fmt.Sprintf("route %q has no match, so it matches every request and the %d route(s) after it are never used", routeLabel(r, i), len(tp.Routes)-1-i),
				"a route without match only in last position", "move it to the end of the routes or give it a match")
		}
		v.route(rp, tp, r, proto, l7)
	}
	if res := tp.Resilience; res != nil {
		v.resilience(p+".resilience", tp, res, l7, external)
	}
	v.annotations(p+".annotations", tp.Annotations)
}

func routeLabel(r *Route, i int) string {
	if r.Name != "" {
		return r.Name
	}
	return "route-" + strconv.Itoa(i)
}

// l7Only reports a feature that needs an HTTP or gRPC service.
func (v *validator) l7Only(p, what string, tp *TrafficPolicy) {
	v.add(p, fmt.Sprintf("%s needs an HTTP or gRPC service; %q is tcp", what, tp.Service), "no "+what+" on a tcp service", "remove it, or set the service's protocol to http, http2 or grpc")
}

func (v *validator) route(p string, tp *TrafficPolicy, r *Route, proto Protocol, l7 bool) {
	if !l7 {
		for _, f := range []struct {
			set  bool
			name string
		}{
			{len(r.Match) > 0, "match"}, {r.Timeout.Duration != 0, "timeout"}, {r.Retries != nil, "retries"},
			{r.Fault != nil, "fault"}, {r.Mirror != nil, "mirror"}, {r.Headers != nil, "headers"},
			{r.Rewrite != nil, "rewrite"},
		} {
			if f.set {
				v.l7Only(p+"."+f.name, f.name, tp)
			}
		}
	}
	for i := range r.Match {
		v.match(p+".match["+strconv.Itoa(i)+"]", &r.Match[i])
	}
	for i, b := range r.Backends {
		bp := p + ".backends[" + strconv.Itoa(i) + "]"
		svc := orDefault(b.Service, tp.Service)
		if v.serviceRef(bp+".service", svc, true) {
			v.versionRef(bp+".version", svc, b.Version)
			if b.Port != 0 && !hasPort(v.portsOf(svc), b.Port) {
				v.add(bp+".port", fmt.Sprintf("port %d is not a port of service %q", b.Port, svc), "one of the service's ports", "")
			}
		}
		if b.Weight < 0 || b.Weight > 10000 {
			v.add(bp+".weight", fmt.Sprintf("weight %d is out of range", b.Weight), "a weight from 0 to 10000", "weights are relative shares; 90 and 10 give a 90/10 split")
		}
	}
	v.positive(p+".timeout", r.Timeout, false)
	if rt := r.Retries; rt != nil {
		v.retries(p+".retries", r, rt, proto)
	}
	if f := r.Fault; f != nil {
		fp := p + ".fault"
		if f.Delay == nil && f.Abort == nil {
			v.add(fp, "fault sets neither delay nor abort", "delay, abort or both", "remove the empty fault")
		}
		if dl := f.Delay; dl != nil {
			v.positive(fp+".delay.fixed", dl.Fixed, true)
			v.percentOpt(fp+".delay.percent", dl.Percent)
		}
		if ab := f.Abort; ab != nil {
			ap := fp + ".abort"
			switch {
			case ab.HTTPStatus != 0 && ab.GRPCStatus != "":
				v.add(ap, "httpStatus and grpcStatus are mutually exclusive", "exactly one of httpStatus and grpcStatus", "remove one of them")
			case ab.HTTPStatus == 0 && ab.GRPCStatus == "":
				v.add(ap, "abort needs httpStatus or grpcStatus", "exactly one of httpStatus and grpcStatus", "")
			case ab.HTTPStatus != 0 && (ab.HTTPStatus < 200 || ab.HTTPStatus > 599):
				v.add(ap+".httpStatus", fmt.Sprintf("httpStatus %d is out of range", ab.HTTPStatus), "an HTTP status from 200 to 599", "")
			case ab.GRPCStatus != "":
				v.enum(ap+".grpcStatus", ab.GRPCStatus, GRPCStatusCodes)
			}
			v.percentOpt(ap+".percent", ab.Percent)
		}
	}
	if m := r.Mirror; m != nil {
		mp := p + ".mirror"
		svc := orDefault(m.Service, tp.Service)
		if v.serviceRef(mp+".service", svc, true) {
			v.versionRef(mp+".version", svc, m.Version)
		}
		v.percentOpt(mp+".percent", m.Percent)
	}
	if h := r.Headers; h != nil {
		v.headerOps(p+".headers.request", h.Request)
		v.headerOps(p+".headers.response", h.Response)
	}
	if rw := r.Rewrite; rw != nil {
		wp := p + ".rewrite"
		if rw.Prefix != "" && rw.FullPath != "" {
			v.add(wp, "prefix and fullPath are mutually exclusive", "at most one of prefix and fullPath", "remove one of them")
		}
		if rw.Prefix != "" {
			if !strings.HasPrefix(rw.Prefix, "/") {
				v.add(wp+".prefix", fmt.Sprintf("prefix %q must start with \"/\"", rw.Prefix), "an absolute path prefix", "")
			}
			ok := len(r.Match) > 0
			for _, m := range r.Match {
				if m.Path == nil || m.Path.Prefix == "" {
					ok = false
				}
			}
			if !ok {
				v.add(wp+".prefix", "rewrite.prefix needs every match of the route to be a path prefix match", "match: [{path: {prefix: /...}}]", "use rewrite.fullPath, or match on a path prefix")
			}
		}
		if rw.FullPath != "" && !strings.HasPrefix(rw.FullPath, "/") {
			v.add(wp+".fullPath", fmt.Sprintf("fullPath %q must start with \"/\"", rw.FullPath), "an absolute path", "")
		}
		if rw.Host != "" && !isDNSSubdomain(rw.Host) {
			v.add(wp+".host", fmt.Sprintf("invalid host %q", rw.Host), "a DNS name", "")
		}
	}
}

func (v *validator) versionRef(p, svc, version string) {
	if version == "" {
		return
	}
	s, ok := v.services[svc]
	if !ok {
		v.add(p, fmt.Sprintf("external service %q has no versions", svc), "no version", "")
		return
	}
	names := make([]string, len(s.Versions))
	for i, ver := range s.Versions {
		if ver.Name == version {
			return
		}
		names[i] = ver.Name
	}
	hint := ""
	if sg := suggest(version, names); sg != "" {
		hint = fmt.Sprintf("did you mean %q?", sg)
	} else if len(names) == 0 {
		hint = "declare the version under the service's versions"
	}
	exp := "a version of the service: " + strings.Join(names, ", ")
	if len(names) == 0 {
		exp = "no version (the service declares none)"
	}
	v.add(p, fmt.Sprintf("unknown version %q of service %q", version, svc), exp, hint)
}

func (v *validator) match(p string, m *Match) {
	if pm := m.Path; pm != nil {
		pp := p + ".path"
		set := 0
		for _, s := range []string{pm.Exact, pm.Prefix, pm.Regex} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			v.add(pp, fmt.Sprintf("%d of exact, prefix and regex are set", set), "exactly one of exact, prefix and regex", "")
		}
		if pm.Exact != "" && !strings.HasPrefix(pm.Exact, "/") {
			v.add(pp+".exact", fmt.Sprintf("path %q must start with \"/\"", pm.Exact), "an absolute path", "")
		}
		if pm.Prefix != "" && !strings.HasPrefix(pm.Prefix, "/") {
			v.add(pp+".prefix", fmt.Sprintf("path %q must start with \"/\"", pm.Prefix), "an absolute path prefix", "")
		}
		v.regex(pp+".regex", pm.Regex)
	}
	if m.Method != "" {
		v.method(p+".method", m.Method)
	}
	v.stringMatches(p+".headers", m.Headers, true)
	v.stringMatches(p+".queryParams", m.QueryParams, false)
	if m.Path == nil && m.Method == "" && len(m.Headers) == 0 && len(m.QueryParams) == 0 {
		v.add(p, "match condition is empty", "at least one of path, method, headers, queryParams", "remove the empty condition; a route without match matches everything")
	}
}

func (v *validator) regex(p, re string) {
	if re == "" {
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "error parsing regexp: ")
		v.add(p, fmt.Sprintf("invalid regular expression %q: %s", re, msg), "an RE2 regular expression", "")
	}
}

func (v *validator) stringMatches(p string, ms map[string]StringMatch, headers bool) {
	if len(ms) == 0 {
		return
	}
	for _, name := range sortedKeys(ms) {
		m := ms[name]
		mp := p + keySegment(name)
		if headers {
			if !isHeaderName(name) {
				v.add(mp, fmt.Sprintf("invalid header name %q", name), "an HTTP header name", "")
			} else if strings.ToLower(name) != name {
				v.add(mp, fmt.Sprintf("header name %q is not lower case", name), "a lower-case header name", fmt.Sprintf("use %q", strings.ToLower(name)))
			}
		} else if name == "" {
			v.add(mp, "query parameter name must not be empty", "a parameter name", "")
		}
		set := 0
		if m.Exact != "" {
			set++
		}
		if m.Prefix != "" {
			set++
		}
		if m.Regex != "" {
			set++
		}
		if m.Present {
			set++
		}
		if set != 1 {
			v.add(mp, fmt.Sprintf("%d of exact, prefix, regex and present are set", set), "exactly one of exact, prefix, regex and present", "")
		}
		v.regex(mp+".regex", m.Regex)
	}
}

func (v *validator) retries(p string, r *Route, rt *Retries, proto Protocol) {
	if rt.Attempts < 0 || rt.Attempts > 10 {
		v.add(p+".attempts", fmt.Sprintf("attempts %d is out of range", rt.Attempts), "0 to 10 retries", "")
	}
	v.positive(p+".perTryTimeout", rt.PerTryTimeout, false)
	if r.Timeout.Duration > 0 && rt.PerTryTimeout.Duration > r.Timeout.Duration {
		v.add(p+".perTryTimeout", fmt.Sprintf("perTryTimeout %s is longer than the route's timeout %s", rt.PerTryTimeout, r.Timeout), "a per-try timeout no longer than the route's timeout", "lower perTryTimeout or raise timeout")
	}
	for i, on := range rt.On {
		if !knownRetryOn(on) {
			hint := ""
			if s := suggest(on, RetryOn); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			v.add(p+".on["+strconv.Itoa(i)+"]", fmt.Sprintf("unknown retry condition %q", on), "one of "+strings.Join(RetryOn, ", ")+", or an HTTP status code such as \"503\"", hint)
		}
	}
	if b := rt.Backoff; b != nil {
		v.positive(p+".backoff.baseInterval", b.BaseInterval, true)
		v.positive(p+".backoff.maxInterval", b.MaxInterval, false)
		if b.MaxInterval.Duration > 0 && b.MaxInterval.Duration < b.BaseInterval.Duration {
			v.add(p+".backoff.maxInterval", fmt.Sprintf("maxInterval %s is shorter than baseInterval %s", b.MaxInterval, b.BaseInterval), "maxInterval ≥ baseInterval", "")
		}
	}
	if b := rt.Budget; b != nil {
		v.percentOpt(p+".budget.percent", b.Percent)
		v.nonNegative(p+".budget.minRetryConcurrency", b.MinRetryConcurrency)
	}
}

func knownRetryOn(on string) bool {
	for _, k := range RetryOn {
		if on == k {
			return true
		}
	}
	if len(on) == 3 {
		n, err := strconv.Atoi(on)
		return err == nil && n >= 100 && n <= 599
	}
	return false
}

// percentOpt checks a percentage whose zero means "default 100".
func (v *validator) percentOpt(p string, f float64) {
	if f != 0 {
		v.percent(p, f)
	}
}

func (v *validator) headerOps(p string, h *HeaderOperations) {
	if h == nil {
		return
	}
	for _, k := range sortedKeys(h.Set) {
		if !isHeaderName(k) {
			v.add(p+".set"+keySegment(k), fmt.Sprintf("invalid header name %q", k), "an HTTP header name", "")
		}
	}
	for _, k := range sortedKeys(h.Add) {
		if !isHeaderName(k) {
			v.add(p+".add"+keySegment(k), fmt.Sprintf("invalid header name %q", k), "an HTTP header name", "")
		}
	}
	for i, k := range h.Remove {
		if !isHeaderName(k) {
			v.add(p+".remove["+strconv.Itoa(i)+"]", fmt.Sprintf("invalid header name %q", k), "an HTTP header name", "")
		}
	}
}

func (v *validator) resilience(p string, tp *TrafficPolicy, res *Resilience, l7, external bool) {
	if c := res.Connections; c != nil {
		cp := p + ".connections"
		v.nonNegative(cp+".max", c.Max)
		v.nonNegative(cp+".maxPendingRequests", c.MaxPendingRequests)
		v.nonNegative(cp+".maxRequests", c.MaxRequests)
		v.nonNegative(cp+".maxRequestsPerConnection", c.MaxRequestsPerConnection)
		v.positive(cp+".connectTimeout", c.ConnectTimeout, false)
	}
	if od := res.OutlierDetection; od != nil {
		op := p + ".outlierDetection"
		v.nonNegative(op+".consecutive5xx", od.Consecutive5xx)
		v.positive(op+".interval", od.Interval, false)
		v.positive(op+".baseEjectionTime", od.BaseEjectionTime, false)
		if od.MaxEjectionPercent < 0 || od.MaxEjectionPercent > 100 {
			v.add(op+".maxEjectionPercent", fmt.Sprintf("maxEjectionPercent %d is out of range", od.MaxEjectionPercent), "1 to 100", "")
		}
	}
	if rl := res.RateLimit; rl != nil {
		rp := p + ".rateLimit"
		switch {
		case external:
			v.add(rp, fmt.Sprintf("rate limits are enforced by the service's own proxies; external service %q has none", tp.Service), "no rateLimit on an external service", "")
		case !l7:
			v.l7Only(rp, "rateLimit", tp)
		}
		switch {
		case rl.RequestsPerSecond != 0 && rl.RequestsPerMinute != 0:
			v.add(rp, "requestsPerSecond and requestsPerMinute are mutually exclusive", "exactly one of requestsPerSecond and requestsPerMinute", "remove one of them")
		case rl.RequestsPerSecond == 0 && rl.RequestsPerMinute == 0:
			v.add(rp+".requestsPerSecond", "one of requestsPerSecond and requestsPerMinute is required", "exactly one of requestsPerSecond and requestsPerMinute, positive", "")
		}
		if rl.RequestsPerSecond < 0 {
			v.add(rp+".requestsPerSecond", fmt.Sprintf("requestsPerSecond %d is negative", rl.RequestsPerSecond), "a positive number of requests per second", "")
		}
		if rl.RequestsPerMinute < 0 {
			v.add(rp+".requestsPerMinute", fmt.Sprintf("requestsPerMinute %d is negative", rl.RequestsPerMinute), "a positive number of requests per minute", "use requestsPerMinute for limits below one request per second")
		}
		v.nonNegative(rp+".burst", rl.Burst)
	}
	if lb := res.LoadBalancer; lb != nil {
		lp := p + ".loadBalancer"
		v.enum(lp+".algorithm", string(lb.Algorithm), []string{string(LBRoundRobin), string(LBLeastRequest), string(LBRandom), string(LBConsistentHash)})
		isHash := lb.Algorithm == LBConsistentHash || (lb.Algorithm == "" && lb.ConsistentHash != nil)
		switch {
		case isHash && lb.ConsistentHash == nil:
			v.add(lp+".consistentHash", "consistentHash is required with algorithm consistent-hash", "one of header, cookie, sourceIP, queryParam", "")
		case !isHash && lb.ConsistentHash != nil:
			v.add(lp+".consistentHash", fmt.Sprintf("consistentHash cannot be used with algorithm %s", lb.Algorithm), "algorithm consistent-hash", "remove algorithm or set it to consistent-hash")
		}
		if ch := lb.ConsistentHash; ch != nil {
			hp := lp + ".consistentHash"
			set := 0
			if ch.Header != "" {
				set++
			}
			if ch.Cookie != nil {
				set++
			}
			if ch.SourceIP {
				set++
			}
			if ch.QueryParam != "" {
				set++
			}
			if set != 1 {
				v.add(hp, fmt.Sprintf("%d of header, cookie, sourceIP and queryParam are set", set), "exactly one of header, cookie, sourceIP and queryParam", "")
			}
			if !l7 && (ch.Header != "" || ch.Cookie != nil || ch.QueryParam != "") {
				v.l7Only(hp, "hashing on a header, cookie or query parameter", tp)
			}
			if ch.Header != "" && !isHeaderName(ch.Header) {
				v.add(hp+".header", fmt.Sprintf("invalid header name %q", ch.Header), "an HTTP header name", "")
			}
			if c := ch.Cookie; c != nil {
				if c.Name == "" {
					v.required(hp+".cookie.name", "cookie name")
				}
				v.positive(hp+".cookie.ttl", c.TTL, false)
				if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
					v.add(hp+".cookie.path", fmt.Sprintf("path %q must start with \"/\"", c.Path), "an absolute path", "")
				}
			}
		}
	}
}
