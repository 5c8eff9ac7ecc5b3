package consul

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Wildcard is Consul's "any service" intention source.
const Wildcard = "*"

func (t *translator) translateSecurity() {
	sec := t.d.Spec.Security
	if sec == nil {
		return
	}
	t.mtls(sec)
	jwtFor := t.jwtProviders(sec)
	t.intentions(sec, jwtFor)
}

func (t *translator) mtls(sec *spec.Security) {
	permissive := false
	mode := sec.MTLS
	if mode == "" {
		mode = spec.MTLSStrict
	}
	global := consulMTLS(mode)
	if mode == spec.MTLSDisabled {
		t.warn("spec.security.mtls", adapters.FeatureMTLSDisabled, adapters.SeverityWarning,
			"Consul cannot disable mTLS between sidecars; mapped to permissive (plaintext accepted, meshed callers still use mTLS)")
	}
	if global == "permissive" {
		permissive = true
	}
	// Strict is Consul's default: the cluster-wide ProxyDefaults singleton is only written for
	// it when the design configures proxy defaults anyway (see run).
	t.globalMTLS = global
	for i, o := range sec.MTLSOverrides {
		path := fmt.Sprintf("spec.security.mtlsOverrides[%d]", i)
		if _, ok := t.services[o.Service]; !ok {
			t.warn(path+".service", adapters.FeatureMTLSStrict, adapters.SeverityWarning,
				"unknown service %q; the override is lost", o.Service)
			continue
		}
		if o.Port != 0 {
			t.warn(path+".port", adapters.FeatureMTLSPermissive, adapters.SeverityWarning,
				"Consul sets the mTLS mode per service, not per port: mode %s applies to every port of %s", consulMTLS(o.Mode), o.Service)
		}
		if o.Mode == spec.MTLSDisabled {
			t.warn(path+".mode", adapters.FeatureMTLSDisabled, adapters.SeverityWarning,
				"Consul cannot disable mTLS between sidecars; %s is set to permissive", o.Service)
		}
		m := consulMTLS(o.Mode)
		if m == "permissive" {
			permissive = true
		}
		t.serviceDefaults(o.Service).spec["mutualTLSMode"] = m
	}
	if permissive {
		t.get(KindMesh, "mesh", t.ns).spec["allowEnablingPermissiveMutualTLS"] = true
		t.warn("spec.security.mtls", adapters.FeatureMTLSPermissive, adapters.SeverityInfo,
			"Consul accepts plaintext in permissive mode only for transparent-proxy services; the Mesh entry allows enabling permissive mTLS")
	}
}

func consulMTLS(m spec.MTLSMode) string {
	switch m {
	case spec.MTLSPermissive, spec.MTLSDisabled:
		return "permissive"
	default:
		return "strict"
	}
}

// jwtProviders emits a JWTProvider per rule and returns, per service, the providers it requires.
func (t *translator) jwtProviders(sec *spec.Security) map[string][]string {
	out := map[string][]string{}
	for i, r := range sec.RequestAuthentication {
		path := fmt.Sprintf("spec.security.requestAuthentication[%d]", i)
		p := t.get(KindJWTProvider, r.Name, t.ns)
		p.spec["issuer"] = r.Issuer
		if len(r.Audiences) > 0 {
			p.spec["audiences"] = stringList(r.Audiences)
		}
		switch {
		case r.JWKSURI != "":
			p.spec["jsonWebKeySet"] = map[string]any{"remote": map[string]any{"uri": r.JWKSURI}}
		case r.JWKS != "":
			p.spec["jsonWebKeySet"] = map[string]any{"local": map[string]any{"jwks": base64.StdEncoding.EncodeToString([]byte(r.JWKS))}}
		}
		header := r.FromHeader
		if header == "" {
			header = "Authorization"
		}
		loc := map[string]any{"name": header}
		if strings.EqualFold(header, "Authorization") {
			loc["valuePrefix"] = "Bearer "
		}
		if r.ForwardToken {
			loc["forward"] = true
		}
		p.spec["locations"] = []any{map[string]any{"header": loc}}
		if r.Optional {
			t.warn(path+".optional", adapters.FeatureJWT, adapters.SeverityWarning,
				"Consul intentions with a JWT requirement reject requests without a token: the token becomes required")
		}
		services := r.Services
		if len(services) == 0 {
			for _, s := range t.d.Spec.Services {
				services = append(services, s.Name)
			}
		}
		for _, s := range services {
			out[s] = append(out[s], r.Name)
		}
	}
	return out
}

// sourceRule is one access rule as seen from one destination.
type sourceRule struct {
	name    string
	deny    bool
	sources []string // Consul source names
	perms   []map[string]any
}

// intentions emits one ServiceIntentions per destination with rules, JWT requirements or a
// default-deny baseline.
func (t *translator) intentions(sec *spec.Security, jwtFor map[string][]string) {
	byDest := map[string][]sourceRule{}
	for i, r := range sec.Access {
		path := fmt.Sprintf("spec.security.access[%d]", i)
		if !t.known(r.Destination) {
			t.warn(path+".destination", adapters.FeatureAuthzAllow, adapters.SeverityWarning,
				"unknown destination %q; the rule is lost", r.Destination)
			continue
		}
		name := r.Name
		if name == "" {
			action := r.Action
			if action == "" {
				action = spec.ActionAllow
			}
			name = fmt.Sprintf("%s-%s-%d", r.Destination, action, i)
		}
		sr := sourceRule{name: name, deny: r.Action == spec.ActionDeny}
		for j, s := range r.Sources {
			if n := t.sourceName(fmt.Sprintf("%s.sources[%d]", path, j), s); n != "" {
				sr.sources = append(sr.sources, n)
			}
		}
		if len(sr.sources) == 0 {
			t.warn(path+".sources", adapters.FeatureAuthzAllow, adapters.SeverityWarning,
				"no source Consul can name; the rule is lost")
			continue
		}
		sr.perms = t.permissions(path, r)
		byDest[r.Destination] = append(byDest[r.Destination], sr)
	}
	deny := sec.DefaultPolicy == spec.ActionDeny
	dests := map[string]bool{}
	for d := range byDest {
		dests[d] = true
	}
	for s := range jwtFor {
		dests[s] = true
	}
	if deny {
		for _, s := range t.d.Spec.Services {
			dests[s.Name] = true
		}
	}
	defaultAction := "allow"
	if deny {
		defaultAction = "deny"
	}
	for _, dest := range sortedKeys(dests) {
		rules := byDest[dest]
		keys := map[string]bool{}
		// A destination with an allow rule admits only what its allow rules match, whatever the
		// default policy (the design's semantics, as Istio's ALLOW policies and Linkerd's
		// authorizations have it): its unmatched callers and requests are denied.
		destDefault := defaultAction
		for _, r := range rules {
			for _, s := range r.sources {
				keys[s] = true
			}
			if !r.deny {
				destDefault = "deny"
			}
		}
		if destDefault == "deny" || len(keys) == 0 {
			keys[Wildcard] = true
		}
		names := sortedKeys(keys)
		sort.SliceStable(names, func(i, j int) bool { return names[i] != Wildcard && names[j] == Wildcard })
		var sources []any
		for _, k := range names {
			sources = append(sources, t.intentionSource(k, rules, destDefault))
		}
		e := t.get(KindServiceIntentions, dest, t.serviceNamespace(dest))
		e.spec["sources"] = sources
		if ps := jwtFor[dest]; len(ps) > 0 {
			var list []any
			for _, p := range ps {
				list = append(list, map[string]any{"name": p})
			}
			e.spec["jwt"] = map[string]any{"providers": list}
		}
	}
}

// intentionSource encodes, for requests from source key, the design's evaluation (deny rules
// win over allow rules, then the default policy) as one Consul source: Consul picks the most
// precise source, so the wildcard rules are folded into every named source.
func (t *translator) intentionSource(key string, rules []sourceRule, defaultAction string) map[string]any {
	var applicable []sourceRule
	var names []string
	for _, r := range rules {
		for _, s := range r.sources {
			if s == key || s == Wildcard {
				applicable = append(applicable, r)
				names = append(names, r.name)
				break
			}
		}
	}
	out := map[string]any{"name": key}
	if len(names) > 0 {
		out["description"] = "trellis access rules: " + strings.Join(names, ", ")
	} else {
		out["description"] = "trellis default policy"
	}
	var l4Deny, l4Allow bool
	var denyPerms, allowPerms []any
	for _, r := range applicable {
		switch {
		case r.deny && r.perms == nil:
			l4Deny = true
		case r.perms == nil:
			l4Allow = true
		default:
			for _, p := range r.perms {
				p = copyMap(p)
				if r.deny {
					p["action"] = "deny"
					denyPerms = append(denyPerms, p)
				} else {
					p["action"] = "allow"
					allowPerms = append(allowPerms, p)
				}
			}
		}
	}
	var perms []any
	switch {
	case l4Deny:
		out["action"] = "deny"
		return out
	case l4Allow:
		perms = append(denyPerms, catchAll("allow"))
	case len(denyPerms)+len(allowPerms) == 0:
		out["action"] = defaultAction
		return out
	default:
		perms = append(append(denyPerms, allowPerms...), catchAll(defaultAction))
	}
	first := perms[0].(map[string]any)["action"]
	same := true
	for _, p := range perms {
		if p.(map[string]any)["action"] != first {
			same = false
		}
	}
	if same {
		out["action"] = first
		return out
	}
	out["permissions"] = perms
	return out
}

func catchAll(action string) map[string]any {
	return map[string]any{"action": action, "http": map[string]any{"pathPrefix": "/"}}
}

// sourceName maps a design source to a Consul intention source name ("" when none).
func (t *translator) sourceName(path string, s spec.Source) string {
	switch {
	case s.Service == Wildcard:
		return Wildcard
	case s.Service != "":
		return s.Service
	case s.Identity != "":
		if s.Namespace != "" && s.Namespace != t.ns {
			t.warn(path+".namespace", adapters.FeatureAuthzAllow, adapters.SeverityWarning,
				"Consul CE has no namespaces (Enterprise); namespace %q of identity %q is ignored", s.Namespace, s.Identity)
		}
		if name, ok := t.identity[s.Identity]; ok && (s.Namespace == "" || s.Namespace == t.ns || s.Namespace == t.serviceNamespace(name)) {
			return name
		}
		t.warn(path+".identity", adapters.FeatureAuthzAllow, adapters.SeverityWarning,
			"Consul intentions name services, not identities: identity %q is used as the Consul service name", s.Identity)
		return s.Identity
	case s.Namespace == Wildcard:
		return Wildcard
	case s.Namespace != "":
		t.warn(path+".namespace", adapters.FeatureAuthzAllow, adapters.SeverityWarning,
			"Consul CE has no namespaces (Enterprise): namespace %q becomes every service (\"*\")", s.Namespace)
		return Wildcard
	}
	return ""
}

// permissions translates a rule's conditions into L7 permissions (without action), or nil when
// the rule applies to every request.
func (t *translator) permissions(path string, r spec.AccessRule) []map[string]any {
	if len(r.When) == 0 {
		return nil
	}
	l7 := t.protocol(r.Destination).IsL7()
	var perms []map[string]any
	for ci, c := range r.When {
		cpath := fmt.Sprintf("%s.when[%d]", path, ci)
		if len(c.Ports) > 0 {
			t.warn(cpath+".ports", adapters.FeatureAuthzConditions, adapters.SeverityWarning,
				"Consul intentions cannot match ports: the rule applies to every port")
		}
		httpCond := len(c.Methods) > 0 || len(c.Paths) > 0 || len(c.Headers) > 0
		if !httpCond {
			return nil // this alternative matches every request
		}
		if !l7 {
			t.warn(cpath, adapters.FeatureAuthzConditions, adapters.SeverityWarning,
				"Consul L7 permissions need an http, http2 or grpc destination: the rule applies to every request")
			return nil
		}
		base := map[string]any{}
		if len(c.Methods) > 0 {
			var ms []any
			for _, m := range c.Methods {
				ms = append(ms, strings.ToUpper(m))
			}
			base["methods"] = ms
		}
		if len(c.Headers) > 0 {
			var hs []any
			for _, name := range sortedKeys(c.Headers) {
				hs = append(hs, stringMatch(name, c.Headers[name], true))
			}
			base["header"] = hs
		}
		paths := c.Paths
		if len(paths) == 0 {
			paths = []string{""}
		}
		for _, p := range paths {
			h := copyMap(base)
			switch {
			case p == "":
			case strings.HasSuffix(p, "*"):
				prefix := strings.TrimSuffix(p, "*")
				if prefix == "" {
					prefix = "/"
				}
				h["pathPrefix"] = prefix
			default:
				h["pathExact"] = p
			}
			if len(h) == 0 {
				h["pathPrefix"] = "/"
			}
			perms = append(perms, map[string]any{"http": h})
		}
	}
	return perms
}
