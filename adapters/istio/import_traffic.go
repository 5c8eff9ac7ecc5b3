package istio

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// ---- DestinationRule ----

func (im *importer) destinationRule(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, "", "host", "subsets", "trafficPolicy", "exportTo", "workloadSelector")
	name, ns, internal := im.resolveHost(str(s, "host"), o.GetNamespace())
	if internal {
		svc := im.service(name, ns)
		for _, sub := range list(s, "subsets") {
			sm, _ := sub.(map[string]any)
			v := spec.Version{Name: str(sm, "name"), Labels: map[string]string{}}
			for k, val := range mp(sm, "labels") {
				v.Labels[k], _ = val.(string)
			}
			svc.Versions = append(svc.Versions, v)
			if mp(sm, "trafficPolicy") != nil {
				im.warn(o, "spec.subsets[].trafficPolicy", adapters.FeatureConnectionLimits, "per-subset traffic policies have no design equivalent: dropped")
			}
		}
	} else if _, ok := im.external[name]; !ok {
		im.warn(o, "spec.host", adapters.FeatureExternalServices, "host "+strconv.Quote(str(s, "host"))+" is neither a mesh service nor a ServiceEntry host: dropped")
		return
	}
	tp := mp(s, "trafficPolicy")
	if tp == nil {
		return
	}
	im.warnUnknown(o, "spec.trafficPolicy", tp, "", "connectionPool", "outlierDetection", "loadBalancer", "tls", "portLevelSettings", "retryBudget")
	res := &spec.Resilience{}
	if cp := mp(tp, "connectionPool"); cp != nil {
		c := &spec.ConnectionLimits{}
		tcp, http := mp(cp, "tcp"), mp(cp, "http")
		c.Max = i32(tcp, "maxConnections")
		c.ConnectTimeout = dur(o, im, "spec.trafficPolicy.connectionPool.tcp.connectTimeout", str(tcp, "connectTimeout"))
		c.MaxPendingRequests = i32(http, "http1MaxPendingRequests")
		c.MaxRequests = i32(http, "http2MaxRequests")
		c.MaxRequestsPerConnection = i32(http, "maxRequestsPerConnection")
		im.warnUnknown(o, "spec.trafficPolicy.connectionPool.tcp", tcp, adapters.FeatureConnectionLimits, "maxConnections", "connectTimeout")
		im.warnUnknown(o, "spec.trafficPolicy.connectionPool.http", http, adapters.FeatureConnectionLimits, "http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection")
		res.Connections = c
	}
	if od := mp(tp, "outlierDetection"); od != nil {
		im.warnUnknown(o, "spec.trafficPolicy.outlierDetection", od, adapters.FeatureOutlierDetection, "consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent",
			"consecutiveErrors", "consecutiveGatewayErrors")
		consecutive5xx := i32(od, "consecutive5xxErrors")
		if _, has5xx := num(od, "consecutive5xxErrors"); !has5xx {
			// consecutiveErrors (deprecated) and consecutiveGatewayErrors count 502, 503 and 504
			// only; the design counts every 5xx: the closest equivalent, said so.
			for _, k := range []string{"consecutiveGatewayErrors", "consecutiveErrors"} {
				if n, ok := num(od, k); ok {
					consecutive5xx = int32(n)
					im.warn(o, "spec.trafficPolicy.outlierDetection."+k, adapters.FeatureOutlierDetection,
						fmt.Sprintf("counts gateway errors (502, 503, 504) only: imported as consecutive5xx %d, which also counts 500 and 501", int64(n)))
					break
				}
			}
		} else {
			for _, k := range []string{"consecutiveGatewayErrors", "consecutiveErrors"} {
				if _, ok := num(od, k); ok {
					im.warn(o, "spec.trafficPolicy.outlierDetection."+k, adapters.FeatureOutlierDetection, "the design has one error threshold, consecutive5xxErrors: dropped")
				}
			}
		}
		res.OutlierDetection = &spec.OutlierDetection{
			Consecutive5xx:     consecutive5xx,
			Interval:           dur(o, im, "spec.trafficPolicy.outlierDetection.interval", str(od, "interval")),
			BaseEjectionTime:   dur(o, im, "spec.trafficPolicy.outlierDetection.baseEjectionTime", str(od, "baseEjectionTime")),
			MaxEjectionPercent: i32(od, "maxEjectionPercent"),
		}
	}
	if lb := mp(tp, "loadBalancer"); lb != nil {
		l := &spec.LoadBalancer{}
		switch str(lb, "simple") {
		case "LEAST_REQUEST", "LEAST_CONN":
			l.Algorithm = spec.LBLeastRequest
		case "RANDOM":
			l.Algorithm = spec.LBRandom
		case "ROUND_ROBIN", "":
			l.Algorithm = spec.LBRoundRobin
		default:
			im.warn(o, "spec.trafficPolicy.loadBalancer.simple", adapters.FeatureLoadBalancer, str(lb, "simple")+" has no design equivalent: round robin is used")
			l.Algorithm = spec.LBRoundRobin
		}
		if ch := mp(lb, "consistentHash"); ch != nil {
			h := &spec.ConsistentHash{Header: str(ch, "httpHeaderName"), QueryParam: str(ch, "httpQueryParameterName")}
			if v, _ := ch["useSourceIp"].(bool); v {
				h.SourceIP = true
			}
			if c := mp(ch, "httpCookie"); c != nil {
				h.Cookie = &spec.HashCookie{Name: str(c, "name"), Path: str(c, "path"), TTL: dur(o, im, "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl", str(c, "ttl"))}
			}
			l.Algorithm, l.ConsistentHash = spec.LBConsistentHash, h
		}
		res.LoadBalancer = l
	}
	if rb := mp(tp, "retryBudget"); rb != nil {
		p, _ := num(rb, "percent")
		im.budgets[name] = &spec.RetryBudget{Percent: p, MinRetryConcurrency: i32(rb, "minRetryConcurrency")}
	}
	if tls := mp(tp, "tls"); tls != nil {
		switch str(tls, "mode") {
		case "ISTIO_MUTUAL", "DISABLE":
			// Client side of mTLS: follows PeerAuthentication, which the design expresses.
		case "SIMPLE":
			if es, ok := im.external[name]; ok {
				es.TLS = &spec.ExternalTLS{
					Mode: spec.ExternalTLSOriginate, SNI: str(tls, "sni"), CACertificates: str(tls, "caCertificates"),
					SubjectAltNames: strs(list(tls, "subjectAltNames")),
				}
				if v, _ := tls["insecureSkipVerify"].(bool); v {
					es.TLS.InsecureSkipVerify = true
				}
				if es.Protocol == spec.ProtocolTCP {
					es.Protocol = spec.ProtocolHTTP
				}
			} else {
				im.warn(o, "spec.trafficPolicy.tls", adapters.FeatureExternalServices, "TLS origination to a mesh service has no design equivalent: dropped")
			}
		default:
			im.warn(o, "spec.trafficPolicy.tls.mode", adapters.FeatureExternalServices, str(tls, "mode")+" client TLS has no design equivalent: dropped")
		}
	}
	if res.Connections != nil || res.OutlierDetection != nil || res.LoadBalancer != nil {
		im.policy(name).Resilience = res
	}
}

// ---- VirtualService ----

var prefixRewriteRe = regexp.MustCompile(`^\^\(\?:(.*)\)(\(/\|\$\)|/\?)$`)

func (im *importer) virtualService(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, "", "hosts", "http", "tcp", "exportTo", "gateways", "tls")
	if g := strs(list(s, "gateways")); len(g) > 0 && !contains(g, "mesh") {
		// Bound to ingress gateways only: north-south routing, not part of a mesh design. The
		// services it routes to are still declared.
		im.warn(o, "spec.gateways", adapters.FeatureWeightedSplit, "routes bound only to ingress gateways ("+strings.Join(g, ", ")+") are outside the mesh design: skipped (add \"mesh\" to spec.gateways to route sidecar traffic too)")
		im.declareDestinations(o.GetNamespace(), s)
		return
	}
	if g := strs(list(s, "gateways")); len(g) > 1 {
		im.warn(o, "spec.gateways", adapters.FeatureWeightedSplit, "the routes also apply at ingress gateways; the design keeps the mesh (sidecar) part only")
	}
	if len(list(s, "tls")) > 0 {
		im.warn(o, "spec.tls", adapters.FeatureWeightedSplit, "TLS (SNI) routes have no design equivalent: dropped")
	}
	hosts := strs(list(s, "hosts"))
	if len(hosts) == 0 {
		im.warn(o, "spec.hosts", "", "no hosts: dropped")
		return
	}
	// The first host that is a mesh service (or a ServiceEntry host) names the traffic policy;
	// public hostnames of gateway routes (Flagger writes [app.example.com, podinfo]) and "*" are
	// skipped.
	var name, ns, chosen string
	var internal bool
	for _, h := range hosts {
		if h == "*" || strings.HasPrefix(h, "*.") {
			continue
		}
		n, nsp, in := im.resolveHost(h, o.GetNamespace())
		_, ext := im.external[n]
		if in || ext {
			name, ns, internal, chosen = n, nsp, in, h
			break
		}
	}
	if chosen == "" {
		im.warn(o, "spec.hosts", "", "no host of "+strconv.Quote(strings.Join(hosts, ", "))+" is a mesh service or a ServiceEntry host: dropped")
		return
	}
	if internal {
		im.service(name, ns)
	}
	if len(hosts) > 1 {
		im.warn(o, "spec.hosts", "", "a design traffic policy targets one service: imported for host "+strconv.Quote(chosen)+", the other hosts are dropped")
	}
	tp := im.policy(name)
	im.vsPolicy, im.vsBefore = name, len(tp.Routes)
	https := list(s, "http")
	for i, h := range https {
		hm, _ := h.(map[string]any)
		path := fmt.Sprintf("spec.http[%d]", i)
		if i == len(https)-1 && i > 0 && str(hm, "name") == FallthroughRoute && len(list(hm, "match")) == 0 {
			continue // the catch-all the translator appends
		}
		tp.Routes = append(tp.Routes, im.httpRoute(o, path, name, ns, hm))
	}
	for i, t := range list(s, "tcp") {
		tm, _ := t.(map[string]any)
		path := fmt.Sprintf("spec.tcp[%d]", i)
		im.warnUnknown(o, path, tm, adapters.FeatureWeightedSplit, "route", "match")
		r := spec.Route{Name: fmt.Sprintf("route-%d", len(tp.Routes))}
		if len(tp.Routes) == 0 {
			r.Name = "default"
		}
		r.Backends = im.backends(o, path, name, ns, list(tm, "route"))
		tp.Routes = append(tp.Routes, r)
		if sv := im.serviceByName(name); sv != nil && internal {
			sv.Protocol = spec.ProtocolTCP
		}
	}
}

// ensureVersion declares a subset that no imported DestinationRule defines (its DestinationRule is
// often applied from another file) as a version selected by the label version=<subset>, with a
// warning, so that the design stays valid and the route keeps its destination.
func (im *importer) ensureVersion(o *unstructured.Unstructured, path string, svc *spec.Service, subset string) {
	if subset == "" {
		return
	}
	for _, v := range svc.Versions {
		if v.Name == subset {
			return
		}
	}
	svc.Versions = append(svc.Versions, spec.Version{Name: subset, Labels: map[string]string{"version": subset}})
	im.warn(o, path+".subset", adapters.FeatureWeightedSplit, "subset "+strconv.Quote(subset)+" of "+svc.Name+" is defined by no imported DestinationRule: assumed to select version="+subset+" (import the DestinationRule too to keep its labels)")
}

// mirrorPercent returns the share of requests a mirror copies, read from its percentage (nil:
// absent, Istio's default of every request), and whether it copies any. The design's percent is a
// float like Istio's mirrorPercentage, so every value in (0, 100] is kept exactly. Istio
// configures no mirror for 0 (and for a percentage without a value): the mirror is dropped, said
// so. Istio rejects values above 100 and below 0: they are read as 100 and as none, said so.
func (im *importer) mirrorPercent(o *unstructured.Unstructured, field string, pct map[string]any) (float64, bool) {
	if pct == nil {
		return 100, true
	}
	v, isNum := num(pct, "value")
	switch {
	case !isNum && pct["value"] != nil:
		im.warn(o, field, adapters.FeatureMirror, fmt.Sprintf("%v is not a number: the mirror is dropped", pct["value"]))
		return 0, false
	case v <= 0:
		im.warn(o, field, adapters.FeatureMirror, fmt.Sprintf("mirroring %g%% of requests copies none (Istio configures no mirror): the mirror is dropped", v))
		return 0, false
	case v > 100:
		im.warn(o, field, adapters.FeatureMirror, fmt.Sprintf("%g%% is above 100 (Istio rejects it): imported as 100", v))
		return 100, true
	}
	return v, true
}

// routePort adds a destination's port number to a service that no Kubernetes Service of the
// input declares (known only from routes), so that the route's port is a port of the service.
// The protocol stays what the importer infers (TCP for spec.tcp routes, else the default).
func (im *importer) routePort(svc *spec.Service, port int32) {
	if port <= 0 || im.fromKube[svc.Namespace+"/"+svc.Name] {
		return
	}
	for _, p := range svc.Ports {
		if p.Port == port {
			return
		}
	}
	svc.Ports = append(svc.Ports, spec.Port{Port: port})
}

// declareDestinations declares the mesh services a VirtualService routes and mirrors to, with
// the destination ports of those that no Kubernetes Service declares.
func (im *importer) declareDestinations(ns string, s map[string]any) {
	declare := func(dest map[string]any) {
		if n, nsp, in := im.resolveHost(str(dest, "host"), ns); in && n != "" {
			im.routePort(im.service(n, nsp), i32(mp(dest, "port"), "number"))
		}
	}
	for _, h := range list(s, "http") {
		hm, _ := h.(map[string]any)
		for _, r := range list(hm, "route") {
			rm, _ := r.(map[string]any)
			declare(mp(rm, "destination"))
		}
		if m := mp(hm, "mirror"); m != nil {
			declare(m)
		}
		for _, m := range list(hm, "mirrors") {
			mm, _ := m.(map[string]any)
			declare(mp(mm, "destination"))
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (im *importer) backends(o *unstructured.Unstructured, path, service, ns string, routes []any) []spec.Backend {
	var out []spec.Backend
	for j, r := range routes {
		rm, _ := r.(map[string]any)
		dest := mp(rm, "destination")
		bname, bns, binternal := im.resolveHost(str(dest, "host"), ns)
		b := spec.Backend{Service: bname, Version: str(dest, "subset"), Port: i32(mp(dest, "port"), "number")}
		if binternal {
			svc := im.service(bname, bns)
			im.ensureVersion(o, fmt.Sprintf("%s.route[%d].destination", path, j), svc, b.Version)
			im.routePort(svc, b.Port)
		}
		if b.Service == service {
			b.Service = ""
		}
		if w, ok := num(rm, "weight"); ok {
			b.Weight = int32(w)
		} else if len(routes) == 1 {
			b.Weight = 0
		}
		if mp(rm, "headers") != nil {
			im.warn(o, fmt.Sprintf("%s.route[%d].headers", path, j), adapters.FeatureHeaderOps, "per-destination header operations have no design equivalent: dropped")
		}
		out = append(out, b)
	}
	return out
}

func (im *importer) httpRoute(o *unstructured.Unstructured, path, service, ns string, h map[string]any) spec.Route {
	im.warnUnknown(o, path, h, "", "name", "match", "route", "timeout", "retries", "fault", "mirror", "mirrors", "mirrorPercentage", "mirrorPercent", "headers", "rewrite")
	r := spec.Route{Name: str(h, "name")}
	r.Match = im.matches(o, path, list(h, "match"))
	r.Backends = im.backends(o, path, service, ns, list(h, "route"))
	r.Timeout = dur(o, im, path+".timeout", str(h, "timeout"))
	if rt := mp(h, "retries"); rt != nil {
		re := &spec.Retries{Attempts: i32(rt, "attempts"), PerTryTimeout: dur(o, im, path+".retries.perTryTimeout", str(rt, "perTryTimeout"))}
		if on := str(rt, "retryOn"); on != "" {
			re.On = strings.Split(on, ",")
		}
		if b := str(rt, "backoff"); b != "" {
			re.Backoff = &spec.Backoff{BaseInterval: dur(o, im, path+".retries.backoff", b)}
		}
		im.warnUnknown(o, path+".retries", rt, adapters.FeatureRetries, "attempts", "perTryTimeout", "retryOn", "backoff")
		r.Retries = re
	}
	if f := mp(h, "fault"); f != nil {
		fa := &spec.Fault{}
		if dl := mp(f, "delay"); dl != nil {
			fa.Delay = &spec.DelayFault{Fixed: dur(o, im, path+".fault.delay.fixedDelay", str(dl, "fixedDelay")), Percent: percentage(dl)}
		}
		if ab := mp(f, "abort"); ab != nil {
			fa.Abort = &spec.AbortFault{HTTPStatus: i32(ab, "httpStatus"), GRPCStatus: str(ab, "grpcStatus"), Percent: percentage(ab)}
		}
		r.Fault = fa
	}
	// The mirror field with mirrorPercentage (a double), or the deprecated integer
	// mirrorPercent when mirrorPercentage is absent (Istio's route generation reads them in
	// that order); then each of mirrors with its own percentage.
	type mirrorSpec struct {
		field, destField, pctField string
		dest, pct                  map[string]any
	}
	var mirrors []mirrorSpec
	if m := mp(h, "mirror"); m != nil {
		ms := mirrorSpec{field: path + ".mirror", destField: path + ".mirror", dest: m}
		if p, ok := h["mirrorPercentage"]; ok {
			ms.pct, _ = p.(map[string]any)
			if ms.pct == nil {
				ms.pct = map[string]any{}
			}
			ms.pctField = path + ".mirrorPercentage.value"
		} else if _, ok := h["mirrorPercent"]; ok {
			ms.pct, ms.pctField = map[string]any{"value": h["mirrorPercent"]}, path+".mirrorPercent"
		}
		mirrors = append(mirrors, ms)
	} else {
		for _, k := range []string{"mirrorPercentage", "mirrorPercent"} {
			if _, ok := h[k]; ok {
				im.warn(o, path+"."+k, adapters.FeatureMirror, "it applies to the mirror field, which the rule does not set: dropped")
			}
		}
	}
	for j, m := range list(h, "mirrors") {
		mm, _ := m.(map[string]any)
		field := fmt.Sprintf("%s.mirrors[%d]", path, j)
		ms := mirrorSpec{field: field, destField: field + ".destination", dest: mp(mm, "destination"), pctField: field + ".percentage.value"}
		if p, ok := mm["percentage"]; ok {
			ms.pct, _ = p.(map[string]any)
			if ms.pct == nil {
				ms.pct = map[string]any{}
			}
		}
		mirrors = append(mirrors, ms)
	}
	for _, m := range mirrors {
		if r.Mirror != nil {
			im.warn(o, m.field, adapters.FeatureMirror, "the design mirrors to one backend: further mirrors are dropped")
			break
		}
		pct, ok := im.mirrorPercent(o, m.pctField, m.pct)
		if !ok {
			continue
		}
		mname, mns, minternal := im.resolveHost(str(m.dest, "host"), ns)
		if minternal && mname != "" {
			// Declared like a route destination, so that the design knows the service.
			svc := im.service(mname, mns)
			im.ensureVersion(o, m.destField, svc, str(m.dest, "subset"))
			im.routePort(svc, i32(mp(m.dest, "port"), "number"))
		}
		r.Mirror = &spec.Mirror{Service: mname, Version: str(m.dest, "subset"), Percent: pct}
	}
	if hd := mp(h, "headers"); hd != nil {
		ops := &spec.HeaderOps{Request: headerOpsFrom(mp(hd, "request")), Response: headerOpsFrom(mp(hd, "response"))}
		r.Headers = ops
	}
	if rw := mp(h, "rewrite"); rw != nil {
		out := &spec.Rewrite{Host: str(rw, "authority")}
		if u := str(rw, "uri"); u != "" {
			allExact := len(r.Match) > 0
			for _, m := range r.Match {
				if m.Path == nil || m.Path.Exact == "" {
					allExact = false
				}
			}
			if allExact {
				out.FullPath = u
			} else {
				out.Prefix = u
				if len(u) > 1 {
					out.Prefix = strings.TrimSuffix(u, "/")
				}
			}
		}
		if rr := mp(rw, "uriRegexRewrite"); rr != nil {
			m, to := str(rr, "match"), str(rr, "rewrite")
			switch {
			case m == "^.*$" || m == ".*" || m == "^/.*$":
				out.FullPath = to
			case prefixRewriteRe.MatchString(m):
				out.Prefix = strings.TrimSuffix(to, `\1`)
				if out.Prefix == "" {
					out.Prefix = "/"
				}
			default:
				im.warn(o, path+".rewrite.uriRegexRewrite", adapters.FeatureRewrite, "a general regex rewrite has no design equivalent: dropped")
			}
		}
		if out.Host != "" || out.Prefix != "" || out.FullPath != "" {
			r.Rewrite = out
		}
	}
	return r
}

func headerOpsFrom(m map[string]any) *spec.HeaderOperations {
	if m == nil {
		return nil
	}
	ops := &spec.HeaderOperations{Remove: strs(list(m, "remove"))}
	conv := func(v map[string]any) map[string]string {
		if len(v) == 0 {
			return nil
		}
		out := map[string]string{}
		for k, e := range v {
			out[k], _ = e.(string)
		}
		return out
	}
	ops.Set, ops.Add = conv(mp(m, "set")), conv(mp(m, "add"))
	return ops
}

// matches converts Istio matches, folding {uri: {exact: p}} + {uri: {prefix: p/}} pairs (with
// otherwise equal conditions) back into one segment-prefix match.
func (im *importer) matches(o *unstructured.Unstructured, path string, ms []any) []spec.Match {
	var out []spec.Match
	for i := 0; i < len(ms); i++ {
		m, _ := ms[i].(map[string]any)
		mpath := fmt.Sprintf("%s.match[%d]", path, i)
		im.warnUnknown(o, mpath, m, adapters.FeaturePathMatch, "uri", "method", "headers", "queryParams", "name")
		sm := spec.Match{}
		if u := mp(m, "uri"); u != nil {
			switch {
			case str(u, "exact") != "":
				p := str(u, "exact")
				if i+1 < len(ms) {
					next, _ := ms[i+1].(map[string]any)
					if str(mp(next, "uri"), "prefix") == p+"/" && sameExceptURI(m, next) {
						sm.Path = &spec.PathMatch{Prefix: p}
						i++
						break
					}
				}
				sm.Path = &spec.PathMatch{Exact: p}
			case str(u, "prefix") != "":
				p := str(u, "prefix")
				sm.Path = &spec.PathMatch{Prefix: p}
				if !strings.HasSuffix(p, "/") {
					im.warn(o, mpath+".uri.prefix", adapters.FeaturePathMatch, "Istio prefixes are raw string prefixes; the design's prefix matches whole path segments, so "+strconv.Quote(p)+" no longer matches "+strconv.Quote(p+"x"))
				}
			case str(u, "regex") != "":
				sm.Path = &spec.PathMatch{Regex: str(u, "regex")}
			}
		}
		if me := mp(m, "method"); me != nil {
			sm.Method = str(me, "exact")
			if sm.Method == "" {
				im.warn(o, mpath+".method", adapters.FeatureMethodMatch, "only exact method matches are imported")
			}
		}
		sm.Headers = stringMatches(mp(m, "headers"), false)
		sm.QueryParams = stringMatches(mp(m, "queryParams"), true)
		out = append(out, sm)
	}
	return out
}

func sameExceptURI(a, b map[string]any) bool {
	ca, cb := map[string]any{}, map[string]any{}
	for k, v := range a {
		if k != "uri" && k != "name" {
			ca[k] = v
		}
	}
	for k, v := range b {
		if k != "uri" && k != "name" {
			cb[k] = v
		}
	}
	return fmt.Sprint(ca) == fmt.Sprint(cb)
}

var prefixRegexRe = regexp.MustCompile(`^((?:[^\\.*+?()\[\]{}|^$]|\\.)*)\.\*$`)

func stringMatches(m map[string]any, query bool) map[string]spec.StringMatch {
	if len(m) == 0 {
		return nil
	}
	out := map[string]spec.StringMatch{}
	for k, v := range m {
		vm, _ := v.(map[string]any)
		sm := spec.StringMatch{Exact: str(vm, "exact"), Prefix: str(vm, "prefix"), Regex: str(vm, "regex")}
		if sm.Regex == ".*" && query {
			sm = spec.StringMatch{Present: true}
		} else if query && sm.Regex != "" {
			if g := prefixRegexRe.FindStringSubmatch(sm.Regex); g != nil && g[1] != "" {
				if p, err := unquoteMeta(g[1]); err == nil {
					sm = spec.StringMatch{Prefix: p}
				}
			}
		}
		if sm == (spec.StringMatch{}) {
			sm.Present = true
		}
		out[k] = sm
	}
	return out
}

func unquoteMeta(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				return "", fmt.Errorf("trailing backslash")
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// ---- EnvoyFilter (local rate limit) ----

// bucketRate returns the design rate of a token bucket refilling tokens every fill: a whole number
// per second as requestsPerSecond, else a whole number per minute (Istio's rate limit task fills
// every 60s) as requestsPerMinute; nil when neither is whole, or below one per minute.
func bucketRate(tokens int32, fill time.Duration) *spec.RateLimit {
	if tokens <= 0 || fill <= 0 {
		return nil
	}
	// Exact integer arithmetic on nanoseconds: tokens*unit/fill is whole when fill divides it.
	for _, unit := range []time.Duration{time.Second, time.Minute} {
		n := new(big.Int).Mul(big.NewInt(int64(tokens)), big.NewInt(int64(unit)))
		q, r := new(big.Int).QuoRem(n, big.NewInt(int64(fill)), new(big.Int))
		if r.Sign() != 0 || q.Sign() <= 0 || !q.IsInt64() || q.Int64() > math.MaxInt32 {
			continue
		}
		if unit == time.Second {
			return &spec.RateLimit{RequestsPerSecond: int32(q.Int64())}
		}
		return &spec.RateLimit{RequestsPerMinute: int32(q.Int64())}
	}
	return nil
}

func (im *importer) envoyFilter(o *unstructured.Unstructured, s map[string]any) {
	labels := mp(mp(s, "workloadSelector"), "labels")
	if gatewayWorkload(labels) {
		im.warn(o, "spec.workloadSelector", "", "EnvoyFilters of an ingress or egress gateway are outside the mesh design: dropped")
		return
	}
	app := im.labelsService(o, "spec.workloadSelector.labels", labels)
	for i, p := range list(s, "configPatches") {
		pm, _ := p.(map[string]any)
		value := mp(mp(pm, "patch"), "value")
		// The token bucket sits on the filter (HTTP_FILTER patch) or, per route, in the
		// route's typed_per_filter_config (HTTP_ROUTE patch), as Istio's rate limit task shows.
		var tc map[string]any
		path := fmt.Sprintf("spec.configPatches[%d].patch.value", i)
		if str(value, "name") == "envoy.filters.http.local_ratelimit" {
			tc, path = mp(value, "typed_config"), path+".typed_config"
		} else if pf := mp(mp(value, "typed_per_filter_config"), "envoy.filters.http.local_ratelimit"); pf != nil {
			tc, path = pf, path+".typed_per_filter_config[envoy.filters.http.local_ratelimit]"
		}
		if inner := mp(tc, "value"); inner != nil {
			tc, path = inner, path+".value"
		}
		tb := mp(tc, "token_bucket")
		if tb == nil || app == "" {
			continue
		}
		tokens := i32(tb, "tokens_per_fill")
		if tokens == 0 {
			tokens = i32(tb, "max_tokens")
		}
		fill := time.Second
		if f := str(tb, "fill_interval"); f != "" {
			d, err := time.ParseDuration(f)
			if err != nil || d <= 0 {
				im.warn(o, path+".token_bucket.fill_interval", adapters.FeatureRateLimit, fmt.Sprintf("cannot read fill interval %q: the rate limit is not imported", f))
				return
			}
			fill = d
		}
		rl := bucketRate(tokens, fill)
		if rl == nil {
			perSecond := float64(tokens) / fill.Seconds()
			rps := int32(min(math.Ceil(perSecond), math.MaxInt32))
			if rps < 1 {
				rps = 1
			}
			im.warn(o, path+".token_bucket", adapters.FeatureRateLimit, fmt.Sprintf(
				"%d requests every %s (%.3g per second) is imported as %d per second, the design's unit: the limit is looser than the source", tokens, str(tb, "fill_interval"), perSecond, rps))
			rl = &spec.RateLimit{RequestsPerSecond: rps}
		}
		rl.Burst = i32(tb, "max_tokens")
		if rl.Burst > 0 && tokens > rl.Burst {
			im.warn(o, path+".token_bucket", adapters.FeatureRateLimit, fmt.Sprintf(
				"tokens_per_fill %d exceeds max_tokens %d: imported as the rate Envoy's continuous refill enforces (%d every %s), with burst %d; Envoy's older timer-based bucket cut each refill to max_tokens and enforced only %d every %s",
				tokens, rl.Burst, tokens, str(tb, "fill_interval"), rl.Burst, rl.Burst, str(tb, "fill_interval")))
		}
		tp := im.policy(app)
		if tp.Resilience == nil {
			tp.Resilience = &spec.Resilience{}
		}
		tp.Resilience.RateLimit = rl
		im.service(app, im.workloadNS(o, app))
		return
	}
	im.warn(o, "spec.configPatches", "", "EnvoyFilters other than a local rate limit have no design equivalent: dropped")
}
