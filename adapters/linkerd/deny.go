package linkerd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Linkerd authorization is allow-only: a Server refuses what no AuthorizationPolicy admits. A
// design deny rule is therefore expressible only where it refuses everything: a deny of every
// caller (sources {namespace: "*"} or {service: "*"}) with no HTTP condition on a port is that
// port's Server with accessPolicy deny and no AuthorizationPolicy, whatever the allow rules say
// (deny wins over allow in the design). Narrower deny rules (some callers, some requests) would
// have to be subtracted from what the allow rules admit, which Linkerd cannot do: they are
// reported with what is lost.

// portKey is the key of port p in translator.deniedPorts (with the service name).
func portKey(p spec.Port) string { return strconv.Itoa(int(p.Port)) }

// everyCaller reports whether a rule's sources match every caller.
func everyCaller(r *spec.AccessRule) bool {
	for _, src := range r.Sources {
		if src.Service == "*" || (src.Namespace == "*" && src.Identity == "") {
			return true
		}
	}
	return false
}

// deniesWholePort reports whether deny rule r refuses every request from every caller to port p.
func deniesWholePort(r *spec.AccessRule, p spec.Port) bool {
	if !everyCaller(r) {
		return false
	}
	_, whole := conditionsForPort(r.When, p)
	return whole
}

// denyAllPorts records, before any allow rule is translated, the ports that a deny rule closes
// to every caller, and creates their Servers (accessPolicy deny, see serverPolicy).
func (t *translator) denyAllPorts(sec *spec.Security) {
	for ri := range sec.Access {
		r := &sec.Access[ri]
		if r.Action != spec.ActionDeny {
			continue
		}
		s, ok := t.services[r.Destination]
		if !ok {
			continue
		}
		name := accessRuleName(ri, r)
		for _, p := range svcPorts(s) {
			if !deniesWholePort(r, p) {
				continue
			}
			key := s.Name + "/" + portKey(p)
			if t.deniedPorts[key] != "" {
				continue
			}
			t.deniedPorts[key] = name
			t.ensureServer(s, p).deniedBy = name
		}
	}
}

// serverPolicy is the accessPolicy of a Server, which Linkerd applies to the traffic that no
// authorization of the Server matches: deny when a deny rule refuses every caller of its port,
// and when allow rules authorize callers (a destination with an allow rule refuses what no allow
// rule matches; all-authenticated there would admit every meshed caller); otherwise the inbound
// policy of the port's mTLS mode under the design's default.
func (t *translator) serverPolicy(srv *server) string {
	if srv.deniedBy != "" || srv.authorized {
		return "deny"
	}
	return t.inboundPolicy(t.mtlsMode(srv.svc, srv.port))
}

// denyRule translates deny rule r on service s: the ports it closes to every caller were handled
// by denyAllPorts; on the other ports it applies to, it is reported with what is lost.
func (t *translator) denyRule(ri int, r *spec.AccessRule, s *spec.Service) {
	path := fmt.Sprintf("spec.security.access[%d]", ri)
	name := accessRuleName(ri, r)
	var partial []spec.Port
	for _, p := range svcPorts(s) {
		conds, whole := conditionsForPort(r.When, p)
		if (!whole && len(conds) == 0) || deniesWholePort(r, p) || t.deniedPorts[s.Name+"/"+portKey(p)] != "" {
			continue
		}
		partial = append(partial, p)
	}
	if len(partial) == 0 {
		return
	}
	scope := "every request from its sources"
	switch {
	case everyCaller(r):
		scope = "the requests of every caller that match its conditions"
	case len(r.When) > 0:
		scope = "the requests of its sources that match its conditions"
	}
	var ports []string
	for _, p := range partial {
		ports = append(ports, strconv.Itoa(int(p.Port)))
	}
	where := fmt.Sprintf("port %s of %q", strings.Join(ports, ", "), s.Name)
	if len(ports) > 1 {
		where = fmt.Sprintf("ports %s of %q", strings.Join(ports, ", "), s.Name)
	}
	allows := t.allowRulesOn(s, partial)
	switch {
	case t.defaultDeny() && len(allows) == 0:
		t.warn(path+".action", adapters.FeatureAuthzDeny, adapters.SeverityInfo,
			"deny rule %q needs no object: no allow rule admits anything on %s, so the default deny (accessPolicy deny) refuses %s", name, where, scope)
	case t.defaultDeny():
		t.warn(path+".action", adapters.FeatureAuthzDeny, adapters.SeverityWarning,
			"Linkerd authorization is allow-only and cannot refuse part of what an allow admits: deny rule %q is not emitted, so on %s Linkerd still admits %s wherever allow rule(s) %s admit them (the default deny refuses the rest)",
			name, where, scope, quoteList(allows))
	case len(allows) == 0:
		t.warn(path+".action", adapters.FeatureAuthzDeny, adapters.SeverityError,
			"Linkerd authorization is allow-only: deny rule %q cannot be expressed, so on %s Linkerd still admits %s (default allow; only a deny of every caller with no HTTP condition becomes a Server with accessPolicy deny)",
			name, where, scope)
	default:
		t.warn(path+".action", adapters.FeatureAuthzDeny, adapters.SeverityError,
			"Linkerd authorization is allow-only and cannot refuse part of what an allow admits: deny rule %q is not emitted, so on %s Linkerd still admits %s wherever allow rule(s) %s admit them",
			name, where, scope, quoteList(allows))
	}
}

// allowRulesOn returns the names of the allow rules of service s that admit something on one of
// ports (ports closed by a deny of every caller aside).
func (t *translator) allowRulesOn(s *spec.Service, ports []spec.Port) []string {
	var out []string
	for ri := range t.d.Spec.Security.Access {
		r := &t.d.Spec.Security.Access[ri]
		if r.Action == spec.ActionDeny || r.Destination != s.Name {
			continue
		}
		for _, p := range ports {
			conds, whole := conditionsForPort(r.When, p)
			if (whole || len(conds) > 0) && t.deniedPorts[s.Name+"/"+portKey(p)] == "" {
				out = append(out, accessRuleName(ri, r))
				break
			}
		}
	}
	return out
}

// quoteList quotes names and joins them with commas.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
