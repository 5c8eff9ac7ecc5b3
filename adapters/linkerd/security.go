package linkerd

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// probePaths are the HTTP paths authorized from every network once a route attaches to a Server
// (Linkerd then drops its own probe authorizations).
var probePaths = []string{"/healthz", "/live", "/ready", "/readyz"}

// server is a Server the translation emits for one port of a service.
type server struct {
	svc  *spec.Service
	port spec.Port
	ns   string
	name string
	// rateLimit is the local rate limit of the service, when set.
	rateLimit *spec.RateLimit
	// routes are the policy routes attached to the Server (names).
	routes []string
	// deniedBy is the deny rule that refuses every caller of the port, when one does: the
	// Server's accessPolicy is then deny, whatever the default.
	deniedBy string
	// authorized is set once an AuthorizationPolicy targets the Server or one of its routes:
	// only the rules' callers may then pass, so the accessPolicy (applied to traffic no
	// authorization matches) must be deny.
	authorized bool
}

// ensureServer returns the Server for port p of service s, creating it.
func (t *translator) ensureServer(s *spec.Service, p spec.Port) *server {
	ns := t.svcNamespace(s)
	name := s.Name + "-" + p.Name
	key := ns + "/" + name
	if srv, ok := t.servers[key]; ok {
		return srv
	}
	srv := &server{svc: s, port: p, ns: ns, name: name}
	t.servers[key] = srv
	t.serverOrder = append(t.serverOrder, srv)
	return srv
}

// mtlsMode returns the effective mTLS mode of port p of service s.
func (t *translator) mtlsMode(s *spec.Service, p spec.Port) spec.MTLSMode {
	sec := t.d.Spec.Security
	mode := spec.MTLSStrict
	if sec == nil {
		return mode
	}
	if sec.MTLS != "" {
		mode = sec.MTLS
	}
	var svcMode spec.MTLSMode
	for _, o := range sec.MTLSOverrides {
		if o.Service != s.Name {
			continue
		}
		if o.Port == p.Port {
			return o.Mode
		}
		if o.Port == 0 {
			svcMode = o.Mode
		}
	}
	if svcMode != "" {
		return svcMode
	}
	return mode
}

func (t *translator) defaultDeny() bool {
	return t.d.Spec.Security != nil && t.d.Spec.Security.DefaultPolicy == spec.ActionDeny
}

// inboundPolicy is the Linkerd default inbound policy for a mode under the design's default.
func (t *translator) inboundPolicy(mode spec.MTLSMode) string {
	if t.defaultDeny() {
		return "deny"
	}
	if mode == spec.MTLSStrict || mode == "" {
		return "all-authenticated"
	}
	return "all-unauthenticated"
}

// identity is the Linkerd identity of service account sa in namespace ns.
func (t *translator) identity(sa, ns string) string {
	return sa + "." + ns + ".serviceaccount.identity.linkerd." + t.td
}

// security translates mTLS, the default policy, access rules and request authentication, then
// emits every Server collected (also those rate limits need).
func (t *translator) security() {
	sec := t.d.Spec.Security
	if sec != nil {
		t.namespacePolicy(sec)
		t.denyAllPorts(sec)
		for oi, o := range sec.MTLSOverrides {
			s, ok := t.services[o.Service]
			if !ok {
				continue
			}
			open := false
			for _, p := range svcPorts(s) {
				if (o.Port == 0 || o.Port == p.Port) && t.deniedPorts[s.Name+"/"+portKey(p)] == "" {
					open = true
				}
			}
			if !open {
				// A deny rule closes every port of the override to every caller: no
				// plaintext (nor mTLS) request is admitted, so the mode loses nothing.
				for _, p := range svcPorts(s) {
					if o.Port == 0 || o.Port == p.Port {
						t.ensureServer(s, p)
					}
				}
				continue
			}
			if o.Mode == spec.MTLSPermissive {
				t.warn(fmt.Sprintf("spec.security.mtlsOverrides[%d].mode", oi), adapters.FeatureMTLSPermissive, adapters.SeverityInfo,
					"Linkerd has no permissive TLS mode: the Server of %q admits plaintext from unmeshed callers (all-unauthenticated); meshed callers still use mTLS", s.Name)
			}
			if o.Mode == spec.MTLSDisabled {
				t.warn(fmt.Sprintf("spec.security.mtlsOverrides[%d].mode", oi), adapters.FeatureMTLSDisabled, adapters.SeverityWarning,
					"Linkerd cannot disable mTLS between meshed pods: service %q accepts plaintext from unmeshed callers (permissive) but meshed callers still use mTLS", s.Name)
			}
			for _, p := range svcPorts(s) {
				if o.Port == 0 || o.Port == p.Port {
					t.ensureServer(s, p)
				}
			}
		}
		for ri := range sec.Access {
			t.accessRule(ri, &sec.Access[ri])
		}
		for ji, j := range sec.RequestAuthentication {
			sev := adapters.SeverityError
			if j.Optional {
				sev = adapters.SeverityWarning
			}
			t.warn(fmt.Sprintf("spec.security.requestAuthentication[%d]", ji), adapters.FeatureJWT, sev,
				"Linkerd has no JWT authentication: tokens from %s are not validated", j.Issuer)
		}
	}
	t.emitServers()
	for si := range t.d.Spec.Services {
		s := &t.d.Spec.Services[si]
		if s.HealthCheck != nil {
			t.warn(fmt.Sprintf("spec.services[%d].healthCheck", si), adapters.FeatureHealthCheck, adapters.SeverityWarning,
				"Linkerd has no active health checks: rely on Kubernetes readiness probes (and failure accrual) for %q", s.Name)
		}
	}
}

// namespacePolicy annotates every namespace of the design's services with the default inbound
// policy.
func (t *translator) namespacePolicy(sec *spec.Security) {
	mode := sec.MTLS
	if mode == "" {
		mode = spec.MTLSStrict
	}
	if mode == spec.MTLSDisabled {
		t.warn("spec.security.mtls", adapters.FeatureMTLSDisabled, adapters.SeverityWarning,
			"Linkerd cannot disable mTLS between meshed pods: translated as permissive (all-unauthenticated); meshed callers still use mTLS")
	}
	if mode == spec.MTLSPermissive {
		t.warn("spec.security.mtls", adapters.FeatureMTLSPermissive, adapters.SeverityInfo,
			"Linkerd has no permissive TLS mode: traffic between meshed pods is always mTLS; all-unauthenticated admits plaintext from unmeshed callers")
	}
	policy := t.inboundPolicy(mode)
	for _, ns := range t.namespaces() {
		t.addNamespaceAnnotation(ns, annDefaultInbound, policy)
	}
	{
		path := "spec.security.mtls"
		f := adapters.FeatureMTLSStrict
		if mode != spec.MTLSStrict {
			f = adapters.FeatureMTLSPermissive
		}
		if t.defaultDeny() {
			path, f = "spec.security.defaultPolicy", adapters.FeatureDefaultDeny
		}
		t.warn(path, f, adapters.SeverityInfo,
			"Linkerd reads %s=%s from the namespace when pods are injected: restart the workloads after applying (Servers apply immediately)", annDefaultInbound, policy)
	}
}

// accessRule translates one access rule.
func (t *translator) accessRule(ri int, r *spec.AccessRule) {
	path := fmt.Sprintf("spec.security.access[%d]", ri)
	name := accessRuleName(ri, r)
	s, ok := t.services[r.Destination]
	if !ok {
		t.warn(path+".destination", adapters.FeatureAuthzAllow, adapters.SeverityError, "destination %q is not a service of the design: rule not translated", r.Destination)
		return
	}
	if r.Action == spec.ActionDeny {
		t.denyRule(ri, r, s)
		return
	}
	ns := t.svcNamespace(s)
	ids, anySource := t.sourceIdentities(path, r)
	if len(ids) == 0 {
		return
	}
	l7 := svcProtocol(s).IsL7()
	grpc := svcProtocol(s) == spec.ProtocolGRPC
	authn := false
	for _, p := range svcPorts(s) {
		conds, whole := conditionsForPort(r.When, p)
		if !whole && len(conds) == 0 {
			continue
		}
		if deny := t.deniedPorts[s.Name+"/"+portKey(p)]; deny != "" {
			t.warn(path, adapters.FeatureAuthzAllow, adapters.SeverityInfo,
				"allow rule %q admits nothing on port %d of %q: deny rule %q refuses every caller there (deny wins over allow), so no AuthorizationPolicy is emitted for it", name, p.Port, s.Name, deny)
			continue
		}
		if !authn {
			authn = true
			t.newObject(policyV1alpha1, "MeshTLSAuthentication", ns, name, map[string]any{"identities": stringsToAny(ids)})
		}
		srv := t.ensureServer(s, p)
		polName := name + "-" + p.Name
		var target map[string]any
		if whole || !l7 {
			if !whole && !l7 {
				t.warn(path+".when", adapters.FeatureAuthzConditions, adapters.SeverityWarning, "TCP destination %q: HTTP conditions cannot apply; the rule admits the whole port", s.Name)
			}
			target = map[string]any{"group": policyGroup, "kind": "Server", "name": srv.name}
		} else {
			var matches []any
			if grpc {
				matches = t.grpcConditionMatches(path+".when", conds)
				t.newObject(gatewayAPIVersion, "GRPCRoute", ns, polName, map[string]any{
					"parentRefs": []any{serverParent(srv.name)},
					"rules":      []any{map[string]any{"matches": matches}},
				})
				target = map[string]any{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute", "name": polName}
			} else {
				matches = t.httpConditionMatches(path+".when", conds)
				t.newObject(policyV1beta3, "HTTPRoute", ns, polName, map[string]any{
					"parentRefs": []any{serverParent(srv.name)},
					"rules":      []any{map[string]any{"matches": matches}},
				})
				target = map[string]any{"group": policyGroup, "kind": "HTTPRoute", "name": polName}
			}
			srv.routes = append(srv.routes, polName)
		}
		srv.authorized = true
		t.newObject(policyV1alpha1, "AuthorizationPolicy", ns, polName, map[string]any{
			"targetRef": target,
			"requiredAuthenticationRefs": []any{map[string]any{
				"group": policyGroup, "kind": "MeshTLSAuthentication", "name": name,
			}},
		})
		if anySource && t.mtlsMode(s, p) != spec.MTLSStrict {
			t.allNetworks[ns] = true
			t.newObject(policyV1alpha1, "AuthorizationPolicy", ns, polName+"-unauthenticated", map[string]any{
				"targetRef": copyMap(target),
				"requiredAuthenticationRefs": []any{map[string]any{
					"group": policyGroup, "kind": "NetworkAuthentication", "name": allNetworksAuthName,
				}},
			})
		}
	}
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func serverParent(name string) map[string]any {
	return map[string]any{"group": policyGroup, "kind": "Server", "name": name}
}

// conditionsForPort returns the conditions of a rule that apply to port p, and whether the rule
// admits every request to the port (no conditions, or a condition with no HTTP restriction).
func conditionsForPort(when []spec.AccessCondition, p spec.Port) ([]spec.AccessCondition, bool) {
	if len(when) == 0 {
		return nil, true
	}
	var out []spec.AccessCondition
	for _, c := range when {
		if len(c.Ports) > 0 {
			match := false
			for _, cp := range c.Ports {
				if cp == p.Port || cp == p.TargetPort {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		if len(c.Methods) == 0 && len(c.Paths) == 0 && len(c.Headers) == 0 {
			return nil, true
		}
		out = append(out, c)
	}
	return out, false
}

// sourceIdentities converts a rule's sources to Linkerd identities; anySource is true when the
// rule admits every caller ("*").
func (t *translator) sourceIdentities(path string, r *spec.AccessRule) ([]string, bool) {
	var ids []string
	for si, src := range r.Sources {
		sp := fmt.Sprintf("%s.sources[%d]", path, si)
		switch {
		case src.Service == "*" || (src.Namespace == "*" && src.Identity == ""):
			return []string{"*"}, true
		case src.Service != "":
			cs, ok := t.services[src.Service]
			if !ok {
				t.warn(sp+".service", adapters.FeatureAuthzAllow, adapters.SeverityError, "source %q is not a service of the design: it is not admitted", src.Service)
				continue
			}
			ids = append(ids, t.identity(svcIdentity(cs), t.svcNamespace(cs)))
		case src.Identity != "":
			ns := src.Namespace
			if ns == "" || ns == "*" {
				ns = t.ns
			}
			ids = append(ids, t.identity(src.Identity, ns))
		case src.Namespace != "":
			ids = append(ids, "*."+src.Namespace+".serviceaccount.identity.linkerd."+t.td)
		}
	}
	sort.Strings(ids)
	return dedup(ids), false
}

// httpConditionMatches converts access conditions to HTTPRouteMatch values.
func (t *translator) httpConditionMatches(path string, conds []spec.AccessCondition) []any {
	var out []any
	for ci, c := range conds {
		cp := fmt.Sprintf("%s[%d]", path, ci)
		methods := []string{""}
		if len(c.Methods) > 0 {
			methods = nil
			for _, m := range c.Methods {
				if gatewayMethods[strings.ToUpper(m)] {
					methods = append(methods, strings.ToUpper(m))
				} else {
					t.warn(cp+".methods", adapters.FeatureAuthzConditions, adapters.SeverityWarning, "Gateway API cannot match method %q: it is not admitted", m)
				}
			}
			if len(methods) == 0 {
				continue
			}
		}
		paths := collapsePrefixes(c.Paths)
		if len(paths) == 0 {
			paths = []string{""}
		}
		var headers []any
		if len(c.Headers) > 0 {
			headers = t.stringMatches(cp+".headers", c.Headers, adapters.FeatureAuthzConditions)
		}
		for _, p := range paths {
			for _, m := range methods {
				hm := map[string]any{}
				if pm := accessPath(p); pm != nil {
					hm["path"] = pm
				}
				if m != "" {
					hm["method"] = m
				}
				if headers != nil {
					hm["headers"] = copyList(headers)
				}
				if len(hm) == 0 {
					hm["path"] = map[string]any{"type": "PathPrefix", "value": "/"}
				}
				out = append(out, hm)
			}
		}
	}
	return out
}

// prefixMarker marks a path that collapsePrefixes merged into a Gateway API PathPrefix.
const prefixMarker = "\x00prefix:"

// collapsePrefixes merges an exact path "/x" and its sub-paths "/x/*" into one PathPrefix "/x",
// which matches exactly those requests. A lone "/x/*" stays a sub-path match: a PathPrefix would
// also allow "/x" itself, wider than the rule.
func collapsePrefixes(paths []string) []string {
	set := map[string]bool{}
	for _, p := range paths {
		set[p] = true
	}
	var out []string
	for _, p := range paths {
		base, sub := strings.TrimSuffix(p, "/*"), strings.HasSuffix(p, "/*")
		switch {
		case sub && set[base]:
			out = append(out, prefixMarker+base)
		case !sub && set[p+"/*"]:
			// merged into the prefix above
		default:
			out = append(out, p)
		}
	}
	return out
}

// accessPath converts an access-rule path ("/x", "/x/*", "/x*", "*") to an HTTPPathMatch.
func accessPath(p string) map[string]any {
	switch {
	case p == "" || p == "*":
		return nil
	case strings.HasPrefix(p, prefixMarker):
		return map[string]any{"type": "PathPrefix", "value": strings.TrimPrefix(p, prefixMarker)}
	case p == "/*":
		return map[string]any{"type": "PathPrefix", "value": "/"}
	case strings.HasSuffix(p, "/*"):
		return map[string]any{"type": "RegularExpression", "value": regexp.QuoteMeta(strings.TrimSuffix(p, "*")) + ".*"}
	case strings.HasSuffix(p, "*"):
		return map[string]any{"type": "RegularExpression", "value": regexp.QuoteMeta(strings.TrimSuffix(p, "*")) + ".*"}
	case strings.HasPrefix(p, "*"):
		return map[string]any{"type": "RegularExpression", "value": ".*" + regexp.QuoteMeta(strings.TrimPrefix(p, "*"))}
	default:
		return map[string]any{"type": "Exact", "value": p}
	}
}

// grpcConditionMatches converts access conditions on a gRPC destination to GRPCRouteMatch values.
func (t *translator) grpcConditionMatches(path string, conds []spec.AccessCondition) []any {
	var out []any
	for ci, c := range conds {
		cp := fmt.Sprintf("%s[%d]", path, ci)
		var headers []any
		if len(c.Headers) > 0 {
			headers = t.stringMatches(cp+".headers", c.Headers, adapters.FeatureAuthzConditions)
		}
		paths := c.Paths
		if len(paths) == 0 {
			paths = []string{"*"}
		}
		for _, p := range paths {
			gm := map[string]any{}
			if p != "*" {
				var pm *spec.PathMatch
				if strings.HasSuffix(p, "/*") {
					pm = &spec.PathMatch{Prefix: strings.TrimSuffix(p, "*")}
				} else {
					pm = &spec.PathMatch{Exact: p}
				}
				method, ok := grpcMethod(pm)
				if !ok {
					t.warn(cp+".paths", adapters.FeatureAuthzConditions, adapters.SeverityWarning,
						"GRPCRoute matches /<service>/<method> paths only: path %q is not admitted", p)
					continue
				}
				gm["method"] = method
			}
			if headers != nil {
				gm["headers"] = copyList(headers)
			}
			out = append(out, gm)
		}
	}
	return out
}

// emitServers emits every collected Server, with the probe and catch-all routes a Server with
// policy routes needs, and the rate-limit policies.
func (t *translator) emitServers() {
	for _, srv := range t.serverOrder {
		s := srv.svc
		if t.d.Spec.Security == nil {
			t.warn("spec.security", adapters.FeatureMTLSStrict, adapters.SeverityInfo,
				"Server %s/%s admits authenticated (meshed) callers only, the design's default strict mTLS; unmeshed callers of %q are refused", srv.ns, srv.name, s.Name)
		}
		proto := "unknown"
		switch svcProtocol(s) {
		case spec.ProtocolHTTP2:
			proto = "HTTP/2"
		case spec.ProtocolGRPC:
			proto = "gRPC"
		case spec.ProtocolTCP:
			proto = "opaque"
		}
		t.newObject(policyV1beta3, "Server", srv.ns, srv.name, map[string]any{
			"podSelector":   map[string]any{"matchLabels": labelsToAny(podLabels(s))},
			"port":          int64(srv.port.TargetPort),
			"proxyProtocol": proto,
			"accessPolicy":  t.serverPolicy(srv),
		})
		if len(srv.routes) > 0 {
			t.probeAndDefaultRoutes(srv)
		}
		if rl := srv.rateLimit; rl != nil {
			t.newObject(policyV1alpha1, "HTTPLocalRateLimitPolicy", srv.ns, srv.name, map[string]any{
				"targetRef": map[string]any{"group": policyGroup, "kind": "Server", "name": srv.name},
				"total":     map[string]any{"requestsPerSecond": rateLimitRPS(rl)},
			})
		}
	}
	for _, ns := range sortedKeys(t.allNetworks) {
		t.newObject(policyV1alpha1, "NetworkAuthentication", ns, allNetworksAuthName, map[string]any{
			"networks": []any{map[string]any{"cidr": "0.0.0.0/0"}, map[string]any{"cidr": "::/0"}},
		})
	}
}

// probeAndDefaultRoutes emits the probe route (authorized from every network) and the catch-all
// route that Linkerd no longer synthesizes once a route attaches to the Server.
func (t *translator) probeAndDefaultRoutes(srv *server) {
	t.allNetworks[srv.ns] = true
	probeName := srv.name + "-probes"
	defName := srv.name + "-default"
	if svcProtocol(srv.svc) == spec.ProtocolGRPC {
		t.newObject(gatewayAPIVersion, "GRPCRoute", srv.ns, probeName, map[string]any{
			"parentRefs": []any{serverParent(srv.name)},
			"rules": []any{map[string]any{"matches": []any{map[string]any{
				"method": map[string]any{"type": "Exact", "service": "grpc.health.v1.Health"},
			}}}},
		})
		t.newObject(gatewayAPIVersion, "GRPCRoute", srv.ns, defName, map[string]any{
			"parentRefs": []any{serverParent(srv.name)},
			"rules":      []any{map[string]any{}},
		})
		t.newObject(policyV1alpha1, "AuthorizationPolicy", srv.ns, probeName, map[string]any{
			"targetRef":                  map[string]any{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute", "name": probeName},
			"requiredAuthenticationRefs": []any{map[string]any{"group": policyGroup, "kind": "NetworkAuthentication", "name": allNetworksAuthName}},
		})
		return
	}
	paths := append([]string(nil), probePaths...)
	if hc := srv.svc.HealthCheck; hc != nil && (hc.Protocol == "" || hc.Protocol == spec.HealthCheckHTTP) {
		p := hc.Path
		if p == "" {
			p = "/healthz"
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	paths = dedup(paths)
	matches := make([]any, len(paths))
	for i, p := range paths {
		matches[i] = map[string]any{"path": map[string]any{"type": "Exact", "value": p}, "method": "GET"}
	}
	t.newObject(policyV1beta3, "HTTPRoute", srv.ns, probeName, map[string]any{
		"parentRefs": []any{serverParent(srv.name)},
		"rules":      []any{map[string]any{"matches": matches}},
	})
	t.newObject(policyV1beta3, "HTTPRoute", srv.ns, defName, map[string]any{
		"parentRefs": []any{serverParent(srv.name)},
		"rules": []any{map[string]any{"matches": []any{map[string]any{
			"path": map[string]any{"type": "PathPrefix", "value": "/"},
		}}}},
	})
	t.newObject(policyV1alpha1, "AuthorizationPolicy", srv.ns, probeName, map[string]any{
		"targetRef":                  map[string]any{"group": policyGroup, "kind": "HTTPRoute", "name": probeName},
		"requiredAuthenticationRefs": []any{map[string]any{"group": policyGroup, "kind": "NetworkAuthentication", "name": allNetworksAuthName}},
	})
}

// telemetry translates metrics, tracing and access logs.
func (t *translator) telemetry() {
	tel := t.d.Spec.Telemetry
	if tel == nil {
		return
	}
	if m := tel.Metrics; m != nil {
		if !m.IsEnabled() {
			t.warn("spec.telemetry.metrics.enabled", adapters.FeatureMetrics, adapters.SeverityWarning, "Linkerd proxies always expose Prometheus metrics: they cannot be turned off")
		}
		if m.Provider != "" && m.Provider != "prometheus" {
			t.warn("spec.telemetry.metrics.provider", adapters.FeatureMetrics, adapters.SeverityWarning, "Linkerd exposes Prometheus metrics only, not %q", m.Provider)
		}
	}
	namespaces := t.namespaces()
	if tr := tel.Tracing; tr != nil {
		if tr.Provider == spec.TracingZipkin {
			t.warn("spec.telemetry.tracing.provider", adapters.FeatureTracing, adapters.SeverityWarning, "Linkerd proxies export OpenTelemetry only: the zipkin collector %s is not configured", tr.Endpoint)
		} else {
			for _, ns := range namespaces {
				t.addNamespaceAnnotation(ns, annTraceCollector, tr.Endpoint)
			}
			t.warn("spec.telemetry.tracing", adapters.FeatureTracing, adapters.SeverityInfo,
				"%s is read from the namespace when pods are injected: restart the workloads after applying", annTraceCollector)
		}
		if tr.SamplingPercent != nil {
			t.warn("spec.telemetry.tracing.samplingPercent", adapters.FeatureTracingSampling, adapters.SeverityWarning,
				"Linkerd has no sampling rate: proxies follow the caller's sampling decision (%g%% is not applied)", *tr.SamplingPercent)
		}
	}
	if al := tel.AccessLogs; al != nil && al.Enabled {
		format := "json"
		if al.Format == spec.AccessLogText {
			format = "apache"
		}
		for _, ns := range namespaces {
			t.addNamespaceAnnotation(ns, annAccessLog, format)
		}
		t.warn("spec.telemetry.accessLogs", adapters.FeatureAccessLogs, adapters.SeverityInfo,
			"%s=%s is read from the namespace when pods are injected (HTTP logs only): restart the workloads after applying", annAccessLog, format)
	}
}

// namespaces returns the sorted namespaces of the design and of its services.
func (t *translator) namespaces() []string {
	seen := map[string]bool{t.ns: true}
	for i := range t.d.Spec.Services {
		seen[t.svcNamespace(&t.d.Spec.Services[i])] = true
	}
	return sortedKeys(seen)
}

// extensions reports wasm extensions, which Linkerd cannot run.
func (t *translator) extensions() {
	for i, e := range t.d.Spec.Extensions {
		t.warn(fmt.Sprintf("spec.extensions[%d]", i), adapters.FeatureWasm, adapters.SeverityWarning, "Linkerd proxies do not run WebAssembly: extension %q is not loaded", e.Name)
	}
}

// externalServices reports external services, which Linkerd cannot configure the way the design
// asks (no TLS origination).
func (t *translator) externalServices() {
	for i, e := range t.d.Spec.ExternalServices {
		path := fmt.Sprintf("spec.externalServices[%d]", i)
		if e.TLS != nil && (e.TLS.Mode == "" || e.TLS.Mode == spec.ExternalTLSOriginate) {
			t.warn(path+".tls", adapters.FeatureExternalServices, adapters.SeverityWarning,
				"Linkerd cannot originate TLS to %s: the application must speak TLS itself", strings.Join(e.Hosts, ", "))
		} else {
			t.warn(path, adapters.FeatureExternalServices, adapters.SeverityInfo,
				"Linkerd needs no registration to reach %s (traffic leaves the mesh unchanged); no EgressNetwork is emitted", strings.Join(e.Hosts, ", "))
		}
	}
}
