package linkerd

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// serviceProfile emits a legacy ServiceProfile for a traffic policy (Options.ServiceProfiles):
// routes classify requests (conditions, timeouts, isRetryable), retryBudget caps retries, and
// dstOverrides splits the whole service. Linkerd ignores HTTPRoutes for a Service that has a
// ServiceProfile, so none are emitted.
func (t *translator) serviceProfile(path string, tp *spec.TrafficPolicy, s *spec.Service) {
	ns := t.svcNamespace(s)
	var routes []any
	var budget *spec.RetryBudget
	var split []any
	for ri := range tp.Routes {
		r := &tp.Routes[ri]
		rp := fmt.Sprintf("%s.routes[%d]", path, ri)
		t.unsupportedRouteFeatures(rp, r, s)
		if r.Headers != nil {
			t.warn(rp+".headers", adapters.FeatureHeaderOps, adapters.SeverityWarning, "ServiceProfiles cannot modify headers: use the default (HTTPRoute) output")
		}
		if r.Rewrite != nil {
			t.warn(rp+".rewrite", adapters.FeatureRewrite, adapters.SeverityWarning, "ServiceProfiles cannot rewrite requests")
		}
		cond, ok := t.profileCondition(rp, r)
		if !ok {
			t.warn(rp+".match", adapters.FeaturePathMatch, adapters.SeverityWarning,
				"route %q matches on headers or query parameters only, which ServiceProfile conditions cannot express: the route (its backends, timeout and retries) is not emitted", routeName(ri, r))
			continue
		}
		route := map[string]any{"name": routeName(ri, r), "condition": cond}
		if !r.Timeout.IsZero() {
			route["timeout"] = fmtDuration(r.Timeout.Duration)
		}
		if rt := r.Retries; rt != nil && rt.Attempts > 0 {
			route["isRetryable"] = true
			t.warn(rp+".retries", adapters.FeatureRetries, adapters.SeverityWarning,
				"ServiceProfile retries are limited by the retry budget, not by %d attempts, and retry responses classified as failures (5xx) only", rt.Attempts)
			if !rt.PerTryTimeout.IsZero() {
				t.warn(rp+".retries.perTryTimeout", adapters.FeatureRetryPerTry, adapters.SeverityWarning, "ServiceProfiles have no per-try timeout")
			}
			if rt.Backoff != nil {
				t.warn(rp+".retries.backoff", adapters.FeatureRetryBackoff, adapters.SeverityWarning, "Linkerd has no retry backoff")
			}
			if rt.Budget != nil {
				if budget != nil && *budget != *rt.Budget {
					t.warn(rp+".retries.budget", adapters.FeatureRetryBudget, adapters.SeverityWarning, "a ServiceProfile has one retry budget per service: the first route's budget applies")
				} else {
					budget = rt.Budget
				}
			}
		}
		if len(r.Match) == 0 {
			if !t.trivialBackends(r, s) {
				split = t.dstOverrides(rp, r, s)
			}
		} else if !t.trivialBackends(r, s) {
			t.warn(rp+".backends", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"ServiceProfile dstOverrides split the whole service: the split of matched route %q is lost (use the default HTTPRoute output)", routeName(ri, r))
		}
		if len(r.Match) == 0 && r.Timeout.IsZero() && (r.Retries == nil || r.Retries.Attempts == 0) {
			continue // a catch-all without timeout or retries only carries the split
		}
		routes = append(routes, route)
	}
	objSpec := map[string]any{}
	if len(routes) > 0 {
		objSpec["routes"] = routes
	}
	if budget != nil {
		pct := budget.Percent
		if pct == 0 {
			pct = 20
		}
		minRetries := budget.MinRetryConcurrency
		if minRetries == 0 {
			minRetries = 3
		}
		objSpec["retryBudget"] = map[string]any{
			"retryRatio":          pct / 100,
			"minRetriesPerSecond": int64(minRetries),
			"ttl":                 "10s",
		}
		t.warn(path+".routes", adapters.FeatureRetryBudget, adapters.SeverityInfo,
			"retryBudget minRetriesPerSecond is a rate, not a concurrency: %d concurrent retries become %d retries per second over a 10s window", minRetries, minRetries)
	}
	if split != nil {
		objSpec["dstOverrides"] = split
	}
	t.newObject(serviceProfileAPI, "ServiceProfile", ns, s.Name+"."+ns+".svc."+clusterDomain, objSpec)
}

// profileCondition converts a route's matches to a ServiceProfile RequestMatch.
// ok is false when no match of the route can be expressed.
func (t *translator) profileCondition(rp string, r *spec.Route) (map[string]any, bool) {
	if len(r.Match) == 0 {
		return map[string]any{"pathRegex": ".*"}, true
	}
	var alts []any
	for mi, m := range r.Match {
		mp := fmt.Sprintf("%s.match[%d]", rp, mi)
		var all []any
		if m.Path != nil {
			all = append(all, map[string]any{"pathRegex": pathRegex(m.Path)})
		}
		if m.Method != "" {
			all = append(all, map[string]any{"method": m.Method})
		}
		if len(m.Headers) > 0 {
			t.warn(mp+".headers", adapters.FeatureHeaderMatch, adapters.SeverityWarning, "ServiceProfile conditions cannot match headers: the condition is dropped")
		}
		if len(m.QueryParams) > 0 {
			t.warn(mp+".queryParams", adapters.FeatureQueryMatch, adapters.SeverityWarning, "ServiceProfile conditions cannot match query parameters: the condition is dropped")
		}
		if m.Path != nil && m.Method != "" {
			// One RequestMatch with several fields ANDs them (booksapp's generated profiles).
			all = []any{map[string]any{"pathRegex": pathRegex(m.Path), "method": m.Method}}
		}
		switch len(all) {
		case 0:
			if len(m.Headers) == 0 && len(m.QueryParams) == 0 {
				alts = append(alts, map[string]any{"pathRegex": ".*"})
			}
		case 1:
			alts = append(alts, all[0])
		default:
			alts = append(alts, map[string]any{"all": all})
		}
	}
	switch len(alts) {
	case 0:
		return nil, false
	case 1:
		return alts[0].(map[string]any), true
	}
	return map[string]any{"any": alts}, true
}

// pathRegex converts a path match to a ServiceProfile pathRegex (matched against the whole path).
func pathRegex(p *spec.PathMatch) string {
	switch {
	case p.Exact != "":
		return regexp.QuoteMeta(p.Exact)
	case p.Prefix != "":
		if p.Prefix == "/" {
			return "/.*"
		}
		return regexp.QuoteMeta(p.Prefix) + "(/.*)?"
	default:
		return p.Regex
	}
}

// dstOverrides converts a catch-all route's backends to ServiceProfile dstOverrides.
func (t *translator) dstOverrides(rp string, r *spec.Route, s *spec.Service) []any {
	anyWeight := false
	for _, b := range r.Backends {
		if b.Weight != 0 {
			anyWeight = true
		}
	}
	var out []any
	for bi, b := range r.Backends {
		target := s
		if b.Service != "" && b.Service != s.Name {
			ts, ok := t.services[b.Service]
			if !ok {
				t.warn(fmt.Sprintf("%s.backends[%d].service", rp, bi), adapters.FeatureExternalServices, adapters.SeverityWarning, "backend %q is not a service of the design: dropped", b.Service)
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
			port = svcPorts(target)[0].Port
		}
		w := int64(b.Weight)
		if !anyWeight {
			w = 1
		}
		out = append(out, map[string]any{
			"authority": name + "." + t.svcNamespace(target) + ".svc." + clusterDomain + ":" + strconv.Itoa(int(port)),
			"weight":    w,
		})
	}
	return out
}

// serviceProfiles imports legacy ServiceProfiles.
func (im *importer) serviceProfiles() {
	for _, o := range im.byKind["linkerd.io/ServiceProfile"] {
		fqdn := o.GetName()
		parts := strings.Split(fqdn, ".")
		if len(parts) < 3 || parts[2] != "svc" {
			im.warn(o, adapters.FeatureWeightedSplit, "ServiceProfile %q does not name an in-cluster Service: not imported", fqdn)
			continue
		}
		ns := parts[1]
		s := im.service(ns, parts[0])
		tp := im.trafficFor(ns, s.Name)
		im.profiled[ns+"/"+s.Name] = true
		var budget *spec.RetryBudget
		if rb, ok, _ := unstructured.NestedMap(o.Object, "spec", "retryBudget"); ok {
			budget = &spec.RetryBudget{}
			if f, ok := rb["retryRatio"].(float64); ok {
				budget.Percent = math.Round(f*100*1e6) / 1e6
			} else if i, ok := rb["retryRatio"].(int64); ok {
				budget.Percent = float64(i) * 100
			}
			budget.MinRetryConcurrency = toInt32(rb["minRetriesPerSecond"])
		}
		routes, _, _ := unstructured.NestedSlice(o.Object, "spec", "routes")
		var rs []spec.Route
		for _, rv := range routes {
			rm, _ := rv.(map[string]any)
			name, _ := rm["name"].(string)
			r := spec.Route{Name: dnsLabel(name)}
			cond, _ := rm["condition"].(map[string]any)
			r.Match = im.profileMatches(o, cond)
			if v, _ := rm["timeout"].(string); v != "" {
				if d, err := parseLinkerdDuration(v); err == nil {
					r.Timeout = spec.Dur(d)
				}
			}
			if retry, _ := rm["isRetryable"].(bool); retry {
				r.Retries = &spec.Retries{Attempts: 1, On: []string{"5xx"}, Budget: budget}
			}
			if _, ok := rm["responseClasses"]; ok {
				im.warn(o, adapters.FeatureRetries, "route %q: responseClasses have no design field and are not imported", name)
			}
			rs = append(rs, r)
		}
		// Routes with neither a timeout nor retries only name requests for Linkerd's per-route
		// metrics. The first matching route wins, so such a route still matters before a route
		// with behaviour; after the last one that has behaviour, they change nothing.
		last := -1
		for i := range rs {
			if !rs[i].Timeout.IsZero() || rs[i].Retries != nil {
				last = i
			}
		}
		if dropped := len(rs) - last - 1; dropped > 0 {
			im.warns = append(im.warns, adapters.Warning{Path: "ServiceProfile/" + o.GetNamespace() + "/" + fqdn, Mesh: Name,
				Feature: adapters.FeatureTimeout, Severity: adapters.SeverityInfo,
				Lost: fmt.Sprintf("%d route(s) with neither timeout nor retries only name requests for per-route metrics, which the design does not model: not imported", dropped)})
			rs = rs[:last+1]
		}
		var catchAll *spec.Route
		for _, r := range rs {
			tp.Routes = append(tp.Routes, r)
			if len(r.Match) == 0 {
				catchAll = &tp.Routes[len(tp.Routes)-1]
			}
		}
		overrides, _, _ := unstructured.NestedSlice(o.Object, "spec", "dstOverrides")
		if len(overrides) > 0 {
			if catchAll == nil {
				tp.Routes = append(tp.Routes, spec.Route{Name: "default"})
				catchAll = &tp.Routes[len(tp.Routes)-1]
			}
			weights := im.overrideWeights(o, overrides)
			for i, ov := range overrides {
				om, _ := ov.(map[string]any)
				auth, _ := om["authority"].(string)
				host, portStr, _ := strings.Cut(auth, ":")
				hp := strings.Split(host, ".")
				bns := ns
				if len(hp) > 1 {
					bns = hp[1]
				}
				bm := map[string]any{"name": hp[0], "weight": int64(weights[i])}
				if bns != ns {
					bm["namespace"] = bns
				}
				if p, err := strconv.Atoi(portStr); err == nil {
					bm["port"] = int64(p)
				}
				b := im.importBackend(ns, s, bm)
				tname := b.Service
				if tname == "" {
					tname = s.Name
				}
				if t := im.svcs[bns+"/"+tname]; b.Port != 0 && t != nil && len(t.Ports) > 0 && !hasPort(t.Ports, b.Port) {
					im.warn(o, adapters.FeatureWeightedSplit, "spec.dstOverrides[%d].authority %q: port %d is not a port of Service %s/%s (%s): the port is dropped, the backend takes the service's port",
						i, auth, b.Port, bns, tname, portList(t.Ports))
					b.Port = 0
				}
				catchAll.Backends = append(catchAll.Backends, b)
			}
		}
	}
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsLabel turns a ServiceProfile route name ("GET /books/{id}") into a DNS-1123 label.
func dnsLabel(s string) string {
	l := strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if l == "" {
		return "route"
	}
	if len(l) > 63 {
		l = strings.TrimRight(l[:63], "-")
	}
	return l
}

// profileMatches converts a ServiceProfile RequestMatch to design matches.
func (im *importer) profileMatches(o *unstructured.Unstructured, cond map[string]any) []spec.Match {
	if alts, ok := cond["any"].([]any); ok {
		var out []spec.Match
		for _, a := range alts {
			am, _ := a.(map[string]any)
			out = append(out, im.profileMatches(o, am)...)
		}
		return out
	}
	var m spec.Match
	conds := []map[string]any{cond}
	if all, ok := cond["all"].([]any); ok {
		conds = nil
		for _, a := range all {
			am, _ := a.(map[string]any)
			conds = append(conds, am)
		}
	}
	for _, c := range conds {
		if p, ok := c["pathRegex"].(string); ok && p != ".*" && p != "/.*" {
			m.Path = regexPath(p)
		}
		if meth, ok := c["method"].(string); ok {
			m.Method = meth
		}
		if _, ok := c["not"]; ok {
			im.warn(o, adapters.FeaturePathMatch, "\"not\" conditions have no design equivalent and are dropped")
		}
	}
	if m.Path == nil && m.Method == "" {
		return nil
	}
	return []spec.Match{m}
}

var quotedLiteral = regexp.MustCompile(`^(?:[^\\.*+?()|\[\]{}^$]|\\.)*$`)

// regexPath recognises the translator's encodings of exact and prefix paths.
func regexPath(p string) *spec.PathMatch {
	if strings.HasSuffix(p, "(/.*)?") && quotedLiteral.MatchString(strings.TrimSuffix(p, "(/.*)?")) {
		return &spec.PathMatch{Prefix: unquoteMeta(strings.TrimSuffix(p, "(/.*)?"))}
	}
	if quotedLiteral.MatchString(p) {
		return &spec.PathMatch{Exact: unquoteMeta(p)}
	}
	return &spec.PathMatch{Regex: p}
}

// overrideWeights reads the weights of ServiceProfile dstOverrides, which are Kubernetes
// quantities: "500m" and "0m" (Linkerd's own tests and docs), "1", or plain integers (what the
// translation writes). They are read in thousandths and reduced to whole numbers when every one
// is whole; shares above the design's 10000 are rescaled, keeping the proportions.
func (im *importer) overrideWeights(o *unstructured.Unstructured, overrides []any) []int32 {
	milli := make([]int64, len(overrides))
	whole := true
	var maxW int64
	for i, ov := range overrides {
		om, _ := ov.(map[string]any)
		var m int64
		switch w := om["weight"].(type) {
		case int64:
			m = w * 1000
		case int:
			m = int64(w) * 1000
		case float64:
			m = int64(math.Round(w * 1000))
		case string:
			q, err := resource.ParseQuantity(w)
			if err != nil {
				im.warn(o, adapters.FeatureWeightedSplit, "spec.dstOverrides[%d].weight %q is not a quantity (expected a number such as 90 or 500m): read as 0", i, w)
				continue
			}
			m = q.MilliValue()
		case nil:
			im.warn(o, adapters.FeatureWeightedSplit, "spec.dstOverrides[%d].weight is missing (expected a number such as 90 or 500m): read as 0", i)
		}
		if m < 0 {
			im.warn(o, adapters.FeatureWeightedSplit, "spec.dstOverrides[%d].weight is negative: read as 0", i)
			m = 0
		}
		milli[i] = m
		if m%1000 != 0 {
			whole = false
		}
	}
	for i := range milli {
		if whole {
			milli[i] /= 1000
		}
		maxW = max(maxW, milli[i])
	}
	out := make([]int32, len(milli))
	if maxW > 10000 {
		var total int64
		for _, m := range milli {
			total += m
		}
		for i, m := range milli {
			out[i] = int32(m * 10000 / total)
		}
		im.warn(o, adapters.FeatureWeightedSplit, "spec.dstOverrides: weights rescaled to parts of 10000 (the design's largest weight), keeping their proportions")
		im.warns[len(im.warns)-1].Severity = adapters.SeverityInfo
		return out
	}
	for i, m := range milli {
		out[i] = int32(m)
	}
	return out
}

func hasPort(ports []spec.Port, p int32) bool {
	for _, sp := range ports {
		if sp.Port == p {
			return true
		}
	}
	return false
}

func portList(ports []spec.Port) string {
	var out []string
	for _, p := range ports {
		out = append(out, strconv.Itoa(int(p.Port)))
	}
	return strings.Join(out, ", ")
}
