package istio

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// serviceNamespaces returns the sorted namespaces that hold the design's services (the design's
// namespace when it has none).
func (t *translator) serviceNamespaces() []string {
	set := map[string]bool{}
	for _, s := range t.d.Spec.Services {
		set[s.Namespace] = true
	}
	if len(set) == 0 {
		set[t.d.Metadata.Namespace] = true
	}
	return sortedKeys(set)
}

func peerMode(m spec.MTLSMode) string {
	switch m {
	case spec.MTLSPermissive:
		return "PERMISSIVE"
	case spec.MTLSDisabled:
		return "DISABLE"
	default:
		return "STRICT"
	}
}

// security emits PeerAuthentication, AuthorizationPolicy and RequestAuthentication objects.
func (t *translator) security() {
	sec := t.d.Spec.Security
	if sec == nil {
		sec = &spec.Security{MTLS: spec.MTLSStrict, DefaultPolicy: spec.ActionAllow}
	}
	mode := sec.MTLS
	if mode == "" {
		mode = spec.MTLSStrict
	}
	if len(t.d.Spec.Services) > 0 {
		for _, ns := range t.serviceNamespaces() {
			t.add(SecurityV1, "PeerAuthentication", ns, "default", obj{"mtls": obj{"mode": peerMode(mode)}})
		}
	}
	// Overrides: one PeerAuthentication per service, merging whole-service and per-port modes.
	type override struct {
		mode  string
		ports map[string]any
	}
	overrides := map[string]*override{}
	for i, o := range sec.MTLSOverrides {
		svc, ok := t.services[o.Service]
		if !ok {
			t.warn(fmt.Sprintf("spec.security.mtlsOverrides[%d].service", i), adapters.FeatureMTLSStrict,
				"no service "+strconv.Quote(o.Service)+" in the design: override ignored", adapters.SeverityWarning)
			continue
		}
		ov := overrides[o.Service]
		if ov == nil {
			ov = &override{ports: map[string]any{}}
			overrides[o.Service] = ov
		}
		if o.Port == 0 {
			ov.mode = peerMode(o.Mode)
		} else {
			ov.ports[strconv.Itoa(int(targetPort(svc, o.Port)))] = obj{"mode": peerMode(o.Mode)}
		}
	}
	for _, name := range sortedKeys(overrides) {
		ov := overrides[name]
		s := obj{"selector": t.selector(name)}
		if ov.mode != "" {
			s["mtls"] = obj{"mode": ov.mode}
		}
		if len(ov.ports) > 0 {
			s["portLevelMtls"] = obj(ov.ports)
		}
		t.add(SecurityV1, "PeerAuthentication", t.namespaceOf(name), name, s)
	}

	if sec.DefaultPolicy == spec.ActionDeny {
		for _, ns := range t.serviceNamespaces() {
			t.add(SecurityV1, "AuthorizationPolicy", ns, t.d.Metadata.Name+"-default-deny", obj{})
		}
	}
	for i := range sec.Access {
		t.accessRule(i, &sec.Access[i])
	}
	for i := range sec.RequestAuthentication {
		t.jwtRule(i, &sec.RequestAuthentication[i])
	}
}

// principal returns the Istio principal of an identity in a namespace.
func (t *translator) principal(ns, sa string) string {
	return t.opts.TrustDomainOrDefault() + "/ns/" + ns + "/sa/" + sa
}

func (t *translator) accessRule(i int, r *spec.AccessRule) {
	path := fmt.Sprintf("spec.security.access[%d]", i)
	dest, ok := t.services[r.Destination]
	if !ok {
		t.warn(path+".destination", adapters.FeatureAuthzAllow,
			"Istio authorization applies to workloads in the mesh: access rules to "+strconv.Quote(r.Destination)+" (not a service of the design) are dropped", adapters.SeverityWarning)
		return
	}
	feature := adapters.FeatureAuthzAllow
	action := "ALLOW"
	if r.Action == spec.ActionDeny {
		feature, action = adapters.FeatureAuthzDeny, "DENY"
	}
	var principals, namespaces []any
	anyCaller := false
	for si, s := range r.Sources {
		switch {
		case s.Service == "*" || (s.Service == "" && s.Identity == "" && s.Namespace == "*"):
			anyCaller = true
		case s.Service != "":
			src, ok := t.services[s.Service]
			if !ok {
				t.warn(fmt.Sprintf("%s.sources[%d].service", path, si), feature,
					"no service "+strconv.Quote(s.Service)+" in the design: this source is dropped", adapters.SeverityWarning)
				continue
			}
			principals = append(principals, t.principal(src.Namespace, src.Identity))
		case s.Identity != "":
			ns := s.Namespace
			if ns == "" || ns == "*" {
				if ns == "*" {
					principals = append(principals, "*/sa/"+s.Identity)
					continue
				}
				ns = t.d.Metadata.Namespace
			}
			principals = append(principals, t.principal(ns, s.Identity))
		default:
			namespaces = append(namespaces, s.Namespace)
		}
	}
	rule := obj{}
	if !anyCaller {
		var from []any
		if len(principals) > 0 {
			from = append(from, obj{"source": obj{"principals": dedupe(principals)}})
		}
		if len(namespaces) > 0 {
			from = append(from, obj{"source": obj{"namespaces": dedupe(namespaces)}})
		}
		if len(from) == 0 {
			return
		}
		rule["from"] = from
	}
	var rules []any
	if len(r.When) == 0 {
		rules = []any{rule}
	}
	for ci, c := range r.When {
		cpath := fmt.Sprintf("%s.when[%d]", path, ci)
		rc := with(rule, "_", nil)
		delete(rc, "_")
		op := obj{}
		if len(c.Methods) > 0 {
			op["methods"] = stringList(c.Methods)
		}
		if len(c.Paths) > 0 {
			op["paths"] = stringList(c.Paths)
		}
		if len(c.Ports) > 0 {
			ports := make([]any, len(c.Ports))
			for pi, p := range c.Ports {
				ports[pi] = strconv.Itoa(int(targetPort(dest, p)))
			}
			op["ports"] = ports
		}
		if !dest.Protocol.IsL7() && (len(c.Methods) > 0 || len(c.Paths) > 0 || len(c.Headers) > 0) {
			t.warn(cpath, adapters.FeatureAuthzConditions,
				"HTTP conditions on a TCP destination never match in Istio; the rule would apply to no request", adapters.SeverityWarning)
		}
		if len(op) > 0 {
			rc["to"] = []any{obj{"operation": op}}
		}
		var when []any
		unexpressible := false
		for _, name := range sortedKeys(c.Headers) {
			m := c.Headers[name]
			key := "request.headers[" + name + "]"
			switch {
			case m.Exact != "":
				when = append(when, obj{"key": key, "values": []any{m.Exact}})
			case m.Prefix != "":
				when = append(when, obj{"key": key, "values": []any{m.Prefix + "*"}})
			case m.Present:
				when = append(when, obj{"key": key, "values": []any{"*"}})
			default:
				unexpressible = true
				if action == "ALLOW" {
					t.warn(cpath+".headers."+name, adapters.FeatureAuthzConditions,
						"AuthorizationPolicy conditions match exact values, prefixes and suffixes only: this regex header condition cannot be expressed, so the whole condition is dropped and the requests it would allow are denied (fail closed)", adapters.SeverityWarning)
				} else {
					t.warn(cpath+".headers."+name, adapters.FeatureAuthzConditions,
						"AuthorizationPolicy conditions match exact values, prefixes and suffixes only: this regex header condition is dropped, so the deny applies to more requests (fail closed)", adapters.SeverityWarning)
				}
			}
		}
		if unexpressible && action == "ALLOW" {
			continue
		}
		if len(when) > 0 {
			rc["when"] = when
		}
		rules = append(rules, rc)
	}
	t.add(SecurityV1, "AuthorizationPolicy", dest.Namespace, r.Name, obj{
		"selector": t.selector(dest.Name),
		"action":   action,
		"rules":    rules,
	})
}

func dedupe(in []any) []any {
	seen := map[string]bool{}
	var out []any
	for _, v := range in {
		s := v.(string)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// jwtTargets returns, for a JWT rule, the (namespace, service, object name) triples it applies
// to: one per listed service, or one namespace-wide target (service "") per namespace.
func (t *translator) jwtTargets(path string, r *spec.JWTRule) [][3]string {
	var out [][3]string
	if len(r.Services) == 0 {
		for _, ns := range t.serviceNamespaces() {
			out = append(out, [3]string{ns, "", r.Name})
		}
		return out
	}
	for si, name := range r.Services {
		svc, ok := t.services[name]
		if !ok {
			t.warn(fmt.Sprintf("%s.services[%d]", path, si), adapters.FeatureJWT,
				"no service "+strconv.Quote(name)+" in the design: JWT rule not applied to it", adapters.SeverityWarning)
			continue
		}
		objName := r.Name
		if len(r.Services) > 1 {
			objName = r.Name + "-" + name
		}
		out = append(out, [3]string{svc.Namespace, name, objName})
	}
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i][:], "/") < strings.Join(out[j][:], "/") })
	return out
}

func (t *translator) jwtRule(i int, r *spec.JWTRule) {
	path := fmt.Sprintf("spec.security.requestAuthentication[%d]", i)
	jr := obj{"issuer": r.Issuer}
	if r.JWKSURI != "" {
		jr["jwksUri"] = r.JWKSURI
	}
	if r.JWKS != "" {
		jr["jwks"] = r.JWKS
	}
	if len(r.Audiences) > 0 {
		jr["audiences"] = stringList(r.Audiences)
	}
	if r.ForwardToken {
		jr["forwardOriginalToken"] = true
	}
	if r.FromHeader != "" && !strings.EqualFold(r.FromHeader, "Authorization") {
		jr["fromHeaders"] = []any{obj{"name": r.FromHeader}}
	}
	for _, tg := range t.jwtTargets(path, r) {
		ns, svc, name := tg[0], tg[1], tg[2]
		ra := obj{"jwtRules": []any{deepCopy(jr)}}
		if svc != "" {
			ra["selector"] = t.selector(svc)
		}
		t.add(SecurityV1, "RequestAuthentication", ns, name, ra)
		if r.Optional {
			continue
		}
		// Request principals are "<iss>/<sub>": requiring one from this issuer keeps a token of
		// another rule's issuer from satisfying this rule.
		ap := obj{
			"action": "DENY",
			"rules":  []any{obj{"from": []any{obj{"source": obj{"notRequestPrincipals": []any{r.Issuer + "/*"}}}}}},
		}
		if svc != "" {
			ap["selector"] = t.selector(svc)
		}
		t.add(SecurityV1, "AuthorizationPolicy", ns, name+"-require-jwt", ap)
	}
}
