package istio

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// importer holds the state of one import.
type importer struct {
	opts     adapters.ImportOptions
	d        *spec.Design
	warnings []adapters.Warning
	// services by namespace/name, in discovery order.
	services map[string]*spec.Service
	order    []string
	external map[string]*spec.ExternalService // by ServiceEntry name
	extHosts map[string]string                // host -> external service name
	traffic  map[string]*spec.TrafficPolicy   // by service name
	tOrder   []string
	budgets  map[string]*spec.RetryBudget
	required map[string]bool // namespace/selector-app of RequestAuthentications that require a token
}

// Import builds a design from Istio objects (and Kubernetes Services, which give ports and
// protocols): VirtualService, DestinationRule, ServiceEntry, PeerAuthentication,
// AuthorizationPolicy, RequestAuthentication, Telemetry, WasmPlugin and local-rate-limit
// EnvoyFilters. Fields without a design equivalent are reported as warnings whose path names the
// object and field ("VirtualService bookinfo/reviews: spec.http[0].corsPolicy").
func (a *Adapter) Import(ctx context.Context, objs []*unstructured.Unstructured, opts adapters.ImportOptions) (*spec.Design, []adapters.Warning, error) {
	im := &importer{
		opts:     opts,
		services: map[string]*spec.Service{},
		external: map[string]*spec.ExternalService{},
		extHosts: map[string]string{},
		traffic:  map[string]*spec.TrafficPolicy{},
		budgets:  map[string]*spec.RetryBudget{},
		required: map[string]bool{},
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	adapters.SortObjects(sorted)
	im.d = &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind}
	im.metadata(sorted)
	// Order matters: Services and ServiceEntries define names; DestinationRules define versions;
	// then routes, security, telemetry.
	passes := [][]string{
		{"Service", "ServiceEntry"},
		{"DestinationRule"},
		{"VirtualService", "EnvoyFilter"},
		{"PeerAuthentication", "AuthorizationPolicy"},
		{"RequestAuthentication", "Telemetry", "WasmPlugin"},
	}
	// Services selected by policies are known before principals are resolved to services.
	for _, o := range sorted {
		if im.known(o) && o.GetKind() != "Service" {
			s, _, _ := unstructured.NestedMap(o.Object, "spec")
			if app := selectorApp(s); app != "" {
				im.service(app, o.GetNamespace())
			}
		}
	}
	handled := map[string]bool{}
	for _, kinds := range passes {
		for _, o := range sorted {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			for _, k := range kinds {
				if o.GetKind() == k && im.known(o) {
					handled[ref(o)] = true
					im.object(o)
				}
			}
		}
	}
	for _, o := range sorted {
		if !handled[ref(o)] {
			im.warn(o, "", adapters.Feature(""), "kind not imported: "+o.GetAPIVersion()+" "+o.GetKind())
		}
	}
	im.finish()
	im.d.Default()
	adapters.SortWarnings(im.warnings)
	return im.d, im.warnings, nil
}

func ref(o *unstructured.Unstructured) string {
	return o.GetAPIVersion() + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

func (im *importer) known(o *unstructured.Unstructured) bool {
	g := o.GroupVersionKind().Group
	switch o.GetKind() {
	case "Service":
		return g == ""
	case "VirtualService", "DestinationRule", "ServiceEntry", "EnvoyFilter":
		return g == "networking.istio.io"
	case "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication":
		return g == "security.istio.io"
	case "Telemetry":
		return g == "telemetry.istio.io"
	case "WasmPlugin":
		return g == "extensions.istio.io"
	}
	return false
}

func (im *importer) warn(o *unstructured.Unstructured, field string, f adapters.Feature, lost string) {
	path := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	if field != "" {
		path += ": " + field
	}
	im.warnings = append(im.warnings, adapters.Warning{Path: path, Mesh: Name, Feature: f, Lost: lost, Severity: adapters.SeverityWarning})
}

// metadata names the design: options first, then the trellis.dev/design label, then the most
// common namespace. Labels shared by every object (other than Trellis's own) become the design's.
func (im *importer) metadata(objs []*unstructured.Unstructured) {
	counts := map[string]int{}
	designName := ""
	var common map[string]string
	initialized := false
	for _, o := range objs {
		if o.GetNamespace() != "" {
			counts[o.GetNamespace()]++
		}
		if n := o.GetLabels()[adapters.LabelDesign]; n != "" && designName == "" {
			designName = n
		}
		if o.GetLabels()[adapters.LabelManagedBy] != adapters.ManagedByValue {
			continue
		}
		if !initialized {
			initialized = true
			common = map[string]string{}
			for k, v := range o.GetLabels() {
				common[k] = v
			}
			continue
		}
		for k, v := range common {
			if o.GetLabels()[k] != v {
				delete(common, k)
			}
		}
	}
	ns := im.opts.Namespace
	if ns == "" {
		best := 0
		for _, n := range sortedKeys(counts) {
			if counts[n] > best {
				ns, best = n, counts[n]
			}
		}
	}
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	name := im.opts.Name
	if name == "" {
		name = designName
	}
	if name == "" {
		name = ns
	}
	im.d.Metadata = spec.Metadata{Name: name, Namespace: ns}
	delete(common, adapters.LabelManagedBy)
	delete(common, adapters.LabelDesign)
	if len(common) > 0 {
		im.d.Metadata.Labels = common
	}
}

// service returns the design service for name in namespace, creating it on first sight.
func (im *importer) service(name, ns string) *spec.Service {
	key := ns + "/" + name
	if s, ok := im.services[key]; ok {
		return s
	}
	s := &spec.Service{Name: name, Namespace: ns}
	im.services[key] = s
	im.order = append(im.order, key)
	return s
}

// serviceByName finds a known service by name (any namespace).
func (im *importer) serviceByName(name string) *spec.Service {
	for _, k := range im.order {
		if s := im.services[k]; s.Name == name {
			return s
		}
	}
	return nil
}

// resolveHost maps a host to (design name, namespace, internal). Hosts of ServiceEntries map to
// the external service; "a", "a.ns", "a.ns.svc", "a.ns.svc.cluster.local" to service a.
func (im *importer) resolveHost(host, ns string) (string, string, bool) {
	if ext, ok := im.extHosts[host]; ok {
		return ext, ns, false
	}
	parts := strings.Split(host, ".")
	switch {
	case len(parts) == 1:
		return host, ns, true
	case len(parts) == 2 || (len(parts) >= 3 && parts[2] == "svc"):
		return parts[0], parts[1], true
	}
	return host, ns, false
}

func (im *importer) policy(service string) *spec.TrafficPolicy {
	if tp, ok := im.traffic[service]; ok {
		return tp
	}
	tp := &spec.TrafficPolicy{Service: service}
	im.traffic[service] = tp
	im.tOrder = append(im.tOrder, service)
	return tp
}

func (im *importer) object(o *unstructured.Unstructured) {
	s, _, _ := unstructured.NestedMap(o.Object, "spec")
	if s == nil {
		s = map[string]any{}
	}
	switch o.GetKind() {
	case "Service":
		im.kubeService(o, s)
	case "ServiceEntry":
		im.serviceEntry(o, s)
	case "DestinationRule":
		im.destinationRule(o, s)
	case "VirtualService":
		im.virtualService(o, s)
	case "EnvoyFilter":
		im.envoyFilter(o, s)
	case "PeerAuthentication":
		im.peerAuthentication(o, s)
	case "AuthorizationPolicy":
		im.authorizationPolicy(o, s)
	case "RequestAuthentication":
		im.requestAuthentication(o, s)
	case "Telemetry":
		im.telemetryObj(o, s)
	case "WasmPlugin":
		im.wasmPlugin(o, s)
	}
}

// ---- small accessors on unstructured values ----

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func mp(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

func list(m map[string]any, k string) []any {
	v, _ := m[k].([]any)
	return v
}

func num(m map[string]any, k string) (float64, bool) {
	switch v := m[k].(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	}
	return 0, false
}

func i32(m map[string]any, k string) int32 {
	f, _ := num(m, k)
	return int32(f)
}

func strs(v []any) []string {
	out := make([]string, 0, len(v))
	for _, e := range v {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func dur(o *unstructured.Unstructured, im *importer, field, v string) spec.Duration {
	if v == "" {
		return spec.Duration{}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		im.warn(o, field, "", fmt.Sprintf("cannot parse duration %q: dropped", v))
		return spec.Duration{}
	}
	return spec.Dur(d)
}

func percentage(m map[string]any) float64 {
	if p := mp(m, "percentage"); p != nil {
		v, _ := num(p, "value")
		return v
	}
	if v, ok := num(m, "percent"); ok {
		return v
	}
	return 100
}

// warnUnknown reports every key of m outside known as lost.
func (im *importer) warnUnknown(o *unstructured.Unstructured, path string, m map[string]any, f adapters.Feature, known ...string) {
	ok := map[string]bool{}
	for _, k := range known {
		ok[k] = true
	}
	for _, k := range sortedKeys(m) {
		if !ok[k] {
			p := k
			if path != "" {
				p = path + "." + k
			}
			im.warn(o, p, f, "no design equivalent: dropped")
		}
	}
}

func selectorApp(s map[string]any) string {
	return str(mp(mp(s, "selector"), "matchLabels"), AppLabel)
}

// ---- Kubernetes Services and ServiceEntries ----

func (im *importer) kubeService(o *unstructured.Unstructured, s map[string]any) {
	svc := im.service(o.GetName(), o.GetNamespace())
	for _, p := range list(s, "ports") {
		pm, _ := p.(map[string]any)
		port := spec.Port{Port: i32(pm, "port"), Name: str(pm, "name")}
		if tp := i32(pm, "targetPort"); tp != 0 {
			port.TargetPort = tp
		}
		svc.Ports = append(svc.Ports, port)
		if svc.Protocol == "" {
			svc.Protocol = protocolOf(str(pm, "appProtocol"), port.Name)
		}
	}
}

// protocolOf derives a protocol from a Kubernetes appProtocol or an Istio port-name prefix.
func protocolOf(appProtocol, portName string) spec.Protocol {
	for _, v := range []string{strings.ToLower(appProtocol), strings.ToLower(strings.SplitN(portName, "-", 2)[0])} {
		switch v {
		case "http", "https":
			return spec.ProtocolHTTP
		case "http2", "h2c", "kubernetes.io/h2c":
			return spec.ProtocolHTTP2
		case "grpc", "grpc-web":
			return spec.ProtocolGRPC
		case "tcp", "tls", "mongo", "mysql", "redis":
			return spec.ProtocolTCP
		}
	}
	return ""
}

func (im *importer) serviceEntry(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, adapters.FeatureExternalServices, "hosts", "ports", "location", "resolution", "exportTo")
	if str(s, "location") == "MESH_INTERNAL" {
		im.warn(o, "spec.location", adapters.FeatureExternalServices, "MESH_INTERNAL service entries are imported as external services")
	}
	es := &spec.ExternalService{Name: o.GetName(), Hosts: strs(list(s, "hosts"))}
	for _, p := range list(s, "ports") {
		pm, _ := p.(map[string]any)
		port := spec.Port{Port: i32(pm, "number"), Name: str(pm, "name"), TargetPort: i32(pm, "targetPort")}
		es.Ports = append(es.Ports, port)
		switch strings.ToUpper(str(pm, "protocol")) {
		case "TLS", "HTTPS":
			es.TLS = &spec.ExternalTLS{Mode: spec.ExternalTLSPassthrough}
			es.Protocol = spec.ProtocolTCP
		case "GRPC":
			es.Protocol = spec.ProtocolGRPC
		case "HTTP2":
			es.Protocol = spec.ProtocolHTTP2
		case "TCP", "MONGO", "MYSQL", "REDIS":
			es.Protocol = spec.ProtocolTCP
		default:
			es.Protocol = spec.ProtocolHTTP
		}
	}
	im.external[es.Name] = es
	for _, h := range es.Hosts {
		im.extHosts[h] = es.Name
	}
}

// ---- DestinationRule ----

func (im *importer) destinationRule(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, "", "host", "subsets", "trafficPolicy", "exportTo", "workloadSelector")
	name, ns, internal := im.resolveHost(str(s, "host"), o.GetNamespace())
	if internal {
		svc := im.service(name, ns)
		for _, sub := range list(s, "subsets") {
			sm, _ := sub.(map[string]any)
			v := spec.Version{Name: str(sm, "name"), Labels: map[string]string{}}
			for k, val := range mp(sm, "labels") {
				v.Labels[k], _ = val.(string)
			}
			svc.Versions = append(svc.Versions, v)
			if mp(sm, "trafficPolicy") != nil {
				im.warn(o, "spec.subsets[].trafficPolicy", adapters.FeatureConnectionLimits, "per-subset traffic policies have no design equivalent: dropped")
			}
		}
	} else if _, ok := im.external[name]; !ok {
		im.warn(o, "spec.host", adapters.FeatureExternalServices, "host "+strconv.Quote(str(s, "host"))+" is neither a mesh service nor a ServiceEntry host: dropped")
		return
	}
	tp := mp(s, "trafficPolicy")
	if tp == nil {
		return
	}
	im.warnUnknown(o, "spec.trafficPolicy", tp, "", "connectionPool", "outlierDetection", "loadBalancer", "tls", "portLevelSettings", "retryBudget")
	res := &spec.Resilience{}
	if cp := mp(tp, "connectionPool"); cp != nil {
		c := &spec.ConnectionLimits{}
		tcp, http := mp(cp, "tcp"), mp(cp, "http")
		c.Max = i32(tcp, "maxConnections")
		c.ConnectTimeout = dur(o, im, "spec.trafficPolicy.connectionPool.tcp.connectTimeout", str(tcp, "connectTimeout"))
		c.MaxPendingRequests = i32(http, "http1MaxPendingRequests")
		c.MaxRequests = i32(http, "http2MaxRequests")
		c.MaxRequestsPerConnection = i32(http, "maxRequestsPerConnection")
		im.warnUnknown(o, "spec.trafficPolicy.connectionPool.tcp", tcp, adapters.FeatureConnectionLimits, "maxConnections", "connectTimeout")
		im.warnUnknown(o, "spec.trafficPolicy.connectionPool.http", http, adapters.FeatureConnectionLimits, "http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection")
		res.Connections = c
	}
	if od := mp(tp, "outlierDetection"); od != nil {
		im.warnUnknown(o, "spec.trafficPolicy.outlierDetection", od, adapters.FeatureOutlierDetection, "consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent")
		res.OutlierDetection = &spec.OutlierDetection{
			Consecutive5xx:     i32(od, "consecutive5xxErrors"),
			Interval:           dur(o, im, "spec.trafficPolicy.outlierDetection.interval", str(od, "interval")),
			BaseEjectionTime:   dur(o, im, "spec.trafficPolicy.outlierDetection.baseEjectionTime", str(od, "baseEjectionTime")),
			MaxEjectionPercent: i32(od, "maxEjectionPercent"),
		}
	}
	if lb := mp(tp, "loadBalancer"); lb != nil {
		l := &spec.LoadBalancer{}
		switch str(lb, "simple") {
		case "LEAST_REQUEST", "LEAST_CONN":
			l.Algorithm = spec.LBLeastRequest
		case "RANDOM":
			l.Algorithm = spec.LBRandom
		case "ROUND_ROBIN", "":
			l.Algorithm = spec.LBRoundRobin
		default:
			im.warn(o, "spec.trafficPolicy.loadBalancer.simple", adapters.FeatureLoadBalancer, str(lb, "simple")+" has no design equivalent: round robin is used")
			l.Algorithm = spec.LBRoundRobin
		}
		if ch := mp(lb, "consistentHash"); ch != nil {
			h := &spec.ConsistentHash{Header: str(ch, "httpHeaderName"), QueryParam: str(ch, "httpQueryParameterName")}
			if v, _ := ch["useSourceIp"].(bool); v {
				h.SourceIP = true
			}
			if c := mp(ch, "httpCookie"); c != nil {
				h.Cookie = &spec.HashCookie{Name: str(c, "name"), Path: str(c, "path"), TTL: dur(o, im, "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl", str(c, "ttl"))}
			}
			l.Algorithm, l.ConsistentHash = spec.LBConsistentHash, h
		}
		res.LoadBalancer = l
	}
	if rb := mp(tp, "retryBudget"); rb != nil {
		p, _ := num(rb, "percent")
		im.budgets[name] = &spec.RetryBudget{Percent: p, MinRetryConcurrency: i32(rb, "minRetryConcurrency")}
	}
	if tls := mp(tp, "tls"); tls != nil {
		switch str(tls, "mode") {
		case "ISTIO_MUTUAL", "DISABLE":
			// Client side of mTLS: follows PeerAuthentication, which the design expresses.
		case "SIMPLE":
			if es, ok := im.external[name]; ok {
				es.TLS = &spec.ExternalTLS{
					Mode: spec.ExternalTLSOriginate, SNI: str(tls, "sni"), CACertificates: str(tls, "caCertificates"),
					SubjectAltNames: strs(list(tls, "subjectAltNames")),
				}
				if v, _ := tls["insecureSkipVerify"].(bool); v {
					es.TLS.InsecureSkipVerify = true
				}
				if es.Protocol == spec.ProtocolTCP {
					es.Protocol = spec.ProtocolHTTP
				}
			} else {
				im.warn(o, "spec.trafficPolicy.tls", adapters.FeatureExternalServices, "TLS origination to a mesh service has no design equivalent: dropped")
			}
		default:
			im.warn(o, "spec.trafficPolicy.tls.mode", adapters.FeatureExternalServices, str(tls, "mode")+" client TLS has no design equivalent: dropped")
		}
	}
	if res.Connections != nil || res.OutlierDetection != nil || res.LoadBalancer != nil {
		im.policy(name).Resilience = res
	}
}

// ---- VirtualService ----

var prefixRewriteRe = regexp.MustCompile(`^\^\(\?:(.*)\)(\(/\|\$\)|/\?)$`)

func (im *importer) virtualService(o *unstructured.Unstructured, s map[string]any) {
	im.warnUnknown(o, "spec", s, "", "hosts", "http", "tcp", "exportTo", "gateways", "tls")
	if g := strs(list(s, "gateways")); len(g) > 0 && !(len(g) == 1 && g[0] == "mesh") {
		im.warn(o, "spec.gateways", adapters.FeatureWeightedSplit, "ingress gateway routing is outside the design: the routes are imported as mesh routes")
	}
	if len(list(s, "tls")) > 0 {
		im.warn(o, "spec.tls", adapters.FeatureWeightedSplit, "TLS (SNI) routes have no design equivalent: dropped")
	}
	hosts := strs(list(s, "hosts"))
	if len(hosts) == 0 {
		im.warn(o, "spec.hosts", "", "no hosts: dropped")
		return
	}
	name, ns, internal := im.resolveHost(hosts[0], o.GetNamespace())
	if internal {
		im.service(name, ns)
	} else if _, ok := im.external[name]; !ok {
		im.warn(o, "spec.hosts", "", "host "+strconv.Quote(hosts[0])+" is neither a mesh service nor a ServiceEntry host: dropped")
		return
	}
	if len(hosts) > 1 && internal {
		im.warn(o, "spec.hosts", "", "only the first host is imported; a design traffic policy targets one service")
	}
	tp := im.policy(name)
	https := list(s, "http")
	for i, h := range https {
		hm, _ := h.(map[string]any)
		path := fmt.Sprintf("spec.http[%d]", i)
		if i == len(https)-1 && i > 0 && str(hm, "name") == FallthroughRoute && len(list(hm, "match")) == 0 {
			continue // the catch-all the translator appends
		}
		tp.Routes = append(tp.Routes, im.httpRoute(o, path, name, ns, hm))
	}
	for i, t := range list(s, "tcp") {
		tm, _ := t.(map[string]any)
		path := fmt.Sprintf("spec.tcp[%d]", i)
		im.warnUnknown(o, path, tm, adapters.FeatureWeightedSplit, "route", "match")
		r := spec.Route{Name: fmt.Sprintf("route-%d", len(tp.Routes))}
		if len(tp.Routes) == 0 {
			r.Name = "default"
		}
		r.Backends = im.backends(o, path, name, ns, list(tm, "route"))
		tp.Routes = append(tp.Routes, r)
		if sv := im.serviceByName(name); sv != nil && internal {
			sv.Protocol = spec.ProtocolTCP
		}
	}
}

func (im *importer) backends(o *unstructured.Unstructured, path, service, ns string, routes []any) []spec.Backend {
	var out []spec.Backend
	for j, r := range routes {
		rm, _ := r.(map[string]any)
		dest := mp(rm, "destination")
		bname, _, _ := im.resolveHost(str(dest, "host"), ns)
		b := spec.Backend{Service: bname, Version: str(dest, "subset"), Port: i32(mp(dest, "port"), "number")}
		if b.Service == service {
			b.Service = ""
		}
		if w, ok := num(rm, "weight"); ok {
			b.Weight = int32(w)
		} else if len(routes) == 1 {
			b.Weight = 0
		}
		if mp(rm, "headers") != nil {
			im.warn(o, fmt.Sprintf("%s.route[%d].headers", path, j), adapters.FeatureHeaderOps, "per-destination header operations have no design equivalent: dropped")
		}
		out = append(out, b)
	}
	return out
}

func (im *importer) httpRoute(o *unstructured.Unstructured, path, service, ns string, h map[string]any) spec.Route {
	im.warnUnknown(o, path, h, "", "name", "match", "route", "timeout", "retries", "fault", "mirror", "mirrors", "mirrorPercentage", "headers", "rewrite")
	r := spec.Route{Name: str(h, "name")}
	r.Match = im.matches(o, path, list(h, "match"))
	r.Backends = im.backends(o, path, service, ns, list(h, "route"))
	r.Timeout = dur(o, im, path+".timeout", str(h, "timeout"))
	if rt := mp(h, "retries"); rt != nil {
		re := &spec.Retries{Attempts: i32(rt, "attempts"), PerTryTimeout: dur(o, im, path+".retries.perTryTimeout", str(rt, "perTryTimeout"))}
		if on := str(rt, "retryOn"); on != "" {
			re.On = strings.Split(on, ",")
		}
		if b := str(rt, "backoff"); b != "" {
			re.Backoff = &spec.Backoff{BaseInterval: dur(o, im, path+".retries.backoff", b)}
		}
		im.warnUnknown(o, path+".retries", rt, adapters.FeatureRetries, "attempts", "perTryTimeout", "retryOn", "backoff")
		r.Retries = re
	}
	if f := mp(h, "fault"); f != nil {
		fa := &spec.Fault{}
		if dl := mp(f, "delay"); dl != nil {
			fa.Delay = &spec.DelayFault{Fixed: dur(o, im, path+".fault.delay.fixedDelay", str(dl, "fixedDelay")), Percent: percentage(dl)}
		}
		if ab := mp(f, "abort"); ab != nil {
			fa.Abort = &spec.AbortFault{HTTPStatus: i32(ab, "httpStatus"), GRPCStatus: str(ab, "grpcStatus"), Percent: percentage(ab)}
		}
		r.Fault = fa
	}
	mirrors := list(h, "mirrors")
	if m := mp(h, "mirror"); m != nil {
		mirrors = append(mirrors, map[string]any{"destination": m, "percentage": mp(h, "mirrorPercentage")})
	}
	for j, m := range mirrors {
		mm, _ := m.(map[string]any)
		if j > 0 {
			im.warn(o, fmt.Sprintf("%s.mirrors[%d]", path, j), adapters.FeatureMirror, "the design mirrors to one backend: further mirrors are dropped")
			break
		}
		dest := mp(mm, "destination")
		mname, _, _ := im.resolveHost(str(dest, "host"), ns)
		pct := 100.0
		if p := mp(mm, "percentage"); p != nil {
			pct, _ = num(p, "value")
		}
		r.Mirror = &spec.Mirror{Service: mname, Version: str(dest, "subset"), Percent: pct}
	}
	if hd := mp(h, "headers"); hd != nil {
		ops := &spec.HeaderOps{Request: headerOpsFrom(mp(hd, "request")), Response: headerOpsFrom(mp(hd, "response"))}
		r.Headers = ops
	}
	if rw := mp(h, "rewrite"); rw != nil {
		out := &spec.Rewrite{Host: str(rw, "authority")}
		if u := str(rw, "uri"); u != "" {
			allExact := len(r.Match) > 0
			for _, m := range r.Match {
				if m.Path == nil || m.Path.Exact == "" {
					allExact = false
				}
			}
			if allExact {
				out.FullPath = u
			} else {
				out.Prefix = u
				if len(u) > 1 {
					out.Prefix = strings.TrimSuffix(u, "/")
				}
			}
		}
		if rr := mp(rw, "uriRegexRewrite"); rr != nil {
			m, to := str(rr, "match"), str(rr, "rewrite")
			switch {
			case m == "^.*$" || m == ".*" || m == "^/.*$":
				out.FullPath = to
			case prefixRewriteRe.MatchString(m):
				out.Prefix = strings.TrimSuffix(to, `\1`)
				if out.Prefix == "" {
					out.Prefix = "/"
				}
			default:
				im.warn(o, path+".rewrite.uriRegexRewrite", adapters.FeatureRewrite, "a general regex rewrite has no design equivalent: dropped")
			}
		}
		if out.Host != "" || out.Prefix != "" || out.FullPath != "" {
			r.Rewrite = out
		}
	}
	return r
}

func headerOpsFrom(m map[string]any) *spec.HeaderOperations {
	if m == nil {
		return nil
	}
	ops := &spec.HeaderOperations{Remove: strs(list(m, "remove"))}
	conv := func(v map[string]any) map[string]string {
		if len(v) == 0 {
			return nil
		}
		out := map[string]string{}
		for k, e := range v {
			out[k], _ = e.(string)
		}
		return out
	}
	ops.Set, ops.Add = conv(mp(m, "set")), conv(mp(m, "add"))
	return ops
}

// matches converts Istio matches, folding {uri: {exact: p}} + {uri: {prefix: p/}} pairs (with
// otherwise equal conditions) back into one segment-prefix match.
func (im *importer) matches(o *unstructured.Unstructured, path string, ms []any) []spec.Match {
	var out []spec.Match
	for i := 0; i < len(ms); i++ {
		m, _ := ms[i].(map[string]any)
		mpath := fmt.Sprintf("%s.match[%d]", path, i)
		im.warnUnknown(o, mpath, m, adapters.FeaturePathMatch, "uri", "method", "headers", "queryParams", "name")
		sm := spec.Match{}
		if u := mp(m, "uri"); u != nil {
			switch {
			case str(u, "exact") != "":
				p := str(u, "exact")
				if i+1 < len(ms) {
					next, _ := ms[i+1].(map[string]any)
					if str(mp(next, "uri"), "prefix") == p+"/" && sameExceptURI(m, next) {
						sm.Path = &spec.PathMatch{Prefix: p}
						i++
						break
					}
				}
				sm.Path = &spec.PathMatch{Exact: p}
			case str(u, "prefix") != "":
				p := str(u, "prefix")
				sm.Path = &spec.PathMatch{Prefix: p}
				if !strings.HasSuffix(p, "/") {
					im.warn(o, mpath+".uri.prefix", adapters.FeaturePathMatch, "Istio prefixes are raw string prefixes; the design's prefix matches whole path segments, so "+strconv.Quote(p)+" no longer matches "+strconv.Quote(p+"x"))
				}
			case str(u, "regex") != "":
				sm.Path = &spec.PathMatch{Regex: str(u, "regex")}
			}
		}
		if me := mp(m, "method"); me != nil {
			sm.Method = str(me, "exact")
			if sm.Method == "" {
				im.warn(o, mpath+".method", adapters.FeatureMethodMatch, "only exact method matches are imported")
			}
		}
		sm.Headers = stringMatches(mp(m, "headers"), false)
		sm.QueryParams = stringMatches(mp(m, "queryParams"), true)
		out = append(out, sm)
	}
	return out
}

func sameExceptURI(a, b map[string]any) bool {
	ca, cb := map[string]any{}, map[string]any{}
	for k, v := range a {
		if k != "uri" && k != "name" {
			ca[k] = v
		}
	}
	for k, v := range b {
		if k != "uri" && k != "name" {
			cb[k] = v
		}
	}
	return fmt.Sprint(ca) == fmt.Sprint(cb)
}

var prefixRegexRe = regexp.MustCompile(`^((?:[^\\.*+?()\[\]{}|^$]|\\.)*)\.\*$`)

func stringMatches(m map[string]any, query bool) map[string]spec.StringMatch {
	if len(m) == 0 {
		return nil
	}
	out := map[string]spec.StringMatch{}
	for k, v := range m {
		vm, _ := v.(map[string]any)
		sm := spec.StringMatch{Exact: str(vm, "exact"), Prefix: str(vm, "prefix"), Regex: str(vm, "regex")}
		if sm.Regex == ".*" && query {
			sm = spec.StringMatch{Present: true}
		} else if query && sm.Regex != "" {
			if g := prefixRegexRe.FindStringSubmatch(sm.Regex); g != nil && g[1] != "" {
				if p, err := unquoteMeta(g[1]); err == nil {
					sm = spec.StringMatch{Prefix: p}
				}
			}
		}
		if sm == (spec.StringMatch{}) {
			sm.Present = true
		}
		out[k] = sm
	}
	return out
}

func unquoteMeta(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				return "", fmt.Errorf("trailing backslash")
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// ---- EnvoyFilter (local rate limit) ----

func (im *importer) envoyFilter(o *unstructured.Unstructured, s map[string]any) {
	app := str(mp(mp(s, "workloadSelector"), "labels"), AppLabel)
	for _, p := range list(s, "configPatches") {
		pm, _ := p.(map[string]any)
		value := mp(mp(pm, "patch"), "value")
		if str(value, "name") != "envoy.filters.http.local_ratelimit" || app == "" {
			continue
		}
		tc := mp(value, "typed_config")
		if inner := mp(tc, "value"); inner != nil {
			tc = inner
		}
		tb := mp(tc, "token_bucket")
		fill := str(tb, "fill_interval")
		per := i32(tb, "tokens_per_fill")
		if d, err := time.ParseDuration(fill); err == nil && d > 0 && d != time.Second {
			per = int32(float64(per) / d.Seconds())
			im.warn(o, "spec.configPatches[].patch.value.typed_config.token_bucket.fill_interval", adapters.FeatureRateLimit, "the fill interval is converted to requests per second")
		}
		tp := im.policy(app)
		if tp.Resilience == nil {
			tp.Resilience = &spec.Resilience{}
		}
		tp.Resilience.RateLimit = &spec.RateLimit{RequestsPerSecond: per, Burst: i32(tb, "max_tokens")}
		im.service(app, o.GetNamespace())
		return
	}
	im.warn(o, "spec.configPatches", "", "EnvoyFilters other than a local rate limit have no design equivalent: dropped")
}

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
	for _, k := range im.order {
		svc := im.services[k]
		if svc.Namespace != ns {
			continue
		}
		if sa == svc.Name || strings.HasSuffix(sa, "-"+svc.Name) || strings.HasPrefix(sa, svc.Name+"-") || svc.Identity == sa {
			svc.Identity = sa
			return spec.Source{Service: svc.Name}, true
		}
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

// finish assembles services and traffic into the design in a stable order.
func (im *importer) finish() {
	keys := append([]string(nil), im.order...)
	sort.Strings(keys)
	for _, k := range keys {
		im.d.Spec.Services = append(im.d.Spec.Services, *im.services[k])
	}
	sort.Slice(im.d.Spec.Services, func(i, j int) bool { return im.d.Spec.Services[i].Name < im.d.Spec.Services[j].Name })
	for _, n := range sortedKeys(im.external) {
		im.d.Spec.ExternalServices = append(im.d.Spec.ExternalServices, *im.external[n])
	}
	svcs := append([]string(nil), im.tOrder...)
	sort.Strings(svcs)
	for _, n := range svcs {
		tp := im.traffic[n]
		if b, ok := im.budgets[n]; ok {
			found := false
			for i := range tp.Routes {
				if rt := tp.Routes[i].Retries; rt != nil && rt.Attempts > 0 {
					tp.Routes[i].Retries.Budget = b
					found = true
				}
			}
			if !found {
				im.warnings = append(im.warnings, adapters.Warning{Path: "DestinationRule " + n + ": spec.trafficPolicy.retryBudget", Mesh: Name, Feature: adapters.FeatureRetryBudget,
					Lost: "the design attaches retry budgets to route retries; no route of the service retries: dropped", Severity: adapters.SeverityWarning})
			}
		}
		if len(tp.Routes) == 0 && tp.Resilience == nil {
			continue
		}
		im.d.Spec.Traffic = append(im.d.Spec.Traffic, *tp)
	}
	im.d.Spec.Extensions = mergeExtensions(im.d.Spec.Extensions)
	if sec := im.d.Spec.Security; sec != nil {
		sec.RequestAuthentication = mergeJWTRules(sec.RequestAuthentication)
		for i := range sec.Access {
			sec.Access[i].Sources = dedupeSources(sec.Access[i].Sources)
		}
	}
}

func dedupeSources(in []spec.Source) []spec.Source {
	seen := map[spec.Source]bool{}
	var out []spec.Source
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// perServiceBase returns the design name an object generated per service carries
// ("<name>-<service>") when it selects exactly one service, and ok.
func perServiceBase(name string, services []string) (string, bool) {
	if len(services) != 1 || !strings.HasSuffix(name, "-"+services[0]) {
		return "", false
	}
	return strings.TrimSuffix(name, "-"+services[0]), true
}

// mergeJWTRules folds the RequestAuthentications the translator generates per service from one
// rule ("<rule>-<service>", identical settings, at least two) back into that rule.
func mergeJWTRules(rules []spec.JWTRule) []spec.JWTRule {
	key := func(r spec.JWTRule) (string, bool) {
		base, ok := perServiceBase(r.Name, r.Services)
		if !ok {
			return "", false
		}
		r.Name, r.Services = base, nil
		return fmt.Sprintf("%+v", r), true
	}
	counts := map[string]int{}
	for _, r := range rules {
		if k, ok := key(r); ok {
			counts[k]++
		}
	}
	var out []spec.JWTRule
	index := map[string]int{}
	for _, r := range rules {
		k, ok := key(r)
		if !ok || counts[k] < 2 {
			out = append(out, r)
			continue
		}
		if i, seen := index[k]; seen {
			out[i].Services = append(out[i].Services, r.Services...)
			continue
		}
		base, _ := perServiceBase(r.Name, r.Services)
		r.Name = base
		index[k] = len(out)
		out = append(out, r)
	}
	return out
}

// mergeExtensions folds WasmPlugins generated per service from one extension back into it.
func mergeExtensions(exts []spec.Extension) []spec.Extension {
	key := func(e spec.Extension) (string, bool) {
		base, ok := perServiceBase(e.Name, e.Services)
		if !ok {
			return "", false
		}
		e.Name, e.Services = base, nil
		return fmt.Sprintf("%+v", e), true
	}
	counts := map[string]int{}
	for _, e := range exts {
		if k, ok := key(e); ok {
			counts[k]++
		}
	}
	var out []spec.Extension
	index := map[string]int{}
	for _, e := range exts {
		k, ok := key(e)
		if !ok || counts[k] < 2 {
			out = append(out, e)
			continue
		}
		if i, seen := index[k]; seen {
			out[i].Services = append(out[i].Services, e.Services...)
			continue
		}
		base, _ := perServiceBase(e.Name, e.Services)
		e.Name = base
		index[k] = len(out)
		out = append(out, e)
	}
	return out
}
