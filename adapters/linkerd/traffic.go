package linkerd

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// gatewayMethods are the HTTP methods Gateway API's HTTPRouteMatch.method accepts.
var gatewayMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true,
}

// grpcRetryCodes are the gRPC status names retry.linkerd.io/grpc accepts.
var grpcRetryCodes = map[string]bool{
	"cancelled": true, "deadline-exceeded": true, "internal": true,
	"resource-exhausted": true, "unavailable": true,
}

// versionServices emits one Service per version of every service, selecting the version's pods,
// so that routes can split traffic across versions.
func (t *translator) versionServices() {
	for si := range t.d.Spec.Services {
		s := &t.d.Spec.Services[si]
		if len(s.Versions) == 0 {
			continue
		}
		ns := t.svcNamespace(s)
		ports := svcPorts(s)
		portList := make([]any, len(ports))
		for i, p := range ports {
			portList[i] = map[string]any{
				"name":       p.Name,
				"port":       int64(p.Port),
				"targetPort": int64(p.TargetPort),
				"protocol":   "TCP",
			}
		}
		for vi := range s.Versions {
			v := &s.Versions[vi]
			t.newObject("v1", "Service", ns, versionServiceName(s.Name, v.Name), map[string]any{
				"selector": labelsToAny(s.VersionLabels(v)),
				"ports":    copyList(portList),
			})
		}
	}
}

func copyList(l []any) []any {
	out := make([]any, len(l))
	for i, e := range l {
		if m, ok := e.(map[string]any); ok {
			c := make(map[string]any, len(m))
			for k, v := range m {
				c[k] = v
			}
			out[i] = c
			continue
		}
		out[i] = e
	}
	return out
}

// traffic translates every traffic policy.
func (t *translator) traffic() {
	for ti := range t.d.Spec.Traffic {
		tp := &t.d.Spec.Traffic[ti]
		path := fmt.Sprintf("spec.traffic[%d]", ti)
		s, ok := t.services[tp.Service]
		if !ok {
			if _, ext := t.external[tp.Service]; ext {
				t.warn(path, adapters.FeatureExternalServices, adapters.SeverityWarning,
					"traffic policy for external service %q is not translated: Linkerd routes to external hosts only through EgressNetwork, which Trellis does not emit", tp.Service)
			} else {
				t.warn(path+".service", adapters.FeatureWeightedSplit, adapters.SeverityError,
					"unknown service %q: traffic policy not translated", tp.Service)
			}
			continue
		}
		if svcProtocol(s) == spec.ProtocolTCP {
			t.tcpRoutes(path, tp, s)
		} else if t.opts.ServiceProfiles {
			t.serviceProfile(path, tp, s)
		} else {
			t.routes(path, tp, s)
		}
		if tp.Resilience != nil {
			t.resilience(path+".resilience", tp.Resilience, s)
		}
	}
}

// tcpRoutes reports what Linkerd cannot do for routes of a TCP service.
func (t *translator) tcpRoutes(path string, tp *spec.TrafficPolicy, s *spec.Service) {
	for ri := range tp.Routes {
		r := &tp.Routes[ri]
		rp := fmt.Sprintf("%s.routes[%d]", path, ri)
		if !t.trivialBackends(r, s) {
			t.warn(rp+".backends", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"TCP service %q: a split needs a TCPRoute (Gateway API experimental channel), which Trellis does not emit; traffic goes to all instances", s.Name)
		}
		if !r.Timeout.IsZero() {
			t.warn(rp+".timeout", adapters.FeatureTimeout, adapters.SeverityWarning, "TCP service %q: Linkerd has no request timeout for opaque TCP", s.Name)
		}
		if r.Retries != nil && r.Retries.Attempts > 0 {
			t.warn(rp+".retries", adapters.FeatureRetries, adapters.SeverityWarning, "TCP service %q: Linkerd does not retry opaque TCP connections", s.Name)
		}
		t.unsupportedRouteFeatures(rp, r, s)
	}
}

// trivialBackends reports whether a route sends everything to the service itself.
func (t *translator) trivialBackends(r *spec.Route, s *spec.Service) bool {
	live := 0
	for _, b := range r.Backends {
		if len(r.Backends) > 1 && b.Weight == 0 {
			continue
		}
		live++
		if (b.Service != "" && b.Service != s.Name) || b.Version != "" {
			return false
		}
	}
	return live <= 1
}

// unsupportedRouteFeatures warns about route fields Linkerd cannot express in any mode.
func (t *translator) unsupportedRouteFeatures(rp string, r *spec.Route, s *spec.Service) {
	if r.Fault != nil {
		if r.Fault.Delay != nil {
			t.warn(rp+".fault.delay", adapters.FeatureFaultDelay, adapters.SeverityWarning, "Linkerd has no fault injection: the %s delay is not injected", r.Fault.Delay.Fixed)
		}
		if r.Fault.Abort != nil {
			t.warn(rp+".fault.abort", adapters.FeatureFaultAbort, adapters.SeverityWarning, "Linkerd has no fault injection: aborts are not injected")
		}
	}
	if r.Mirror != nil {
		t.warn(rp+".mirror", adapters.FeatureMirror, adapters.SeverityWarning, "Linkerd rejects request mirroring: no copies are sent")
	}
	if svcProtocol(s) == spec.ProtocolTCP {
		if len(r.Match) > 0 {
			t.warn(rp+".match", adapters.FeaturePathMatch, adapters.SeverityWarning, "TCP service %q: HTTP matches do not apply", s.Name)
		}
		if r.Headers != nil {
			t.warn(rp+".headers", adapters.FeatureHeaderOps, adapters.SeverityWarning, "TCP service %q: header operations do not apply", s.Name)
		}
		if r.Rewrite != nil {
			t.warn(rp+".rewrite", adapters.FeatureRewrite, adapters.SeverityWarning, "TCP service %q: rewrites do not apply", s.Name)
		}
	}
}

// routes emits one Gateway API route per design route (per port for multi-port services).
func (t *translator) routes(path string, tp *spec.TrafficPolicy, s *spec.Service) {
	ns := t.svcNamespace(s)
	ports := svcPorts(s)
	grpc := svcProtocol(s) == spec.ProtocolGRPC
	kind := "HTTPRoute"
	if grpc {
		kind = "GRPCRoute"
	}
	t.checkOrder(path, tp)
	for ri := range tp.Routes {
		r := &tp.Routes[ri]
		rp := fmt.Sprintf("%s.routes[%d]", path, ri)
		t.unsupportedRouteFeatures(rp, r, s)
		var matches []any
		if grpc {
			matches = t.grpcMatches(rp, r)
		} else {
			matches = t.httpMatches(rp, r)
		}
		filters := t.filters(rp, r, grpc)
		ann := t.routeAnnotations(rp, r, s)
		for _, p := range ports {
			name := s.Name + "-" + routeName(ri, r)
			if len(ports) > 1 {
				name += "-" + strconv.Itoa(int(p.Port))
			}
			refs := t.backendRefs(rp, r, s, p)
			if len(refs) == 0 {
				t.warn(rp+".backends", adapters.FeatureWeightedSplit, adapters.SeverityError,
					"route %q has no backend Linkerd can reach: the route is not emitted (a rule without backends would answer 500)", routeName(ri, r))
				break
			}
			rule := map[string]any{"backendRefs": refs}
			if len(matches) > 0 {
				rule["matches"] = copyList(matches)
			} else if !grpc {
				// Explicit catch-all (the CRD default), so that validators that do not apply
				// defaults before CEL rules accept the route.
				rule["matches"] = []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}}
			}
			if len(filters) > 0 {
				rule["filters"] = copyList(filters)
			}
			o := t.newObject(gatewayAPIVersion, kind, ns, name, map[string]any{
				"parentRefs": []any{map[string]any{"group": "core", "kind": "Service", "name": s.Name, "port": int64(p.Port)}},
				"rules":      []any{rule},
			})
			setAnnotations(o, ann)
		}
	}
}

// backendRefs resolves a route's backends against parent port p.
func (t *translator) backendRefs(rp string, r *spec.Route, s *spec.Service, p spec.Port) []any {
	backends := r.Backends
	if len(backends) == 0 {
		backends = []spec.Backend{{Weight: 100}}
	}
	anyWeight := false
	for _, b := range backends {
		if b.Weight != 0 {
			anyWeight = true
		}
	}
	ns := t.svcNamespace(s)
	refs := make([]any, 0, len(backends))
	for bi, b := range backends {
		target := s
		if b.Service != "" && b.Service != s.Name {
			ts, ok := t.services[b.Service]
			if !ok {
				t.warn(fmt.Sprintf("%s.backends[%d].service", rp, bi), adapters.FeatureExternalServices, adapters.SeverityWarning,
					"backend %q is not a service of the design: Linkerd cannot route to external services from a mesh route; backend dropped", b.Service)
				continue
			}
			target = ts
		}
		name := target.Name
		if b.Version != "" {
			name = versionServiceName(target.Name, b.Version)
		}
		port := b.Port
		if port == 0 {
			if target == s {
				port = p.Port
			} else {
				port = svcPorts(target)[0].Port
			}
		}
		weight := int64(b.Weight)
		if !anyWeight {
			weight = 1
		}
		ref := map[string]any{"group": "", "kind": "Service", "name": name, "port": int64(port), "weight": weight}
		if tns := t.svcNamespace(target); tns != ns {
			ref["namespace"] = tns
		}
		refs = append(refs, ref)
	}
	return refs
}

// httpMatches converts a route's matches to HTTPRouteMatch values.
func (t *translator) httpMatches(rp string, r *spec.Route) []any {
	out := make([]any, 0, len(r.Match))
	for mi, m := range r.Match {
		mp := fmt.Sprintf("%s.match[%d]", rp, mi)
		hm := map[string]any{}
		if m.Path != nil {
			switch {
			case m.Path.Exact != "":
				hm["path"] = map[string]any{"type": "Exact", "value": m.Path.Exact}
			case m.Path.Prefix != "":
				hm["path"] = map[string]any{"type": "PathPrefix", "value": m.Path.Prefix}
			case m.Path.Regex != "":
				hm["path"] = map[string]any{"type": "RegularExpression", "value": m.Path.Regex}
			}
		}
		if m.Method != "" {
			if gatewayMethods[strings.ToUpper(m.Method)] {
				hm["method"] = strings.ToUpper(m.Method)
			} else {
				t.warn(mp+".method", adapters.FeatureMethodMatch, adapters.SeverityWarning, "Gateway API cannot match method %q: the condition is dropped, widening the match", m.Method)
			}
		}
		if len(m.Headers) > 0 {
			hm["headers"] = t.stringMatches(mp+".headers", m.Headers, adapters.FeatureHeaderMatch)
		}
		if len(m.QueryParams) > 0 {
			hm["queryParams"] = t.stringMatches(mp+".queryParams", m.QueryParams, adapters.FeatureQueryMatch)
		}
		out = append(out, hm)
	}
	return out
}

// stringMatches converts header or query matches, sorted by name, to Gateway API matches
// (Exact or RegularExpression).
func (t *translator) stringMatches(path string, ms map[string]spec.StringMatch, f adapters.Feature) []any {
	out := make([]any, 0, len(ms))
	for _, name := range sortedKeys(ms) {
		typ, value := t.stringMatch(path+"."+name, ms[name], f)
		out = append(out, map[string]any{"name": name, "type": typ, "value": value})
	}
	return out
}

// stringMatch converts one StringMatch to a Gateway API match type and value, warning when a
// prefix or presence match becomes a regular expression.
func (t *translator) stringMatch(path string, m spec.StringMatch, f adapters.Feature) (string, string) {
	switch {
	case m.Exact != "":
		return "Exact", m.Exact
	case m.Regex != "":
		return "RegularExpression", m.Regex
	case m.Prefix != "":
		t.warn(path, f, adapters.SeverityInfo, "Linkerd matches Exact or RegularExpression only: prefix %q becomes the regular expression %q", m.Prefix, prefixRegex(m.Prefix))
		return "RegularExpression", prefixRegex(m.Prefix)
	default:
		t.warn(path, f, adapters.SeverityInfo, "Linkerd matches Exact or RegularExpression only: presence becomes the regular expression \".*\"")
		return "RegularExpression", ".*"
	}
}

func prefixRegex(p string) string { return regexp.QuoteMeta(p) + ".*" }

// grpcMatches converts a route's matches to GRPCRouteMatch values.
func (t *translator) grpcMatches(rp string, r *spec.Route) []any {
	out := make([]any, 0, len(r.Match))
	for mi, m := range r.Match {
		mp := fmt.Sprintf("%s.match[%d]", rp, mi)
		gm := map[string]any{}
		if m.Path != nil {
			if method, ok := grpcMethod(m.Path); ok {
				gm["method"] = method
			} else {
				t.warn(mp+".path", adapters.FeaturePathMatch, adapters.SeverityWarning,
					"GRPCRoute matches /<service>/<method> paths only: this path condition is dropped, widening the match")
			}
		}
		if m.Method != "" && strings.ToUpper(m.Method) != "POST" {
			t.warn(mp+".method", adapters.FeatureMethodMatch, adapters.SeverityWarning, "GRPCRoute has no HTTP method match (gRPC is always POST): the condition is dropped")
		}
		if len(m.Headers) > 0 {
			gm["headers"] = t.stringMatches(mp+".headers", m.Headers, adapters.FeatureHeaderMatch)
		}
		if len(m.QueryParams) > 0 {
			t.warn(mp+".queryParams", adapters.FeatureQueryMatch, adapters.SeverityWarning, "GRPCRoute has no query-parameter match: the condition is dropped, widening the match")
		}
		out = append(out, gm)
	}
	return out
}

var grpcName = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$`)

// grpcMethod converts an HTTP path match on a gRPC service to a GRPCMethodMatch.
func grpcMethod(p *spec.PathMatch) (map[string]any, bool) {
	switch {
	case p.Exact != "":
		svc, method, ok := strings.Cut(strings.TrimPrefix(p.Exact, "/"), "/")
		if ok && grpcName.MatchString(svc) && grpcName.MatchString(method) && !strings.Contains(method, ".") {
			return map[string]any{"type": "Exact", "service": svc, "method": method}, true
		}
	case p.Prefix != "":
		// Segment semantics: "/pkg.Svc" is the whole service, "/pkg.Svc/Method" one method.
		svc, method, hasMethod := strings.Cut(strings.Trim(p.Prefix, "/"), "/")
		if !grpcName.MatchString(svc) {
			break
		}
		if !hasMethod {
			return map[string]any{"type": "Exact", "service": svc}, true
		}
		if grpcName.MatchString(method) && !strings.Contains(method, ".") {
			return map[string]any{"type": "Exact", "service": svc, "method": method}, true
		}
	}
	return nil, false
}

// filters converts header operations and rewrites to route filters.
func (t *translator) filters(rp string, r *spec.Route, grpc bool) []any {
	var out []any
	var reqSetHost string
	if r.Rewrite != nil {
		if r.Rewrite.Prefix != "" || r.Rewrite.FullPath != "" {
			t.warn(rp+".rewrite", adapters.FeatureRewrite, adapters.SeverityWarning, "Linkerd has no URLRewrite filter: the path is forwarded unchanged")
		}
		if r.Rewrite.Host != "" {
			if grpc {
				t.warn(rp+".rewrite.host", adapters.FeatureRewrite, adapters.SeverityWarning, "GRPCRoute cannot rewrite :authority: the host is forwarded unchanged")
			} else {
				reqSetHost = r.Rewrite.Host
				t.warn(rp+".rewrite.host", adapters.FeatureRewrite, adapters.SeverityInfo, "Linkerd has no URLRewrite filter: the host rewrite becomes a RequestHeaderModifier setting the Host header")
			}
		}
	}
	var req, resp *spec.HeaderOperations
	if r.Headers != nil {
		req, resp = r.Headers.Request, r.Headers.Response
	}
	if m := headerModifier(req, reqSetHost); m != nil {
		out = append(out, map[string]any{"type": "RequestHeaderModifier", "requestHeaderModifier": m})
	}
	if m := headerModifier(resp, ""); m != nil {
		out = append(out, map[string]any{"type": "ResponseHeaderModifier", "responseHeaderModifier": m})
	}
	return out
}

// headerModifier converts header operations to an HTTPHeaderFilter (nil when empty).
func headerModifier(ops *spec.HeaderOperations, setHost string) map[string]any {
	set := map[string]string{}
	add := map[string]string{}
	var remove []string
	if ops != nil {
		for k, v := range ops.Set {
			set[k] = v
		}
		for k, v := range ops.Add {
			add[k] = v
		}
		remove = append(remove, ops.Remove...)
	}
	if setHost != "" {
		set["Host"] = setHost
	}
	if len(set)+len(add)+len(remove) == 0 {
		return nil
	}
	m := map[string]any{}
	if len(set) > 0 {
		m["set"] = headerList(set)
	}
	if len(add) > 0 {
		m["add"] = headerList(add)
	}
	if len(remove) > 0 {
		sort.Strings(remove)
		m["remove"] = stringsToAny(remove)
	}
	return m
}

func headerList(h map[string]string) []any {
	out := make([]any, 0, len(h))
	for _, k := range sortedKeys(h) {
		out = append(out, map[string]any{"name": k, "value": h[k]})
	}
	return out
}

// routeAnnotations converts timeouts and retries to Linkerd route annotations.
func (t *translator) routeAnnotations(rp string, r *spec.Route, s *spec.Service) map[string]string {
	ann := map[string]string{}
	if !r.Timeout.IsZero() {
		ann[annTimeoutRequest] = fmtDuration(r.Timeout.Duration)
	}
	rt := r.Retries
	if rt == nil || rt.Attempts <= 0 {
		if rt != nil && (rt.Backoff != nil || rt.Budget != nil) {
			t.warn(rp+".retries", adapters.FeatureRetries, adapters.SeverityInfo, "retries are disabled (attempts 0): backoff and budget have no effect")
		}
		return ann
	}
	on := rt.On
	grpc := svcProtocol(s) == spec.ProtocolGRPC
	if len(on) == 0 {
		if grpc {
			on = []string{"unavailable", "cancelled", "deadline-exceeded", "connect-failure"}
		} else {
			on = []string{"5xx", "connect-failure", "reset"}
		}
	}
	var httpConds, grpcConds, lost []string
	for _, c := range on {
		switch {
		case grpc && grpcRetryCodes[c]:
			grpcConds = append(grpcConds, c)
		case !grpc && (c == "5xx" || c == "gateway-error"):
			httpConds = append(httpConds, c)
		case !grpc && c == "retriable-4xx":
			httpConds = append(httpConds, "409")
		case !grpc && isStatusCode(c):
			httpConds = append(httpConds, c)
		default:
			lost = append(lost, c)
		}
	}
	if len(lost) > 0 {
		t.warn(rp+".retries.on", adapters.FeatureRetries, adapters.SeverityWarning,
			"Linkerd %s retries cannot retry on %s: those failures are not retried", map[bool]string{true: "gRPC", false: "HTTP"}[grpc], strings.Join(lost, ", "))
	}
	if len(httpConds)+len(grpcConds) == 0 {
		t.warn(rp+".retries", adapters.FeatureRetries, adapters.SeverityWarning, "no retry condition Linkerd understands: retries are not configured")
		return ann
	}
	ann[annRetryLimit] = strconv.Itoa(int(rt.Attempts))
	if len(httpConds) > 0 {
		ann[annRetryHTTP] = strings.Join(dedup(httpConds), ",")
	}
	if len(grpcConds) > 0 {
		ann[annRetryGRPC] = strings.Join(dedup(grpcConds), ",")
	}
	if !rt.PerTryTimeout.IsZero() {
		ann[annRetryTimeout] = fmtDuration(rt.PerTryTimeout.Duration)
	}
	if rt.Backoff != nil {
		t.warn(rp+".retries.backoff", adapters.FeatureRetryBackoff, adapters.SeverityWarning, "Linkerd has no retry backoff: retries are sent immediately")
	}
	if rt.Budget != nil {
		t.warn(rp+".retries.budget", adapters.FeatureRetryBudget, adapters.SeverityWarning, "Linkerd's route retry annotations have no budget (use the ServiceProfiles option for a retryBudget): retries are capped by the limit only")
	}
	return ann
}

func isStatusCode(s string) bool {
	return len(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

func dedup(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// precedence is a match's rank under Gateway API route precedence (higher wins).
type precedence [5]int

// matchPrecedence ranks a match: exact path, then longest prefix, then method, then number of
// header matches, then number of query matches.
func matchPrecedence(m spec.Match) precedence {
	var p precedence
	switch {
	case m.Path == nil:
		p[0], p[1] = 1, 1
	case m.Path.Exact != "":
		p[0], p[1] = 2, len(m.Path.Exact)
	case m.Path.Prefix != "":
		p[0], p[1] = 1, len(m.Path.Prefix)
	default:
		p[0], p[1] = 0, 0
	}
	if m.Method != "" {
		p[2] = 1
	}
	p[3] = len(m.Headers)
	p[4] = len(m.QueryParams)
	return p
}

func (p precedence) greater(q precedence) bool {
	for i := range p {
		if p[i] != q[i] {
			return p[i] > q[i]
		}
	}
	return false
}

// checkOrder warns when a later route's match outranks an earlier route's match: Linkerd picks
// the most specific match (Gateway API precedence), not the first route in design order.
func (t *translator) checkOrder(path string, tp *spec.TrafficPolicy) {
	for j := 1; j < len(tp.Routes); j++ {
		later := &tp.Routes[j]
		if len(later.Match) == 0 {
			continue
		}
	outer:
		for i := 0; i < j; i++ {
			earlier := &tp.Routes[i]
			for _, lm := range later.Match {
				for _, em := range earlier.Match {
					if matchPrecedence(lm).greater(matchPrecedence(em)) && mayOverlap(lm, em) {
						t.warn(fmt.Sprintf("%s.routes[%d].match", path, j), adapters.FeaturePathMatch, adapters.SeverityWarning,
							"Linkerd orders routes by match specificity, not design order: route %q may take requests that route %q (listed earlier) also matches",
							routeName(j, later), routeName(i, earlier))
						break outer
					}
				}
			}
		}
	}
}

// mayOverlap reports whether some request could satisfy both matches (conservatively: true
// unless paths, methods or exact header values clearly exclude each other).
func mayOverlap(a, b spec.Match) bool {
	if a.Method != "" && b.Method != "" && !strings.EqualFold(a.Method, b.Method) {
		return false
	}
	for name, am := range a.Headers {
		if bm, ok := b.Headers[name]; ok && am.Exact != "" && bm.Exact != "" && am.Exact != bm.Exact {
			return false
		}
	}
	for name, am := range a.QueryParams {
		if bm, ok := b.QueryParams[name]; ok && am.Exact != "" && bm.Exact != "" && am.Exact != bm.Exact {
			return false
		}
	}
	if a.Path == nil || b.Path == nil || a.Path.Regex != "" || b.Path.Regex != "" {
		return true
	}
	under := func(path, prefix string) bool {
		prefix = strings.TrimSuffix(prefix, "/")
		return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	switch {
	case a.Path.Exact != "" && b.Path.Exact != "":
		return a.Path.Exact == b.Path.Exact
	case a.Path.Exact != "":
		return under(a.Path.Exact, b.Path.Prefix)
	case b.Path.Exact != "":
		return under(b.Path.Exact, a.Path.Prefix)
	default:
		return under(a.Path.Prefix, b.Path.Prefix) || under(b.Path.Prefix, a.Path.Prefix)
	}
}

// resilience translates a traffic policy's resilience settings.
func (t *translator) resilience(path string, r *spec.Resilience, s *spec.Service) {
	l7 := svcProtocol(s).IsL7()
	if c := r.Connections; c != nil {
		t.warn(path+".connections", adapters.FeatureConnectionLimits, adapters.SeverityWarning, "Linkerd has no connection, pending-request or request limits (nor connect timeout): no circuit breaking on load")
	}
	if od := r.OutlierDetection; od != nil {
		if !l7 {
			t.warn(path+".outlierDetection", adapters.FeatureOutlierDetection, adapters.SeverityWarning, "Linkerd failure accrual classifies HTTP responses only: no ejection for TCP service %q", s.Name)
		} else {
			t.failureAccrual(path+".outlierDetection", od, s)
		}
	}
	if rl := r.RateLimit; rl != nil {
		if !l7 {
			t.warn(path+".rateLimit", adapters.FeatureRateLimit, adapters.SeverityWarning, "Linkerd rate limits HTTP requests only: no limit for TCP service %q", s.Name)
		} else {
			for _, p := range svcPorts(s) {
				srv := t.ensureServer(s, p)
				srv.rateLimit = rl
			}
			rps := rateLimitRPS(rl)
			if rl.RequestsPerSecond == 0 && int64(rl.RequestsPerMinute)%60 != 0 {
				t.warn(path+".rateLimit.requestsPerMinute", adapters.FeatureRateLimit, adapters.SeverityWarning,
					"HTTPLocalRateLimitPolicy limits whole requests per second: %d per minute is enforced as %d per second (%d per minute), a looser limit",
					rl.RequestsPerMinute, rps, rps*60)
			}
			if rl.Burst != 0 && int64(rl.Burst) != rps {
				t.warn(path+".rateLimit.burst", adapters.FeatureRateLimit, adapters.SeverityWarning,
					"HTTPLocalRateLimitPolicy has no burst: the bucket holds %d requests per second, not a burst of %d", rps, rl.Burst)
			}
		}
	}
	if lb := r.LoadBalancer; lb != nil {
		if lb.ConsistentHash != nil || lb.Algorithm == spec.LBConsistentHash {
			t.warn(path+".loadBalancer.consistentHash", adapters.FeatureConsistentHash, adapters.SeverityWarning, "Linkerd has no sticky sessions: requests are balanced with EWMA")
		} else if lb.Algorithm != "" {
			t.warn(path+".loadBalancer.algorithm", adapters.FeatureLoadBalancer, adapters.SeverityWarning, "Linkerd always balances with EWMA (latency-aware): %s is not configurable", lb.Algorithm)
		}
	}
}

// failureAccrual emits Linkerd's consecutive-failures accrual annotations on the Service (a
// partial object).
func (t *translator) failureAccrual(path string, od *spec.OutlierDetection, s *spec.Service) {
	ann := map[string]string{annAccrual: "consecutive"}
	maxFail := od.Consecutive5xx
	if maxFail == 0 {
		maxFail = 5
	}
	ann[annAccrualMaxFail] = strconv.Itoa(int(maxFail))
	base := od.BaseEjectionTime.Duration
	if base == 0 {
		base = 30 * time.Second
	}
	ann[annAccrualMinPen] = fmtDuration(base)
	if base > time.Minute {
		ann[annAccrualMaxPen] = fmtDuration(base)
	}
	var lost []string
	if !od.Interval.IsZero() {
		lost = append(lost, "interval "+od.Interval.String()+" (Linkerd probes an ejected endpoint after its penalty)")
	}
	if od.MaxEjectionPercent != 0 {
		lost = append(lost, fmt.Sprintf("maxEjectionPercent %d (Linkerd may mark every endpoint unavailable)", od.MaxEjectionPercent))
	}
	if len(lost) > 0 {
		t.warn(path, adapters.FeatureOutlierDetection, adapters.SeverityWarning, "failure accrual has no %s", strings.Join(lost, ", "))
	}
	ns := t.svcNamespace(s)
	for _, k := range sortedKeys(ann) {
		t.addServiceAnnotation(ns, s.Name, k, ann[k])
	}
	// Linkerd applies the parent Service's accrual to every backend of its routes: the
	// per-version Services need no annotations.
}

// rateLimitRPS is the HTTPLocalRateLimitPolicy total.requestsPerSecond of a design rate limit.
// Linkerd's limit is an integer per second: requestsPerMinute is exact in multiples of 60 and
// otherwise rounds up (30 per minute becomes 1 per second), the nearest limit that never rejects
// what the design allows; the translation warns about the rounding.
func rateLimitRPS(rl *spec.RateLimit) int64 {
	if rl.RequestsPerSecond == 0 && rl.RequestsPerMinute > 0 {
		return (int64(rl.RequestsPerMinute) + 59) / 60
	}
	return int64(rl.RequestsPerSecond)
}
