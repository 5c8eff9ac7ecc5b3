package spec

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Validate checks the design and returns every violation found (nil when it is valid). It expects
// a defaulted design (the loader calls Default first) but treats unset fields as their defaults,
// so designs built in code can be validated directly. Violations carry field paths; positions are
// attached by the loader.
func (d *Design) Validate() []Violation {
	v := &validator{d: d}
	v.run()
	return v.vs
}

// validator collects violations while walking a design.
type validator struct {
	d  *Design
	vs []Violation
	// services and externals index the design's destinations by name.
	services  map[string]*Service
	externals map[string]*ExternalService
}

func (v *validator) add(path, msg, expected, hint string) {
	v.vs = append(v.vs, Violation{Path: path, Message: msg, Expected: expected, Hint: hint})
}

func (v *validator) required(path, what string) {
	v.add(path, what+" is required", "", "")
}

func (v *validator) run() {
	d := v.d
	switch d.APIVersion {
	case APIVersion:
	case "":
		v.add("apiVersion", "apiVersion is required", strconv.Quote(APIVersion), "")
	default:
		v.add("apiVersion", fmt.Sprintf("unknown apiVersion %q", d.APIVersion), strconv.Quote(APIVersion), "")
	}
	switch d.Kind {
	case Kind:
	case "":
		v.add("kind", "kind is required", strconv.Quote(Kind), "")
	default:
		v.add("kind", fmt.Sprintf("unknown kind %q", d.Kind), strconv.Quote(Kind), "")
	}
	v.dnsLabel("metadata.name", d.Metadata.Name, true)
	v.dnsLabel("metadata.namespace", d.Metadata.Namespace, false)
	v.annotations("metadata.annotations", d.Metadata.Annotations)

	v.services = make(map[string]*Service, len(d.Spec.Services))
	v.externals = make(map[string]*ExternalService, len(d.Spec.ExternalServices))
	names := make(map[string]string, len(d.Spec.Services)+len(d.Spec.ExternalServices))
	for i := range d.Spec.Services {
		s := &d.Spec.Services[i]
		p := "spec.services[" + strconv.Itoa(i) + "]"
		v.service(p, s)
		if s.Name == "" {
			continue
		}
		if prev, dup := names[s.Name]; dup {
			v.add(p+".name", fmt.Sprintf("duplicate service name %q (also %s)", s.Name, prev), "names unique among services and external services", "")
			continue
		}
		names[s.Name] = p
		v.services[s.Name] = s
	}
	for i := range d.Spec.ExternalServices {
		e := &d.Spec.ExternalServices[i]
		p := "spec.externalServices[" + strconv.Itoa(i) + "]"
		v.external(p, e)
		if e.Name == "" {
			continue
		}
		if prev, dup := names[e.Name]; dup {
			v.add(p+".name", fmt.Sprintf("duplicate service name %q (also %s)", e.Name, prev), "names unique among services and external services", "")
			continue
		}
		names[e.Name] = p
		v.externals[e.Name] = e
	}
	policies := make(map[string]string, len(d.Spec.Traffic))
	for i := range d.Spec.Traffic {
		tp := &d.Spec.Traffic[i]
		p := "spec.traffic[" + strconv.Itoa(i) + "]"
		if prev, dup := policies[tp.Service]; dup && tp.Service != "" {
			v.add(p+".service", fmt.Sprintf("service %q already has a traffic policy (%s)", tp.Service, prev), "at most one traffic policy per service", "merge the routes into one policy")
		} else {
			policies[tp.Service] = p
		}
		v.traffic(p, tp)
	}
	if s := d.Spec.Security; s != nil {
		v.security("spec.security", s)
	}
	if t := d.Spec.Telemetry; t != nil {
		v.telemetry("spec.telemetry", t)
	}
	extNames := map[string]bool{}
	for i := range d.Spec.Extensions {
		e := &d.Spec.Extensions[i]
		p := "spec.extensions[" + strconv.Itoa(i) + "]"
		if e.Name != "" && extNames[e.Name] {
			v.add(p+".name", fmt.Sprintf("duplicate extension name %q", e.Name), "names unique among extensions", "")
		}
		extNames[e.Name] = true
		v.extension(p, e)
	}
}

// protocolOf returns the protocol of a service or external service (defaults applied), and
// whether the name exists.
func (v *validator) protocolOf(name string) (Protocol, bool) {
	if s, ok := v.services[name]; ok {
		return orDefault(s.Protocol, ProtocolHTTP), true
	}
	if e, ok := v.externals[name]; ok {
		if e.Protocol == "" && e.TLS != nil && e.TLS.Mode == ExternalTLSPassthrough {
			return ProtocolTCP, true
		}
		return orDefault(e.Protocol, ProtocolHTTP), true
	}
	return "", false
}

// portsOf returns the ports of a service or external service.
func (v *validator) portsOf(name string) []Port {
	if s, ok := v.services[name]; ok {
		return s.Ports
	}
	if e, ok := v.externals[name]; ok {
		return e.Ports
	}
	return nil
}

func orDefault[T ~string](v, def T) T {
	if v == "" {
		return def
	}
	return v
}

// serviceRef checks that name is a service of the design (external services too when allowExternal).
func (v *validator) serviceRef(path, name string, allowExternal bool) bool {
	if name == "" {
		v.required(path, "service")
		return false
	}
	if _, ok := v.services[name]; ok {
		return true
	}
	if _, ok := v.externals[name]; ok {
		if allowExternal {
			return true
		}
		v.add(path, fmt.Sprintf("%q is an external service; only services inside the mesh are allowed here", name), "the name of a service in spec.services", "")
		return false
	}
	v.add(path, fmt.Sprintf("unknown service %q", name), "the name of a service in spec.services"+map[bool]string{true: " or spec.externalServices", false: ""}[allowExternal], v.didYouMean(name))
	return false
}

func (v *validator) didYouMean(name string) string {
	cands := make([]string, 0, len(v.services)+len(v.externals))
	for n := range v.services {
		cands = append(cands, n)
	}
	for n := range v.externals {
		cands = append(cands, n)
	}
	sort.Strings(cands)
	if s := suggest(name, cands); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

func (v *validator) service(p string, s *Service) {
	v.dnsLabel(p+".name", s.Name, true)
	v.dnsLabel(p+".namespace", s.Namespace, false)
	v.enum(p+".protocol", string(s.Protocol), protocolNames)
	v.ports(p+".ports", s.Ports)
	if s.Identity != "" && s.Identity != s.Name && !isDNSSubdomain(s.Identity) {
		v.add(p+".identity", fmt.Sprintf("invalid identity %q", s.Identity), "a Kubernetes service account name (DNS-1123 subdomain)", "")
	}
	for _, k := range sortedKeys(s.Selector) {
		v.label(p+".selector", k, s.Selector[k], false)
	}
	vnames := map[string]bool{}
	labelSets := map[string]string{}
	for i, ver := range s.Versions {
		vp := p + ".versions[" + strconv.Itoa(i) + "]"
		v.dnsLabel(vp+".name", ver.Name, true)
		if ver.Name != "" && vnames[ver.Name] {
			v.add(vp+".name", fmt.Sprintf("duplicate version name %q", ver.Name), "version names unique within the service", "")
		}
		vnames[ver.Name] = true
		if len(ver.Labels) == 0 {
			v.add(vp+".labels", "labels are required", "at least one pod label that selects the version", `for example {version: `+orDefault(ver.Name, "v1")+`}`)
			continue
		}
		var key strings.Builder
		for _, k := range sortedKeys(ver.Labels) {
			val := ver.Labels[k]
			if k == "" || val == "" {
				v.add(vp+".labels"+keySegment(k), "label keys and values must not be empty", "a non-empty label key and value", "")
			} else if v.label(vp+".labels", k, val, true) {
				if sv, ok := s.SelectorLabels()[k]; ok && sv != val {
					hint := "versions select a subset of the selector's pods: remove the label from the version or change the service's selector"
					if len(s.Selector) == 0 || (len(s.Selector) == 1 && s.Selector[DefaultSelectorLabel] == s.Name) {
						hint = fmt.Sprintf("the selector defaults to {%s: %s}; if the service's pods are labelled differently, set %s.selector to the labels they all carry", DefaultSelectorLabel, s.Name, p)
					}
					v.add(vp+".labels"+keySegment(k), fmt.Sprintf("label %s=%s contradicts the service's selector %s=%s: the version would select none of the service's pods", k, val, k, sv),
						fmt.Sprintf("the selector's value %q, or a label key the selector does not have", sv), hint)
				}
			}
			key.WriteString(k + "=" + val + ",")
		}
		if prev, dup := labelSets[key.String()]; dup {
			v.add(vp+".labels", fmt.Sprintf("version %q selects the same pods as version %q", ver.Name, prev), "distinct labels for each version", "")
		} else {
			labelSets[key.String()] = ver.Name
		}
	}
	if hc := s.HealthCheck; hc != nil {
		hp := p + ".healthCheck"
		v.enum(hp+".protocol", string(hc.Protocol), healthCheckProtocolNames)
		if hc.Protocol == HealthCheckHTTP || hc.Protocol == "" {
			if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
				v.add(hp+".path", fmt.Sprintf("path %q must start with \"/\"", hc.Path), "an absolute HTTP path", "")
			}
		} else if hc.Path != "" {
			v.add(hp+".path", fmt.Sprintf("path is only used by http health checks, not %s", hc.Protocol), "no path", "remove path")
		}
		if hc.Port != 0 && !hasPort(s.Ports, hc.Port) {
			v.add(hp+".port", fmt.Sprintf("port %d is not a port of service %q", hc.Port, s.Name), "one of the service's ports", "")
		}
		v.positive(hp+".interval", hc.Interval, false)
		v.positive(hp+".timeout", hc.Timeout, false)
		if hc.Interval.Duration > 0 && hc.Timeout.Duration > hc.Interval.Duration {
			v.add(hp+".timeout", fmt.Sprintf("timeout %s is longer than interval %s", hc.Timeout, hc.Interval), "a timeout no longer than the interval", "")
		}
		v.nonNegative(hp+".healthyThreshold", hc.HealthyThreshold)
		v.nonNegative(hp+".unhealthyThreshold", hc.UnhealthyThreshold)
	}
	v.annotations(p+".annotations", s.Annotations)
}

// label checks one Kubernetes label (key and value) of a selector or version at path p (the map's
// path), and reports whether it is valid.
func (v *validator) label(p, k, val string, valueRequired bool) bool {
	ok := true
	if msg := labelKeyError(k); msg != "" {
		hint := ""
		if l := strings.ToLower(strings.ReplaceAll(k, "_", "-")); labelKeyError(l) == "" && l != k {
			hint = fmt.Sprintf("use %q", l)
		}
		if strings.HasSuffix(k, "/") || strings.Count(k, "/") > 1 {
			hint = "a key has at most one \"/\", separating a DNS prefix from the name, as in app.kubernetes.io/name"
		}
		v.add(p+keySegment(k), fmt.Sprintf("invalid label key %q: %s", k, msg), "a Kubernetes label key: an optional DNS subdomain prefix and \"/\", then a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", hint)
		ok = false
	}
	switch {
	case val == "" && valueRequired:
		v.add(p+keySegment(k), "label values must not be empty", "a non-empty label value", "")
		ok = false
	case val != "" && !isLabelName(val):
		hint := ""
		if r := strings.Trim(labelValueRE.ReplaceAllString(val, "-"), "-_."); r != "" && len(r) <= 63 && isLabelName(r) {
			hint = fmt.Sprintf("use %q", r)
		}
		v.add(p+keySegment(k), fmt.Sprintf("invalid label value %q", val), "a Kubernetes label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", hint)
		ok = false
	}
	return ok
}

// labelValueRE matches the characters a label value cannot hold.
var labelValueRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// labelKeyError describes what is wrong with a Kubernetes label key ("" when it is valid).
func labelKeyError(k string) string {
	if k == "" {
		return "the key is empty"
	}
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name = k
	}
	if hasPrefix && (prefix == "" || !isDNSSubdomain(prefix)) {
		return "the prefix before \"/\" must be a DNS subdomain (lower case)"
	}
	if !isLabelName(name) {
		return "the name must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
	}
	return ""
}

// isLabelName reports whether s is a Kubernetes label name (or non-empty label value).
func isLabelName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && (i == 0 || i == len(s)-1 || (c != '-' && c != '_' && c != '.')) {
			return false
		}
	}
	return true
}

func hasPort(ports []Port, port int32) bool {
	if len(ports) == 0 {
		return port == 80
	}
	for _, p := range ports {
		if p.Port == port {
			return true
		}
	}
	return false
}

func (v *validator) ports(p string, ports []Port) {
	nums := map[int32]bool{}
	names := map[string]bool{}
	for i, pt := range ports {
		pp := p + "[" + strconv.Itoa(i) + "]"
		if v.portNumber(pp+".port", pt.Port, true) {
			if nums[pt.Port] {
				v.add(pp+".port", fmt.Sprintf("duplicate port %d", pt.Port), "each port once", "")
			}
			nums[pt.Port] = true
		}
		if pt.TargetPort != 0 && pt.TargetPort != pt.Port {
			v.portNumber(pp+".targetPort", pt.TargetPort, false)
		}
		if pt.Name != "" {
			if !isDNSLabel(pt.Name) {
				v.add(pp+".name", fmt.Sprintf("invalid port name %q", pt.Name), "a DNS-1123 label (lower-case letters, digits and '-')", "")
			} else if names[pt.Name] {
				v.add(pp+".name", fmt.Sprintf("duplicate port name %q", pt.Name), "port names unique within the service", "")
			}
			names[pt.Name] = true
		}
	}
}

func (v *validator) portNumber(p string, port int32, required bool) bool {
	if port == 0 && required {
		v.add(p, "port is missing or 0", "a port number 1-65535", "")
		return false
	}
	if port < 1 || port > 65535 {
		v.add(p, fmt.Sprintf("port %d is out of range", port), "a port number 1-65535", "")
		return false
	}
	return true
}

func (v *validator) external(p string, e *ExternalService) {
	v.dnsLabel(p+".name", e.Name, true)
	if len(e.Hosts) == 0 {
		v.add(p+".hosts", "hosts are required", "at least one DNS name, for example api.example.com", "")
	}
	for i, h := range e.Hosts {
		name := strings.TrimPrefix(h, "*.")
		if !isDNSSubdomain(name) {
			v.add(p+".hosts["+strconv.Itoa(i)+"]", fmt.Sprintf("invalid host %q", h), "a DNS name, optionally starting with \"*.\"", "")
		}
	}
	v.ports(p+".ports", e.Ports)
	v.enum(p+".protocol", string(e.Protocol), protocolNames)
	if t := e.TLS; t != nil {
		v.enum(p+".tls.mode", string(t.Mode), []string{string(ExternalTLSOriginate), string(ExternalTLSPassthrough)})
		if t.Mode == ExternalTLSPassthrough && e.Protocol != "" && e.Protocol.IsL7() {
			v.add(p+".protocol", fmt.Sprintf("protocol %s cannot be used with tls.mode passthrough: the proxy only sees encrypted bytes", e.Protocol), "tcp", "remove protocol or use tls.mode originate")
		}
		if t.SNI != "" && !isDNSSubdomain(t.SNI) {
			v.add(p+".tls.sni", fmt.Sprintf("invalid server name %q", t.SNI), "a DNS name", "")
		}
		for i, san := range t.SubjectAltNames {
			if san == "" {
				v.add(p+".tls.subjectAltNames["+strconv.Itoa(i)+"]", "subject alt name must not be empty", "a DNS name or URI", "")
			}
		}
	}
	v.annotations(p+".annotations", e.Annotations)
}

func (v *validator) security(p string, s *Security) {
	v.enum(p+".mtls", string(s.MTLS), mtlsNames)
	v.enum(p+".defaultPolicy", string(s.DefaultPolicy), actionNames)
	type key struct {
		svc  string
		port int32
	}
	overrides := map[key]bool{}
	for i, o := range s.MTLSOverrides {
		op := p + ".mtlsOverrides[" + strconv.Itoa(i) + "]"
		if v.serviceRef(op+".service", o.Service, false) && o.Port != 0 && !hasPort(v.services[o.Service].Ports, o.Port) {
			v.add(op+".port", fmt.Sprintf("port %d is not a port of service %q", o.Port, o.Service), "one of the service's ports, or 0 for all", "")
		}
		if o.Mode == "" {
			v.add(op+".mode", "mode is required", "one of "+strings.Join(mtlsNames, ", "), "")
		} else {
			v.enum(op+".mode", string(o.Mode), mtlsNames)
		}
		k := key{o.Service, o.Port}
		if overrides[k] {
			v.add(op, fmt.Sprintf("duplicate mTLS override for service %q port %d", o.Service, o.Port), "one override per service and port", "")
		}
		overrides[k] = true
	}
	ruleNames := map[string]bool{}
	for i := range s.Access {
		a := &s.Access[i]
		ap := p + ".access[" + strconv.Itoa(i) + "]"
		v.dnsLabel(ap+".name", a.Name, false)
		if a.Name != "" && ruleNames[a.Name] {
			v.add(ap+".name", fmt.Sprintf("duplicate access rule name %q", a.Name), "names unique among access rules", "")
		}
		ruleNames[a.Name] = true
		v.accessRule(ap, a)
	}
	jwtNames := map[string]bool{}
	for i := range s.RequestAuthentication {
		j := &s.RequestAuthentication[i]
		jp := p + ".requestAuthentication[" + strconv.Itoa(i) + "]"
		v.dnsLabel(jp+".name", j.Name, true)
		if j.Name != "" && jwtNames[j.Name] {
			v.add(jp+".name", fmt.Sprintf("duplicate requestAuthentication name %q", j.Name), "names unique among requestAuthentication rules", "")
		}
		jwtNames[j.Name] = true
		v.jwt(jp, j)
	}
}

func (v *validator) accessRule(p string, a *AccessRule) {
	l7 := true
	if v.serviceRef(p+".destination", a.Destination, false) {
		l7 = v.services[a.Destination].Protocol != ProtocolTCP
	}
	v.enum(p+".action", string(a.Action), actionNames)
	if len(a.Sources) == 0 {
		v.add(p+".sources", "sources are required", "at least one source", `use [{namespace: "*"}] for any caller`)
	}
	for i, src := range a.Sources {
		sp := p + ".sources[" + strconv.Itoa(i) + "]"
		switch {
		case src.Service != "" && (src.Identity != "" || src.Namespace != ""):
			v.add(sp, "service cannot be combined with identity or namespace", "exactly one of service, identity (optionally with namespace) or namespace", "")
		case src.Service == "" && src.Identity == "" && src.Namespace == "":
			v.add(sp, "source is empty", "exactly one of service, identity (optionally with namespace) or namespace", "")
		case src.Service != "" && src.Service != "*":
			v.serviceRef(sp+".service", src.Service, false)
		}
		if src.Namespace != "" && src.Namespace != "*" && !isDNSLabel(src.Namespace) {
			v.add(sp+".namespace", fmt.Sprintf("invalid namespace %q", src.Namespace), `a DNS-1123 label or "*"`, "")
		}
		if src.Identity != "" && !isDNSSubdomain(src.Identity) {
			v.add(sp+".identity", fmt.Sprintf("invalid identity %q", src.Identity), "a service account name (DNS-1123 subdomain)", "")
		}
	}
	for i, c := range a.When {
		cp := p + ".when[" + strconv.Itoa(i) + "]"
		if len(c.Methods)+len(c.Paths)+len(c.Ports)+len(c.Headers) == 0 {
			v.add(cp, "condition is empty", "at least one of methods, paths, ports, headers", "remove the empty condition")
		}
		if !l7 && len(c.Methods)+len(c.Paths)+len(c.Headers) > 0 {
			v.add(cp, fmt.Sprintf("HTTP conditions (methods, paths, headers) need an HTTP or gRPC destination; %q is tcp", a.Destination), "only ports for tcp destinations", "")
		}
		for j, m := range c.Methods {
			v.method(cp+".methods["+strconv.Itoa(j)+"]", m)
		}
		for j, path := range c.Paths {
			pp := cp + ".paths[" + strconv.Itoa(j) + "]"
			if !strings.HasPrefix(path, "/") {
				v.add(pp, fmt.Sprintf("path %q must start with \"/\"", path), `an exact path ("/a") or a prefix ending in "*" ("/a/*")`, "")
			} else if k := strings.IndexByte(path, '*'); k >= 0 && k != len(path)-1 {
				v.add(pp, fmt.Sprintf("path %q has \"*\" before its end", path), `"*" only as the last character`, "")
			}
		}
		for j, port := range c.Ports {
			v.portNumber(cp+".ports["+strconv.Itoa(j)+"]", port, true)
		}
		v.stringMatches(cp+".headers", c.Headers, true)
	}
	v.annotations(p+".annotations", a.Annotations)
}

func (v *validator) jwt(p string, j *JWTRule) {
	for i, s := range j.Services {
		sp := p + ".services[" + strconv.Itoa(i) + "]"
		if v.serviceRef(sp, s, false) && v.services[s].Protocol == ProtocolTCP {
			v.add(sp, fmt.Sprintf("JWT validation needs an HTTP or gRPC service; %q is tcp", s), "an http, http2 or grpc service", "")
		}
	}
	if j.Issuer == "" {
		v.required(p+".issuer", "issuer")
	}
	switch {
	case j.JWKSURI != "" && j.JWKS != "":
		v.add(p+".jwks", "jwks and jwksURI are mutually exclusive", "exactly one of jwksURI and jwks", "remove one of them")
	case j.JWKSURI == "" && j.JWKS == "":
		v.add(p+".jwksURI", "one of jwksURI and jwks is required", "exactly one of jwksURI and jwks", "")
	case j.JWKSURI != "":
		if !strings.HasPrefix(j.JWKSURI, "https://") || len(j.JWKSURI) <= len("https://") {
			v.add(p+".jwksURI", fmt.Sprintf("jwksURI %q is not an https:// URL", j.JWKSURI), "an https:// URL", "")
		}
	default:
		var keys struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal([]byte(j.JWKS), &keys); err != nil || len(keys.Keys) == 0 {
			v.add(p+".jwks", "jwks is not a JSON Web Key Set", `a JSON object {"keys": [...]} with at least one key`, "")
		}
	}
	for i, a := range j.Audiences {
		if a == "" {
			v.add(p+".audiences["+strconv.Itoa(i)+"]", "audience must not be empty", "a non-empty audience", "")
		}
	}
	if j.FromHeader != "" && !isHeaderName(j.FromHeader) {
		v.add(p+".fromHeader", fmt.Sprintf("invalid header name %q", j.FromHeader), "an HTTP header name", "")
	}
}

func (v *validator) telemetry(p string, t *Telemetry) {
	if m := t.Metrics; m != nil {
		v.enum(p+".metrics.provider", m.Provider, []string{"prometheus"})
	}
	if tr := t.Tracing; tr != nil {
		v.enum(p+".tracing.provider", string(tr.Provider), []string{string(TracingOTLP), string(TracingZipkin)})
		if tr.Endpoint == "" {
			v.add(p+".tracing.endpoint", "endpoint is required", `the collector's "host:port"`, "for example otel-collector.observability:4317")
		} else if host, port, err := net.SplitHostPort(tr.Endpoint); err != nil || host == "" || !validPortString(port) {
			v.add(p+".tracing.endpoint", fmt.Sprintf("invalid endpoint %q", tr.Endpoint), `"host:port"`, "for example otel-collector.observability:4317")
		}
		if sp := tr.SamplingPercent; sp != nil && (*sp < 0 || *sp > 100) {
			v.add(p+".tracing.samplingPercent", fmt.Sprintf("samplingPercent %g is out of range", *sp), "a number from 0 to 100", "")
		}
	}
	if al := t.AccessLogs; al != nil {
		v.enum(p+".accessLogs.format", string(al.Format), []string{string(AccessLogText), string(AccessLogJSON)})
	}
}

func validPortString(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

var sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (v *validator) extension(p string, e *Extension) {
	v.dnsLabel(p+".name", e.Name, true)
	switch {
	case e.Source == "":
		v.add(p+".source", "source is required", `"oci://registry/repo:tag" or an "https://" URL`, "")
	case strings.HasPrefix(e.Source, "oci://") && len(e.Source) > len("oci://"):
	case strings.HasPrefix(e.Source, "https://") && len(e.Source) > len("https://"):
	default:
		v.add(p+".source", fmt.Sprintf("unsupported source %q", e.Source), `"oci://registry/repo:tag" or an "https://" URL`, "")
	}
	switch {
	case e.SHA256 == "":
		v.add(p+".sha256", "sha256 is required", "the module's SHA-256 digest as 64 hex characters", "compute it with sha256sum")
	case !sha256RE.MatchString(e.SHA256):
		v.add(p+".sha256", fmt.Sprintf("sha256 %q is not 64 hex characters", e.SHA256), "the module's SHA-256 digest as 64 hex characters", "drop any \"sha256:\" prefix")
	}
	v.enum(p+".phase", string(e.Phase), []string{string(PhaseAuthn), string(PhaseAuthz), string(PhaseStats), string(PhaseUnspecified)})
	v.enum(p+".failurePolicy", string(e.FailurePolicy), []string{string(FailClosed), string(FailOpen)})
	for i, s := range e.Services {
		sp := p + ".services[" + strconv.Itoa(i) + "]"
		if v.serviceRef(sp, s, false) && v.services[s].Protocol == ProtocolTCP {
			v.add(sp, fmt.Sprintf("extensions need an HTTP or gRPC service; %q is tcp", s), "an http, http2 or grpc service", "")
		}
	}
}

var (
	protocolNames            = []string{string(ProtocolHTTP), string(ProtocolHTTP2), string(ProtocolGRPC), string(ProtocolTCP)}
	healthCheckProtocolNames = []string{string(HealthCheckHTTP), string(HealthCheckGRPC), string(HealthCheckTCP)}
	mtlsNames                = []string{string(MTLSStrict), string(MTLSPermissive), string(MTLSDisabled)}
	actionNames              = []string{string(ActionAllow), string(ActionDeny)}
)

// enum checks that value, when set, is one of allowed.
func (v *validator) enum(p, value string, allowed []string) {
	if value == "" {
		return
	}
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	hint := ""
	if s := suggest(value, allowed); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	v.add(p, fmt.Sprintf("unknown value %q", value), "one of "+strings.Join(allowed, ", "), hint)
}

func (v *validator) dnsLabel(p, s string, required bool) {
	if s == "" {
		if required {
			v.add(p, "name is required", "a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)", "")
		}
		return
	}
	if !isDNSLabel(s) {
		hint := ""
		if l := strings.ToLower(strings.ReplaceAll(s, "_", "-")); isDNSLabel(l) {
			hint = fmt.Sprintf("use %q", l)
		}
		v.add(p, fmt.Sprintf("invalid name %q", s), "a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters)", hint)
	}
}

// annotations checks the ignore annotation's syntax: one "RULE-ID: reason" per line.
func (v *validator) annotations(p string, a map[string]string) {
	val, ok := a[IgnoreAnnotation]
	if !ok {
		return
	}
	ap := p + keySegment(IgnoreAnnotation)
	lines := 0
	for _, line := range strings.Split(val, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lines++
		id, reason, found := strings.Cut(line, ":")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		if !found || !ruleIDRE.MatchString(id) || reason == "" {
			v.add(ap, fmt.Sprintf("invalid ignore line %q", line), `one "RULE-ID: reason" per line`, "a reason is required for every suppressed rule")
		}
	}
	if lines == 0 {
		v.add(ap, "ignore annotation is empty", `one "RULE-ID: reason" per line`, "")
	}
}

var ruleIDRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]*$`)

func (v *validator) nonNegative(p string, n int32) {
	if n < 0 {
		v.add(p, fmt.Sprintf("value %d is negative", n), "zero or a positive integer", "")
	}
}

// positive checks a duration: never negative, and non-zero when required.
func (v *validator) positive(p string, d Duration, required bool) {
	switch {
	case d.Duration < 0:
		v.add(p, fmt.Sprintf("duration %s is negative", d), "a positive duration such as \"500ms\"", "")
	case d.Duration == 0 && required:
		v.add(p, "duration is required and must be positive", "a positive duration such as \"500ms\"", "")
	}
}

func (v *validator) percent(p string, f float64) {
	if f <= 0 || f > 100 {
		v.add(p, fmt.Sprintf("percent %g is out of range", f), "a number greater than 0 and at most 100", "")
	}
}

func (v *validator) method(p, m string) {
	if m == "" || strings.ToUpper(m) != m || !isToken(m) {
		hint := ""
		if isToken(m) {
			hint = fmt.Sprintf("use %q", strings.ToUpper(m))
		}
		v.add(p, fmt.Sprintf("invalid method %q", m), "an upper-case HTTP method such as GET or POST", hint)
	}
}

func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

func isDNSSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !isDNSLabel(l) {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (method or header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

func isHeaderName(s string) bool { return isToken(s) }
