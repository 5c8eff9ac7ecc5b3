package consul

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"sort"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// importRate returns the design rate of Consul's requestsPerSecond: a whole number per second as
// requestsPerSecond; a fraction that is a whole number per minute (0.5 is 30 per minute) as
// requestsPerMinute; any other fraction rounded up to whole requests per second (the caller
// warns). Consul stores integers, so fractions only come from hand-written objects. Nil when
// the rate is not positive.
func importRate(rps float64) *spec.RateLimit {
	const eps = 1e-9
	switch {
	case !(rps > 0) || rps > math.MaxInt32:
		return nil
	case math.Abs(rps-math.Round(rps)) < eps:
		return &spec.RateLimit{RequestsPerSecond: int32(math.Round(rps))}
	case math.Abs(rps*60-math.Round(rps*60)) < eps*60 && math.Round(rps*60) >= 1:
		return &spec.RateLimit{RequestsPerMinute: int32(math.Round(rps * 60))}
	}
	return &spec.RateLimit{RequestsPerSecond: int32(math.Ceil(rps))}
}

// resilience reads resolvers' load balancing and connect timeouts, service defaults' rate limits
// and the callers' upstream overrides.
func (b *designBuilder) resilience() {
	im := b.im
	res := map[string]*spec.Resilience{}
	overrideOf := map[string]string{} // upstream -> path of its first override
	get := func(svc string) *spec.Resilience {
		if r, ok := res[svc]; ok {
			return r
		}
		r := &spec.Resilience{}
		res[svc] = r
		return r
	}
	for _, n := range im.order[KindServiceResolver] {
		e := im.get(KindServiceResolver, n)
		if d, ok := parseDur(e.field("connectTimeout")); ok && !d.IsZero() {
			r := get(n)
			if r.Connections == nil {
				r.Connections = &spec.ConnectionLimits{}
			}
			r.Connections.ConnectTimeout = d
		}
		if lb := asMap(e.field("loadBalancer")); lb != nil {
			get(n).LoadBalancer = b.loadBalancer(e.ref+".spec.loadBalancer", lb)
		}
		if d, ok := parseDur(e.field("requestTimeout")); ok && !d.IsZero() {
			tp := b.policy(n)
			if len(tp.Routes) == 0 {
				tp.Routes = []spec.Route{{Name: "default"}}
			}
			for i := range tp.Routes {
				if tp.Routes[i].Timeout.IsZero() {
					tp.Routes[i].Timeout = d
				}
			}
		}
	}
	for _, n := range im.order[KindServiceDefaults] {
		e := im.get(KindServiceDefaults, n)
		if rl := asMap(asMap(e.field("rateLimits"))["instanceLevel"]); rl != nil {
			rps, _ := num(rl["requestsPerSecond"])
			burst, _ := num(rl["requestsMaxBurst"])
			r := importRate(rps)
			if r == nil {
				im.warn(e.ref+".spec.rateLimits.instanceLevel.requestsPerSecond", adapters.FeatureRateLimit,
					"requestsPerSecond %v is not a positive rate: the rate limit is not imported", rl["requestsPerSecond"])
				continue
			}
			if r.RequestsPerSecond != 0 && float64(r.RequestsPerSecond) != rps {
				im.warn(e.ref+".spec.rateLimits.instanceLevel.requestsPerSecond", adapters.FeatureRateLimit,
					"%g requests per second is neither a whole number per second nor per minute: imported as %d per second, a looser limit", rps, r.RequestsPerSecond)
			}
			if int32(burst) != r.Count() {
				r.Burst = int32(burst)
			}
			get(n).RateLimit = r
		}
		uc := asMap(e.field("upstreamConfig"))
		if uc == nil {
			continue
		}
		if uc["defaults"] != nil {
			im.warn(e.ref+".spec.upstreamConfig.defaults", adapters.FeatureConnectionLimits,
				"upstream defaults of a caller apply to all its upstreams; the design sets limits per destination, so they are not imported")
		}
		for i, o := range asList(uc["overrides"]) {
			om := asMap(o)
			dest := str(om, "name")
			opath := fmt.Sprintf("%s.spec.upstreamConfig.overrides[%d]", e.ref, i)
			if dest == "" {
				b.im.warn(opath+".name", adapters.FeatureConnectionLimits, "override without an upstream name: not imported")
				continue
			}
			if _, ok := overrideOf[dest]; !ok {
				overrideOf[dest] = opath
			}
			warnUnknownKeys(b.im, opath, om, adapters.FeatureConnectionLimits, "name", "limits", "passiveHealthCheck", "namespace", "partition", "peer")
			warnUnknownKeys(b.im, opath+".limits", asMap(om["limits"]), adapters.FeatureConnectionLimits, "maxConnections", "maxPendingRequests", "maxConcurrentRequests")
			phc := asMap(om["passiveHealthCheck"])
			warnUnknownKeys(b.im, opath+".passiveHealthCheck", phc, adapters.FeatureOutlierDetection,
				"maxFailures", "interval", "baseEjectionTime", "maxEjectionPercent", "enforcingConsecutive5xx")
			if v, ok := num(phc["enforcingConsecutive5xx"]); ok && v != 100 {
				// The design ejects every host that reaches the threshold (Envoy's 100%).
				b.im.warn(opath+".passiveHealthCheck.enforcingConsecutive5xx", adapters.FeatureOutlierDetection,
					"only %v%% of the hosts reaching the threshold are ejected; the design ejects all of them (100%%)", v)
			}
			r := get(dest)
			if l := asMap(om["limits"]); l != nil {
				c := r.Connections
				if c == nil {
					c = &spec.ConnectionLimits{}
					r.Connections = c
				}
				if v, ok := num(l["maxConnections"]); ok {
					c.Max = int32(v)
				}
				if v, ok := num(l["maxPendingRequests"]); ok {
					c.MaxPendingRequests = int32(v)
				}
				if v, ok := num(l["maxConcurrentRequests"]); ok {
					c.MaxRequests = int32(v)
				}
			}
			if hc := asMap(om["passiveHealthCheck"]); hc != nil && r.OutlierDetection == nil {
				od := &spec.OutlierDetection{}
				if v, ok := num(hc["maxFailures"]); ok {
					od.Consecutive5xx = int32(v)
				}
				if d, ok := parseDur(hc["interval"]); ok {
					od.Interval = d
				}
				if d, ok := parseDur(hc["baseEjectionTime"]); ok {
					od.BaseEjectionTime = d
				}
				if v, ok := num(hc["maxEjectionPercent"]); ok {
					od.MaxEjectionPercent = int32(v)
				}
				r.OutlierDetection = od
			}
		}
	}
	for _, svc := range sortedKeys(res) {
		if _, ok := b.services[svc]; !ok && !b.external[svc] {
			if p, ok := overrideOf[svc]; ok {
				b.im.warn(p, adapters.FeatureConnectionLimits,
					"upstream %q is not a service of the input (no service-defaults, Kubernetes Service or route names it): its limits are not imported; add its service-defaults", svc)
			}
			continue
		}
		b.policy(svc).Resilience = res[svc]
	}
}

var lbAlgorithms = map[string]spec.LoadBalancerAlgorithm{
	"round_robin": spec.LBRoundRobin, "least_request": spec.LBLeastRequest, "random": spec.LBRandom,
	"ring_hash": spec.LBConsistentHash, "maglev": spec.LBConsistentHash,
}

func (b *designBuilder) loadBalancer(path string, lb map[string]any) *spec.LoadBalancer {
	out := &spec.LoadBalancer{Algorithm: lbAlgorithms[str(lb, "policy")]}
	if out.Algorithm == "" {
		out.Algorithm = spec.LBRoundRobin
	}
	hps := asList(lb["hashPolicies"])
	if len(hps) > 1 {
		b.im.warn(path+".hashPolicies", adapters.FeatureConsistentHash, "only the first of %d hash policies is imported", len(hps))
	}
	if len(hps) > 0 {
		hp := asMap(hps[0])
		ch := &spec.ConsistentHash{}
		switch str(hp, "field") {
		case "header":
			ch.Header = str(hp, "fieldValue")
		case "cookie":
			ch.Cookie = &spec.HashCookie{Name: str(hp, "fieldValue")}
			if cc := asMap(hp["cookieConfig"]); cc != nil {
				if d, ok := parseDur(cc["ttl"]); ok {
					ch.Cookie.TTL = d
				}
				ch.Cookie.Path = str(cc, "path")
			}
		case "query_parameter":
			ch.QueryParam = str(hp, "fieldValue")
		default:
			if hp["sourceIP"] == true {
				ch.SourceIP = true
			}
		}
		out.ConsistentHash = ch
		out.Algorithm = spec.LBConsistentHash
	}
	return out
}

func (b *designBuilder) security() {
	im := b.im
	sec := &spec.Security{}
	used := false
	if pd := im.get(KindProxyDefaults, "global"); pd != nil {
		if m := str(pd.spec, "mutualTLSMode"); m != "" {
			pd.used["mutualTLSMode"] = true
			sec.MTLS = spec.MTLSMode(m)
			used = true
		}
	}
	if m := im.get(KindMesh, "mesh"); m != nil {
		m.field("allowEnablingPermissiveMutualTLS")
	}
	for _, n := range im.order[KindServiceDefaults] {
		e := im.get(KindServiceDefaults, n)
		if m := str(e.spec, "mutualTLSMode"); m != "" {
			e.used["mutualTLSMode"] = true
			global := sec.MTLS
			if global == "" {
				global = spec.MTLSStrict
			}
			if spec.MTLSMode(m) != global {
				sec.MTLSOverrides = append(sec.MTLSOverrides, spec.MTLSOverride{Service: n, Mode: spec.MTLSMode(m)})
				used = true
			}
		}
	}
	providers := map[string][]string{}
	var denyAll []string
	withWildcard := map[string]bool{}
	// defaultAllowSeen: Trellis wrote a wildcard allowed by the default policy, so the design's
	// default is allow even if every service has a wildcard source.
	defaultAllowSeen := false
	rules := map[ruleKey]*spec.AccessRule{}
	var ruleOrder []ruleKey
	addRule := func(k ruleKey, src spec.Source, when []spec.AccessCondition) {
		r, ok := rules[k]
		if !ok {
			r = &spec.AccessRule{Destination: k.dest, Action: spec.PolicyAction(k.action), When: when}
			rules[k] = r
			ruleOrder = append(ruleOrder, k)
		}
		r.Sources = append(r.Sources, src)
	}
	// globalDeny: an intention from every source to every service denied ("*" to "*", the
	// deny-all Consul's docs start zero-trust setups with) is the design's default deny.
	globalDeny := false
	for _, n := range im.order[KindServiceIntentions] {
		e := im.get(KindServiceIntentions, n)
		if n == Wildcard {
			if b.wildcardIntentions(e, addRule) {
				globalDeny = true
			}
			continue
		}
		for _, p := range asList(asMap(e.field("jwt"))["providers"]) {
			if pn := str(asMap(p), "name"); pn != "" {
				providers[pn] = append(providers[pn], n)
			}
		}
		for i, s := range asList(e.field("sources")) {
			sm := asMap(s)
			name := str(sm, "name")
			path := fmt.Sprintf("%s.spec.sources[%d]", e.ref, i)
			for _, k := range []string{"peer", "partition", "samenessGroup", "namespace"} {
				if str(sm, k) != "" && str(sm, k) != "default" {
					im.warn(path+"."+k, adapters.FeatureAuthzAllow, "%s %q has no equivalent in the design; the source is read as service %q", k, str(sm, k), name)
				}
			}
			if name == Wildcard {
				withWildcard[n] = true
			}
			src := spec.Source{Service: name}
			if _, ok := b.services[name]; !ok && name != Wildcard {
				// Consul names services; one the entries do not describe is read as an identity.
				src = spec.Source{Identity: name}
			}
			desc := str(sm, "description")
			action := str(sm, "action")
			if perms := asList(sm["permissions"]); len(perms) > 0 {
				dest := n
				b.permissions(path, perms, func(action, permKey string, when []spec.AccessCondition) {
					addRule(ruleKey{dest: dest, action: action, desc: desc, perms: permKey}, src, when)
				})
				continue
			}
			if name == Wildcard && action == "deny" {
				denyAll = append(denyAll, n)
				continue
			}
			if name == Wildcard && action == "allow" && strings.HasPrefix(desc, "trellis default policy") {
				defaultAllowSeen = true
				continue
			}
			addRule(ruleKey{dest: n, action: action, desc: desc}, src, nil)
		}
	}
	// Every service with a wildcard source, one of them denied, is the design's default-deny
	// baseline: the denied wildcards are the default, the others explicit rules.
	defaultDeny := len(denyAll) > 0 && !defaultAllowSeen
	for n := range b.services {
		if !withWildcard[n] {
			defaultDeny = false
		}
	}
	if globalDeny {
		defaultDeny = true
	}
	if defaultDeny {
		sec.DefaultPolicy = spec.ActionDeny
		used = true
	} else {
		// A design's allow rules admit only the callers they match, while Consul's default allow
		// admits every caller no intention denies. A denied wildcard beside allowed sources is
		// exactly the design's meaning (and what Trellis writes); without one, Consul admits
		// everyone, which the design says with an explicit allow rule for any caller.
		allowed, allowedAny := map[string]bool{}, map[string]bool{}
		for _, k := range ruleOrder {
			if k.action == string(spec.ActionAllow) {
				allowed[k.dest] = true
				if len(rules[k].When) == 0 && hasWildcard(rules[k].Sources) {
					allowedAny[k.dest] = true
				}
			}
		}
		denied := map[string]bool{}
		for _, n := range denyAll {
			denied[n] = true
			if !allowed[n] {
				addRule(ruleKey{dest: n, action: "deny"}, spec.Source{Service: Wildcard}, nil)
			}
		}
		for _, n := range sortedKeys(allowed) {
			if denied[n] || allowedAny[n] {
				continue
			}
			addRule(ruleKey{dest: n, action: string(spec.ActionAllow), desc: "consul default allow"}, spec.Source{Service: Wildcard}, nil)
			im.warnInfo(fmt.Sprintf("ServiceIntentions/%s.spec.sources", n), adapters.FeatureAuthzAllow,
				"Consul's default allow admits every caller of %q that no intention denies; the design says so with an allow rule for any caller (\"*\"), since a design's allow rules admit only the callers they name. Hint: remove that rule to admit only the named sources", n)
		}
	}
	for _, k := range ruleOrder {
		r := rules[k]
		if sec.DefaultPolicy == spec.ActionDeny && r.Action == spec.ActionDeny && len(r.When) == 0 && len(r.Sources) == 1 && r.Sources[0].Service == Wildcard {
			continue
		}
		if names := strings.TrimPrefix(k.desc, "trellis access rules: "); names != k.desc && !strings.Contains(names, ",") {
			r.Name = names
		}
		sec.Access = append(sec.Access, *r)
		used = true
	}
	dedupeRuleNames(sec.Access)
	for _, n := range im.order[KindJWTProvider] {
		e := im.get(KindJWTProvider, n)
		rule := spec.JWTRule{Name: n, Issuer: fmt.Sprint(e.field("issuer"))}
		for _, a := range asList(e.field("audiences")) {
			if s, ok := a.(string); ok {
				rule.Audiences = append(rule.Audiences, s)
			}
		}
		ks := asMap(e.field("jsonWebKeySet"))
		if r := asMap(ks["remote"]); r != nil {
			rule.JWKSURI = str(r, "uri")
		} else if l := asMap(ks["local"]); l != nil {
			raw, err := base64.StdEncoding.DecodeString(str(l, "jwks"))
			if err != nil {
				im.warn(e.ref+".spec.jsonWebKeySet.local.jwks", adapters.FeatureJWT, "not base64: %v", err)
			}
			rule.JWKS = string(raw)
			if str(l, "filename") != "" {
				im.warn(e.ref+".spec.jsonWebKeySet.local.filename", adapters.FeatureJWT, "a JWKS file on the proxy has no equivalent in the design")
			}
		}
		for _, l := range asList(e.field("locations")) {
			h := asMap(asMap(l)["header"])
			if h == nil {
				im.warn(e.ref+".spec.locations", adapters.FeatureJWT, "only header token locations are imported")
				continue
			}
			if name := str(h, "name"); !strings.EqualFold(name, "Authorization") {
				rule.FromHeader = name
			}
			rule.ForwardToken = h["forward"] == true
			break
		}
		svcs := providers[n]
		sort.Strings(svcs)
		if len(svcs) == 0 {
			im.warn(e.ref, adapters.FeatureJWT, "JWT provider %q is not required by any intention; it is not imported", n)
			continue
		}
		rule.Services = svcs
		sec.RequestAuthentication = append(sec.RequestAuthentication, rule)
		used = true
	}
	if used {
		b.d.Spec.Security = sec
	}
}

// wildcardIntentions reads the intentions of the "*" destination (every service): a denied "*"
// source is the design's default deny (it returns true); an allowed "*" source is Consul's
// default allow, which the design needs no rule for; a named source becomes a rule on every
// service of the input, since a design rule names one destination.
func (b *designBuilder) wildcardIntentions(e *imported, addRule func(ruleKey, spec.Source, []spec.AccessCondition)) bool {
	im := b.im
	deny := false
	var services []string
	for n := range b.services {
		services = append(services, n)
	}
	sort.Strings(services)
	for i, s := range asList(e.field("sources")) {
		sm := asMap(s)
		name, action := str(sm, "name"), str(sm, "action")
		path := fmt.Sprintf("%s.spec.sources[%d]", e.ref, i)
		if len(asList(sm["permissions"])) > 0 {
			im.warn(path+".permissions", adapters.FeatureAuthzAllow, "L7 permissions on the wildcard destination \"*\" have no design equivalent (a design rule names one destination): the source is not imported")
			continue
		}
		switch {
		case name == Wildcard && action == "deny":
			deny = true
		case name == Wildcard:
			im.warnInfo(path, adapters.FeatureAuthzAllow, "an allow from every source to every service is Consul's default allow: the design needs no rule for it")
		case len(services) == 0:
			im.warn(path, adapters.FeatureAuthzAllow, "the intention applies to every service (destination \"*\"), and the input declares none: not imported (add the services' Kubernetes Services or service-defaults)")
		default:
			src := spec.Source{Service: name}
			if _, ok := b.services[name]; !ok {
				src = spec.Source{Identity: name}
			}
			for _, svc := range services {
				if svc != name {
					addRule(ruleKey{dest: svc, action: action, desc: str(sm, "description")}, src, nil)
				}
			}
			im.warnInfo(path, adapters.FeatureAuthzAllow, "the intention applies to every service (destination \"*\"): imported as a %s rule on each of the %d services of the input (%s); services added later are not covered", action, len(services), strings.Join(services, ", "))
		}
	}
	return deny
}

// ruleKey groups intention sources that read back as one access rule.
type ruleKey struct{ dest, action, desc, perms string }

func dedupeRuleNames(rules []spec.AccessRule) {
	seen := map[string]bool{}
	for i := range rules {
		if rules[i].Name == "" {
			continue
		}
		if seen[rules[i].Name] {
			rules[i].Name = ""
			continue
		}
		seen[rules[i].Name] = true
	}
}

// permissions reads a source's L7 permissions as deny and allow rules with conditions. The
// trailing catch-all permission the translation adds (path prefix "/") becomes a rule without
// conditions unless it repeats the default.
func (b *designBuilder) permissions(path string, perms []any, add func(action, permKey string, when []spec.AccessCondition)) {
	byAction := map[string][]spec.AccessCondition{}
	var catchAllAction string
	for i, p := range perms {
		pm := asMap(p)
		action := str(pm, "action")
		h := asMap(pm["http"])
		if len(h) == 1 && str(h, "pathPrefix") == "/" {
			catchAllAction = action
			break // later permissions cannot match
		}
		c := spec.AccessCondition{}
		switch {
		case str(h, "pathExact") != "":
			c.Paths = []string{str(h, "pathExact")}
		case str(h, "pathPrefix") != "":
			c.Paths = []string{str(h, "pathPrefix") + "*"}
		case str(h, "pathRegex") != "":
			b.im.warn(fmt.Sprintf("%s.permissions[%d].http.pathRegex", path, i), adapters.FeatureAuthzConditions,
				"the design's access paths are exact or prefix; regex %q is not imported", str(h, "pathRegex"))
		}
		for _, m := range asList(h["methods"]) {
			if s, ok := m.(string); ok {
				c.Methods = append(c.Methods, s)
			}
		}
		for j, x := range asList(h["header"]) {
			hm := asMap(x)
			sm, ok := b.stringMatch(fmt.Sprintf("%s.permissions[%d].http.header[%d]", path, i, j), hm)
			if ok {
				if c.Headers == nil {
					c.Headers = map[string]spec.StringMatch{}
				}
				c.Headers[strings.ToLower(str(hm, "name"))] = sm
			}
		}
		if pm["jwt"] != nil {
			b.im.warn(fmt.Sprintf("%s.permissions[%d].jwt", path, i), adapters.FeatureJWT, "per-permission JWT requirements are not imported")
		}
		// Merge conditions that differ only in their path (one design condition, several paths).
		list := byAction[action]
		if n := len(list); n > 0 && sameButPaths(list[n-1], c) {
			list[n-1].Paths = append(list[n-1].Paths, c.Paths...)
		} else {
			list = append(list, c)
		}
		byAction[action] = list
	}
	for _, action := range []string{"deny", "allow"} {
		if conds := byAction[action]; len(conds) > 0 {
			add(action, mustJSON(conds), conds)
		}
	}
	if catchAllAction == "allow" {
		add("allow", "", nil)
	}
}

func sameButPaths(a, b spec.AccessCondition) bool {
	a.Paths, b.Paths = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// telemetry reads the global proxy defaults.
func (b *designBuilder) telemetry() {
	pd := b.im.get(KindProxyDefaults, "global")
	if pd == nil {
		return
	}
	tel := &spec.Telemetry{}
	used := false
	cfg := asMap(pd.field("config"))
	if str(cfg, "envoy_prometheus_bind_addr") != "" {
		on := true
		tel.Metrics = &spec.Metrics{Enabled: &on}
		used = true
	}
	if tj := str(cfg, "envoy_tracing_json"); tj != "" {
		tr := &spec.Tracing{Provider: spec.TracingOTLP}
		if strings.Contains(tj, "zipkin") {
			tr.Provider = spec.TracingZipkin
		}
		var cluster map[string]any
		if err := json.Unmarshal([]byte(str(cfg, "envoy_extra_static_clusters_json")), &cluster); err == nil {
			for _, ep := range asList(asMap(cluster["load_assignment"])["endpoints"]) {
				for _, lb := range asList(asMap(ep)["lb_endpoints"]) {
					sa := asMap(asMap(asMap(asMap(lb)["endpoint"])["address"])["socket_address"])
					if port, ok := num(sa["port_value"]); ok && tr.Endpoint == "" {
						tr.Endpoint = net.JoinHostPort(str(sa, "address"), fmt.Sprint(int(port)))
					}
				}
			}
		}
		var listener map[string]any
		if err := json.Unmarshal([]byte(str(cfg, "envoy_listener_tracing_json")), &listener); err == nil {
			if v, ok := num(asMap(listener["random_sampling"])["value"]); ok {
				tr.SamplingPercent = &v
			}
		}
		if tr.Endpoint == "" {
			b.im.warn(pd.ref+".spec.config.envoy_tracing_json", adapters.FeatureTracing, "no collector endpoint found in envoy_extra_static_clusters_json; tracing is not imported")
		} else {
			tel.Tracing = tr
			used = true
		}
	}
	for _, k := range sortedKeys(cfg) {
		switch k {
		case "envoy_prometheus_bind_addr", "envoy_tracing_json", "envoy_extra_static_clusters_json", "envoy_listener_tracing_json":
		case "protocol":
			// Read by proxyDefaultsProtocol as the protocol of services without service-defaults.
		default:
			b.im.warn(pd.ref+".spec.config."+k, adapters.FeatureMetrics, "proxy config %q is not imported", k)
		}
	}
	if al := asMap(pd.field("accessLogs")); al != nil && al["enabled"] == true {
		f := spec.AccessLogJSON
		if str(al, "textFormat") != "" {
			f = spec.AccessLogText
		}
		tel.AccessLogs = &spec.AccessLogs{Enabled: true, Format: f}
		used = true
	}
	if used {
		b.d.Spec.Telemetry = tel
	}
}

// extensions reads builtin/wasm Envoy extensions of service defaults.
func (b *designBuilder) extensions() {
	byName := map[string]*spec.Extension{}
	var order []string
	for _, n := range b.im.order[KindServiceDefaults] {
		e := b.im.get(KindServiceDefaults, n)
		for i, x := range asList(e.field("envoyExtensions")) {
			xm := asMap(x)
			path := fmt.Sprintf("%s.spec.envoyExtensions[%d]", e.ref, i)
			if str(xm, "name") != "builtin/wasm" {
				b.im.warn(path, adapters.FeatureWasm, "Envoy extension %q has no equivalent in the design", str(xm, "name"))
				continue
			}
			args := asMap(xm["arguments"])
			pc := asMap(pick(args, "PluginConfig", "pluginConfig"))
			vm := asMap(pick(pc, "VmConfig", "vmConfig"))
			code := asMap(pick(vm, "Code", "code"))
			ext := spec.Extension{Name: fmt.Sprint(pick(pc, "Name", "name"))}
			if remote := asMap(pick(code, "Remote", "remote")); remote != nil {
				ext.Source = fmt.Sprint(pick(asMap(pick(remote, "HttpURI", "httpURI")), "URI", "uri"))
				ext.SHA256 = fmt.Sprint(pick(remote, "SHA256", "sha256"))
			} else if local := asMap(pick(code, "Local", "local")); local != nil {
				ext.Source = "file://" + fmt.Sprint(pick(local, "Filename", "filename"))
			}
			if c, ok := pick(pc, "Configuration", "configuration").(string); ok && c != "" {
				var cfg map[string]any
				if err := json.Unmarshal([]byte(c), &cfg); err == nil {
					ext.Config = cfg
				} else {
					b.im.warn(path+".arguments.PluginConfig.Configuration", adapters.FeatureWasm, "plugin configuration is not a JSON object; not imported")
				}
			}
			if xm["required"] != true {
				ext.FailurePolicy = spec.FailOpen
			}
			if prev, ok := byName[ext.Name]; ok {
				prev.Services = append(prev.Services, n)
				continue
			}
			ext.Services = []string{n}
			byName[ext.Name] = &ext
			order = append(order, ext.Name)
		}
	}
	for _, n := range order {
		b.d.Spec.Extensions = append(b.d.Spec.Extensions, *byName[n])
	}
}

func pick(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// warnUnknownKeys reports every key of m outside known as not imported, with its field path.
func warnUnknownKeys(im *importer, path string, m map[string]any, f adapters.Feature, known ...string) {
	ok := map[string]bool{}
	for _, k := range known {
		ok[k] = true
	}
	for _, k := range sortedKeys(m) {
		if !ok[k] {
			im.warn(path+"."+k, f, "field %q has no equivalent in the design and is not imported", k)
		}
	}
}

// hasWildcard reports whether any source is the "*" service.
func hasWildcard(srcs []spec.Source) bool {
	for _, s := range srcs {
		if s.Service == Wildcard {
			return true
		}
	}
	return false
}
