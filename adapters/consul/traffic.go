package consul

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// backend is a route backend with its defaults applied.
type backend struct {
	service string
	version string
	weight  int64
	port    int32
}

// effectiveBackends applies the documented defaults: no backends means the service itself, an
// empty service means the policy's service, and no weights at all means equal shares.
func effectiveBackends(tp spec.TrafficPolicy, r spec.Route) []backend {
	if len(r.Backends) == 0 {
		return []backend{{service: tp.Service, weight: 1}}
	}
	out := make([]backend, 0, len(r.Backends))
	anyWeight := false
	for _, b := range r.Backends {
		if b.Weight > 0 {
			anyWeight = true
		}
	}
	for _, b := range r.Backends {
		svc := b.Service
		if svc == "" {
			svc = tp.Service
		}
		w := int64(b.Weight)
		if !anyWeight {
			w = 1
		}
		out = append(out, backend{service: svc, version: b.Version, weight: w, port: b.Port})
	}
	return out
}

// positive merges backends naming the same service and version and drops those without traffic.
func positive(bs []backend) []backend {
	var out []backend
	idx := map[string]int{}
	for _, b := range bs {
		if b.weight <= 0 {
			continue
		}
		key := b.service + "\x00" + b.version
		if i, ok := idx[key]; ok {
			out[i].weight += b.weight
			continue
		}
		idx[key] = len(out)
		out = append(out, b)
	}
	return out
}

// Percentages converts relative weights to Consul split percentages: multiples of 0.01 that sum
// to exactly 100. Each share is rounded down to 0.01; the remainder goes to the largest weight
// (the first one on a tie), so the result is deterministic.
func Percentages(weights []int64) []float64 {
	var total int64
	for _, w := range weights {
		total += w
	}
	out := make([]float64, len(weights))
	if total <= 0 {
		return out
	}
	hundredths := make([]int64, len(weights))
	var sum int64
	largest := 0
	for i, w := range weights {
		hundredths[i] = w * 10000 / total
		sum += hundredths[i]
		if w > weights[largest] {
			largest = i
		}
	}
	hundredths[largest] += 10000 - sum
	for i, h := range hundredths {
		out[i] = float64(h) / 100
	}
	return out
}

func routeName(i int, r spec.Route) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("route-%d", i)
}

func (t *translator) known(name string) bool {
	_, s := t.services[name]
	_, e := t.external[name]
	return s || e
}

// plan decides, before any route is emitted, which services split their own catch-all traffic
// and which pin it to a default subset: backends meaning "all instances" of those services need
// the extra "all" subset.
func (t *translator) plan() {
	for _, tp := range t.d.Spec.Traffic {
		if len(tp.Routes) == 0 {
			continue
		}
		last := tp.Routes[len(tp.Routes)-1]
		if len(last.Match) != 0 {
			continue
		}
		bs := positive(effectiveBackends(tp, last))
		if len(bs) == 0 {
			continue
		}
		if t.protocol(tp.Service).IsL7() {
			if len(tp.Routes) == 1 && onlyTimeout(last) {
				// A lone catch-all route whose only setting is a timeout needs no router:
				// the resolver's requestTimeout carries it.
				t.resolverTimeout[tp.Service] = true
			}
			switch {
			case len(bs) > 1:
				t.ownSplit[tp.Service] = true
			case bs[0].service == tp.Service && bs[0].version != "" && (!hasRouteSettings(last) || t.resolverTimeout[tp.Service]):
				t.defSubset[tp.Service] = bs[0].version
			}
			continue
		}
		heaviest := bs[0]
		for _, b := range bs[1:] {
			if b.weight > heaviest.weight {
				heaviest = b
			}
		}
		if heaviest.service == tp.Service && heaviest.version != "" {
			t.defSubset[tp.Service] = heaviest.version
		}
	}
}

func onlyTimeout(r spec.Route) bool {
	return !r.Timeout.IsZero() && (r.Retries == nil || r.Retries.Attempts == 0) && r.Headers == nil && r.Rewrite == nil
}

func hasRouteSettings(r spec.Route) bool {
	return !r.Timeout.IsZero() || (r.Retries != nil && r.Retries.Attempts > 0) || r.Headers != nil || r.Rewrite != nil
}

// target is where a single backend goes: its service and, when set, subset.
func (t *translator) target(b backend) (string, string) {
	if b.version != "" {
		return b.service, b.version
	}
	if t.ownSplit[b.service] || t.defSubset[b.service] != "" {
		return b.service, t.allSubsetOf(b.service)
	}
	return b.service, ""
}

// allSubsetOf adds (once) a subset with an empty filter, selecting every instance.
func (t *translator) allSubsetOf(svc string) string {
	if name, ok := t.allSubset[svc]; ok {
		return name
	}
	name := "all"
	if s, ok := t.services[svc]; ok {
		for _, v := range s.Versions {
			if v.Name == name {
				name = "all-instances"
			}
		}
	}
	t.allSubset[svc] = name
	r := t.resolver(svc)
	subsets, _ := r.spec["subsets"].(map[string]any)
	if subsets == nil {
		subsets = map[string]any{}
		r.spec["subsets"] = subsets
	}
	sub := map[string]any{}
	if s, ok := t.services[svc]; ok && s.HealthCheck != nil {
		sub["onlyPassing"] = true
	}
	subsets[name] = sub
	return name
}

func (t *translator) translateTraffic() error {
	for i, tp := range t.d.Spec.Traffic {
		if !t.known(tp.Service) {
			return fmt.Errorf("spec.traffic[%d].service: unknown service %q; expected the name of a service or external service of the design", i, tp.Service)
		}
	}
	t.plan()
	for svc, sub := range t.defSubset {
		t.resolver(svc).spec["defaultSubset"] = sub
	}
	overrides := map[string]map[string]map[string]any{} // caller -> destination -> override
	for i, tp := range t.d.Spec.Traffic {
		path := fmt.Sprintf("spec.traffic[%d]", i)
		if t.protocol(tp.Service).IsL7() {
			t.l7Routes(i, tp)
		} else {
			t.l4Routes(i, tp)
		}
		if tp.Resilience != nil {
			t.resilience(path+".resilience", tp.Service, tp.Resilience, overrides)
		}
	}
	for _, caller := range sortedKeys(overrides) {
		var list []any
		for _, dest := range sortedKeys(overrides[caller]) {
			list = append(list, overrides[caller][dest])
		}
		sd := t.serviceDefaults(caller)
		sd.spec["upstreamConfig"] = map[string]any{"overrides": list}
	}
	return nil
}

func (t *translator) l7Routes(ti int, tp spec.TrafficPolicy) {
	svc := tp.Service
	var routes []any
	var names []string
	for ri, r := range tp.Routes {
		rpath := fmt.Sprintf("spec.traffic[%d].routes[%d]", ti, ri)
		name := routeName(ri, r)
		catchAll := len(r.Match) == 0 && ri == len(tp.Routes)-1
		bs := positive(effectiveBackends(tp, r))
		if len(bs) == 0 {
			continue
		}
		t.backendPorts(rpath, bs)
		dest := map[string]any{}
		implicit := false
		switch {
		case len(bs) > 1 && catchAll:
			t.splitter(svc, svc, bs, rpath, "")
			dest["service"] = svc
			implicit = true
		case len(bs) > 1:
			v := t.virtualService(svc, name)
			t.splitter(v, svc, bs, rpath, svc+"/"+name)
			dest["service"] = v
		default:
			s, sub := t.target(bs[0])
			if catchAll && t.defSubset[svc] != "" && bs[0].service == svc && bs[0].version == t.defSubset[svc] {
				sub = bs[0].version
				implicit = true
			}
			if catchAll && bs[0].service == svc && sub == "" {
				implicit = true
			}
			dest["service"] = s
			if sub != "" {
				dest["serviceSubset"] = sub
			}
		}
		if t.routeSettings(dest, r, rpath) {
			implicit = false
		}
		if catchAll && t.resolverTimeout[svc] {
			t.resolver(svc).spec["requestTimeout"] = dest["requestTimeout"]
			delete(dest, "requestTimeout")
			implicit = true
		}
		if catchAll && implicit {
			continue // Consul's own default route sends unmatched traffic there.
		}
		matches := r.Match
		if len(matches) == 0 {
			matches = []spec.Match{{}}
		}
		for mi, m := range matches {
			cr := map[string]any{"destination": copyMap(dest)}
			h := t.httpMatch(m, fmt.Sprintf("%s.match[%d]", rpath, mi))
			if len(h) > 0 {
				cr["match"] = map[string]any{"http": h}
			}
			if _, ok := dest["prefixRewrite"]; ok {
				_, exact := h["pathExact"]
				_, prefix := h["pathPrefix"]
				if !exact && !prefix {
					delete(cr["destination"].(map[string]any), "prefixRewrite")
					t.warn(rpath+".rewrite", adapters.FeatureRewrite, adapters.SeverityWarning,
						"Consul rewrites paths only for routes matching an exact path or a path prefix; match %d is not rewritten", mi)
				}
			}
			routes = append(routes, cr)
			names = append(names, name)
		}
	}
	if len(tp.Routes) > 0 && len(tp.Routes[len(tp.Routes)-1].Match) > 0 {
		t.warn(fmt.Sprintf("spec.traffic[%d].routes", ti), adapters.FeaturePathMatch, adapters.SeverityInfo,
			"Consul has no \"no route\" response: requests no route matches go to %s (all instances) instead of failing", svc)
	}
	if len(routes) == 0 {
		return
	}
	router := t.get(KindServiceRouter, svc, t.serviceNamespace(svc))
	router.spec["routes"] = routes
	router.meta = map[string]string{MetaRoutes: strings.Join(names, ",")}
}

func (t *translator) backendPorts(path string, bs []backend) {
	for _, b := range bs {
		if b.port == 0 {
			continue
		}
		if s, ok := t.services[b.service]; ok && len(s.Ports) > 1 {
			t.warn(path+".backends", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"Consul routes to a service, not a port: backend port %d of %s is not selected", b.port, b.service)
		}
	}
}

// virtualService names and declares the virtual service carrying a route-specific split.
func (t *translator) virtualService(svc, route string) string {
	v := svc + "-" + route
	for t.known(v) || t.virtualNames[v] {
		v += "-split"
	}
	t.virtualNames[v] = true
	sd := t.get(KindServiceDefaults, v, t.serviceNamespace(svc))
	sd.spec["protocol"] = string(t.protocol(svc))
	sd.meta = map[string]string{MetaSplitOf: svc + "/" + route}
	return v
}

// splitter emits the ServiceSplitter name splitting the traffic of a route of svc across bs.
func (t *translator) splitter(name, svc string, bs []backend, path, splitOf string) {
	weights := make([]int64, len(bs))
	exact := true
	var total int64
	for i, b := range bs {
		weights[i] = b.weight
		total += b.weight
	}
	pcts := Percentages(weights)
	var splits []any
	var shown []string
	for i, b := range bs {
		split := map[string]any{"weight": pcts[i]}
		s, sub := b.service, b.version
		if name != svc || s != svc {
			s, sub = t.target(b)
		}
		if s != name {
			split["service"] = s
		}
		if sub != "" {
			split["serviceSubset"] = sub
		}
		splits = append(splits, split)
		if float64(b.weight)*100/float64(total) != pcts[i] {
			exact = false
		}
		shown = append(shown, strconv.FormatFloat(pcts[i], 'f', -1, 64))
	}
	if !exact {
		t.warn(path+".backends", adapters.FeatureWeightedSplit, adapters.SeverityInfo,
			"Consul split weights are percentages with 0.01 precision summing to exactly 100: weights rounded to %s", strings.Join(shown, "/"))
	}
	e := t.get(KindServiceSplitter, name, t.serviceNamespace(svc))
	e.spec["splits"] = splits
	if splitOf != "" {
		e.meta = map[string]string{MetaSplitOf: splitOf}
	}
}

var statusCode = regexp.MustCompile(`^[1-5][0-9][0-9]$`)

// consulRetryOn lists the retry conditions ServiceRouter accepts (Consul 1.16 isValidRetryCondition).
var consulRetryOn = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "connect-failure": true, "envoy-ratelimited": true,
	"retriable-4xx": true, "refused-stream": true, "cancelled": true, "deadline-exceeded": true,
	"internal": true, "resource-exhausted": true, "unavailable": true,
}

// routeSettings puts a route's timeout, retries, header operations and rewrite on a router
// destination and reports what Consul cannot express. It reports whether any setting was set.
func (t *translator) routeSettings(dest map[string]any, r spec.Route, path string) bool {
	set := false
	if !r.Timeout.IsZero() {
		dest["requestTimeout"] = r.Timeout.String()
		set = true
	}
	if rt := r.Retries; rt != nil {
		if rt.Attempts > 0 {
			dest["numRetries"] = int64(rt.Attempts)
			set = true
			on := rt.On
			if len(on) == 0 {
				on = []string{"5xx", "connect-failure", "reset"}
			}
			var conds []any
			var codes []any
			for _, c := range on {
				switch {
				case c == "connect-failure":
					dest["retryOnConnectFailure"] = true
				case statusCode.MatchString(c):
					n, _ := strconv.ParseInt(c, 10, 64)
					codes = append(codes, n)
				case consulRetryOn[c]:
					conds = append(conds, c)
				default:
					t.warn(path+".retries.on", adapters.FeatureRetries, adapters.SeverityWarning,
						"Consul has no retry condition %q; it is not retried", c)
				}
			}
			if len(conds) > 0 {
				dest["retryOn"] = conds
			}
			if len(codes) > 0 {
				dest["retryOnStatusCodes"] = codes
			}
		}
		if !rt.PerTryTimeout.IsZero() {
			t.warn(path+".retries.perTryTimeout", adapters.FeatureRetryPerTry, adapters.SeverityWarning,
				"Consul has no per-try timeout: each try may use the whole request timeout")
		}
		if rt.Backoff != nil {
			t.warn(path+".retries.backoff", adapters.FeatureRetryBackoff, adapters.SeverityWarning,
				"Consul has no retry backoff setting: Envoy's default backoff (25ms base) applies")
		}
		if rt.Budget != nil {
			t.warn(path+".retries.budget", adapters.FeatureRetryBudget, adapters.SeverityWarning,
				"Consul has no retry budget: retries are not capped")
		}
	}
	if h := r.Headers; h != nil {
		if m := headerOps(h.Request); m != nil {
			dest["requestHeaders"] = m
			set = true
		}
		if m := headerOps(h.Response); m != nil {
			dest["responseHeaders"] = m
			set = true
		}
	}
	if rw := r.Rewrite; rw != nil {
		switch {
		case rw.Prefix != "":
			if allMatches(r.Match, func(m spec.Match) bool { return m.Path != nil && m.Path.Prefix != "" }) {
				dest["prefixRewrite"] = rw.Prefix
				set = true
			} else {
				t.warn(path+".rewrite.prefix", adapters.FeatureRewrite, adapters.SeverityWarning,
					"Consul rewrites a prefix only on routes matching a path prefix; the path is not rewritten")
			}
		case rw.FullPath != "":
			if allMatches(r.Match, func(m spec.Match) bool { return m.Path != nil && m.Path.Exact != "" }) {
				dest["prefixRewrite"] = rw.FullPath
				set = true
			} else {
				t.warn(path+".rewrite.fullPath", adapters.FeatureRewrite, adapters.SeverityWarning,
					"Consul replaces a whole path only on routes matching an exact path (prefixRewrite); the path is not rewritten")
			}
		}
		if rw.Host != "" {
			t.warn(path+".rewrite.host", adapters.FeatureRewrite, adapters.SeverityWarning,
				"Consul cannot rewrite the Host/:authority header; requests keep their host")
		}
	}
	if f := r.Fault; f != nil {
		if f.Delay != nil {
			t.warn(path+".fault.delay", adapters.FeatureFaultDelay, adapters.SeverityWarning,
				"Consul CE cannot inject delays (Consul Enterprise's fault-injection extension is per service, not per route); no delay is injected")
		}
		if f.Abort != nil {
			t.warn(path+".fault.abort", adapters.FeatureFaultAbort, adapters.SeverityWarning,
				"Consul CE cannot inject aborts (Consul Enterprise's fault-injection extension is per service, not per route); no abort is injected")
		}
	}
	if r.Mirror != nil {
		t.warn(path+".mirror", adapters.FeatureMirror, adapters.SeverityWarning,
			"Consul has no request mirroring; requests are not mirrored")
	}
	return set
}

func allMatches(ms []spec.Match, ok func(spec.Match) bool) bool {
	if len(ms) == 0 {
		return false
	}
	for _, m := range ms {
		if !ok(m) {
			return false
		}
	}
	return true
}

func headerOps(o *spec.HeaderOperations) map[string]any {
	if o == nil || (len(o.Set) == 0 && len(o.Add) == 0 && len(o.Remove) == 0) {
		return nil
	}
	m := map[string]any{}
	if len(o.Add) > 0 {
		m["add"] = stringMap(o.Add)
	}
	if len(o.Set) > 0 {
		m["set"] = stringMap(o.Set)
	}
	if len(o.Remove) > 0 {
		m["remove"] = stringList(o.Remove)
	}
	return m
}

func stringMap(in map[string]string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func stringList(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

// httpMatch translates one match condition into a ServiceRouter http match.
func (t *translator) httpMatch(m spec.Match, path string) map[string]any {
	h := map[string]any{}
	if p := m.Path; p != nil {
		switch {
		case p.Exact != "":
			h["pathExact"] = p.Exact
		case p.Prefix != "":
			h["pathPrefix"] = p.Prefix
			if p.Prefix != "/" && !strings.HasSuffix(p.Prefix, "/") {
				t.warn(path+".path.prefix", adapters.FeaturePathMatch, adapters.SeverityInfo,
					"Consul pathPrefix is a raw string prefix: %q also matches %q", p.Prefix, p.Prefix+"x")
			}
		case p.Regex != "":
			h["pathRegex"] = p.Regex
		}
	}
	if m.Method != "" {
		h["methods"] = []any{strings.ToUpper(m.Method)}
	}
	if len(m.Headers) > 0 {
		var hs []any
		for _, name := range sortedKeys(m.Headers) {
			hs = append(hs, stringMatch(name, m.Headers[name], true))
		}
		h["header"] = hs
	}
	if len(m.QueryParams) > 0 {
		var qs []any
		for _, name := range sortedKeys(m.QueryParams) {
			qs = append(qs, stringMatch(name, m.QueryParams[name], false))
		}
		h["queryParam"] = qs
	}
	return h
}

// stringMatch is a Consul header or query-parameter match; query parameters have no prefix
// match in Consul, so a prefix becomes the equivalent anchored regex.
func stringMatch(name string, sm spec.StringMatch, prefixOK bool) map[string]any {
	out := map[string]any{"name": name}
	switch {
	case sm.Exact != "":
		out["exact"] = sm.Exact
	case sm.Prefix != "" && prefixOK:
		out["prefix"] = sm.Prefix
	case sm.Prefix != "":
		out["regex"] = regexp.QuoteMeta(sm.Prefix) + ".*"
	case sm.Regex != "":
		out["regex"] = sm.Regex
	default:
		out["present"] = true
	}
	return out
}

// l4Routes handles traffic policies of tcp services: no router or splitter is possible.
func (t *translator) l4Routes(ti int, tp spec.TrafficPolicy) {
	for ri, r := range tp.Routes {
		rpath := fmt.Sprintf("spec.traffic[%d].routes[%d]", ti, ri)
		catchAll := len(r.Match) == 0 && ri == len(tp.Routes)-1
		lost := func(field string, f adapters.Feature) {
			t.warn(rpath+"."+field, f, adapters.SeverityWarning,
				"Consul routes tcp traffic without a service-router (it needs protocol http, http2 or grpc); %s is lost", field)
		}
		if !catchAll {
			t.warn(rpath, adapters.FeaturePathMatch, adapters.SeverityWarning,
				"Consul cannot route tcp traffic by condition; route %q is lost", routeName(ri, r))
			continue
		}
		if !r.Timeout.IsZero() {
			lost("timeout", adapters.FeatureTimeout)
		}
		if r.Retries != nil {
			lost("retries", adapters.FeatureRetries)
		}
		if r.Headers != nil {
			lost("headers", adapters.FeatureHeaderOps)
		}
		if r.Rewrite != nil {
			lost("rewrite", adapters.FeatureRewrite)
		}
		if r.Fault != nil {
			lost("fault", adapters.FeatureFaultDelay)
		}
		if r.Mirror != nil {
			lost("mirror", adapters.FeatureMirror)
		}
		bs := positive(effectiveBackends(tp, r))
		if len(bs) > 1 {
			what := "all instances"
			if sub := t.defSubset[tp.Service]; sub != "" {
				what = "subset " + sub
			}
			t.warn(rpath+".backends", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"Consul cannot split tcp traffic (service-splitter needs an L7 protocol): all traffic goes to %s", what)
		} else if len(bs) == 1 && bs[0].service != tp.Service {
			// A service-router needs an L7 protocol, but a resolver redirect works for tcp: every
			// caller resolving the service gets the other one instead.
			target, sub := t.target(bs[0])
			red := map[string]any{"service": target}
			if sub != "" {
				red["serviceSubset"] = sub
			}
			t.resolver(tp.Service).spec["redirect"] = red
			t.warn(rpath+".backends", adapters.FeatureWeightedSplit, adapters.SeverityInfo,
				"tcp traffic for %s goes to %s through a service-resolver redirect: Consul resolves %s as %s for every caller", tp.Service, bs[0].service, tp.Service, bs[0].service)
		}
	}
}

// resilience translates connection limits, outlier detection, rate limits, connect timeouts and
// load balancing of the destination svc.
func (t *translator) resilience(path, svc string, r *spec.Resilience, overrides map[string]map[string]map[string]any) {
	ov := map[string]any{"name": svc}
	if c := r.Connections; c != nil {
		limits := map[string]any{}
		if c.Max > 0 {
			limits["maxConnections"] = int64(c.Max)
		}
		if c.MaxPendingRequests > 0 {
			limits["maxPendingRequests"] = int64(c.MaxPendingRequests)
		}
		if c.MaxRequests > 0 {
			limits["maxConcurrentRequests"] = int64(c.MaxRequests)
		}
		if len(limits) > 0 {
			ov["limits"] = limits
		}
		if c.MaxRequestsPerConnection > 0 {
			t.warn(path+".connections.maxRequestsPerConnection", adapters.FeatureConnectionLimits, adapters.SeverityWarning,
				"Consul has no limit on requests per connection; connections are reused without limit")
		}
		if !c.ConnectTimeout.IsZero() {
			t.resolver(svc).spec["connectTimeout"] = c.ConnectTimeout.String()
		}
	}
	if o := r.OutlierDetection; o != nil {
		hc := map[string]any{
			"interval":                durOr(o.Interval, "10s"),
			"maxFailures":             int64(orInt(o.Consecutive5xx, 5)),
			"enforcingConsecutive5xx": int64(100),
			"maxEjectionPercent":      int64(orInt(o.MaxEjectionPercent, 10)),
			"baseEjectionTime":        durOr(o.BaseEjectionTime, "30s"),
		}
		ov["passiveHealthCheck"] = hc
	}
	if len(ov) > 1 {
		callers, known := t.callersOf(svc)
		if len(callers) == 0 {
			t.warn(path, adapters.FeatureConnectionLimits, adapters.SeverityWarning,
				"Consul configures circuit breakers on the callers and the design has no other service to call %s; the limits are lost", svc)
		}
		for _, c := range callers {
			if overrides[c] == nil {
				overrides[c] = map[string]map[string]any{}
			}
			overrides[c][svc] = copyMap(ov)
		}
		if !known && len(callers) > 0 {
			t.warn(path, adapters.FeatureConnectionLimits, adapters.SeverityInfo,
				"Consul applies circuit breakers on the caller: set on every other service of the design (%s); callers outside the design are not limited", strings.Join(callers, ","))
		}
	}
	if rl := r.RateLimit; rl != nil {
		burst := rl.Burst
		if burst == 0 {
			burst = rl.Count()
		}
		rps := int64(rl.RequestsPerSecond)
		if rl.RequestsPerSecond == 0 {
			// Consul's instanceLevel.requestsPerSecond is an integer (consul-k8s CRD and the
			// config entry API alike): a per-minute rate is exact only in multiples of 60.
			// Otherwise round up, the nearest limit that never rejects what the design allows.
			rps = (int64(rl.RequestsPerMinute) + 59) / 60
			if int64(rl.RequestsPerMinute)%60 != 0 {
				t.warn(path+".rateLimit.requestsPerMinute", adapters.FeatureRateLimit, adapters.SeverityWarning,
					"Consul rate limits are whole requests per second: %d per minute is enforced as %d per second (%d per minute), a looser limit",
					rl.RequestsPerMinute, rps, rps*60)
			}
		}
		if int64(burst) < rps {
			// Consul has no refill interval to shorten: its bucket gets the whole per-second
			// rate once a second, and it documents requestsMaxBurst as at least the rate.
			t.warn(path+".rateLimit.burst", adapters.FeatureRateLimit, adapters.SeverityWarning,
				"Consul refills the whole requestsPerSecond once a second and expects requestsMaxBurst of at least it: a burst of %d below %d per second is rendered as is, and a proxy that cuts each refill to the bucket (Envoy's older timer-based bucket) enforces only %d per second",
				burst, rps, burst)
		}
		sd := t.serviceDefaults(svc)
		sd.spec["rateLimits"] = map[string]any{"instanceLevel": map[string]any{
			"requestsPerSecond": rps,
			"requestsMaxBurst":  int64(burst),
		}}
		t.warn(path+".rateLimit", adapters.FeatureRateLimit, adapters.SeverityWarning,
			"Consul enforces service-defaults rateLimits only in Consul Enterprise 1.17+; Consul CE rejects or ignores it")
	}
	if lb := r.LoadBalancer; lb != nil {
		t.loadBalancer(path+".loadBalancer", svc, lb)
	}
}

func durOr(d spec.Duration, def string) string {
	if d.IsZero() {
		return def
	}
	return d.String()
}

func orInt(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

var lbPolicies = map[spec.LoadBalancerAlgorithm]string{
	spec.LBRoundRobin:     "round_robin",
	spec.LBLeastRequest:   "least_request",
	spec.LBRandom:         "random",
	spec.LBConsistentHash: "ring_hash",
}

func (t *translator) loadBalancer(path, svc string, lb *spec.LoadBalancer) {
	alg := lb.Algorithm
	if alg == "" {
		alg = spec.LBRoundRobin
		if lb.ConsistentHash != nil {
			alg = spec.LBConsistentHash
		}
	}
	m := map[string]any{"policy": lbPolicies[alg]}
	if ch := lb.ConsistentHash; ch != nil {
		hp := map[string]any{}
		switch {
		case ch.Header != "":
			hp["field"] = "header"
			hp["fieldValue"] = ch.Header
		case ch.Cookie != nil:
			hp["field"] = "cookie"
			hp["fieldValue"] = ch.Cookie.Name
			cc := map[string]any{}
			if ch.Cookie.TTL.IsZero() {
				cc["session"] = true
			} else {
				cc["ttl"] = ch.Cookie.TTL.String()
			}
			if ch.Cookie.Path != "" {
				cc["path"] = ch.Cookie.Path
			}
			hp["cookieConfig"] = cc
		case ch.SourceIP:
			hp["sourceIP"] = true
		case ch.QueryParam != "":
			hp["field"] = "query_parameter"
			hp["fieldValue"] = ch.QueryParam
		}
		m["hashPolicies"] = []any{hp}
		if t.ownSplit[svc] {
			t.warn(path+".consistentHash", adapters.FeatureConsistentHash, adapters.SeverityInfo,
				"Consul applies one hash policy per split route: stickiness holds within a version, the split itself is not sticky")
		}
	}
	t.resolver(svc).spec["loadBalancer"] = m
}

// callersOf returns the services that call dest: the services named by allow rules for dest,
// or every other service of the design when a rule lets any service of the design call it
// (service "*", namespace "*" or the design's namespace) or no rule names a caller. known is
// false in the second case. Sources outside the design (another namespace, an unknown identity)
// cannot be configured and are not callers here.
func (t *translator) callersOf(dest string) ([]string, bool) {
	if t.allowedBy == nil {
		t.allowedBy = map[string][]spec.AccessRule{}
		if sec := t.d.Spec.Security; sec != nil {
			for _, r := range sec.Access {
				if r.Action == "" || r.Action == spec.ActionAllow {
					t.allowedBy[r.Destination] = append(t.allowedBy[r.Destination], r)
				}
			}
		}
	}
	set := map[string]bool{}
	anyCaller := len(t.allowedBy[dest]) == 0
	for _, r := range t.allowedBy[dest] {
		for _, s := range r.Sources {
			switch {
			case s.Service == Wildcard || s.Namespace == Wildcard || (s.Service == "" && s.Identity == "" && s.Namespace == t.ns):
				anyCaller = true
			case s.Service != "":
				if _, ok := t.services[s.Service]; ok {
					set[s.Service] = true
				}
			case s.Identity != "":
				if name, ok := t.identity[s.Identity]; ok {
					set[name] = true
				}
			}
		}
	}
	if anyCaller || len(set) == 0 {
		out := make([]string, 0, len(t.d.Spec.Services))
		for _, s := range t.d.Spec.Services {
			if s.Name != dest {
				out = append(out, s.Name)
			}
		}
		sort.Strings(out)
		return out, false
	}
	return sortedKeys(set), true
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			out[k] = copyMap(x)
		case []any:
			c := make([]any, len(x))
			for i, e := range x {
				if mm, ok := e.(map[string]any); ok {
					c[i] = copyMap(mm)
				} else {
					c[i] = e
				}
			}
			out[k] = c
		default:
			out[k] = v
		}
	}
	return out
}
