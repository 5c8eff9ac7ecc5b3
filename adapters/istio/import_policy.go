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

func (im *importer) peerAuthentication(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureMTLSStrict, "selector", "mtls", "portLevelMtls")
	mode := str(mp(s, "mtls"), "mode")
	app := selectorApp(s)
	sec := im.security()
	if app == "" {
		if m, ok := peerModes[mode]; ok {
			if sec.MTLS != "" && sec.MTLS != m {
				im.warn(o, "spec.mtls.mode", adapters.FeatureMTLSStrict, "namespaces have different mTLS modes: the design has one mesh-wide mode, "+string(sec.MTLS)+" is kept")
			} else {
				sec.MTLS = m
			}
		}
		return
	}
	svc := im.service(app, o.GetNamespace())
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
	// Prefer the service whose identity or name is the service account, then the longest
	// service name the account starts or ends with ("bookinfo-reviews", "payments-sa").
	var best *spec.Service
	for _, k := range im.order {
		svc := im.services[k]
		if svc.Namespace != ns {
			continue
		}
		if sa == svc.Identity || sa == svc.Name {
			best = svc
			break
		}
		if strings.HasSuffix(sa, "-"+svc.Name) || strings.HasPrefix(sa, svc.Name+"-") {
			if best == nil || len(svc.Name) > len(best.Name) {
				best = svc
			}
		}
	}
	if best != nil {
		best.Identity = sa
		return spec.Source{Service: best.Name}, true
	}
	src := spec.Source{Identity: sa}
	if ns != im.d.Metadata.Namespace {
		src.Namespace = ns
	}
	return src, true
}

func (im *importer) authorizationPolicy(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureAuthzAllow, "selector", "action", "rules")
	action := str(s, "action")
	rules := list(s, "rules")
	app := selectorApp(s)
	sec := im.security()
	if (action == "" || action == "ALLOW") && len(rules) == 0 && app == "" {
		sec.DefaultPolicy = spec.ActionDeny
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
	if app == "" {
		im.warn(o, "spec.selector", adapters.FeatureAuthzAllow, "namespace-wide authorization rules have no design equivalent (rules protect one destination service): dropped")
		return
	}
	if action != "ALLOW" && action != "DENY" && action != "" {
		im.warn(o, "spec.action", adapters.FeatureAuthzAllow, action+" policies have no design equivalent: dropped")
		return
	}
	im.service(app, o.GetNamespace())
	rule := spec.AccessRule{Name: o.GetName(), Destination: app, Action: spec.ActionAllow}
	feature := adapters.FeatureAuthzAllow
	if action == "DENY" {
		rule.Action, feature = spec.ActionDeny, adapters.FeatureAuthzDeny
	}
	var fromKey string
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		path := fmt.Sprintf("spec.rules[%d]", i)
		im.warnUnknown(o, path, rm, feature, "from", "to", "when")
		var sources []spec.Source
		for j, f := range list(rm, "from") {
			src := mp(f.(map[string]any), "source")
			im.warnUnknown(o, fmt.Sprintf("%s.from[%d].source", path, j), src, feature, "principals", "namespaces")
			for _, p := range strs(list(src, "principals")) {
				if sc, ok := im.source(p); ok {
					sources = append(sources, sc)
				} else {
					im.warn(o, fmt.Sprintf("%s.from[%d].source.principals", path, j), feature, "principal "+strconv.Quote(p)+" is not <trust-domain>/ns/<ns>/sa/<sa>: dropped")
				}
			}
			for _, n := range strs(list(src, "namespaces")) {
				sources = append(sources, spec.Source{Namespace: n})
			}
		}
		if len(list(rm, "from")) == 0 {
			sources = []spec.Source{{Namespace: "*"}}
		}
		key := fmt.Sprint(sources)
		if i == 0 {
			rule.Sources, fromKey = sources, key
		} else if key != fromKey {
			im.warn(o, path+".from", feature, "rules with different sources are merged: the sources of rules[0] apply to every condition")
		}
		cond := spec.AccessCondition{}
		for _, t := range list(rm, "to") {
			op := mp(t.(map[string]any), "operation")
			im.warnUnknown(o, path+".to[].operation", op, adapters.FeatureAuthzConditions, "methods", "paths", "ports")
			cond.Methods = append(cond.Methods, strs(list(op, "methods"))...)
			cond.Paths = append(cond.Paths, strs(list(op, "paths"))...)
			for _, p := range strs(list(op, "ports")) {
				if n, err := strconv.Atoi(p); err == nil {
					port := int32(n)
					if svc := im.serviceByName(app); svc != nil {
						for _, sp := range svc.Ports {
							if sp.TargetPort == port {
								port = sp.Port
							}
						}
					}
					cond.Ports = append(cond.Ports, port)
				}
			}
		}
		for _, w := range list(rm, "when") {
			wm, _ := w.(map[string]any)
			key := str(wm, "key")
			vals := strs(list(wm, "values"))
			if !strings.HasPrefix(key, "request.headers[") || len(vals) != 1 {
				im.warn(o, path+".when", adapters.FeatureAuthzConditions, "condition "+strconv.Quote(key)+" has no design equivalent: dropped")
				continue
			}
			name := strings.TrimSuffix(strings.TrimPrefix(key, "request.headers["), "]")
			if cond.Headers == nil {
				cond.Headers = map[string]spec.StringMatch{}
			}
			v := vals[0]
			switch {
			case v == "*":
				cond.Headers[name] = spec.StringMatch{Present: true}
			case strings.HasSuffix(v, "*"):
				cond.Headers[name] = spec.StringMatch{Prefix: strings.TrimSuffix(v, "*")}
			default:
				cond.Headers[name] = spec.StringMatch{Exact: v}
			}
		}
		if len(cond.Methods)+len(cond.Paths)+len(cond.Ports)+len(cond.Headers) > 0 {
			rule.When = append(rule.When, cond)
		}
	}
	sec.Access = append(sec.Access, rule)
}

func (im *importer) requestAuthentication(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureJWT, "selector", "jwtRules")
	app := selectorApp(s)
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
			im.service(app, o.GetNamespace())
		}
		sec.RequestAuthentication = append(sec.RequestAuthentication, rule)
	}
}

// ---- telemetry and extensions ----

func (im *importer) telemetryObj(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureMetrics, "tracing", "accessLogging", "metrics")
	if selectorApp(s) != "" {
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
	app := selectorApp(s)
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
		im.service(app, o.GetNamespace())
	}
	im.d.Spec.Extensions = append(im.d.Spec.Extensions, e)
}
