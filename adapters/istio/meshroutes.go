package istio

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/trellis-mesh/trellis/spec"
)

// meshRouteBlocker returns why a traffic policy cannot be a Gateway API HTTPRoute ("" when it
// can): Istio honours HTTPRoutes with a Service parentRef for mesh traffic, but they have no
// subsets, faults or (standard-channel) retries, and TCP services need TCPRoute (experimental).
// Header and query prefix/presence matches become anchored regular expressions.
func (t *translator) meshRouteBlocker(tp *spec.TrafficPolicy) string {
	if !t.protocolOf(tp.Service).IsL7() {
		return "TCP routing (TCPRoute is experimental)"
	}
	for _, r := range tp.Routes {
		for _, b := range r.Backends {
			if b.Version != "" {
				return "version subsets (backends are Services)"
			}
			if _, ext := t.external[b.Service]; ext {
				return "external-service backends"
			}
		}
		if r.Fault != nil {
			return "fault injection"
		}
		if r.Retries != nil {
			return "retries (HTTPRoute retry is experimental)"
		}
		if r.Mirror != nil && r.Mirror.Version != "" {
			return "mirroring to a version subset"
		}
	}
	return ""
}

func gwStringMatches(m map[string]spec.StringMatch) []any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		switch {
		case v.Regex != "":
			out = append(out, obj{"name": k, "type": "RegularExpression", "value": v.Regex})
		case v.Prefix != "":
			out = append(out, obj{"name": k, "type": "RegularExpression", "value": "^" + regexp.QuoteMeta(v.Prefix) + ".*"})
		case v.Present:
			out = append(out, obj{"name": k, "type": "RegularExpression", "value": ".*"})
		default:
			out = append(out, obj{"name": k, "type": "Exact", "value": v.Exact})
		}
	}
	return out
}

func gwHeaderFilter(kind string, o *spec.HeaderOperations) obj {
	mod := obj{}
	kv := func(m map[string]string) []any {
		var out []any
		for _, k := range sortedKeys(m) {
			out = append(out, obj{"name": k, "value": m[k]})
		}
		return out
	}
	if len(o.Set) > 0 {
		mod["set"] = kv(o.Set)
	}
	if len(o.Add) > 0 {
		mod["add"] = kv(o.Add)
	}
	if len(o.Remove) > 0 {
		mod["remove"] = stringList(o.Remove)
	}
	field := "requestHeaderModifier"
	if kind == "ResponseHeaderModifier" {
		field = "responseHeaderModifier"
	}
	return obj{"type": kind, field: mod}
}

// httpRoute emits a Gateway API HTTPRoute attached to the service (GAMMA mesh routing).
func (t *translator) httpRoute(ti int, tp *spec.TrafficPolicy) {
	svc := t.services[tp.Service]
	var rules []any
	for ri := range tp.Routes {
		r := &tp.Routes[ri]
		rule := obj{"name": r.Name}
		var matches []any
		for _, m := range r.Match {
			mo := obj{}
			if p := m.Path; p != nil {
				switch {
				case p.Exact != "":
					mo["path"] = obj{"type": "Exact", "value": p.Exact}
				case p.Prefix != "":
					mo["path"] = obj{"type": "PathPrefix", "value": p.Prefix}
				default:
					mo["path"] = obj{"type": "RegularExpression", "value": p.Regex}
				}
			}
			if m.Method != "" {
				mo["method"] = m.Method
			}
			if len(m.Headers) > 0 {
				mo["headers"] = gwStringMatches(m.Headers)
			}
			if len(m.QueryParams) > 0 {
				mo["queryParams"] = gwStringMatches(m.QueryParams)
			}
			matches = append(matches, mo)
		}
		if len(matches) > 0 {
			rule["matches"] = matches
		}
		var refs []any
		for _, b := range r.Backends {
			bs := t.services[b.Service]
			ref := obj{"name": b.Service, "weight": int64(b.Weight)}
			port := b.Port
			if port == 0 && bs != nil {
				port = bs.Ports[0].Port
			}
			ref["port"] = int64(port)
			if bs != nil && bs.Namespace != svc.Namespace {
				ref["namespace"] = bs.Namespace
			}
			refs = append(refs, ref)
		}
		rule["backendRefs"] = refs
		if !r.Timeout.IsZero() {
			rule["timeouts"] = obj{"request": gwDur(r.Timeout)}
		}
		var filters []any
		if h := r.Headers; h != nil {
			if h.Request != nil {
				filters = append(filters, gwHeaderFilter("RequestHeaderModifier", h.Request))
			}
			if h.Response != nil {
				filters = append(filters, gwHeaderFilter("ResponseHeaderModifier", h.Response))
			}
		}
		if m := r.Mirror; m != nil {
			ms := t.services[m.Service]
			ref := obj{"name": m.Service}
			if ms != nil {
				ref["port"] = int64(ms.Ports[0].Port)
			}
			mirror := obj{"backendRef": ref}
			if m.Percent < 100 {
				mirror["percent"] = int64(m.Percent)
				if float64(int64(m.Percent)) != m.Percent {
					mirror["fraction"] = obj{"numerator": int64(m.Percent * 100), "denominator": int64(10000)}
					delete(mirror, "percent")
				}
			}
			filters = append(filters, obj{"type": "RequestMirror", "requestMirror": mirror})
		}
		if rw := r.Rewrite; rw != nil {
			u := obj{}
			if rw.Host != "" {
				u["hostname"] = rw.Host
			}
			if rw.Prefix != "" {
				u["path"] = obj{"type": "ReplacePrefixMatch", "replacePrefixMatch": rw.Prefix}
			} else if rw.FullPath != "" {
				u["path"] = obj{"type": "ReplaceFullPath", "replaceFullPath": rw.FullPath}
			}
			filters = append(filters, obj{"type": "URLRewrite", "urlRewrite": u})
		}
		if len(filters) > 0 {
			rule["filters"] = filters
		}
		rules = append(rules, rule)
	}
	_ = fmt.Sprint(ti)
	t.add(GatewayV1, "HTTPRoute", svc.Namespace, svc.Name, obj{
		"parentRefs": []any{obj{"group": "", "kind": "Service", "name": svc.Name, "port": int64(svc.Ports[0].Port)}},
		"rules":      rules,
	})
}

// gwDur formats a duration in Gateway API's duration format (e.g. "2s", "500ms", "1h30m").
func gwDur(d spec.Duration) string {
	v := d.Duration
	if v <= 0 {
		return "0s"
	}
	out := ""
	for _, u := range []struct {
		unit time.Duration
		sym  string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := v / u.unit; n > 0 {
			out += strconv.FormatInt(int64(n), 10) + u.sym
			v -= n * u.unit
		}
	}
	if out == "" {
		out = "1ms"
	}
	return out
}
