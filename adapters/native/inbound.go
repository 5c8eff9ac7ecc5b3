package native

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// HTTP filter names used on the listeners.
const (
	// RBACFilter enforces access rules on the inbound listener.
	RBACFilter = "envoy.filters.http.rbac"
	// RateLimitFilter is the inbound local token-bucket rate limit.
	RateLimitFilter = "envoy.filters.http.local_ratelimit"
	// WasmFilter runs a WebAssembly extension (ignored by the bundled proxy for now).
	WasmFilter = "envoy.filters.http.wasm"
	// RouterFilter forwards requests; it is always last.
	RouterFilter = "envoy.filters.http.router"
)

// buildInbound builds each service's inbound HTTP filters: wasm (authn, authz phases), RBAC for
// access rules, local rate limit, wasm (stats, unspecified phases).
func (b *builder) buildInbound() error {
	for _, s := range b.services {
		if s.external != nil {
			continue
		}
		sr := &ServiceResources{Name: s.name, Namespace: s.ns, Protocol: s.protocol, Identity: s.identity,
			TargetPort: s.ports[0].TargetPort, MTLS: b.listenerMode(s)}
		if sr.TargetPort == 0 {
			sr.TargetPort = s.ports[0].Port
		}
		wasmByPhase, err := b.wasmFilters(s)
		if err != nil {
			return err
		}
		sr.HTTPFilters = append(sr.HTTPFilters, wasmByPhase[spec.PhaseAuthn]...)
		sr.HTTPFilters = append(sr.HTTPFilters, wasmByPhase[spec.PhaseAuthz]...)
		rbac, err := b.rbacFilters(s)
		if err != nil {
			return err
		}
		sr.HTTPFilters = append(sr.HTTPFilters, rbac...)
		if s.policy != nil && s.policy.Resilience != nil && s.policy.Resilience.RateLimit != nil {
			rl := s.policy.Resilience.RateLimit
			if rl.Count() <= 0 || (rl.RequestsPerSecond != 0 && rl.RequestsPerMinute != 0) {
				return fmt.Errorf("%s.resilience.rateLimit: expected exactly one of requestsPerSecond and requestsPerMinute, positive; got %d per second and %d per minute", s.polPath, rl.RequestsPerSecond, rl.RequestsPerMinute)
			}
			burst, perFill, fill, exact := rl.TokenBucket()
			if !exact {
				unit := "second"
				if rl.Interval() == time.Minute {
					unit = "minute"
				}
				b.warn(s.polPath+".resilience.rateLimit.burst", adapters.FeatureRateLimit, adapters.SeverityWarning,
					"Envoy adds at most the burst (%d tokens) per refill and refills at most every 50ms: no token bucket carries %d per %s exactly, enforced as %d every %v (%.6g per %s), a stricter limit",
					burst, rl.Count(), unit, perFill, fill, float64(perFill)*float64(rl.Interval())/float64(fill), unit)
			}
			sr.HTTPFilters = append(sr.HTTPFilters, &hcmv3.HttpFilter{Name: RateLimitFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&localrlv3.LocalRateLimit{
				StatPrefix: "http_local_rate_limiter",
				Status:     &typev3.HttpStatus{Code: typev3.StatusCode_TooManyRequests},
				TokenBucket: &typev3.TokenBucket{
					MaxTokens: uint32(burst), TokensPerFill: wrapperspb.UInt32(uint32(perFill)), FillInterval: dur(fill),
				},
				FilterEnabled:  &corev3.RuntimeFractionalPercent{RuntimeKey: "local_rate_limit_enabled", DefaultValue: fraction(100)},
				FilterEnforced: &corev3.RuntimeFractionalPercent{RuntimeKey: "local_rate_limit_enforced", DefaultValue: fraction(100)},
			})}})
		}
		sr.HTTPFilters = append(sr.HTTPFilters, wasmByPhase[spec.PhaseStats]...)
		sr.HTTPFilters = append(sr.HTTPFilters, wasmByPhase[spec.PhaseUnspecified]...)
		b.res.Services[s.key] = sr
	}
	return nil
}

// spiffe returns the SPIFFE ID of an identity in a namespace.
func (b *builder) spiffe(ns, identity string) string {
	return "spiffe://" + b.td + "/ns/" + ns + "/sa/" + identity
}

// peerPrincipal matches the SPIFFE ID of the caller's client certificate verified by mTLS.
func peerPrincipal(m *matcherv3.StringMatcher) *rbacv3.Principal {
	return &rbacv3.Principal{Identifier: &rbacv3.Principal_Authenticated_{Authenticated: &rbacv3.Principal_Authenticated{PrincipalName: m}}}
}

func (b *builder) principal(src spec.Source, path string) (*rbacv3.Principal, error) {
	switch {
	case src.Service == "*" || (src.Identity == "" && src.Service == "" && src.Namespace == "*"):
		return &rbacv3.Principal{Identifier: &rbacv3.Principal_Any{Any: true}}, nil
	case src.Service != "":
		t, ok := b.byName[src.Service]
		if !ok || t.external != nil {
			return nil, fmt.Errorf("%s.service: unknown service %q; expected a service of the design or \"*\"", path, src.Service)
		}
		return peerPrincipal(exact(b.spiffe(t.ns, t.identity))), nil
	case src.Identity != "":
		ns := src.Namespace
		if ns == "" || ns == "*" {
			ns = b.designNamespace()
		}
		return peerPrincipal(exact(b.spiffe(ns, src.Identity))), nil
	case src.Namespace != "":
		return peerPrincipal(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "spiffe://" + b.td + "/ns/" + src.Namespace + "/sa/"}}), nil
	}
	return nil, fmt.Errorf("%s: a source needs one of service, identity or namespace", path)
}

func orPermissions(ps []*rbacv3.Permission) *rbacv3.Permission {
	if len(ps) == 1 {
		return ps[0]
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_OrRules{OrRules: &rbacv3.Permission_Set{Rules: ps}}}
}

func anyPermission() *rbacv3.Permission {
	return &rbacv3.Permission{Rule: &rbacv3.Permission_Any{Any: true}}
}

func conditionPermission(c spec.AccessCondition) *rbacv3.Permission {
	var and []*rbacv3.Permission
	if len(c.Methods) > 0 {
		var ps []*rbacv3.Permission
		for _, m := range c.Methods {
			ps = append(ps, &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: &routev3.HeaderMatcher{Name: ":method",
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: exact(strings.ToUpper(m))}}}})
		}
		and = append(and, orPermissions(ps))
	}
	if len(c.Paths) > 0 {
		var ps []*rbacv3.Permission
		for _, p := range c.Paths {
			sm := exact(p)
			if strings.HasSuffix(p, "*") {
				sm = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: strings.TrimSuffix(p, "*")}}
			}
			ps = append(ps, &rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: &matcherv3.PathMatcher{Rule: &matcherv3.PathMatcher_Path{Path: sm}}}})
		}
		and = append(and, orPermissions(ps))
	}
	if len(c.Ports) > 0 {
		var ps []*rbacv3.Permission
		for _, p := range c.Ports {
			ps = append(ps, &rbacv3.Permission{Rule: &rbacv3.Permission_DestinationPort{DestinationPort: uint32(p)}})
		}
		and = append(and, orPermissions(ps))
	}
	for _, k := range sortedKeys(c.Headers) {
		and = append(and, &rbacv3.Permission{Rule: &rbacv3.Permission_Header{Header: headerMatcher(k, c.Headers[k])}})
	}
	switch len(and) {
	case 0:
		return anyPermission()
	case 1:
		return and[0]
	}
	return &rbacv3.Permission{Rule: &rbacv3.Permission_AndRules{AndRules: &rbacv3.Permission_Set{Rules: and}}}
}

// rbacFilters returns a DENY filter for deny rules (checked first: deny wins) and, when the
// default policy is deny or the service has allow rules, an ALLOW filter listing the allow rules
// (no rule: every request denied).
func (b *builder) rbacFilters(s *svcInfo) ([]*hcmv3.HttpFilter, error) {
	sec := b.d.Spec.Security
	if sec == nil {
		return nil, nil
	}
	defaultDeny := sec.DefaultPolicy == spec.ActionDeny
	deny := map[string]*rbacv3.Policy{}
	allow := map[string]*rbacv3.Policy{}
	for i, rule := range sec.Access {
		if rule.Destination != s.name {
			continue
		}
		path := fmt.Sprintf("spec.security.access[%d]", i)
		action := rule.Action
		if action == "" {
			action = spec.ActionAllow
		}
		name := rule.Name
		if name == "" {
			name = fmt.Sprintf("%s-%s-%d", rule.Destination, action, i)
		}
		pol := &rbacv3.Policy{}
		for j, src := range rule.Sources {
			p, err := b.principal(src, fmt.Sprintf("%s.sources[%d]", path, j))
			if err != nil {
				return nil, err
			}
			pol.Principals = append(pol.Principals, p)
		}
		if len(pol.Principals) == 0 {
			return nil, fmt.Errorf("%s.sources: expected at least one source; hint: use {service: \"*\"} for any caller", path)
		}
		if len(rule.When) == 0 {
			pol.Permissions = []*rbacv3.Permission{anyPermission()}
		}
		for _, c := range rule.When {
			pol.Permissions = append(pol.Permissions, conditionPermission(c))
		}
		if action == spec.ActionDeny {
			deny[name] = pol
			continue
		}
		allow[name] = pol
	}
	// A destination with an allow rule admits only what its allow rules match, whatever the
	// default policy; without one, the default policy decides.
	closed := defaultDeny || len(allow) > 0
	if closed {
		if p := healthCheckPolicy(s); p != nil {
			allow[HealthCheckPolicy] = p
		}
	}
	var out []*hcmv3.HttpFilter
	if len(deny) > 0 {
		out = append(out, rbacFilter(rbacv3.RBAC_DENY, deny))
	}
	if closed {
		out = append(out, rbacFilter(rbacv3.RBAC_ALLOW, allow))
	}
	return out, nil
}

// HealthCheckPolicy names the RBAC policy that lets active health checks through a default-deny
// inbound: the probing proxies are any caller of the service, not only its allowed sources.
const HealthCheckPolicy = "trellis-health-check"

// healthCheckPolicy allows the service's own HTTP or gRPC health-check request (method and exact
// path) from any caller; nil when the service has no L7 health check.
func healthCheckPolicy(s *svcInfo) *rbacv3.Policy {
	if s.service == nil || s.service.HealthCheck == nil {
		return nil
	}
	method, path := "GET", s.service.HealthCheck.Path
	switch effectiveHealthProtocol(s) {
	case spec.HealthCheckHTTP:
		if path == "" {
			path = "/healthz"
		}
	case spec.HealthCheckGRPC:
		method, path = "POST", "/grpc.health.v1.Health/Check"
	default:
		return nil
	}
	return &rbacv3.Policy{
		Permissions: []*rbacv3.Permission{conditionPermission(spec.AccessCondition{Methods: []string{method}, Paths: []string{path}})},
		Principals:  []*rbacv3.Principal{{Identifier: &rbacv3.Principal_Any{Any: true}}},
	}
}

func rbacFilter(action rbacv3.RBAC_Action, policies map[string]*rbacv3.Policy) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: RBACFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&rbacfilterv3.RBAC{
		Rules: &rbacv3.RBAC{Action: action, Policies: policies},
	})}}
}

// wasmFilters returns the service's wasm filters grouped by phase, higher priority first.
func (b *builder) wasmFilters(s *svcInfo) (map[spec.ExtensionPhase][]*hcmv3.HttpFilter, error) {
	type ext struct {
		idx int
		e   *spec.Extension
	}
	var exts []ext
	for i := range b.d.Spec.Extensions {
		e := &b.d.Spec.Extensions[i]
		applies := len(e.Services) == 0
		for _, n := range e.Services {
			if n == s.name {
				applies = true
			}
		}
		if applies {
			exts = append(exts, ext{i, e})
		}
	}
	sort.SliceStable(exts, func(i, j int) bool { return exts[i].e.Priority > exts[j].e.Priority })
	out := map[spec.ExtensionPhase][]*hcmv3.HttpFilter{}
	for _, x := range exts {
		e := x.e
		path := fmt.Sprintf("spec.extensions[%d]", x.idx)
		u, err := url.Parse(e.Source)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "oci" && u.Scheme != "http") {
			return nil, fmt.Errorf("%s.source: expected an oci:// or https:// URL, got %q", path, e.Source)
		}
		fetch := "wasm|" + u.Host
		if _, ok := b.clusters[fetch]; !ok {
			host, port := u.Hostname(), uint32(443)
			if p := u.Port(); p != "" {
				var n int
				fmt.Sscanf(p, "%d", &n)
				port = uint32(n)
			}
			c := &clusterv3.Cluster{Name: fetch, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_LOGICAL_DNS},
				LbPolicy: clusterv3.Cluster_ROUND_ROBIN, LoadAssignment: dnsAssignment(fetch, []string{host}, port)}
			if u.Scheme != "http" {
				c.TransportSocket = upstreamTLS(&spec.ExternalTLS{}, host)
			}
			b.clusters[fetch] = c
		}
		cfgJSON := "{}"
		if e.Config != nil {
			raw, err := json.Marshal(e.Config)
			if err != nil {
				return nil, fmt.Errorf("%s.config: %w", path, err)
			}
			cfgJSON = string(raw)
		}
		policy := wasmv3.FailurePolicy_FAIL_CLOSED
		if e.FailurePolicy == spec.FailOpen {
			policy = wasmv3.FailurePolicy_FAIL_OPEN
		}
		pc := &wasmv3.PluginConfig{
			Name: e.Name, RootId: e.Name, FailurePolicy: policy,
			Configuration: mustAny(wrapperspb.String(cfgJSON)),
			Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
				VmId: e.Name, Runtime: "envoy.wasm.runtime.v8",
				Code: &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Remote{Remote: &corev3.RemoteDataSource{
					HttpUri: &corev3.HttpUri{Uri: e.Source, HttpUpstreamType: &corev3.HttpUri_Cluster{Cluster: fetch}, Timeout: dur(30 * time.Second)},
					Sha256:  e.SHA256,
				}}},
			}},
		}
		phase := e.Phase
		if phase == "" {
			phase = spec.PhaseUnspecified
		}
		out[phase] = append(out[phase], &hcmv3.HttpFilter{Name: WasmFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&wasmfilterv3.Wasm{Config: pc})}})
	}
	return out, nil
}
