// Package table compiles Envoy xDS resources (Listener, RouteConfiguration, Cluster,
// ClusterLoadAssignment) into the proxy's immutable routing table. A new Table is built for every
// accepted update and swapped in atomically; building fails with a field-path error on resources
// the proxy cannot honour, which the xDS client turns into a NACK.
package table

import (
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	lrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3" // registers the router filter type
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3" // registers protocol options

	"github.com/trellis-mesh/trellis/proxy/identity"
	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// Resources is one full set of xDS resources.
type Resources struct {
	// Listeners are the LDS resources.
	Listeners []*listenerv3.Listener
	// Routes are the RDS resources.
	Routes []*routev3.RouteConfiguration
	// Clusters are the CDS resources.
	Clusters []*clusterv3.Cluster
	// Endpoints are the EDS resources.
	Endpoints []*endpointv3.ClusterLoadAssignment
	// Secrets are the SDS resources (the workload certificate "default" and the roots "ROOTCA").
	Secrets []*tlsv3.Secret
	// Versions are the accepted version_info per type URL.
	Versions map[string]string
}

// Listener is a compiled listener.
type Listener struct {
	// Name is the listener name ("outbound", "inbound", …).
	Name string
	// Addr is host:port to bind.
	Addr string
	// Outbound is true for the outbound listener (sets the caller identity header).
	Outbound bool
	// Routes is the listener's route configuration (nil when missing: 404).
	Routes *RouteConfig
	// RBAC is nil without an RBAC filter.
	RBAC *RBAC
	// RateLimit is nil without a local rate limit filter.
	RateLimit *RateLimit
	// Fault is true when the fault filter is in the chain.
	Fault bool
	// TLS is the downstream mTLS mode; nil for a plaintext listener.
	TLS *DownstreamTLS
	// MissingRoutes names the RDS route configuration the listener waits for ("" when present).
	MissingRoutes string
	// Local is the series for local replies without a route.
	Local *stats.Series
}

// Table is one immutable configuration generation.
type Table struct {
	// Listeners by name.
	Listeners map[string]*Listener
	// Clusters by name.
	Clusters map[string]*upstream.Cluster
	// Resources are the resources the table was built from.
	Resources Resources
	// Warming lists EDS clusters without an assignment and RDS route configurations not received yet.
	Warming []string
}

// Builder builds tables and keeps state that outlives one generation (rate-limit buckets).
type Builder struct {
	// Upstream builds clusters.
	Upstream *upstream.Manager
	// Stats provides request series.
	Stats *stats.Registry
	// Log receives warnings about ignored configuration.
	Log *slog.Logger

	mu      sync.Mutex
	buckets map[string]*Bucket

	// Previous is the live table; clusters removed by CDS while routes still reference them are
	// carried over from it so that an update never breaks in-flight routing (make-before-break).
	Previous *Table
	missing  map[string]bool
}

func w0(w uint32) uint32 { return w }

// resolve finds a route's cluster in the new generation, else carries it over from the previous
// table; a cluster found nowhere with a positive weight makes the table warm (wait for CDS).
func (b *Builder) resolve(clusters map[string]*upstream.Cluster, name string, weight uint32) *upstream.Cluster {
	if c := clusters[name]; c != nil {
		return c
	}
	if b.Previous != nil {
		if c := b.Previous.Clusters[name]; c != nil {
			clusters[name] = c
			return c
		}
	}
	if weight > 0 && b.missing != nil {
		b.missing[name] = true
	}
	return nil
}

// NewBuilder returns a builder.
func NewBuilder(up *upstream.Manager, st *stats.Registry, log *slog.Logger) *Builder {
	if log == nil {
		log = slog.Default()
	}
	return &Builder{Upstream: up, Stats: st, Log: log, buckets: map[string]*Bucket{}}
}

// Build compiles res into a table.
func (b *Builder) Build(res Resources) (*Table, error) {
	clas := map[string]*endpointv3.ClusterLoadAssignment{}
	for i, c := range res.Endpoints {
		if c.GetClusterName() == "" {
			return nil, fmt.Errorf("cluster_load_assignment[%d].cluster_name: must not be empty", i)
		}
		clas[c.GetClusterName()] = c
	}
	if err := b.applySecrets(res.Secrets); err != nil {
		return nil, err
	}
	clusters, err := b.Upstream.Build(res.Clusters, clas)
	if err != nil {
		return nil, err
	}
	b.missing = map[string]bool{}
	t := &Table{Listeners: map[string]*Listener{}, Clusters: clusters, Resources: res}
	for _, c := range res.Clusters {
		if c.GetType() == clusterv3.Cluster_EDS {
			n := c.GetName()
			if s := c.GetEdsClusterConfig().GetServiceName(); s != "" {
				n = s
			}
			if clas[n] == nil {
				t.Warming = append(t.Warming, c.GetName())
			}
		}
	}
	routes := map[string]*routev3.RouteConfiguration{}
	for i, rc := range res.Routes {
		if rc.GetName() == "" {
			return nil, fmt.Errorf("route_configuration[%d].name: must not be empty", i)
		}
		routes[rc.GetName()] = rc
	}
	for i, l := range res.Listeners {
		cl, err := b.compileListener(l, routes, clusters)
		if err != nil {
			return nil, fmt.Errorf("listener[%d] %q: %w", i, l.GetName(), err)
		}
		t.Listeners[cl.Name] = cl
		if cl.MissingRoutes != "" {
			t.Warming = append(t.Warming, "route_configuration/"+cl.MissingRoutes)
		}
	}
	for name := range b.missing {
		t.Warming = append(t.Warming, "cluster/"+name)
	}
	if id := b.Upstream.Identity; id != nil && !id.Ready() && t.usesMTLS() {
		t.Warming = append(t.Warming, "secret/"+identity.CertSecret)
	}
	sort.Strings(t.Warming)
	return t, nil
}

func (b *Builder) compileListener(l *listenerv3.Listener, routes map[string]*routev3.RouteConfiguration, clusters map[string]*upstream.Cluster) (*Listener, error) {
	if l.GetName() == "" {
		return nil, fmt.Errorf("name: must not be empty")
	}
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil {
		return nil, fmt.Errorf("address.socket_address: required")
	}
	out := &Listener{
		Name:     l.GetName(),
		Addr:     net.JoinHostPort(sa.GetAddress(), fmt.Sprint(sa.GetPortValue())),
		Outbound: l.GetName() == "outbound" || l.GetTrafficDirection().String() == "OUTBOUND",
		Local:    b.Stats.Series(l.GetName(), "", ""),
	}
	if len(l.GetFilterChains()) == 0 {
		return nil, fmt.Errorf("filter_chains: expected one filter chain")
	}
	ci, mode, err := b.chooseChains(l)
	if err != nil {
		return nil, err
	}
	out.TLS = mode
	var hcm *hcmv3.HttpConnectionManager
	for fi, f := range l.GetFilterChains()[ci].GetFilters() {
		if f.GetName() != "envoy.filters.network.http_connection_manager" && f.GetTypedConfig().GetTypeUrl() != "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager" {
			b.Log.Warn("ignoring unsupported network filter", "listener", l.GetName(), "filter", f.GetName())
			continue
		}
		hcm = &hcmv3.HttpConnectionManager{}
		if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
			return nil, fmt.Errorf("filter_chains[%d].filters[%d].typed_config: %w", ci, fi, err)
		}
	}
	if hcm == nil {
		return nil, fmt.Errorf("filter_chains[0].filters: expected an envoy.filters.network.http_connection_manager")
	}
	switch rs := hcm.GetRouteSpecifier().(type) {
	case *hcmv3.HttpConnectionManager_Rds:
		rc := routes[rs.Rds.GetRouteConfigName()]
		if rc == nil {
			out.MissingRoutes = rs.Rds.GetRouteConfigName()
		}
		if rc != nil {
			cr, err := b.compileRoutes(l.GetName(), rc, clusters)
			if err != nil {
				return nil, fmt.Errorf("route_configuration %q: %w", rc.GetName(), err)
			}
			out.Routes = cr
		}
	case *hcmv3.HttpConnectionManager_RouteConfig:
		cr, err := b.compileRoutes(l.GetName(), rs.RouteConfig, clusters)
		if err != nil {
			return nil, fmt.Errorf("http_connection_manager.route_config: %w", err)
		}
		out.Routes = cr
	default:
		return nil, fmt.Errorf("http_connection_manager: expected rds or route_config")
	}
	for i, hf := range hcm.GetHttpFilters() {
		path := fmt.Sprintf("http_connection_manager.http_filters[%d] (%s)", i, hf.GetName())
		switch {
		case hf.GetName() == "envoy.filters.http.router" || strings.HasSuffix(hf.GetTypedConfig().GetTypeUrl(), "router.v3.Router"):
		case hf.GetName() == "envoy.filters.http.fault" || strings.HasSuffix(hf.GetTypedConfig().GetTypeUrl(), "fault.v3.HTTPFault"):
			out.Fault = true
		case hf.GetName() == "envoy.filters.http.rbac" || strings.HasSuffix(hf.GetTypedConfig().GetTypeUrl(), "rbac.v3.RBAC"):
			var cfg rbacfv3.RBAC
			if err := hf.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if cfg.GetRules() == nil {
				out.RBAC = &RBAC{ShadowOnly: true}
				continue
			}
			r, err := compileRBAC(cfg.GetRules())
			if err != nil {
				return nil, fmt.Errorf("%s.rules: %w", path, err)
			}
			out.RBAC = r
		case hf.GetName() == "envoy.filters.http.local_ratelimit" || strings.HasSuffix(hf.GetTypedConfig().GetTypeUrl(), "local_ratelimit.v3.LocalRateLimit"):
			var cfg lrlv3.LocalRateLimit
			if err := hf.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			rl, err := b.compileRateLimit(l.GetName(), &cfg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out.RateLimit = rl
		default:
			b.Log.Warn("ignoring unsupported http filter", "listener", l.GetName(), "filter", hf.GetName())
		}
	}
	return out, nil
}

func (b *Builder) compileRoutes(listener string, rc *routev3.RouteConfiguration, clusters map[string]*upstream.Cluster) (*RouteConfig, error) {
	out := &RouteConfig{Name: rc.GetName(), exact: map[string]*VirtualHost{}}
	base := HeaderOps{}
	base.ReqAdd, base.ReqRemove = compileHeaderOps(rc.GetRequestHeadersToAdd(), rc.GetRequestHeadersToRemove())
	base.RespAdd, base.RespRemove = compileHeaderOps(rc.GetResponseHeadersToAdd(), rc.GetResponseHeadersToRemove())
	for vi, v := range rc.GetVirtualHosts() {
		vh := &VirtualHost{Name: v.GetName()}
		vops := HeaderOps{}
		vops.ReqAdd, vops.ReqRemove = compileHeaderOps(v.GetRequestHeadersToAdd(), v.GetRequestHeadersToRemove())
		vops.RespAdd, vops.RespRemove = compileHeaderOps(v.GetResponseHeadersToAdd(), v.GetResponseHeadersToRemove())
		vops = base.merge(vops)
		var vfault *Fault
		if a, ok := v.GetTypedPerFilterConfig()["envoy.filters.http.fault"]; ok {
			var f faultv3.HTTPFault
			if err := a.UnmarshalTo(&f); err != nil {
				return nil, fmt.Errorf("virtual_hosts[%d].typed_per_filter_config: %w", vi, err)
			}
			cf, err := compileFault(&f)
			if err != nil {
				return nil, fmt.Errorf("virtual_hosts[%d].typed_per_filter_config[envoy.filters.http.fault]: %w", vi, err)
			}
			vfault = cf
		}
		for ri, r := range v.GetRoutes() {
			cr, err := b.compileRoute(listener, vh.Name, ri, r, clusters, vops, vfault)
			if err != nil {
				return nil, fmt.Errorf("virtual_hosts[%d] %q.routes[%d]: %w", vi, v.GetName(), ri, err)
			}
			vh.Routes = append(vh.Routes, cr)
		}
		for _, d := range v.GetDomains() {
			d = strings.ToLower(d)
			switch {
			case d == "*":
				if out.wildcard == nil {
					out.wildcard = vh
				}
			case strings.HasPrefix(d, "*"):
				out.suffix = append(out.suffix, domainEntry{pattern: d[1:], vh: vh})
			case strings.HasSuffix(d, "*"):
				out.prefix = append(out.prefix, domainEntry{pattern: d[:len(d)-1], vh: vh})
			default:
				if _, dup := out.exact[d]; dup {
					return nil, fmt.Errorf("virtual_hosts[%d].domains: domain %q is used by two virtual hosts", vi, d)
				}
				out.exact[d] = vh
			}
		}
		out.VHosts = append(out.VHosts, vh)
	}
	sort.SliceStable(out.suffix, func(i, j int) bool { return len(out.suffix[i].pattern) > len(out.suffix[j].pattern) })
	sort.SliceStable(out.prefix, func(i, j int) bool { return len(out.prefix[i].pattern) > len(out.prefix[j].pattern) })
	return out, nil
}

func (b *Builder) compileRoute(listener, vhost string, idx int, r *routev3.Route, clusters map[string]*upstream.Cluster, vops HeaderOps, vfault *Fault) (*Route, error) {
	name := r.GetName()
	if name == "" {
		name = fmt.Sprint(idx)
	}
	rt := &Route{Name: vhost + "/" + name, Timeout: DefaultTimeout, Fault: vfault}
	m := r.GetMatch()
	if m == nil {
		return nil, fmt.Errorf("match: required")
	}
	rt.caseInsensitive = m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue()
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		rt.prefix = p.Prefix
	case *routev3.RouteMatch_Path:
		rt.path = p.Path
	case *routev3.RouteMatch_SafeRegex:
		rx, err := compileRegex(p.SafeRegex.GetRegex())
		if err != nil {
			return nil, fmt.Errorf("match.safe_regex: %w", err)
		}
		rt.regex = rx
	case *routev3.RouteMatch_PathSeparatedPrefix:
		rt.sepPrefix = p.PathSeparatedPrefix
	default:
		return nil, fmt.Errorf("match: unsupported path specifier %T (expected prefix, path, safe_regex or path_separated_prefix)", p)
	}
	if m.GetGrpc() != nil {
		rt.grpcOnly = true
	}
	for i, h := range m.GetHeaders() {
		hm, err := compileHeaderMatcher(h)
		if err != nil {
			return nil, fmt.Errorf("match.headers[%d]: %w", i, err)
		}
		rt.headers = append(rt.headers, hm)
	}
	for i, q := range m.GetQueryParameters() {
		qm, err := compileQueryMatcher(q)
		if err != nil {
			return nil, fmt.Errorf("match.query_parameters[%d]: %w", i, err)
		}
		rt.query = append(rt.query, qm)
	}
	ops := HeaderOps{}
	ops.ReqAdd, ops.ReqRemove = compileHeaderOps(r.GetRequestHeadersToAdd(), r.GetRequestHeadersToRemove())
	ops.RespAdd, ops.RespRemove = compileHeaderOps(r.GetResponseHeadersToAdd(), r.GetResponseHeadersToRemove())
	rt.Headers = vops.merge(ops)
	if a, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.fault"]; ok {
		var f faultv3.HTTPFault
		if err := a.UnmarshalTo(&f); err != nil {
			return nil, fmt.Errorf("typed_per_filter_config[envoy.filters.http.fault]: %w", err)
		}
		cf, err := compileFault(&f)
		if err != nil {
			return nil, fmt.Errorf("typed_per_filter_config[envoy.filters.http.fault].%w", err)
		}
		rt.Fault = cf
	}
	rt.Stats = b.Stats.Series(listener, rt.Name, "")
	switch a := r.GetAction().(type) {
	case *routev3.Route_DirectResponse:
		rt.Direct = &DirectResponse{Status: int(a.DirectResponse.GetStatus()), Body: a.DirectResponse.GetBody().GetInlineString()}
		if rt.Direct.Status < 200 || rt.Direct.Status > 599 {
			return nil, fmt.Errorf("direct_response.status: expected 200..599, got %d", rt.Direct.Status)
		}
		return rt, nil
	case *routev3.Route_Route:
		if err := b.compileAction(listener, rt, a.Route, clusters); err != nil {
			return nil, fmt.Errorf("route.%w", err)
		}
		return rt, nil
	default:
		return nil, fmt.Errorf("action: unsupported %T (expected route or direct_response)", a)
	}
}

func (b *Builder) compileAction(listener string, rt *Route, a *routev3.RouteAction, clusters map[string]*upstream.Cluster) error {
	switch cs := a.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		if cs.Cluster == "" {
			return fmt.Errorf("cluster: must not be empty")
		}
		rt.Clusters = []WeightedCluster{{Name: cs.Cluster, Cluster: b.resolve(clusters, cs.Cluster, w0(1)), Weight: 1, Stats: b.Stats.Series(listener, rt.Name, cs.Cluster)}}
		rt.TotalWeight = 1
	case *routev3.RouteAction_WeightedClusters:
		for i, wc := range cs.WeightedClusters.GetClusters() {
			w := uint32(0)
			if wc.GetWeight() != nil {
				w = wc.GetWeight().GetValue()
			}
			c := WeightedCluster{Name: wc.GetName(), Cluster: b.resolve(clusters, wc.GetName(), w), Weight: w, Stats: b.Stats.Series(listener, rt.Name, wc.GetName())}
			if c.Name == "" {
				return fmt.Errorf("weighted_clusters.clusters[%d].name: must not be empty", i)
			}
			c.Headers.ReqAdd, c.Headers.ReqRemove = compileHeaderOps(wc.GetRequestHeadersToAdd(), wc.GetRequestHeadersToRemove())
			c.Headers.RespAdd, c.Headers.RespRemove = compileHeaderOps(wc.GetResponseHeadersToAdd(), wc.GetResponseHeadersToRemove())
			rt.Clusters = append(rt.Clusters, c)
			rt.TotalWeight += w
		}
		if rt.TotalWeight == 0 {
			return fmt.Errorf("weighted_clusters: weights must sum to a positive total (hint: give at least one cluster a weight > 0)")
		}
	default:
		return fmt.Errorf("cluster_specifier: unsupported %T (expected cluster or weighted_clusters)", cs)
	}
	if d := a.GetTimeout(); d != nil {
		rt.Timeout = d.AsDuration()
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		p, err := compileRetry(rp)
		if err != nil {
			return fmt.Errorf("retry_policy.%w", err)
		}
		rt.Retry = p
	}
	for i, mp := range a.GetRequestMirrorPolicies() {
		per := uint32(1_000_000)
		if rf := mp.GetRuntimeFraction(); rf != nil {
			per = percentPerMillion(rf.GetDefaultValue())
		}
		c := clusters[mp.GetCluster()]
		if c == nil {
			b.Log.Warn("mirror cluster not found; mirroring disabled", "route", rt.Name, "cluster", mp.GetCluster(), "index", i)
			continue
		}
		rt.Mirrors = append(rt.Mirrors, Mirror{Cluster: c, PerMillion: per})
	}
	if a.GetPrefixRewrite() != "" {
		rt.PrefixRewrite = a.GetPrefixRewrite()
		rt.prefixRewriteSet = true
	}
	if rr := a.GetRegexRewrite(); rr != nil {
		rx, err := regexp.Compile(rr.GetPattern().GetRegex())
		if err != nil {
			return fmt.Errorf("regex_rewrite.pattern: %w", err)
		}
		rt.RegexRewrite = rx
		rt.RegexSubst = convertSubst(rr.GetSubstitution())
	}
	rt.HostRewrite = a.GetHostRewriteLiteral()
	for i, hp := range a.GetHashPolicy() {
		p := HashPolicy{Terminal: hp.GetTerminal()}
		switch s := hp.GetPolicySpecifier().(type) {
		case *routev3.RouteAction_HashPolicy_Header_:
			p.Header = strings.ToLower(s.Header.GetHeaderName())
		case *routev3.RouteAction_HashPolicy_Cookie_:
			p.Cookie = s.Cookie.GetName()
		case *routev3.RouteAction_HashPolicy_ConnectionProperties_:
			p.SourceIP = s.ConnectionProperties.GetSourceIp()
		case *routev3.RouteAction_HashPolicy_QueryParameter_:
			p.Query = s.QueryParameter.GetName()
		default:
			return fmt.Errorf("hash_policy[%d]: unsupported %T (expected header, cookie, connection_properties or query_parameter)", i, s)
		}
		rt.HashPolicies = append(rt.HashPolicies, p)
	}
	return nil
}

// Hash computes the route's hash key from r and the downstream address; ok is false when no
// policy produced a value.
func (rt *Route) Hash(r Req, remoteAddr string) (uint64, bool) {
	var h uint64
	ok := false
	for _, p := range rt.HashPolicies {
		var v string
		found := false
		switch {
		case p.Header != "":
			v, found = header(r, p.Header)
		case p.Cookie != "":
			if c, has := r.Header("cookie"); has {
				for _, part := range strings.Split(c, ";") {
					k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
					if k == p.Cookie {
						v, found = val, true
						break
					}
				}
			}
		case p.Query != "":
			qm := queryMatch{name: p.Query, present: true}
			if qm.match(r.Query()) {
				for _, kv := range strings.Split(r.Query(), "&") {
					if k, val, _ := strings.Cut(kv, "="); k == p.Query {
						v, found = val, true
						break
					}
				}
			}
		case p.SourceIP:
			if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
				v, found = host, true
			}
		}
		if found {
			h = h*31 + xxhash.Sum64String(v)
			ok = true
			if p.Terminal {
				break
			}
		}
	}
	return h, ok
}

// Pick chooses a weighted cluster with a uniform random number in [0, TotalWeight).
func (rt *Route) Pick(n uint32) *WeightedCluster {
	if len(rt.Clusters) == 1 {
		return &rt.Clusters[0]
	}
	for i := range rt.Clusters {
		if n < rt.Clusters[i].Weight {
			return &rt.Clusters[i]
		}
		n -= rt.Clusters[i].Weight
	}
	return &rt.Clusters[len(rt.Clusters)-1]
}
