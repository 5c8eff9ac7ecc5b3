package native

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	commonfaultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// FaultFilter is the name of the HTTP fault filter; per-route faults are keyed by it.
const FaultFilter = "envoy.filters.http.fault"

// defaultRetryOn are the retry conditions used when a design's retries list none.
var (
	defaultRetryOn     = []string{"5xx", "connect-failure", "reset"}
	defaultGRPCRetryOn = []string{"unavailable", "cancelled", "deadline-exceeded", "connect-failure"}
)

// domains lists the Host/:authority values a service answers to, with and without ports.
func (s *svcInfo) domains() []string {
	var bare []string
	if s.external != nil {
		for _, h := range s.external.Hosts {
			if !strings.HasPrefix(h, "*") || len(h) > 1 {
				bare = append(bare, h)
			}
		}
	} else {
		bare = []string{s.name, s.name + "." + s.ns, s.name + "." + s.ns + ".svc", s.name + "." + s.ns + ".svc.cluster.local"}
	}
	out := make([]string, 0, len(bare)*(1+len(s.ports)))
	for _, d := range bare {
		out = append(out, d)
		for _, p := range s.ports {
			out = append(out, d+":"+strconv.Itoa(int(p.Port)))
		}
	}
	return out
}

// buildRoutes creates the "outbound" RouteConfiguration: one virtual host per HTTP service.
func (b *builder) buildRoutes() error {
	rc := &routev3.RouteConfiguration{Name: RouteOutbound}
	for _, s := range b.services {
		if s.protocol == spec.ProtocolTCP {
			continue
		}
		if s.external != nil && len(s.domains()) == 0 {
			continue
		}
		vh := &routev3.VirtualHost{Name: s.key, Domains: s.domains()}
		if s.external != nil {
			vh.Name = s.name + ".external"
		}
		if s.policy == nil || len(s.policy.Routes) == 0 {
			action := &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: clusterName(s.firstPort(), "", s.key)},
				Timeout:          durationpb.New(0),
			}
			b.applyHashPolicy(action, s)
			vh.Routes = append(vh.Routes, &routev3.Route{
				Name:   "default",
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: action},
			})
		} else {
			for i := range s.policy.Routes {
				rs, err := b.route(s, &s.policy.Routes[i], fmt.Sprintf("%s.routes[%d]", s.polPath, i))
				if err != nil {
					return err
				}
				vh.Routes = append(vh.Routes, rs...)
			}
		}
		rc.VirtualHosts = append(rc.VirtualHosts, vh)
	}
	b.res.Outbound = rc
	return nil
}

// route translates one design route into one Envoy route per match alternative.
func (b *builder) route(s *svcInfo, r *spec.Route, path string) ([]*routev3.Route, error) {
	name := r.Name
	if name == "" {
		name = "route-" + path[strings.LastIndex(path, "[")+1:len(path)-1]
	}
	action, err := b.routeAction(s, r, path)
	if err != nil {
		return nil, err
	}
	base := &routev3.Route{Action: &routev3.Route_Route{Route: action}}
	if h := r.Headers; h != nil {
		if h.Request != nil {
			base.RequestHeadersToAdd, base.RequestHeadersToRemove = headerOps(h.Request)
		}
		if h.Response != nil {
			base.ResponseHeadersToAdd, base.ResponseHeadersToRemove = headerOps(h.Response)
		}
	}
	if r.Fault != nil && (r.Fault.Delay != nil || r.Fault.Abort != nil) {
		f, err := faultConfig(r.Fault, path+".fault")
		if err != nil {
			return nil, err
		}
		base.TypedPerFilterConfig = map[string]*anypb.Any{FaultFilter: mustAny(f)}
	}
	matches := r.Match
	if len(matches) == 0 {
		matches = []spec.Match{{}}
	}
	if r.Rewrite != nil && r.Rewrite.Prefix != "" {
		for i, m := range matches {
			if m.Path == nil || m.Path.Prefix == "" {
				return nil, fmt.Errorf("%s.rewrite.prefix: a prefix rewrite needs a prefix path match, but match[%d] has none; hint: use rewrite.fullPath or add a path prefix match", path, i)
			}
		}
	}
	out := make([]*routev3.Route, 0, len(matches))
	for i, m := range matches {
		rt := cloneRoute(base)
		rt.Name = name
		if len(matches) > 1 {
			rt.Name = name + "-match" + strconv.Itoa(i)
		}
		rt.Match = routeMatch(m)
		out = append(out, rt)
	}
	return out, nil
}

func cloneRoute(r *routev3.Route) *routev3.Route {
	return proto.Clone(r).(*routev3.Route)
}

func routeMatch(m spec.Match) *routev3.RouteMatch {
	rm := &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}}
	if p := m.Path; p != nil {
		switch {
		case p.Exact != "":
			rm.PathSpecifier = &routev3.RouteMatch_Path{Path: p.Exact}
		case p.Regex != "":
			rm.PathSpecifier = &routev3.RouteMatch_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: p.Regex}}
		case p.Prefix == "/" || strings.HasSuffix(p.Prefix, "/"):
			rm.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: p.Prefix}
		case p.Prefix != "":
			// Design prefixes match whole segments: Envoy's path_separated_prefix.
			rm.PathSpecifier = &routev3.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: p.Prefix}
		}
	}
	if m.Method != "" {
		rm.Headers = append(rm.Headers, &routev3.HeaderMatcher{Name: ":method",
			HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact(m.Method)}})
	}
	for _, k := range sortedKeys(m.Headers) {
		rm.Headers = append(rm.Headers, headerMatcher(k, m.Headers[k]))
	}
	for _, k := range sortedKeys(m.QueryParams) {
		v := m.QueryParams[k]
		q := &routev3.QueryParameterMatcher{Name: k}
		if v.Present {
			q.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_PresentMatch{PresentMatch: true}
		} else {
			q.QueryParameterMatchSpecifier = &routev3.QueryParameterMatcher_StringMatch{StringMatch: stringMatcher(v)}
		}
		rm.QueryParameters = append(rm.QueryParameters, q)
	}
	return rm
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func stringMatcher(v spec.StringMatch) *matcherv3.StringMatcher {
	switch {
	case v.Prefix != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: v.Prefix}}
	case v.Regex != "":
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: v.Regex}}}
	default:
		return exact(v.Exact)
	}
}

func headerMatcher(name string, v spec.StringMatch) *routev3.HeaderMatcher {
	if v.Present {
		return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}
	}
	return &routev3.HeaderMatcher{Name: name, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatcher(v)}}
}

func headerOps(h *spec.HeaderOperations) ([]*corev3.HeaderValueOption, []string) {
	var add []*corev3.HeaderValueOption
	for _, k := range sortedKeys(h.Set) {
		add = append(add, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: h.Set[k]},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD})
	}
	for _, k := range sortedKeys(h.Add) {
		add = append(add, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: h.Add[k]},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD})
	}
	return add, append([]string(nil), h.Remove...)
}

// backendCluster resolves a backend (or mirror) to its cluster name.
func (b *builder) backendCluster(s *svcInfo, svcName, version string, port int32, path string) (string, *svcInfo, error) {
	t := s
	if svcName != "" && svcName != s.name {
		var ok bool
		if t, ok = b.byName[svcName]; !ok {
			return "", nil, fmt.Errorf("%s.service: unknown service %q; expected a service or external service of the design", path, svcName)
		}
	}
	if version != "" && t.version(version) == nil {
		return "", nil, fmt.Errorf("%s.version: service %q has no version %q", path, t.name, version)
	}
	if port == 0 {
		port = t.firstPort()
	} else if !t.hasPort(port) {
		return "", nil, fmt.Errorf("%s.port: service %q has no port %d", path, t.name, port)
	}
	name := clusterName(port, version, t.key)
	if _, ok := b.clusters[name]; !ok {
		return "", nil, fmt.Errorf("%s: service %q has no routable cluster (wildcard-only external hosts?)", path, t.name)
	}
	return name, t, nil
}

func (b *builder) routeAction(s *svcInfo, r *spec.Route, path string) (*routev3.RouteAction, error) {
	backends := r.Backends
	if len(backends) == 0 {
		backends = []spec.Backend{{Weight: 100}}
	}
	anyWeight := false
	for _, be := range backends {
		if be.Weight > 0 {
			anyWeight = true
		}
	}
	var wcs []*routev3.WeightedCluster_ClusterWeight
	var clusters []string
	for i, be := range backends {
		name, _, err := b.backendCluster(s, be.Service, be.Version, be.Port, fmt.Sprintf("%s.backends[%d]", path, i))
		if err != nil {
			return nil, err
		}
		w := be.Weight
		if !anyWeight {
			w = 1
		}
		if w == 0 {
			continue
		}
		clusters = append(clusters, name)
		wcs = append(wcs, &routev3.WeightedCluster_ClusterWeight{Name: name, Weight: wrapperspb.UInt32(uint32(w))})
	}
	a := &routev3.RouteAction{Timeout: durationpb.New(r.Timeout.Duration)}
	if len(wcs) == 1 {
		a.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: wcs[0].Name}
	} else {
		a.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: &routev3.WeightedCluster{Clusters: wcs}}
	}
	if rt := r.Retries; rt != nil {
		rp, err := b.retryPolicy(s, rt, clusters, path+".retries")
		if err != nil {
			return nil, err
		}
		a.RetryPolicy = rp
	}
	if m := r.Mirror; m != nil {
		name, _, err := b.backendCluster(s, m.Service, m.Version, 0, path+".mirror")
		if err != nil {
			return nil, err
		}
		a.RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{{
			Cluster: name, RuntimeFraction: &corev3.RuntimeFractionalPercent{DefaultValue: fraction(m.Percent)},
		}}
	}
	if rw := r.Rewrite; rw != nil {
		if rw.Prefix != "" {
			a.PrefixRewrite = rw.Prefix
		}
		if rw.FullPath != "" {
			a.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: &matcherv3.RegexMatcher{Regex: "^.*$"}, Substitution: rw.FullPath}
		}
		if rw.Host != "" {
			a.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rw.Host}
		}
	}
	b.applyHashPolicy(a, s)
	return a, nil
}

func (b *builder) applyHashPolicy(a *routev3.RouteAction, s *svcInfo) {
	if s.policy == nil || s.policy.Resilience == nil || s.policy.Resilience.LoadBalancer == nil {
		return
	}
	ch := s.policy.Resilience.LoadBalancer.ConsistentHash
	if ch == nil {
		return
	}
	hp := &routev3.RouteAction_HashPolicy{}
	switch {
	case ch.Header != "":
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Header_{Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: ch.Header}}
	case ch.Cookie != nil:
		c := &routev3.RouteAction_HashPolicy_Cookie{Name: ch.Cookie.Name, Path: ch.Cookie.Path}
		if c.Path == "" {
			c.Path = "/"
		}
		if ch.Cookie.TTL.Duration > 0 {
			c.Ttl = dur(ch.Cookie.TTL.Duration)
		}
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_Cookie_{Cookie: c}
	case ch.SourceIP:
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_ConnectionProperties_{ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}
	case ch.QueryParam != "":
		hp.PolicySpecifier = &routev3.RouteAction_HashPolicy_QueryParameter_{QueryParameter: &routev3.RouteAction_HashPolicy_QueryParameter{Name: ch.QueryParam}}
	default:
		return
	}
	a.HashPolicy = []*routev3.RouteAction_HashPolicy{hp}
}

func (b *builder) retryPolicy(s *svcInfo, rt *spec.Retries, clusters []string, path string) (*routev3.RetryPolicy, error) {
	on := rt.On
	if len(on) == 0 {
		on = defaultRetryOn
		if s.protocol == spec.ProtocolGRPC {
			on = defaultGRPCRetryOn
		}
	}
	rp := &routev3.RetryPolicy{NumRetries: wrapperspb.UInt32(uint32(max(rt.Attempts, 0)))}
	var conds []string
	hasCodes := false
	for i, c := range on {
		if code, err := strconv.Atoi(c); err == nil && len(c) == 3 {
			rp.RetriableStatusCodes = append(rp.RetriableStatusCodes, uint32(code))
			if !hasCodes {
				hasCodes = true
				conds = append(conds, "retriable-status-codes")
			}
			continue
		}
		known := false
		for _, k := range spec.RetryOn {
			if k == c {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("%s.on[%d]: unknown retry condition %q; expected one of %s or a three-digit status code", path, i, c, strings.Join(spec.RetryOn, ", "))
		}
		conds = append(conds, c)
	}
	rp.RetryOn = strings.Join(conds, ",")
	if rt.PerTryTimeout.Duration > 0 {
		rp.PerTryTimeout = dur(rt.PerTryTimeout.Duration)
	}
	if bo := rt.Backoff; bo != nil && bo.BaseInterval.Duration > 0 {
		maxI := bo.MaxInterval.Duration
		if maxI <= 0 {
			maxI = 10 * bo.BaseInterval.Duration
		}
		rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: dur(bo.BaseInterval.Duration), MaxInterval: dur(maxI)}
	}
	if bu := rt.Budget; bu != nil {
		pct, minc := bu.Percent, bu.MinRetryConcurrency
		if pct <= 0 {
			pct = 20
		}
		if minc <= 0 {
			minc = 3
		}
		budget := &clusterv3.CircuitBreakers_Thresholds_RetryBudget{
			BudgetPercent: &typev3.Percent{Value: pct}, MinRetryConcurrency: wrapperspb.UInt32(uint32(minc)),
		}
		for _, name := range clusters {
			c := b.clusters[name]
			if prev, ok := b.budgets[name]; ok {
				b.warn(path+".budget", adapters.FeatureRetryBudget, adapters.SeverityWarning,
					"cluster %q already carries the retry budget of %s; Envoy budgets are per cluster, so this one is ignored", name, prev)
				continue
			}
			b.budgets[name] = path
			if c.CircuitBreakers == nil {
				c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{Priority: corev3.RoutingPriority_DEFAULT}}}
			}
			c.CircuitBreakers.Thresholds[0].RetryBudget = budget
		}
	}
	return rp, nil
}

func faultConfig(f *spec.Fault, path string) (*faultv3.HTTPFault, error) {
	hf := &faultv3.HTTPFault{}
	if d := f.Delay; d != nil {
		if d.Fixed.Duration <= 0 {
			return nil, fmt.Errorf("%s.delay.fixed: expected a positive duration such as \"100ms\", got %s", path, d.Fixed)
		}
		hf.Delay = &commonfaultv3.FaultDelay{
			FaultDelaySecifier: &commonfaultv3.FaultDelay_FixedDelay{FixedDelay: dur(d.Fixed.Duration)},
			Percentage:         fraction(d.Percent),
		}
	}
	if a := f.Abort; a != nil {
		fa := &faultv3.FaultAbort{Percentage: fraction(a.Percent)}
		switch {
		case a.GRPCStatus != "":
			var c codes.Code
			if err := c.UnmarshalJSON([]byte(strconv.Quote(strings.ToUpper(a.GRPCStatus)))); err != nil {
				b, _ := json.Marshal(a.GRPCStatus)
				return nil, fmt.Errorf("%s.abort.grpcStatus: unknown gRPC status %s; expected a status name such as \"UNAVAILABLE\"", path, b)
			}
			fa.ErrorType = &faultv3.FaultAbort_GrpcStatus{GrpcStatus: uint32(c)}
		case a.HTTPStatus != 0:
			fa.ErrorType = &faultv3.FaultAbort_HttpStatus{HttpStatus: uint32(a.HTTPStatus)}
		default:
			return nil, fmt.Errorf("%s.abort: expected httpStatus or grpcStatus", path)
		}
		hf.Abort = fa
	}
	return hf, nil
}
