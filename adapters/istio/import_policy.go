package istio

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// ---- security ----

var peerModes = map[string]spec.MTLSMode{"STRICT": spec.MTLSStrict, "PERMISSIVE": spec.MTLSPermissive, "DISABLE": spec.MTLSDisabled}

func (im *importer) security() *spec.Security {
	if im.d.Spec.Security == nil {
		im.d.Spec.Security = &spec.Security{}
	}
	return im.d.Spec.Security
}

// selectsOutside reports (with a warning) a policy whose selector names no design service: an
// ingress or egress gateway, or labels no Kubernetes Service of the input selects. Treating it
// as namespace-wide would apply it to every service.
func (im *importer) selectsOutside(o *unstructured.Unstructured, s map[string]any, app string, f adapters.Feature) bool {
	labels := mp(mp(s, "selector"), "matchLabels")
	if len(labels) == 0 || app != "" {
		return false
	}
	if gatewayWorkload(labels) {
		im.warn(o, "spec.selector", f, "the policy applies to an ingress or egress gateway, which is outside the mesh design: dropped")
	} else {
		im.warn(o, "spec.selector.matchLabels", f,
			fmt.Sprintf("selects workloads by %v, which name no service of the input (include their Kubernetes Service): dropped", sortedKeys(labels)))
	}
	return true
}

func (im *importer) peerAuthentication(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureMTLSStrict, "selector", "mtls", "portLevelMtls")
	mode := str(mp(s, "mtls"), "mode")
	app := im.selectorApp(o, s)
	if im.selectsOutside(o, s, app, adapters.FeatureMTLSStrict) {
		return
	}
	sec := im.security()
	if app == "" {
		if ns := o.GetNamespace(); ns != rootNamespace && ns != im.d.Metadata.Namespace && ns != "" {
			im.warn(o, "metadata.namespace", adapters.FeatureMTLSStrict,
				"the mode of namespace "+ns+" is imported as the design's mesh-wide mode (a design has one mTLS mode for all its services)")
		}
		if m, ok := peerModes[mode]; ok {
			if sec.MTLS != "" && sec.MTLS != m {
				im.warn(o, "spec.mtls.mode", adapters.FeatureMTLSStrict, "namespaces have different mTLS modes: the design has one mesh-wide mode, "+string(sec.MTLS)+" is kept")
			} else {
				sec.MTLS = m
			}
		}
		return
	}
	svc := im.service(app, im.workloadNS(o, app))
	if m, ok := peerModes[mode]; ok {
		sec.MTLSOverrides = append(sec.MTLSOverrides, spec.MTLSOverride{Service: app, Mode: m})
	}
	pl := mp(s, "portLevelMtls")
	for _, k := range sortedKeys(pl) {
		m, ok := peerModes[str(mp(pl, k), "mode")]
		port, err := strconv.Atoi(k)
		if !ok || err != nil {
			continue
		}
		sp := int32(port)
		for _, p := range svc.Ports {
			if p.TargetPort == sp {
				sp = p.Port
			}
		}
		sec.MTLSOverrides = append(sec.MTLSOverrides, spec.MTLSOverride{Service: app, Port: sp, Mode: m})
	}
}

var principalRe = regexp.MustCompile(`^(?:spiffe://)?[^/]+/ns/([^/]+)/sa/([^/]+)$`)

// source converts a principal to a design source: the service whose name is the service account
// (or its suffix, as in "bookinfo-reviews") when one exists, else an identity.
func (im *importer) source(principal string) (spec.Source, bool) {
	if strings.HasPrefix(principal, "*/sa/") {
		return spec.Source{Identity: strings.TrimPrefix(principal, "*/sa/"), Namespace: "*"}, true
	}
	g := principalRe.FindStringSubmatch(principal)
	if g == nil {
		return spec.Source{}, false
	}
	ns, sa := g[1], g[2]
	// Prefer the service whose identity or name is the service account (the first discovered),
	// then the longest service name the account starts or ends with ("bookinfo-reviews",
	// "payments-sa"; the first discovered among equals). Candidates come from the indexes: the
	// service named sa, the services given identity sa, and the services named by the part of sa
	// before or after each dash.
	earlier := func(a, b *spec.Service) bool {
		return b == nil || im.pos[a.Namespace+"/"+a.Name] < im.pos[b.Namespace+"/"+b.Name]
	}
	var best *spec.Service
	if svc := im.services[ns+"/"+sa]; svc != nil {
		best = svc
	}
	for _, k := range im.byIdent[ns+"/"+sa] {
		if svc := im.services[k]; svc != nil && svc.Identity == sa && earlier(svc, best) {
			best = svc
		}
	}
	if best == nil {
		for i := 0; i < len(sa); i++ {
			if sa[i] != '-' {
				continue
			}
			for _, name := range []string{sa[:i], sa[i+1:]} {
				svc := im.services[ns+"/"+name]
				if svc == nil {
					continue
				}
				if best == nil || len(svc.Name) > len(best.Name) || len(svc.Name) == len(best.Name) && earlier(svc, best) {
					best = svc
				}
			}
		}
	}
	if best != nil {
		im.setIdentity(best, sa)
		return spec.Source{Service: best.Name}, true
	}
	src := spec.Source{Identity: sa}
	if ns != im.d.Metadata.Namespace {
		src.Namespace = ns
	}
	return src, true
}

// gatewayWorkload reports whether matchLabels select an Istio ingress or egress gateway, which a
// mesh design does not model.
func gatewayWorkload(labels map[string]any) bool {
	if _, ok := labels["istio.io/gateway-name"]; ok {
		return true
	}
	if _, ok := labels["gateway.networking.k8s.io/gateway-name"]; ok {
		return true
	}
	for _, k := range []string{AppLabel, "istio"} {
		if v := str(labels, k); strings.HasSuffix(v, "ingressgateway") || strings.HasSuffix(v, "egressgateway") {
			return true
		}
	}
	return false
}

// authzRule is one entry of an AuthorizationPolicy's rules, as far as the design can express it.
type authzRule struct {
	sources []spec.Source
	cond    spec.AccessCondition
	// unsupported lists restrictions the design cannot express (field path: what).
	unsupported []string
	// jwtOnly lists JWT restrictions (subjects, claims) that are dropped while the token itself
	// stays required.
	jwtOnly []string
}

func (im *importer) authorizationPolicy(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureAuthzAllow, "selector", "action", "rules", "targetRef", "targetRefs", "provider")
	action := str(s, "action")
	rules := list(s, "rules")
	app := im.selectorApp(o, s)
	sec := im.security()
	labels := mp(mp(s, "selector"), "matchLabels")
	if (action == "" || action == "ALLOW") && len(rules) == 0 && len(labels) == 0 {
		sec.DefaultPolicy = spec.ActionDeny
		return
	}
	if im.selectsOutside(o, s, app, adapters.FeatureAuthzAllow) {
		return
	}
	if action == "DENY" && len(rules) == 1 {
		r0, _ := rules[0].(map[string]any)
		from := list(r0, "from")
		if len(from) == 1 && len(r0) == 1 {
			src := mp(from[0].(map[string]any), "source")
			if np := strs(list(src, "notRequestPrincipals")); len(np) == 1 && strings.HasSuffix(np[0], "*") && len(src) == 1 {
				// "*": any token; "<issuer>/*": a token of that issuer.
				im.required[o.GetNamespace()+"/"+app+"/"+strings.TrimSuffix(strings.TrimSuffix(np[0], "*"), "/")] = true
				return
			}
		}
	}
	if gatewayWorkload(labels) {
		im.warn(o, "spec.selector", adapters.FeatureAuthzAllow, "the policy protects an ingress or egress gateway, which is outside the mesh design: dropped")
		return
	}
	if app == "" && len(labels) > 0 {
		im.warn(o, "spec.selector.matchLabels", adapters.FeatureAuthzAllow,
			fmt.Sprintf("selects workloads by %v, without the %q label that names a design service: dropped", sortedKeys(labels), AppLabel))
		return
	}
	if app == "" {
		im.warn(o, "spec.selector", adapters.FeatureAuthzAllow, "namespace-wide authorization rules have no design equivalent (rules protect one destination service): dropped")
		return
	}
	if action != "ALLOW" && action != "DENY" && action != "" {
		im.warn(o, "spec.action", adapters.FeatureAuthzAllow, action+" policies have no design equivalent: dropped")
		return
	}
	im.service(app, im.workloadNS(o, app))
	allow := action != "DENY"
	rule := spec.AccessRule{Name: o.GetName(), Destination: app, Action: spec.ActionAllow}
	feature := adapters.FeatureAuthzAllow
	if !allow {
		rule.Action, feature = spec.ActionDeny, adapters.FeatureAuthzDeny
	}
	if len(rules) == 0 {
		// An ALLOW policy without rules matches nothing: every request to the workload is denied.
		rule.Action, rule.Sources = spec.ActionDeny, []spec.Source{{Namespace: "*"}}
		sec.Access = append(sec.Access, rule)
		return
	}
	var fromKey string
	kept := 0
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		path := fmt.Sprintf("spec.rules[%d]", i)
		ar := im.authzRule(o, path, app, rm, feature)
		if len(ar.unsupported) > 0 {
			if allow {
				// Dropping the restriction would let more callers in than Istio does: drop the rule
				// instead, so what it allowed is denied (fail closed).
				im.warn(o, path, feature, "rule dropped: the design cannot express "+relPaths(path, ar.unsupported)+
					"; requests only this rule allowed are denied (fail closed): re-add an equivalent access rule by hand")
				continue
			}
			im.warn(o, path, feature, "the design cannot express "+relPaths(path, ar.unsupported)+
				": the deny applies without that restriction (stricter than the source)")
			if len(ar.sources) == 0 {
				ar.sources = []spec.Source{{Namespace: "*"}}
			}
		}
		for _, j := range ar.jwtOnly {
			im.warn(o, path, adapters.FeatureJWT, relPaths(path, []string{j})+": the design requires a valid token of the issuer but cannot restrict its subject or claims; any valid token is accepted (broader than the source)")
		}
		kept++
		key := fmt.Sprint(ar.sources)
		if kept == 1 {
			rule.Sources, fromKey = ar.sources, key
		} else if key != fromKey {
			im.warn(o, path+".from", feature, "rules with different sources are merged: the sources of the first rule apply to every condition")
		}
		c := ar.cond
		if len(c.Methods)+len(c.Paths)+len(c.Ports)+len(c.Headers) > 0 {
			rule.When = append(rule.When, c)
		}
	}
	if kept == 0 {
		rule.Action, rule.Sources, rule.When = spec.ActionDeny, []spec.Source{{Namespace: "*"}}, nil
		im.warn(o, "spec.rules", feature, "no rule of the ALLOW policy could be imported: "+app+" denies every request (fail closed) until an equivalent access rule is added")
	}
	sec.Access = append(sec.Access, rule)
}

// relPaths joins restrictions, writing their field paths relative to the rule's path.
func relPaths(path string, items []string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = strings.TrimPrefix(it, path+".")
	}
	return strings.Join(out, "; ")
}

// authzRule converts one rule (from, to, when) of an AuthorizationPolicy.
func (im *importer) authzRule(o *unstructured.Unstructured, path, app string, rm map[string]any, feature adapters.Feature) authzRule {
	var ar authzRule
	im.warnUnknown(o, path, rm, feature, "from", "to", "when")
	from := list(rm, "from")
	for j, f := range from {
		src := mp(f.(map[string]any), "source")
		spath := fmt.Sprintf("%s.from[%d].source", path, j)
		im.warnUnknown(o, spath, src, feature, "principals", "namespaces", "requestPrincipals",
			"notPrincipals", "notNamespaces", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks", "notRequestPrincipals", "serviceAccounts", "notServiceAccounts")
		for _, k := range []string{"notPrincipals", "notNamespaces", "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks", "notRequestPrincipals", "serviceAccounts", "notServiceAccounts"} {
			if v := strs(list(src, k)); len(v) > 0 {
				ar.unsupported = append(ar.unsupported, fmt.Sprintf("%s.%s %v", spath, k, v))
			}
		}
		var these []spec.Source
		for _, p := range strs(list(src, "principals")) {
			if sc, ok := im.source(p); ok {
				these = append(these, sc)
			} else {
				ar.unsupported = append(ar.unsupported, fmt.Sprintf("%s.principals %q (not <trust-domain>/ns/<ns>/sa/<sa>)", spath, p))
			}
		}
		for _, n := range strs(list(src, "namespaces")) {
			these = append(these, spec.Source{Namespace: n})
		}
		if rps := strs(list(src, "requestPrincipals")); len(rps) > 0 {
			for _, rp := range rps {
				iss, sub, _ := strings.Cut(rp, "/")
				if rp == "*" {
					iss, sub = "", "*"
				}
				im.required[o.GetNamespace()+"/"+app+"/"+iss] = true
				if sub != "*" {
					ar.jwtOnly = append(ar.jwtOnly, fmt.Sprintf("%s.requestPrincipals %q (subject %q)", spath, rp, sub))
				}
			}
			if len(these) == 0 && len(strs(list(src, "principals")))+len(strs(list(src, "namespaces"))) == 0 {
				these = []spec.Source{{Namespace: "*"}}
			}
		}
		ar.sources = append(ar.sources, these...)
	}
	if len(from) == 0 {
		ar.sources = []spec.Source{{Namespace: "*"}}
	}
	for k, t := range list(rm, "to") {
		op := mp(t.(map[string]any), "operation")
		opath := fmt.Sprintf("%s.to[%d].operation", path, k)
		im.warnUnknown(o, opath, op, adapters.FeatureAuthzConditions, "methods", "paths", "ports", "hosts", "notMethods", "notPaths", "notPorts", "notHosts")
		for _, f := range []string{"hosts", "notMethods", "notPaths", "notPorts", "notHosts"} {
			if v := strs(list(op, f)); len(v) > 0 {
				ar.unsupported = append(ar.unsupported, fmt.Sprintf("%s.%s %v", opath, f, v))
			}
		}
		ar.cond.Methods = append(ar.cond.Methods, strs(list(op, "methods"))...)
		ar.cond.Paths = append(ar.cond.Paths, strs(list(op, "paths"))...)
		for _, p := range strs(list(op, "ports")) {
			n, err := strconv.Atoi(p)
			if err != nil {
				ar.unsupported = append(ar.unsupported, fmt.Sprintf("%s.ports %q (not a number)", opath, p))
				continue
			}
			port := int32(n)
			if svc := im.serviceByName(app); svc != nil {
				for _, sp := range svc.Ports {
					if sp.TargetPort == port {
						port = sp.Port
					}
				}
			}
			ar.cond.Ports = append(ar.cond.Ports, port)
		}
	}
	for k, w := range list(rm, "when") {
		wm, _ := w.(map[string]any)
		wpath := fmt.Sprintf("%s.when[%d]", path, k)
		key := str(wm, "key")
		vals := strs(list(wm, "values"))
		switch {
		case strings.HasPrefix(key, "request.auth."):
			ar.jwtOnly = append(ar.jwtOnly, fmt.Sprintf("%s %q", wpath, key))
			if strings.HasPrefix(key, "request.auth.claims[") {
				im.required[o.GetNamespace()+"/"+app+"/"] = true
			}
		case strings.HasPrefix(key, "request.headers[") && len(vals) == 1 && len(list(wm, "notValues")) == 0:
			name := strings.TrimSuffix(strings.TrimPrefix(key, "request.headers["), "]")
			if ar.cond.Headers == nil {
				ar.cond.Headers = map[string]spec.StringMatch{}
			}
			v := vals[0]
			switch {
			case v == "*":
				ar.cond.Headers[name] = spec.StringMatch{Present: true}
			case strings.HasSuffix(v, "*"):
				ar.cond.Headers[name] = spec.StringMatch{Prefix: strings.TrimSuffix(v, "*")}
			default:
				ar.cond.Headers[name] = spec.StringMatch{Exact: v}
			}
		default:
			what := fmt.Sprintf("%s: condition %q", wpath, key)
			if nv := strs(list(wm, "notValues")); len(nv) > 0 {
				what += fmt.Sprintf(" with notValues %v", nv)
			} else if len(vals) > 1 {
				what += fmt.Sprintf(" with several values %v", vals)
			}
			ar.unsupported = append(ar.unsupported, what)
		}
	}
	return ar
}

func (im *importer) requestAuthentication(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureJWT, "selector", "jwtRules")
	app := im.selectorApp(o, s)
	if im.selectsOutside(o, s, app, adapters.FeatureJWT) {
		return
	}
	sec := im.security()
	for i, jr := range list(s, "jwtRules") {
		jm, _ := jr.(map[string]any)
		path := fmt.Sprintf("spec.jwtRules[%d]", i)
		im.warnUnknown(o, path, jm, adapters.FeatureJWT, "issuer", "jwksUri", "jwks", "audiences", "forwardOriginalToken", "fromHeaders")
		name := o.GetName()
		if i > 0 {
			name = fmt.Sprintf("%s-%d", name, i)
		}
		rule := spec.JWTRule{
			Name: name, Issuer: str(jm, "issuer"), JWKSURI: str(jm, "jwksUri"), JWKS: str(jm, "jwks"),
			Audiences: strs(list(jm, "audiences")),
			Optional:  !im.required[o.GetNamespace()+"/"+app+"/"] && !im.required[o.GetNamespace()+"/"+app+"/"+str(jm, "issuer")],
		}
		if v, _ := jm["forwardOriginalToken"].(bool); v {
			rule.ForwardToken = true
		}
		if fh := list(jm, "fromHeaders"); len(fh) > 0 {
			rule.FromHeader = str(fh[0].(map[string]any), "name")
		}
		if app != "" {
			rule.Services = []string{app}
			im.service(app, im.workloadNS(o, app))
		}
		sec.RequestAuthentication = append(sec.RequestAuthentication, rule)
	}
}

// ---- telemetry and extensions ----

func (im *importer) telemetryObj(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureMetrics, "tracing", "accessLogging", "metrics")
	if im.selectorApp(o, s) != "" {
		im.warn(o, "spec.selector", adapters.FeatureMetrics, "per-workload telemetry has no design equivalent: imported as design-wide")
	}
	if im.d.Spec.Telemetry == nil {
		im.d.Spec.Telemetry = &spec.Telemetry{}
	}
	tel := im.d.Spec.Telemetry
	if tr := list(s, "tracing"); len(tr) > 0 && tel.Tracing == nil {
		tm, _ := tr[0].(map[string]any)
		t := &spec.Tracing{Provider: spec.TracingOTLP}
		if ps := list(tm, "providers"); len(ps) > 0 {
			name := str(ps[0].(map[string]any), "name")
			if strings.Contains(strings.ToLower(name), "zipkin") {
				t.Provider = spec.TracingZipkin
			}
			port := "4317"
			if t.Provider == spec.TracingZipkin {
				port = "9411"
			}
			t.Endpoint = name + ":" + port
		}
		if v, ok := num(tm, "randomSamplingPercentage"); ok {
			t.SamplingPercent = &v
		}
		im.warn(o, "spec.tracing[0].providers", adapters.FeatureTracing, "the collector endpoint lives in meshConfig.extensionProviders: the design's endpoint is a placeholder "+strconv.Quote(t.Endpoint)+" derived from the provider name; replace it with the collector's host:port")
		tel.Tracing = t
	}
	if al := list(s, "accessLogging"); len(al) > 0 && tel.AccessLogs == nil {
		am, _ := al[0].(map[string]any)
		disabled, _ := am["disabled"].(bool)
		tel.AccessLogs = &spec.AccessLogs{Enabled: !disabled}
	}
	for _, m := range list(s, "metrics") {
		mm, _ := m.(map[string]any)
		if tel.Metrics == nil {
			on := true
			tel.Metrics = &spec.Metrics{Enabled: &on}
		}
		for _, ov := range list(mm, "overrides") {
			om, _ := ov.(map[string]any)
			if d, _ := om["disabled"].(bool); d && str(mp(om, "match"), "metric") == "ALL_METRICS" {
				off := false
				tel.Metrics = &spec.Metrics{Enabled: &off}
			}
		}
	}
}

var wasmPhaseNames = map[string]spec.ExtensionPhase{"AUTHN": spec.PhaseAuthn, "AUTHZ": spec.PhaseAuthz, "STATS": spec.PhaseStats}

func (im *importer) wasmPlugin(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureWasm, "url", "sha256", "phase", "priority", "pluginConfig", "failStrategy", "selector", "imagePullPolicy")
	app := im.selectorApp(o, s)
	if labels := mp(mp(s, "selector"), "matchLabels"); gatewayWorkload(labels) {
		im.warn(o, "spec.selector", adapters.FeatureWasm, "the plugin runs on an ingress or egress gateway, which is outside the mesh design: dropped")
		return
	} else if app == "" && len(labels) > 0 {
		im.warn(o, "spec.selector.matchLabels", adapters.FeatureWasm,
			fmt.Sprintf("selects workloads by %v, without the %q label that names a design service: dropped (importing it design-wide would run it on every service)", sortedKeys(labels), AppLabel))
		return
	}
	if len(list(s, "targetRefs"))+len(mp(s, "targetRef")) > 0 {
		im.warn(o, "spec.targetRefs", adapters.FeatureWasm, "plugins attached to gateways or services by targetRef are outside the mesh design: dropped")
		return
	}
	name := o.GetName()
	e := spec.Extension{Name: name, Source: str(s, "url"), SHA256: str(s, "sha256"), Phase: wasmPhaseNames[str(s, "phase")], Priority: i32(s, "priority")}
	if str(s, "failStrategy") == "FAIL_OPEN" {
		e.FailurePolicy = spec.FailOpen
	}
	if c := mp(s, "pluginConfig"); c != nil {
		e.Config = c
	}
	if app != "" {
		e.Services = []string{app}
		im.service(app, im.workloadNS(o, app))
	}
	im.d.Spec.Extensions = append(im.d.Spec.Extensions, e)
}
