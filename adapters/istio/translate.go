package istio

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

type obj = map[string]any

// FallthroughRoute is the name of the catch-all route the adapter appends to a VirtualService
// whose last route has match conditions, so that unmatched requests still reach the service
// (Istio answers 404 to requests no VirtualService route matches).
const FallthroughRoute = "trellis-default"

// translator holds the state of one translation.
type translator struct {
	d        *spec.Design
	opts     adapters.Options
	objs     []*unstructured.Unstructured
	warnings []adapters.Warning
	services map[string]*spec.Service
	external map[string]*spec.ExternalService
	// budgets collects the retry budget of each service (from its routes) for its DestinationRule.
	budgets map[string]*spec.RetryBudget
}

// Translate turns a defaulted, valid design into Istio objects. It never fails on a valid
// design; what Istio cannot express is reported as warnings.
func (a *Adapter) Translate(ctx context.Context, d *spec.Design, opts adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	if d == nil {
		return nil, nil, fmt.Errorf("translating to istio: no design")
	}
	t := &translator{
		d: d, opts: opts,
		services: map[string]*spec.Service{},
		external: map[string]*spec.ExternalService{},
		budgets:  map[string]*spec.RetryBudget{},
	}
	for i := range d.Spec.Services {
		t.services[d.Spec.Services[i].Name] = &d.Spec.Services[i]
	}
	for i := range d.Spec.ExternalServices {
		t.external[d.Spec.ExternalServices[i].Name] = &d.Spec.ExternalServices[i]
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	policies := map[string]*spec.TrafficPolicy{}
	for i := range d.Spec.Traffic {
		tp := &d.Spec.Traffic[i]
		policies[tp.Service] = tp
		if err := t.routes(i, tp); err != nil {
			return nil, t.warnings, err
		}
	}
	for i := range d.Spec.Services {
		svc := &d.Spec.Services[i]
		t.destinationRule(svc, policies[svc.Name], trafficIndex(d, svc.Name))
		if svc.HealthCheck != nil {
			t.warn(fmt.Sprintf("spec.services[%d].healthCheck", i), adapters.FeatureHealthCheck,
				"Istio has no active health checks by callers' proxies; it relies on the workloads' Kubernetes readiness probes", adapters.SeverityWarning)
		}
	}
	for i := range d.Spec.ExternalServices {
		es := &d.Spec.ExternalServices[i]
		t.serviceEntry(es, policies[es.Name], trafficIndex(d, es.Name))
	}
	t.security()
	t.telemetry()
	t.extensions()
	t.rateLimits()
	out := &adapters.Output{Objects: t.objs}
	out.Sort()
	adapters.SortWarnings(t.warnings)
	return out, t.warnings, nil
}

func trafficIndex(d *spec.Design, service string) int {
	for i := range d.Spec.Traffic {
		if d.Spec.Traffic[i].Service == service {
			return i
		}
	}
	return -1
}

func (t *translator) warn(path string, f adapters.Feature, lost string, sev adapters.Severity) {
	t.warnings = append(t.warnings, adapters.Warning{Path: path, Mesh: Name, Feature: f, Lost: lost, Severity: sev})
}

func (t *translator) add(apiVersion, kind, namespace, name string, s obj) {
	t.objs = append(t.objs, adapters.NewObject(apiVersion, kind, namespace, name, t.d, s))
}

// host returns the fully qualified host of a service or the first host of an external service.
func (t *translator) host(name string) string {
	if svc, ok := t.services[name]; ok {
		return name + "." + svc.Namespace + "." + ClusterDomain
	}
	if es, ok := t.external[name]; ok && len(es.Hosts) > 0 {
		return es.Hosts[0]
	}
	return name
}

// namespaceOf returns the namespace a service's objects go to.
func (t *translator) namespaceOf(name string) string {
	if svc, ok := t.services[name]; ok {
		return svc.Namespace
	}
	return t.d.Metadata.Namespace
}

func (t *translator) protocolOf(name string) spec.Protocol {
	if svc, ok := t.services[name]; ok {
		return svc.Protocol
	}
	if es, ok := t.external[name]; ok {
		return es.Protocol
	}
	return spec.ProtocolHTTP
}

// Dur formats a duration the way Istio's protobuf durations are written ("2s", "0.5s").
func Dur(d spec.Duration) string {
	if d.Duration%time.Second == 0 {
		return strconv.FormatInt(int64(d.Duration/time.Second), 10) + "s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// selector returns the workload selector of a service: matchLabels from its selector (default
// {app: <name>}).
func (t *translator) selector(service string) obj {
	return obj{"matchLabels": stringMap(t.podLabels(service))}
}

// podLabels returns the pod labels that select a service's workloads.
func (t *translator) podLabels(service string) map[string]string {
	if svc, ok := t.services[service]; ok {
		return svc.SelectorLabels()
	}
	return map[string]string{AppLabel: service}
}

// routes emits the VirtualService (or, with MeshRoutes, an HTTPRoute) of one traffic policy.
func (t *translator) routes(ti int, tp *spec.TrafficPolicy) error {
	if len(tp.Routes) == 0 {
		return nil
	}
	base := fmt.Sprintf("spec.traffic[%d]", ti)
	if t.opts.MeshRoutes {
		if _, internal := t.services[tp.Service]; internal {
			if reason := t.meshRouteBlocker(tp); reason == "" {
				t.httpRoute(ti, tp)
				t.collectBudgets(ti, tp)
				return nil
			} else {
				t.warn(base+".routes", adapters.FeatureWeightedSplit,
					"a Gateway API HTTPRoute cannot express "+reason+"; a VirtualService is generated instead", adapters.SeverityInfo)
			}
		}
	}
	proto := t.protocolOf(tp.Service)
	host := t.host(tp.Service)
	hosts := []any{host}
	ns := t.namespaceOf(tp.Service)
	if es, ok := t.external[tp.Service]; ok {
		hosts = make([]any, len(es.Hosts))
		for i, h := range es.Hosts {
			hosts[i] = h
		}
	}
	vs := obj{"hosts": hosts}
	if !proto.IsL7() {
		var tcp []any
		for ri := range tp.Routes {
			r := &tp.Routes[ri]
			path := fmt.Sprintf("%s.routes[%d]", base, ri)
			t.warnL7OnTCP(path, r)
			entry := obj{"route": t.destinations(path, tp.Service, r.Backends)}
			tcp = append(tcp, entry)
		}
		if len(tcp) > 1 {
			t.warn(base+".routes", adapters.FeatureWeightedSplit, "a TCP service has no request attributes to match on: only the first route is used", adapters.SeverityWarning)
			tcp = tcp[:1]
		}
		vs["tcp"] = tcp
	} else {
		var http []any
		for ri := range tp.Routes {
			http = append(http, t.httpRoute1(fmt.Sprintf("%s.routes[%d]", base, ri), tp, &tp.Routes[ri]))
		}
		if last := tp.Routes[len(tp.Routes)-1]; len(last.Match) > 0 {
			http = append(http, obj{"name": FallthroughRoute, "route": []any{obj{"destination": obj{"host": host}}}})
		}
		vs["http"] = http
	}
	t.collectBudgets(ti, tp)
	t.add(NetworkingV1, "VirtualService", ns, tp.Service, vs)
	return nil
}

func (t *translator) collectBudgets(ti int, tp *spec.TrafficPolicy) {
	for ri := range tp.Routes {
		r := &tp.Routes[ri]
		if r.Retries == nil || r.Retries.Budget == nil {
			continue
		}
		if prev, ok := t.budgets[tp.Service]; ok {
			if *prev != *r.Retries.Budget {
				t.warn(fmt.Sprintf("spec.traffic[%d].routes[%d].retries.budget", ti, ri), adapters.FeatureRetryBudget,
					"Istio's retry budget is per destination (DestinationRule): this route's different budget is ignored, the first route's applies", adapters.SeverityWarning)
			}
			continue
		}
		t.budgets[tp.Service] = r.Retries.Budget
	}
}

func (t *translator) warnL7OnTCP(path string, r *spec.Route) {
	lost := func(field string, f adapters.Feature) {
		t.warn(path+"."+field, f, "TCP routes carry no HTTP semantics: "+field+" is dropped", adapters.SeverityWarning)
	}
	if len(r.Match) > 0 {
		lost("match", adapters.FeaturePathMatch)
	}
	if !r.Timeout.IsZero() {
		lost("timeout", adapters.FeatureTimeout)
	}
	if r.Retries != nil {
		lost("retries", adapters.FeatureRetries)
	}
	if r.Fault != nil {
		lost("fault", adapters.FeatureFaultDelay)
	}
	if r.Mirror != nil {
		lost("mirror", adapters.FeatureMirror)
	}
	if r.Headers != nil {
		lost("headers", adapters.FeatureHeaderOps)
	}
	if r.Rewrite != nil {
		lost("rewrite", adapters.FeatureRewrite)
	}
}

// destinations renders weighted backends as VirtualService route destinations. Weights are
// normalized to percentages summing to 100 (the form every Istio version accepts).
func (t *translator) destinations(path, service string, backends []spec.Backend) []any {
	weights := normalizeWeights(backends)
	exact := true
	total := int64(0)
	for _, b := range backends {
		total += int64(b.Weight)
	}
	for _, b := range backends {
		if total > 0 && (int64(b.Weight)*100)%total != 0 {
			exact = false
		}
	}
	if !exact {
		t.warn(path+".backends", adapters.FeatureWeightedSplit,
			"weights are normalized to whole percentages summing to 100; the split is approximated", adapters.SeverityInfo)
	}
	out := make([]any, 0, len(backends))
	for i, b := range backends {
		svc := b.Service
		if svc == "" {
			svc = service
		}
		dest := obj{"host": t.host(svc)}
		if b.Version != "" {
			dest["subset"] = b.Version
		}
		if b.Port != 0 {
			dest["port"] = obj{"number": int64(b.Port)}
		}
		entry := obj{"destination": dest}
		if len(backends) > 1 {
			entry["weight"] = weights[i]
		}
		out = append(out, entry)
	}
	return out
}

func normalizeWeights(backends []spec.Backend) []int64 {
	w := make([]int64, len(backends))
	total := int64(0)
	for _, b := range backends {
		total += int64(b.Weight)
	}
	if total <= 0 {
		return w
	}
	sum := int64(0)
	maxI := 0
	for i, b := range backends {
		w[i] = int64(b.Weight) * 100 / total
		sum += w[i]
		if b.Weight > backends[maxI].Weight {
			maxI = i
		}
	}
	w[maxI] += 100 - sum
	return w
}

// httpRoute1 renders one design route as a VirtualService http route.
func (t *translator) httpRoute1(path string, tp *spec.TrafficPolicy, r *spec.Route) obj {
	h := obj{"name": r.Name}
	if ms := t.matches(path, r.Match); len(ms) > 0 {
		h["match"] = ms
	}
	h["route"] = t.destinations(path, tp.Service, r.Backends)
	if !r.Timeout.IsZero() {
		h["timeout"] = Dur(r.Timeout)
	}
	if rt := r.Retries; rt != nil {
		re := obj{"attempts": int64(rt.Attempts)}
		if !rt.PerTryTimeout.IsZero() {
			re["perTryTimeout"] = Dur(rt.PerTryTimeout)
		}
		if len(rt.On) > 0 {
			re["retryOn"] = strings.Join(rt.On, ",")
		}
		if b := rt.Backoff; b != nil {
			re["backoff"] = Dur(b.BaseInterval)
			if !b.MaxInterval.IsZero() && b.MaxInterval.Duration != 10*b.BaseInterval.Duration {
				t.warn(path+".retries.backoff.maxInterval", adapters.FeatureRetryBackoff,
					"Istio sets only the base interval; the maximum is fixed at 10× base ("+Dur(spec.Dur(10*b.BaseInterval.Duration))+"), not "+Dur(b.MaxInterval), adapters.SeverityWarning)
			}
		}
		h["retries"] = re
	}
	if f := r.Fault; f != nil {
		fo := obj{}
		if dl := f.Delay; dl != nil {
			fo["delay"] = obj{"fixedDelay": Dur(dl.Fixed), "percentage": obj{"value": dl.Percent}}
		}
		if ab := f.Abort; ab != nil {
			a := obj{"percentage": obj{"value": ab.Percent}}
			if ab.GRPCStatus != "" {
				a["grpcStatus"] = ab.GRPCStatus
			} else {
				a["httpStatus"] = int64(ab.HTTPStatus)
			}
			fo["abort"] = a
		}
		h["fault"] = fo
	}
	if m := r.Mirror; m != nil {
		dest := obj{"host": t.host(m.Service)}
		if m.Version != "" {
			dest["subset"] = m.Version
		}
		h["mirrors"] = []any{obj{"destination": dest, "percentage": obj{"value": m.Percent}}}
	}
	if hd := r.Headers; hd != nil {
		ho := obj{}
		if hd.Request != nil {
			ho["request"] = headerOps(hd.Request)
		}
		if hd.Response != nil {
			ho["response"] = headerOps(hd.Response)
		}
		h["headers"] = ho
	}
	if rw := r.Rewrite; rw != nil {
		ro := obj{}
		switch {
		case rw.Prefix != "":
			ro["uriRegexRewrite"] = prefixRewrite(r.Match, rw.Prefix)
		case rw.FullPath != "":
			ro["uriRegexRewrite"] = obj{"match": "^.*$", "rewrite": rw.FullPath}
		}
		if rw.Host != "" {
			ro["authority"] = rw.Host
		}
		h["rewrite"] = ro
	}
	return h
}

// prefixRewrite replaces the route's segment prefix (Gateway API ReplacePrefixMatch semantics)
// with an anchored regex rewrite: "^(?:/p)(/|$)" → "<r>\1", so "/p/x" becomes "<r>/x" and "/p"
// becomes "<r>". A rewrite to "/" drops the prefix and its separator.
func prefixRewrite(ms []spec.Match, to string) obj {
	var alts []string
	for _, m := range ms {
		if m.Path != nil && m.Path.Prefix != "" {
			alts = append(alts, regexp.QuoteMeta(strings.TrimSuffix(m.Path.Prefix, "/")))
		}
	}
	if len(alts) == 0 {
		alts = []string{""}
	}
	re := "^(?:" + strings.Join(alts, "|") + ")"
	to = strings.TrimSuffix(to, "/")
	if to == "" {
		return obj{"match": re + "/?", "rewrite": "/"}
	}
	return obj{"match": re + "(/|$)", "rewrite": to + `\1`}
}

func headerOps(o *spec.HeaderOperations) obj {
	out := obj{}
	if len(o.Set) > 0 {
		out["set"] = stringMap(o.Set)
	}
	if len(o.Add) > 0 {
		out["add"] = stringMap(o.Add)
	}
	if len(o.Remove) > 0 {
		out["remove"] = stringList(o.Remove)
	}
	return out
}

func stringMap(m map[string]string) obj {
	out := make(obj, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// matches renders design matches as Istio HTTPMatchRequests. A segment-prefix match "/p" becomes
// two alternatives, {uri: {exact: /p}} and {uri: {prefix: /p/}}, because Istio's prefix is a raw
// string prefix ("/p" would also match "/px").
func (t *translator) matches(path string, ms []spec.Match) []any {
	var out []any
	for mi, m := range ms {
		base := obj{}
		if m.Method != "" {
			base["method"] = obj{"exact": m.Method}
		}
		if len(m.Headers) > 0 {
			hs := obj{}
			for k, v := range m.Headers {
				hs[k] = stringMatch(v, false)
			}
			base["headers"] = hs
		}
		if len(m.QueryParams) > 0 {
			qs := obj{}
			for k, v := range m.QueryParams {
				qs[k] = stringMatch(v, true)
			}
			base["queryParams"] = qs
		}
		_ = mi
		if m.Path == nil {
			out = append(out, base)
			continue
		}
		switch {
		case m.Path.Exact != "":
			out = append(out, with(base, "uri", obj{"exact": m.Path.Exact}))
		case m.Path.Regex != "":
			out = append(out, with(base, "uri", obj{"regex": m.Path.Regex}))
		default:
			p := m.Path.Prefix
			if strings.HasSuffix(p, "/") {
				out = append(out, with(base, "uri", obj{"prefix": p}))
			} else {
				out = append(out, with(base, "uri", obj{"exact": p}), with(base, "uri", obj{"prefix": p + "/"}))
			}
		}
	}
	return out
}

func with(base obj, k string, v any) obj {
	out := make(obj, len(base)+1)
	for bk, bv := range base {
		out[bk] = deepCopy(bv)
	}
	out[k] = v
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case obj:
		out := make(obj, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

// stringMatch renders a design StringMatch as an Istio StringMatch. Presence is an empty match
// for headers and ".*" for query parameters; query parameters have no prefix match in Istio, so
// a prefix becomes an anchored regex.
func stringMatch(s spec.StringMatch, query bool) obj {
	switch {
	case s.Exact != "":
		return obj{"exact": s.Exact}
	case s.Prefix != "":
		if query {
			return obj{"regex": regexp.QuoteMeta(s.Prefix) + ".*"}
		}
		return obj{"prefix": s.Prefix}
	case s.Regex != "":
		return obj{"regex": s.Regex}
	default:
		if query {
			return obj{"regex": ".*"}
		}
		return obj{}
	}
}

// destinationRule emits the DestinationRule of a service: subsets from versions, connection
// pool, outlier detection, load balancer, retry budget and the client TLS mode matching the
// service's mTLS mode.
func (t *translator) destinationRule(svc *spec.Service, tp *spec.TrafficPolicy, ti int) {
	policy := obj{}
	if tp != nil && tp.Resilience != nil {
		t.resilience(policy, fmt.Sprintf("spec.traffic[%d].resilience", ti), tp.Resilience)
	}
	if b, ok := t.budgets[svc.Name]; ok {
		policy["retryBudget"] = obj{"percent": b.Percent, "minRetryConcurrency": int64(b.MinRetryConcurrency)}
	}
	mode, portModes := t.mtlsModes(svc)
	var portLevel []any
	for _, p := range svc.Ports {
		if m, ok := portModes[p.TargetPort]; ok && (m == spec.MTLSDisabled) != (mode == spec.MTLSDisabled) {
			portLevel = append(portLevel, obj{"port": obj{"number": int64(p.Port)}, "tls": obj{"mode": clientTLS(m)}})
		}
	}
	if len(svc.Versions) == 0 && len(policy) == 0 && mode != spec.MTLSDisabled && len(portLevel) == 0 {
		return
	}
	policy["tls"] = obj{"mode": clientTLS(mode)}
	if len(portLevel) > 0 {
		policy["portLevelSettings"] = portLevel
	}
	s := obj{"host": t.host(svc.Name), "trafficPolicy": policy}
	if len(svc.Versions) > 0 {
		subsets := make([]any, 0, len(svc.Versions))
		for _, v := range svc.Versions {
			subsets = append(subsets, obj{"name": v.Name, "labels": stringMap(v.Labels)})
		}
		s["subsets"] = subsets
	}
	t.add(NetworkingV1, "DestinationRule", svc.Namespace, svc.Name, s)
}

func clientTLS(m spec.MTLSMode) string {
	if m == spec.MTLSDisabled {
		return "DISABLE"
	}
	return "ISTIO_MUTUAL"
}

// mtlsModes returns a service's effective mTLS mode and its per-target-port overrides.
func (t *translator) mtlsModes(svc *spec.Service) (spec.MTLSMode, map[int32]spec.MTLSMode) {
	mode := spec.MTLSStrict
	ports := map[int32]spec.MTLSMode{}
	sec := t.d.Spec.Security
	if sec == nil {
		return mode, ports
	}
	if sec.MTLS != "" {
		mode = sec.MTLS
	}
	for _, o := range sec.MTLSOverrides {
		if o.Service != svc.Name {
			continue
		}
		if o.Port == 0 {
			mode = o.Mode
			continue
		}
		ports[targetPort(svc, o.Port)] = o.Mode
	}
	return mode, ports
}

func targetPort(svc *spec.Service, port int32) int32 {
	for _, p := range svc.Ports {
		if p.Port == port {
			return p.TargetPort
		}
	}
	return port
}

func (t *translator) resilience(policy obj, path string, r *spec.Resilience) {
	if c := r.Connections; c != nil {
		cp := obj{}
		tcp := obj{}
		if c.Max > 0 {
			tcp["maxConnections"] = int64(c.Max)
		}
		if !c.ConnectTimeout.IsZero() {
			tcp["connectTimeout"] = Dur(c.ConnectTimeout)
		}
		http := obj{}
		if c.MaxPendingRequests > 0 {
			http["http1MaxPendingRequests"] = int64(c.MaxPendingRequests)
		}
		if c.MaxRequests > 0 {
			http["http2MaxRequests"] = int64(c.MaxRequests)
		}
		if c.MaxRequestsPerConnection > 0 {
			http["maxRequestsPerConnection"] = int64(c.MaxRequestsPerConnection)
		}
		if len(tcp) > 0 {
			cp["tcp"] = tcp
		}
		if len(http) > 0 {
			cp["http"] = http
		}
		if len(cp) > 0 {
			policy["connectionPool"] = cp
		}
	}
	if od := r.OutlierDetection; od != nil {
		policy["outlierDetection"] = obj{
			"consecutive5xxErrors": int64(od.Consecutive5xx),
			"interval":             Dur(od.Interval),
			"baseEjectionTime":     Dur(od.BaseEjectionTime),
			"maxEjectionPercent":   int64(od.MaxEjectionPercent),
		}
	}
	if lb := r.LoadBalancer; lb != nil {
		switch lb.Algorithm {
		case spec.LBConsistentHash:
			ch := obj{}
			if h := lb.ConsistentHash; h != nil {
				switch {
				case h.Header != "":
					ch["httpHeaderName"] = h.Header
				case h.Cookie != nil:
					c := obj{"name": h.Cookie.Name, "ttl": Dur(h.Cookie.TTL)}
					if h.Cookie.Path != "" {
						c["path"] = h.Cookie.Path
					}
					ch["httpCookie"] = c
				case h.SourceIP:
					ch["useSourceIp"] = true
				case h.QueryParam != "":
					ch["httpQueryParameterName"] = h.QueryParam
				}
			}
			policy["loadBalancer"] = obj{"consistentHash": ch}
		case spec.LBLeastRequest:
			policy["loadBalancer"] = obj{"simple": "LEAST_REQUEST"}
		case spec.LBRandom:
			policy["loadBalancer"] = obj{"simple": "RANDOM"}
		default:
			policy["loadBalancer"] = obj{"simple": "ROUND_ROBIN"}
		}
	}
	_ = path
}

// serviceEntry emits the ServiceEntry of an external service and, for TLS origination or
// resilience, its DestinationRule.
func (t *translator) serviceEntry(es *spec.ExternalService, tp *spec.TrafficPolicy, ti int) {
	ns := t.d.Metadata.Namespace
	wildcard := false
	hosts := make([]any, len(es.Hosts))
	for i, h := range es.Hosts {
		hosts[i] = h
		if strings.HasPrefix(h, "*") {
			wildcard = true
		}
	}
	proto := seProtocol(es)
	ports := make([]any, 0, len(es.Ports))
	for _, p := range es.Ports {
		po := obj{"number": int64(p.Port), "name": p.Name, "protocol": proto}
		if p.TargetPort != 0 && p.TargetPort != p.Port {
			po["targetPort"] = int64(p.TargetPort)
		}
		ports = append(ports, po)
	}
	resolution := "DNS"
	if wildcard {
		resolution = "NONE"
	}
	t.add(NetworkingV1, "ServiceEntry", ns, es.Name, obj{
		"hosts": hosts, "ports": ports, "location": "MESH_EXTERNAL", "resolution": resolution,
	})
	policy := obj{}
	if tp != nil && tp.Resilience != nil {
		t.resilience(policy, fmt.Sprintf("spec.traffic[%d].resilience", ti), tp.Resilience)
	}
	if b, ok := t.budgets[es.Name]; ok {
		policy["retryBudget"] = obj{"percent": b.Percent, "minRetryConcurrency": int64(b.MinRetryConcurrency)}
	}
	if tls := es.TLS; tls != nil && tls.Mode == spec.ExternalTLSOriginate {
		to := obj{"mode": "SIMPLE"}
		if tls.SNI != "" {
			to["sni"] = tls.SNI
		}
		if tls.CACertificates != "" {
			to["caCertificates"] = tls.CACertificates
		}
		if len(tls.SubjectAltNames) > 0 {
			to["subjectAltNames"] = stringList(tls.SubjectAltNames)
		}
		if tls.InsecureSkipVerify {
			to["insecureSkipVerify"] = true
		}
		policy["tls"] = to
	}
	if len(policy) == 0 {
		return
	}
	t.add(NetworkingV1, "DestinationRule", ns, es.Name, obj{"host": t.host(es.Name), "trafficPolicy": policy})
}

func seProtocol(es *spec.ExternalService) string {
	if es.TLS != nil && es.TLS.Mode == spec.ExternalTLSPassthrough {
		return "TLS"
	}
	switch es.Protocol {
	case spec.ProtocolHTTP2:
		return "HTTP2"
	case spec.ProtocolGRPC:
		return "GRPC"
	case spec.ProtocolTCP:
		return "TCP"
	default:
		return "HTTP"
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
