// Package gatewayapi imports Gateway API mesh routes (GAMMA: HTTPRoute, GRPCRoute and the
// experimental TCPRoute of gateway.networking.k8s.io with a Service parentRef) into Trellis
// designs.
//
// Routes of every HTTPRoute attached to one Service are merged into one ordered list following the
// Gateway API precedence rules (exact path, then longest prefix, then method, then most header
// matches, then most query-parameter matches; ties by creation time, then namespace/name, then rule
// and match order), because a design's routes are evaluated first-match in order. Regular-expression
// paths, whose precedence the Gateway API leaves to implementations, are placed after exact paths
// and before prefixes, longer expressions first.
package gatewayapi

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Source is the name this importer reports in warnings.
const Source = "gateway-api"

// Group is the Gateway API group.
const Group = "gateway.networking.k8s.io"

// Options tunes an import.
type Options struct {
	// Name is the design's name. Default: the routes' namespace, or "gateway-api".
	Name string
	// Namespace is the design's namespace. Default: the namespace most routes are in, or "default".
	Namespace string
}

// entry is one (rule, match) pair of a route attached to a Service, before ordering.
type entry struct {
	parent   string
	route    string // namespace/name
	created  time.Time
	ruleIdx  int
	matchIdx int
	ruleName string
	match    spec.Match
	grpc     bool
	rule     *ruleInfo
}

// ruleInfo is what every match of one rule shares.
type ruleInfo struct {
	path     string
	backends []spec.Backend
	timeout  spec.Duration
	retries  *spec.Retries
	mirror   *spec.Mirror
	headers  *spec.HeaderOps
	rewrite  *spec.Rewrite
	// redirect is the field path of the rule's RequestRedirect filter, if any.
	redirect string
}

type importer struct {
	ns       string
	design   *spec.Design
	warnings []adapters.Warning
	services map[string]int
	protocol map[string]spec.Protocol
	entries  map[string][]*entry
	// serviceEntries are the Istio ServiceEntries of the input by name: Istio binds routes to
	// external hosts with a ServiceEntry parent and Hostname backends (its egress tasks).
	serviceEntries map[string]*unstructured.Unstructured
	// external holds the design's external services by name, once a route uses them.
	external map[string]int
	// entryHosts maps each host of the ServiceEntries to the first ServiceEntry declaring it.
	entryHosts map[string]string
}

func (im *importer) warn(path string, feature adapters.Feature, sev adapters.Severity, format string, args ...any) {
	im.warnings = append(im.warnings, adapters.Warning{Path: path, Mesh: Source, Feature: feature, Severity: sev, Lost: fmt.Sprintf(format, args...)})
}

// Import builds a design from Gateway API mesh routes. Routes attached only to Gateways (north-south
// traffic) and other objects are reported as warnings and skipped. The design is defaulted and
// validated; an error lists every violation.
func Import(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*spec.Design, []adapters.Warning, error) {
	im := &importer{services: map[string]int{}, protocol: map[string]spec.Protocol{}, entries: map[string][]*entry{},
		serviceEntries: map[string]*unstructured.Unstructured{}, external: map[string]int{}}
	for _, o := range objs {
		if o.GroupVersionKind().Group == istioNetworking && o.GetKind() == "ServiceEntry" {
			im.serviceEntries[o.GetName()] = o
		}
	}
	im.ns = opts.Namespace
	if im.ns == "" {
		im.ns = majorityNamespace(objs)
	}
	name := opts.Name
	if name == "" {
		name = im.ns
		if name == "default" {
			name = Source
		}
	}
	im.design = &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: name, Namespace: im.ns}}
	selectors := map[string]map[string]string{}
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		ref := fmt.Sprintf("%s %s/%s", o.GetKind(), nsOr(o.GetNamespace(), im.ns), o.GetName())
		gvk := o.GroupVersionKind()
		if gvk.Group == "" && gvk.Kind == "Service" {
			// A Kubernetes Service gives the selector of the service of the same name.
			sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector")
			selectors[nsOr(o.GetNamespace(), im.ns)+"/"+o.GetName()] = sel
			continue
		}
		if gvk.Group == istioNetworking && gvk.Kind == "ServiceEntry" {
			continue // read as a route parent; reported below when no route uses it
		}
		if gvk.Group != Group {
			im.warn(ref, "", adapters.SeverityInfo, "not a Gateway API object (%s); skipped", o.GetAPIVersion())
			continue
		}
		switch gvk.Kind {
		case "HTTPRoute":
			var r gwv1.HTTPRoute
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				im.warn(ref, "", adapters.SeverityError, "not a valid HTTPRoute: %v; skipped", err)
				continue
			}
			im.httpRoute(&r, ref)
		case "GRPCRoute":
			var r gwv1.GRPCRoute
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				im.warn(ref, "", adapters.SeverityError, "not a valid GRPCRoute: %v; skipped", err)
				continue
			}
			im.grpcRoute(&r, ref)
		case "TCPRoute":
			var r gwv1alpha2.TCPRoute
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
				im.warn(ref, "", adapters.SeverityError, "not a valid TCPRoute: %v; skipped", err)
				continue
			}
			im.tcpRoute(&r, ref)
		default:
			im.warn(ref, "", adapters.SeverityInfo, "%s is not a mesh route; skipped", gvk.Kind)
		}
	}
	for _, n := range sortedNames(im.serviceEntries) {
		if _, used := im.external[n]; !used {
			o := im.serviceEntries[n]
			im.warn(fmt.Sprintf("ServiceEntry %s/%s", nsOr(o.GetNamespace(), im.ns), n), "", adapters.SeverityInfo,
				"no route of the input has it as parent or backend; skipped (import it with `trellis import istio`)")
		}
	}
	im.buildTraffic()
	d := im.design
	im.missingServices(selectors)
	d.SetSelectors(selectors)
	d.SimplifyWeights()
	d.Default()
	if vs := d.Validate(); len(vs) > 0 {
		return d, im.warnings, &spec.ValidationError{Violations: vs}
	}
	adapters.SortWarnings(im.warnings)
	return d, im.warnings, nil
}

// service declares a service (once) with a protocol and a port.
func (im *importer) service(name string, proto spec.Protocol, port int32, path string) {
	i, ok := im.services[name]
	if !ok {
		im.design.Spec.Services = append(im.design.Spec.Services, spec.Service{Name: name, Protocol: proto})
		i = len(im.design.Spec.Services) - 1
		im.services[name] = i
	}
	s := &im.design.Spec.Services[i]
	if proto == spec.ProtocolGRPC && s.Protocol != spec.ProtocolGRPC {
		if len(im.entries[name]) > 0 && !im.entries[name][0].grpc {
			im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityWarning, "service %q has both HTTPRoutes and GRPCRoutes; declared as grpc", name)
		}
		s.Protocol = spec.ProtocolGRPC
	}
	if port > 0 {
		for _, p := range s.Ports {
			if p.Port == port {
				return
			}
		}
		s.Ports = append(s.Ports, spec.Port{Port: port})
		sort.Slice(s.Ports, func(a, b int) bool { return s.Ports[a].Port < s.Ports[b].Port })
	}
}

// parents returns the Service parents of a route and warns about the others.
func (im *importer) parents(refs []gwv1.ParentReference, routeNS, path string) []gwv1.ParentReference {
	var out []gwv1.ParentReference
	for i, p := range refs {
		pp := fmt.Sprintf("%s.spec.parentRefs[%d]", path, i)
		group := ""
		if p.Group != nil {
			group = string(*p.Group)
		}
		kind := "Gateway"
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		if kind == "ServiceEntry" && group == istioNetworking {
			if im.externalService(string(p.Name), pp) {
				out = append(out, p)
			}
			continue
		}
		if kind != "Service" || (group != "" && group != "core") {
			why := "north-south routing is not part of a mesh design"
			switch {
			case kind == "ServiceImport":
				why = "multi-cluster ServiceImports are not design services"
			case kind == "EgressNetwork":
				why = "egress routing through a Linkerd EgressNetwork is not part of a mesh design"
			}
			im.warn(pp, "", adapters.SeverityInfo, "parent %s %q is not a Service: %s; skipped", kind, p.Name, why)
			continue
		}
		if p.Namespace != nil && string(*p.Namespace) != routeNS {
			im.warn(pp, adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"consumer route: in namespace %q for Service %s/%s it applies only to callers in %q; the design applies it to every caller",
				routeNS, *p.Namespace, p.Name, routeNS)
		}
		out = append(out, p)
	}
	if len(out) == 0 && len(refs) > 0 {
		im.warn(path, "", adapters.SeverityInfo, "no Service parent: the route is not a mesh route; skipped")
	}
	if len(refs) == 0 {
		im.warn(path+".spec.parentRefs", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
			"no parentRefs: the route is attached to nothing and routes no traffic; skipped (add a parentRef of kind Service for a mesh route)")
	}
	return out
}

func (im *importer) backends(refs []gwv1.HTTPBackendRef, grpcRefs []gwv1.GRPCBackendRef, path string, proto spec.Protocol) []spec.Backend {
	type ref struct {
		obj     gwv1.BackendObjectReference
		weight  *int32
		filters int
	}
	var rs []ref
	for _, r := range refs {
		rs = append(rs, ref{r.BackendObjectReference, r.Weight, len(r.Filters)})
	}
	for _, r := range grpcRefs {
		rs = append(rs, ref{r.BackendObjectReference, r.Weight, len(r.Filters)})
	}
	var out []spec.Backend
	for i, r := range rs {
		bp := fmt.Sprintf("%s.backendRefs[%d]", path, i)
		if r.obj.Kind != nil && *r.obj.Kind == "Hostname" && r.obj.Group != nil && *r.obj.Group == istioNetworking {
			// Istio's Hostname backend: the external host of a ServiceEntry.
			name, ok := im.serviceEntryOfHost(string(r.obj.Name))
			if !ok || !im.externalService(name, bp) {
				if !ok {
					im.warn(bp, adapters.FeatureExternalServices, adapters.SeverityError, "Hostname backend %q is a host of no ServiceEntry of the input; skipped (add the ServiceEntry that declares it)", r.obj.Name)
				}
				continue
			}
			w := int32(1)
			if r.weight != nil {
				w = *r.weight
			}
			port := int32(0)
			if r.obj.Port != nil {
				port = int32(*r.obj.Port)
			}
			out = append(out, spec.Backend{Service: name, Port: port, Weight: w})
			continue
		}
		if (r.obj.Kind != nil && *r.obj.Kind != "Service") || (r.obj.Group != nil && *r.obj.Group != "" && *r.obj.Group != "core") {
			im.warn(bp, adapters.FeatureWeightedSplit, adapters.SeverityError, "backend kind %v is not a Service; skipped", deref(r.obj.Kind))
			continue
		}
		if r.filters > 0 {
			im.warn(bp+".filters", adapters.FeatureHeaderOps, adapters.SeverityWarning, "per-backend filters are not supported by designs; dropped")
		}
		w := int32(1)
		if r.weight != nil {
			w = *r.weight
		}
		if w > 10000 {
			im.warn(bp+".weight", adapters.FeatureWeightedSplit, adapters.SeverityWarning, "weight %d capped to 10000", w)
			w = 10000
		}
		port := int32(0)
		if r.obj.Port != nil {
			port = int32(*r.obj.Port)
		}
		name := string(r.obj.Name)
		im.service(name, proto, port, bp)
		out = append(out, spec.Backend{Service: name, Port: port, Weight: w})
	}
	return out
}

func (im *importer) httpRoute(r *gwv1.HTTPRoute, ref string) {
	routeNS := nsOr(r.Namespace, im.ns)
	parents := im.parents(r.Spec.ParentRefs, routeNS, ref)
	if len(parents) == 0 {
		return
	}
	if len(r.Spec.Hostnames) > 0 && !im.hostsOfParents(r.Spec.Hostnames, parents) {
		im.warn(ref+".spec.hostnames", "", adapters.SeverityInfo, "hostnames are ignored for mesh routes (GAMMA); dropped")
	}
	for ri := range r.Spec.Rules {
		rule := &r.Spec.Rules[ri]
		path := fmt.Sprintf("%s.spec.rules[%d]", ref, ri)
		info := &ruleInfo{path: path}
		info.backends = im.backends(rule.BackendRefs, nil, path, spec.ProtocolHTTP)
		im.httpFilters(rule.Filters, path, info, spec.ProtocolHTTP)
		im.timeouts(rule, path, info)
		if rule.SessionPersistence != nil {
			im.warn(path+".sessionPersistence", adapters.FeatureConsistentHash, adapters.SeverityWarning,
				"session persistence is per route in the Gateway API; set spec.traffic[].resilience.loadBalancer.consistentHash instead; dropped")
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gwv1.HTTPRouteMatch{{}}
		}
		for mi, m := range matches {
			sm, ok := im.httpMatch(m, fmt.Sprintf("%s.matches[%d]", path, mi))
			if !ok {
				continue
			}
			im.attach(parents, spec.ProtocolHTTP, ref, entry{route: routeNS + "/" + r.Name, created: r.CreationTimestamp.Time,
				ruleIdx: ri, matchIdx: mi, ruleName: ruleName(r.Name, rule.Name, ri), match: sm, rule: info})
		}
	}
}

// attach records one (rule, match) entry for every Service parent, declaring the parent with its
// port.
func (im *importer) attach(parents []gwv1.ParentReference, proto spec.Protocol, ref string, e entry) {
	for _, p := range parents {
		port := int32(0)
		if p.Port != nil {
			port = int32(*p.Port)
		}
		if p.Kind == nil || *p.Kind != "ServiceEntry" {
			im.service(string(p.Name), proto, port, ref)
		}
		pe := e
		pe.parent = string(p.Name)
		im.entries[pe.parent] = append(im.entries[pe.parent], &pe)
	}
}

func (im *importer) grpcRoute(r *gwv1.GRPCRoute, ref string) {
	routeNS := nsOr(r.Namespace, im.ns)
	parents := im.parents(r.Spec.ParentRefs, routeNS, ref)
	if len(parents) == 0 {
		return
	}
	for ri := range r.Spec.Rules {
		rule := &r.Spec.Rules[ri]
		path := fmt.Sprintf("%s.spec.rules[%d]", ref, ri)
		info := &ruleInfo{path: path}
		info.backends = im.backends(nil, rule.BackendRefs, path, spec.ProtocolGRPC)
		var hf []gwv1.HTTPRouteFilter
		for _, f := range rule.Filters {
			hf = append(hf, gwv1.HTTPRouteFilter{Type: gwv1.HTTPRouteFilterType(f.Type), RequestHeaderModifier: f.RequestHeaderModifier,
				ResponseHeaderModifier: f.ResponseHeaderModifier, RequestMirror: f.RequestMirror, ExtensionRef: f.ExtensionRef})
		}
		im.httpFilters(hf, path, info, spec.ProtocolGRPC)
		if rule.SessionPersistence != nil {
			im.warn(path+".sessionPersistence", adapters.FeatureConsistentHash, adapters.SeverityWarning, "session persistence dropped")
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gwv1.GRPCRouteMatch{{}}
		}
		for mi, m := range matches {
			sm, ok := im.grpcMatch(m, fmt.Sprintf("%s.matches[%d]", path, mi))
			if !ok {
				continue
			}
			im.attach(parents, spec.ProtocolGRPC, ref, entry{route: routeNS + "/" + r.Name, created: r.CreationTimestamp.Time,
				ruleIdx: ri, matchIdx: mi, ruleName: ruleName(r.Name, rule.Name, ri), match: sm, grpc: true, rule: info})
		}
	}
}

func (im *importer) httpMatch(m gwv1.HTTPRouteMatch, path string) (spec.Match, bool) {
	var sm spec.Match
	if m.Path != nil && m.Path.Value != nil {
		t := gwv1.PathMatchPathPrefix
		if m.Path.Type != nil {
			t = *m.Path.Type
		}
		v := *m.Path.Value
		switch t {
		case gwv1.PathMatchExact:
			sm.Path = &spec.PathMatch{Exact: v}
		case gwv1.PathMatchPathPrefix:
			if v != "/" {
				sm.Path = &spec.PathMatch{Prefix: strings.TrimSuffix(v, "/")}
			}
		case gwv1.PathMatchRegularExpression:
			if _, err := regexp.Compile(v); err != nil {
				im.warn(path+".path.value", adapters.FeaturePathMatch, adapters.SeverityError, "regular expression %q is not RE2 (%v); match skipped", v, err)
				return sm, false
			}
			sm.Path = &spec.PathMatch{Regex: v}
		}
	}
	if m.Method != nil {
		sm.Method = string(*m.Method)
	}
	for i, h := range m.Headers {
		t := gwv1.HeaderMatchExact
		if h.Type != nil {
			t = *h.Type
		}
		if sm.Headers == nil {
			sm.Headers = map[string]spec.StringMatch{}
		}
		name := strings.ToLower(string(h.Name))
		if _, dup := sm.Headers[name]; dup {
			im.warn(fmt.Sprintf("%s.headers[%d]", path, i), adapters.FeatureHeaderMatch, adapters.SeverityInfo, "duplicate header %q: the first match wins (Gateway API rule); dropped", name)
			continue
		}
		if t == gwv1.HeaderMatchRegularExpression {
			sm.Headers[name] = spec.StringMatch{Regex: h.Value}
		} else {
			sm.Headers[name] = spec.StringMatch{Exact: h.Value}
		}
	}
	for _, q := range m.QueryParams {
		if sm.QueryParams == nil {
			sm.QueryParams = map[string]spec.StringMatch{}
		}
		if _, dup := sm.QueryParams[string(q.Name)]; dup {
			continue
		}
		if q.Type != nil && *q.Type == gwv1.QueryParamMatchRegularExpression {
			sm.QueryParams[string(q.Name)] = spec.StringMatch{Regex: q.Value}
		} else {
			sm.QueryParams[string(q.Name)] = spec.StringMatch{Exact: q.Value}
		}
	}
	return sm, true
}

// grpcMatch turns a gRPC method match into a path match on "/<service>/<method>".
func (im *importer) grpcMatch(m gwv1.GRPCRouteMatch, path string) (spec.Match, bool) {
	var sm spec.Match
	if mm := m.Method; mm != nil {
		svc, meth := deref(mm.Service), deref(mm.Method)
		regex := mm.Type != nil && *mm.Type == gwv1.GRPCMethodMatchRegularExpression
		switch {
		case regex:
			s, me := svc, meth
			if s == "" {
				s = "[^/]+"
			}
			if me == "" {
				me = "[^/]+"
			}
			sm.Path = &spec.PathMatch{Regex: "/" + s + "/" + me}
		case svc != "" && meth != "":
			sm.Path = &spec.PathMatch{Exact: "/" + svc + "/" + meth}
		case svc != "":
			sm.Path = &spec.PathMatch{Prefix: "/" + svc}
		case meth != "":
			sm.Path = &spec.PathMatch{Regex: "/[^/]+/" + regexp.QuoteMeta(meth)}
		}
		if sm.Path != nil && sm.Path.Regex != "" {
			if _, err := regexp.Compile(sm.Path.Regex); err != nil {
				im.warn(path+".method", adapters.FeaturePathMatch, adapters.SeverityError, "method match %q is not RE2 (%v); match skipped", sm.Path.Regex, err)
				return sm, false
			}
		}
	}
	for _, h := range m.Headers {
		if sm.Headers == nil {
			sm.Headers = map[string]spec.StringMatch{}
		}
		name := strings.ToLower(string(h.Name))
		if h.Type != nil && *h.Type == gwv1.GRPCHeaderMatchRegularExpression {
			sm.Headers[name] = spec.StringMatch{Regex: h.Value}
		} else {
			sm.Headers[name] = spec.StringMatch{Exact: h.Value}
		}
	}
	return sm, true
}

func (im *importer) httpFilters(fs []gwv1.HTTPRouteFilter, path string, info *ruleInfo, proto spec.Protocol) {
	for i, f := range fs {
		fp := fmt.Sprintf("%s.filters[%d]", path, i)
		switch f.Type {
		case gwv1.HTTPRouteFilterRequestHeaderModifier:
			if info.headers == nil {
				info.headers = &spec.HeaderOps{}
			}
			info.headers.Request = headerOps(f.RequestHeaderModifier)
		case gwv1.HTTPRouteFilterResponseHeaderModifier:
			if info.headers == nil {
				info.headers = &spec.HeaderOps{}
			}
			info.headers.Response = headerOps(f.ResponseHeaderModifier)
		case gwv1.HTTPRouteFilterURLRewrite:
			rw := &spec.Rewrite{}
			if u := f.URLRewrite; u != nil {
				if u.Hostname != nil {
					rw.Host = string(*u.Hostname)
				}
				if u.Path != nil {
					switch u.Path.Type {
					case gwv1.FullPathHTTPPathModifier:
						rw.FullPath = deref(u.Path.ReplaceFullPath)
					case gwv1.PrefixMatchHTTPPathModifier:
						rw.Prefix = deref(u.Path.ReplacePrefixMatch)
					}
				}
			}
			info.rewrite = rw
		case gwv1.HTTPRouteFilterRequestMirror:
			if info.mirror != nil {
				im.warn(fp, adapters.FeatureMirror, adapters.SeverityWarning, "designs mirror to one backend per route; extra mirror dropped")
				continue
			}
			m := f.RequestMirror
			if m == nil {
				continue
			}
			mi := &spec.Mirror{Service: string(m.BackendRef.Name)}
			switch {
			case m.Percent != nil:
				mi.Percent = float64(*m.Percent)
			case m.Fraction != nil && m.Fraction.Denominator != nil && *m.Fraction.Denominator > 0:
				mi.Percent = float64(m.Fraction.Numerator) * 100 / float64(*m.Fraction.Denominator)
			case m.Fraction != nil:
				mi.Percent = float64(m.Fraction.Numerator)
			}
			if mi.Percent == 0 && (m.Percent != nil || m.Fraction != nil) {
				im.warn(fp, adapters.FeatureMirror, adapters.SeverityInfo, "mirror of 0%% dropped")
				continue
			}
			port := int32(0)
			if m.BackendRef.Port != nil {
				port = int32(*m.BackendRef.Port)
			}
			im.service(mi.Service, proto, port, fp)
			info.mirror = mi
		case gwv1.HTTPRouteFilterRequestRedirect:
			info.redirect = fp
		default:
			im.warn(fp, "", adapters.SeverityWarning, "filter %s is not supported by designs; dropped", f.Type)
		}
	}
}

func (im *importer) timeouts(rule *gwv1.HTTPRouteRule, path string, info *ruleInfo) {
	if rule.Retry != nil {
		rt := &spec.Retries{}
		if rule.Retry.Attempts != nil {
			rt.Attempts = int32(*rule.Retry.Attempts)
		} else {
			rt.Attempts = 1
		}
		for _, c := range rule.Retry.Codes {
			rt.On = append(rt.On, fmt.Sprint(int(c)))
		}
		if rule.Retry.Backoff != nil {
			if d, err := time.ParseDuration(string(*rule.Retry.Backoff)); err == nil && d > 0 {
				rt.Backoff = &spec.Backoff{BaseInterval: spec.Dur(d)}
			}
		}
		info.retries = rt
	}
	t := rule.Timeouts
	if t == nil {
		return
	}
	if t.Request != nil {
		if d, err := time.ParseDuration(string(*t.Request)); err == nil {
			info.timeout = spec.Dur(d)
		} else {
			im.warn(path+".timeouts.request", adapters.FeatureTimeout, adapters.SeverityError, "duration %q not understood; dropped", *t.Request)
		}
	}
	if t.BackendRequest != nil {
		d, err := time.ParseDuration(string(*t.BackendRequest))
		switch {
		case err != nil:
			im.warn(path+".timeouts.backendRequest", adapters.FeatureTimeout, adapters.SeverityError, "duration %q not understood; dropped", *t.BackendRequest)
		case info.retries != nil:
			info.retries.PerTryTimeout = spec.Dur(d)
		case info.timeout.IsZero():
			info.timeout = spec.Dur(d)
			im.warn(path+".timeouts.backendRequest", adapters.FeatureTimeout, adapters.SeverityInfo, "backendRequest without retries imported as the request timeout")
		default:
			im.warn(path+".timeouts.backendRequest", adapters.FeatureRetryPerTry, adapters.SeverityWarning, "backendRequest without retries has no separate field in designs; dropped (request timeout kept)")
		}
	}
}

// buildTraffic orders every service's entries by Gateway API precedence and groups consecutive
// entries of one rule into one design route.
func (im *importer) buildTraffic() {
	parents := make([]string, 0, len(im.entries))
	for p := range im.entries {
		parents = append(parents, p)
	}
	sort.Strings(parents)
	for _, p := range parents {
		es := im.entries[p]
		sort.SliceStable(es, func(i, j int) bool { return less(es[i], es[j]) })
		tp := spec.TrafficPolicy{Service: p}
		used := map[string]int{}
		for i := 0; i < len(es); {
			j := i + 1
			for j < len(es) && es[j].rule == es[i].rule {
				j++
			}
			info := es[i].rule
			name := es[i].ruleName
			if used[name] > 0 {
				name = fmt.Sprintf("%s-%d", name, used[name]+1)
			}
			used[es[i].ruleName]++
			rt := spec.Route{Name: name, Backends: append([]spec.Backend(nil), info.backends...), Timeout: info.timeout,
				Retries: info.retries, Mirror: info.mirror, Headers: info.headers, Rewrite: info.rewrite}
			for _, e := range es[i:j] {
				if !isCatchAll(e.match) {
					rt.Match = append(rt.Match, e.match)
				}
			}
			if len(rt.Match) < j-i {
				rt.Match = nil // one of the matches takes everything: the route is a catch-all
			}
			im.fitPrefixRewrite(&rt, info.path)
			if len(rt.Backends) == 0 && info.redirect != "" {
				im.warn(info.redirect, adapters.FeatureRewrite, adapters.SeverityError,
					"RequestRedirect answers the caller with a redirect; designs cannot express redirects: the rule is dropped, its requests take the service's other routes")
				i = j
				continue
			}
			if info.redirect != "" {
				im.warn(info.redirect, adapters.FeatureRewrite, adapters.SeverityError, "redirects are not part of mesh designs; the rule's requests are forwarded to its backends instead")
			}
			if len(rt.Backends) == 0 {
				im.warn(info.path+".backendRefs", adapters.FeatureWeightedSplit, adapters.SeverityError,
					"a rule without usable backends answers 500 in the Gateway API; designs cannot express that, the rule is dropped")
				i = j
				continue
			}
			tp.Routes = append(tp.Routes, rt)
			i = j
		}
		// A catch-all before other routes shadows them: keep only up to the first catch-all.
		for k, r := range tp.Routes {
			if len(r.Match) == 0 && k < len(tp.Routes)-1 {
				for _, dropped := range tp.Routes[k+1:] {
					im.warn("service "+p+" route "+dropped.Name, adapters.FeaturePathMatch, adapters.SeverityWarning, "unreachable after a catch-all route of higher precedence; dropped")
				}
				tp.Routes = tp.Routes[:k+1]
				break
			}
		}
		if len(tp.Routes) > 0 {
			im.design.Spec.Traffic = append(im.design.Spec.Traffic, tp)
		}
	}
}

func isCatchAll(m spec.Match) bool {
	return m.Path == nil && m.Method == "" && len(m.Headers) == 0 && len(m.QueryParams) == 0
}

// rank gives the precedence class of a match: 0 exact, 1 regex, 2 prefix, 3 none.
func rank(m spec.Match) (int, int) {
	switch {
	case m.Path == nil:
		return 3, 0
	case m.Path.Exact != "":
		return 0, len(m.Path.Exact)
	case m.Path.Regex != "":
		return 1, len(m.Path.Regex)
	default:
		return 2, len(m.Path.Prefix)
	}
}

func less(a, b *entry) bool {
	ra, la := rank(a.match)
	rb, lb := rank(b.match)
	if ra != rb {
		return ra < rb
	}
	if la != lb {
		return la > lb
	}
	if (a.match.Method != "") != (b.match.Method != "") {
		return a.match.Method != ""
	}
	if len(a.match.Headers) != len(b.match.Headers) {
		return len(a.match.Headers) > len(b.match.Headers)
	}
	if len(a.match.QueryParams) != len(b.match.QueryParams) {
		return len(a.match.QueryParams) > len(b.match.QueryParams)
	}
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	if a.route != b.route {
		return a.route < b.route
	}
	if a.ruleIdx != b.ruleIdx {
		return a.ruleIdx < b.ruleIdx
	}
	return a.matchIdx < b.matchIdx
}

func headerOps(f *gwv1.HTTPHeaderFilter) *spec.HeaderOperations {
	if f == nil {
		return nil
	}
	ops := &spec.HeaderOperations{Remove: append([]string(nil), f.Remove...)}
	for _, h := range f.Set {
		if ops.Set == nil {
			ops.Set = map[string]string{}
		}
		ops.Set[strings.ToLower(string(h.Name))] = h.Value
	}
	for _, h := range f.Add {
		if ops.Add == nil {
			ops.Add = map[string]string{}
		}
		ops.Add[strings.ToLower(string(h.Name))] = h.Value
	}
	return ops
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// ruleName names a design route after the rule's name, or "<route>-<rule index>".
func ruleName(route string, name *gwv1.SectionName, idx int) string {
	s := fmt.Sprintf("%s-%d", route, idx)
	if name != nil && *name != "" {
		s = string(*name)
	}
	s = strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "-")
	}
	return s
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func nsOr(ns, def string) string {
	if ns != "" {
		return ns
	}
	return def
}

func majorityNamespace(objs []*unstructured.Unstructured) string {
	count := map[string]int{}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			count[ns]++
		}
	}
	best, n := "default", 0
	for ns, c := range count {
		if c > n || (c == n && ns < best) {
			best, n = ns, c
		}
	}
	return best
}

// fitPrefixRewrite makes a ReplacePrefixMatch rewrite hold in the design, whose prefix rewrite
// needs every match to be a path prefix. A rule without matches matches the prefix "/" in the
// Gateway API, so it gets that match; a lone exact path becomes a full-path rewrite (the whole
// path is the prefix being replaced); any other match cannot carry it (the Gateway API itself
// rejects such a rule), so the path rewrite is dropped with an error-level warning.
func (im *importer) fitPrefixRewrite(rt *spec.Route, path string) {
	if rt.Rewrite == nil || rt.Rewrite.Prefix == "" {
		return
	}
	if len(rt.Match) == 0 {
		rt.Match = []spec.Match{{Path: &spec.PathMatch{Prefix: "/"}}}
		return
	}
	allPrefix := true
	for _, m := range rt.Match {
		if m.Path == nil || m.Path.Prefix == "" {
			allPrefix = false
		}
	}
	if allPrefix {
		return
	}
	rw := *rt.Rewrite
	rt.Rewrite = &rw
	if len(rt.Match) == 1 && rt.Match[0].Path != nil && rt.Match[0].Path.Exact != "" {
		rw.FullPath, rw.Prefix = rw.Prefix, ""
		im.warn(path+".filters", adapters.FeaturePathMatch, adapters.SeverityInfo,
			"ReplacePrefixMatch %q on the exact path %q replaces the whole path: imported as a full-path rewrite", rw.FullPath, rt.Match[0].Path.Exact)
		return
	}
	im.warn(path+".filters", adapters.FeaturePathMatch, adapters.SeverityError,
		"ReplacePrefixMatch %q needs PathPrefix matches (the Gateway API rejects it with other matches); the path rewrite is dropped", rw.Prefix)
	rw.Prefix = ""
	if rw == (spec.Rewrite{}) {
		rt.Rewrite = nil
	}
}

// tcpRoute imports a GAMMA TCPRoute (a Service parent, experimental channel): its first rule's
// weighted backends become the one route of a tcp service. TCPRoutes have no matches, so later
// rules are never chosen for a Service parent and are reported.
func (im *importer) tcpRoute(r *gwv1alpha2.TCPRoute, ref string) {
	routeNS := nsOr(r.Namespace, im.ns)
	parents := im.parents(r.Spec.ParentRefs, routeNS, ref)
	if len(parents) == 0 || len(r.Spec.Rules) == 0 {
		return
	}
	for ri := 1; ri < len(r.Spec.Rules); ri++ {
		im.warn(fmt.Sprintf("%s.spec.rules[%d]", ref, ri), adapters.FeatureWeightedSplit, adapters.SeverityWarning,
			"a TCPRoute has no matches: only its first rule carries traffic for a Service parent; dropped")
	}
	rule := r.Spec.Rules[0]
	path := ref + ".spec.rules[0]"
	refs := make([]gwv1.HTTPBackendRef, 0, len(rule.BackendRefs))
	for _, b := range rule.BackendRefs {
		refs = append(refs, gwv1.HTTPBackendRef{BackendRef: b})
	}
	info := &ruleInfo{path: path, backends: im.backends(refs, nil, path, spec.ProtocolTCP)}
	for _, p := range parents {
		port := int32(0)
		if p.Port != nil {
			port = int32(*p.Port)
		}
		im.service(string(p.Name), spec.ProtocolTCP, port, ref)
		im.entries[string(p.Name)] = append(im.entries[string(p.Name)], &entry{
			parent: string(p.Name), route: routeNS + "/" + r.Name, created: r.CreationTimestamp.Time,
			ruleName: ruleName(r.Name, rule.Name, 0), rule: info,
		})
	}
}

// istioNetworking is the API group of Istio's ServiceEntry, which Istio accepts as the parent of
// a Gateway API route (and whose hosts it accepts as Hostname backends).
const istioNetworking = "networking.istio.io"

// externalService declares the ServiceEntry name of the input as an external service (once) and
// reports whether it could; path locates the reference for the warning when it is missing.
func (im *importer) externalService(name, path string) bool {
	if _, ok := im.external[name]; ok {
		return true
	}
	o, ok := im.serviceEntries[name]
	if !ok {
		im.warn(path, adapters.FeatureExternalServices, adapters.SeverityError,
			"ServiceEntry %q is not in the input: its hosts and ports are unknown; skipped (add the ServiceEntry to the input)", name)
		return false
	}
	ref := fmt.Sprintf("ServiceEntry %s/%s", nsOr(o.GetNamespace(), im.ns), name)
	sp, _, _ := unstructured.NestedMap(o.Object, "spec")
	if loc, _, _ := unstructured.NestedString(sp, "location"); loc == "MESH_INTERNAL" {
		im.warn(ref+".spec.location", adapters.FeatureExternalServices, adapters.SeverityWarning, "MESH_INTERNAL service entries are imported as external services")
	}
	hosts, _, _ := unstructured.NestedStringSlice(sp, "hosts")
	es := spec.ExternalService{Name: name, Hosts: hosts, Protocol: spec.ProtocolHTTP}
	ports, _, _ := unstructured.NestedSlice(sp, "ports")
	for _, p := range ports {
		pm, _ := p.(map[string]any)
		pn, _, _ := unstructured.NestedString(pm, "name")
		es.Ports = append(es.Ports, spec.Port{Port: portNumber(pm["number"]), Name: pn, TargetPort: portNumber(pm["targetPort"])})
		proto, _, _ := unstructured.NestedString(pm, "protocol")
		switch strings.ToUpper(proto) {
		case "TLS", "HTTPS":
			es.TLS = &spec.ExternalTLS{Mode: spec.ExternalTLSPassthrough}
			es.Protocol = spec.ProtocolTCP
		case "GRPC":
			es.Protocol = spec.ProtocolGRPC
		case "HTTP2":
			es.Protocol = spec.ProtocolHTTP2
		case "TCP", "MONGO", "MYSQL", "REDIS":
			es.Protocol = spec.ProtocolTCP
		}
	}
	im.external[name] = len(im.design.Spec.ExternalServices)
	im.design.Spec.ExternalServices = append(im.design.Spec.ExternalServices, es)
	return true
}

// serviceEntryOfHost returns the name of the ServiceEntry of the input that declares host (the
// first by name when several do).
func (im *importer) serviceEntryOfHost(host string) (string, bool) {
	if im.entryHosts == nil {
		im.entryHosts = map[string]string{}
		for _, n := range sortedNames(im.serviceEntries) {
			hosts, _, _ := unstructured.NestedStringSlice(im.serviceEntries[n].Object, "spec", "hosts")
			for _, h := range hosts {
				if _, seen := im.entryHosts[h]; !seen {
					im.entryHosts[h] = n
				}
			}
		}
	}
	n, ok := im.entryHosts[host]
	return n, ok
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hostsOfParents reports whether every hostname is a host of a ServiceEntry parent: the route
// then matches exactly the traffic its parent receives and the hostnames restrict nothing.
func (im *importer) hostsOfParents(hostnames []gwv1.Hostname, parents []gwv1.ParentReference) bool {
	hosts := map[string]bool{}
	for _, p := range parents {
		if p.Kind == nil || *p.Kind != "ServiceEntry" {
			return false
		}
		if o, ok := im.serviceEntries[string(p.Name)]; ok {
			hs, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "hosts")
			for _, h := range hs {
				hosts[h] = true
			}
		}
	}
	for _, h := range hostnames {
		if !hosts[string(h)] {
			return false
		}
	}
	return true
}

// portNumber reads a port of a decoded object (an integer from YAML, a float64 from JSON); 0 when
// it is absent or out of range.
func portNumber(v any) int32 {
	var n float64
	switch x := v.(type) {
	case int64:
		n = float64(x)
	case int:
		n = float64(x)
	case float64:
		n = x
	}
	if n < 1 || n > 65535 || n != float64(int32(n)) {
		return 0
	}
	return int32(n)
}

// missingServices reports the design services without a Kubernetes Service in the input: their
// selector defaults to {app: <name>}, which selects no pod when the Service selects by other
// labels (Istio's Gateway API bookinfo routes go to reviews-v1, whose Service in
// bookinfo-versions.yaml selects app=reviews, version=v1). Routes given without any Service are
// left alone.
func (im *importer) missingServices(selectors map[string]map[string]string) {
	var missing []string
	for _, s := range im.design.Spec.Services {
		ns := nsOr(s.Namespace, im.ns)
		if _, ok := selectors[ns+"/"+s.Name]; !ok {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) == 0 {
		return
	}
	if len(selectors) == 0 {
		return // routes alone (conformance tests, a routes directory): nothing says otherwise
	}
	for _, n := range missing {
		im.warn("service "+n, adapters.FeatureWeightedSplit, adapters.SeverityWarning,
			"no Kubernetes Service %q among the objects: its pods are assumed to carry app: %s, which may select none (a per-version Service usually selects app and version labels); include the Service", n, n)
	}
}
