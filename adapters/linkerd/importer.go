package linkerd

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

// Import builds a design from Linkerd and Gateway API objects: mesh routes with Service parents
// (HTTPRoute, GRPCRoute), Servers, AuthorizationPolicies with MeshTLS/Network authentications,
// policy routes with Server parents, HTTPLocalRateLimitPolicies, ServiceProfiles and annotated
// Services and Namespaces. What has no place in a design is reported as a warning.
func (a *Adapter) Import(ctx context.Context, objs []*unstructured.Unstructured, opts adapters.ImportOptions) (*spec.Design, []adapters.Warning, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("importing linkerd objects: %w", err)
	}
	im := &importer{
		svcs:      map[string]*spec.Service{},
		traffic:   map[string]*spec.TrafficPolicy{},
		byKind:    map[string][]*unstructured.Unstructured{},
		servers:   map[string]*importedServer{},
		policyRts: map[string]*unstructured.Unstructured{},
		mtlsAuth:  map[string][]string{},
		netAuth:   map[string][]string{},
		profiled:  map[string]bool{},

		missingKube: map[string]bool{},
	}
	for _, in := range objs {
		if in == nil {
			continue
		}
		// Work on a JSON-normalized copy: the caller's objects are never modified, and values
		// of unexpected Go types cannot make the unstructured helpers panic.
		n, err := adapters.Normalize(in.Object)
		m, ok := n.(map[string]any)
		if err != nil || !ok {
			im.warn(in, adapters.FeatureWeightedSplit, "object is not JSON-compatible: not imported")
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		im.byKind[kindKey(o)] = append(im.byKind[kindKey(o)], o)
	}
	for k := range im.byKind {
		sort.SliceStable(im.byKind[k], func(i, j int) bool {
			a, b := im.byKind[k][i], im.byKind[k][j]
			if a.GetNamespace() != b.GetNamespace() {
				return a.GetNamespace() < b.GetNamespace()
			}
			return a.GetName() < b.GetName()
		})
	}
	im.namespace = opts.Namespace
	if im.namespace == "" {
		im.namespace = majorityNamespace(objs)
	}
	if nss := im.byKind["/Namespace"]; im.namespace == "" && len(nss) == 1 {
		im.namespace = nss[0].GetName()
	}
	d := im.run()
	d.Metadata.Name = opts.Name
	name, labels := designLabels(objs)
	if d.Metadata.Name == "" {
		d.Metadata.Name = name
	}
	d.Metadata.Labels = labels
	if d.Metadata.Name == "" {
		d.Metadata.Name = im.namespace
		if d.Metadata.Name == "" {
			d.Metadata.Name = "imported"
		}
	}
	d.Metadata.Namespace = im.namespace
	if d.Metadata.Namespace == "" {
		d.Metadata.Namespace = "default"
	}
	adapters.SortWarnings(im.warns)
	return d, im.warns, nil
}

// designLabels returns the design name recorded in the objects' trellis.dev/design label (when
// they all agree) and the labels every Trellis-managed object shares besides the Trellis ones.
func designLabels(objs []*unstructured.Unstructured) (string, map[string]string) {
	name := ""
	var common map[string]string
	for _, o := range objs {
		if o == nil || o.GetLabels()[adapters.LabelManagedBy] != adapters.ManagedByValue {
			continue
		}
		l := o.GetLabels()
		if n := l[adapters.LabelDesign]; name == "" {
			name = n
		} else if n != name {
			return "", nil
		}
		if common == nil {
			common = map[string]string{}
			for k, v := range l {
				if k != adapters.LabelManagedBy && k != adapters.LabelDesign {
					common[k] = v
				}
			}
			continue
		}
		for k, v := range common {
			if l[k] != v {
				delete(common, k)
			}
		}
	}
	if len(common) == 0 {
		common = nil
	}
	return name, common
}

// importedKinds are the kinds (group/Kind) the importer reads; any other is reported.
var importedKinds = map[string]bool{
	"/Namespace": true, "/Service": true, "linkerd.io/ServiceProfile": true,
	"gateway.networking.k8s.io/HTTPRoute": true, "gateway.networking.k8s.io/GRPCRoute": true,
	"policy.linkerd.io/HTTPRoute": true, "policy.linkerd.io/Server": true, "policy.linkerd.io/ServerAuthorization": true,
	"policy.linkerd.io/AuthorizationPolicy": true, "policy.linkerd.io/MeshTLSAuthentication": true,
	"policy.linkerd.io/NetworkAuthentication": true, "policy.linkerd.io/HTTPLocalRateLimitPolicy": true,
}

type importedServer struct {
	obj   *unstructured.Unstructured
	svc   string
	port  int32
	proto string
}

type importer struct {
	// missingKube holds the route backends ("ns/name") no Kubernetes Service of the input
	// describes.
	missingKube map[string]bool
	// kubeIndex holds the Kubernetes Services of the input by "ns/name", built on first use.
	kubeIndex map[string]bool
	// serverLabels holds the Servers of the input by "ns\x00label=value" of each of their
	// podSelector matchLabels, in input order, built on first use (see inferredSelector).
	serverLabels map[string][]serverSelector
	namespace    string
	byKind       map[string][]*unstructured.Unstructured
	svcs         map[string]*spec.Service // keyed "ns/name"
	svcOrder     []string
	// svcPos is each service's index in svcOrder; byIdentity lists the services given each
	// "ns/identity" by identityService (entries whose identity changed since are skipped).
	svcPos     map[string]int
	byIdentity map[string][]string
	traffic    map[string]*spec.TrafficPolicy // keyed "ns/name"
	trOrder    []string
	servers    map[string]*importedServer // keyed "ns/name"
	policyRts  map[string]*unstructured.Unstructured
	mtlsAuth   map[string][]string // "ns/name" -> identities
	netAuth    map[string][]string // "ns/name" -> cidrs
	nsPolicy   map[string]string
	profiled   map[string]bool
	// svcDefaults are the timeout and retries of annotated Services, keyed "ns/name".
	svcDefaults map[string]spec.Route
	security    *spec.Security
	telemetry   *spec.Telemetry
	warns       []adapters.Warning
}

func kindKey(o *unstructured.Unstructured) string {
	group := o.GetAPIVersion()
	if i := strings.Index(group, "/"); i >= 0 {
		group = group[:i]
	} else {
		group = ""
	}
	return group + "/" + o.GetKind()
}

func majorityNamespace(objs []*unstructured.Unstructured) string {
	count := map[string]int{}
	for _, o := range objs {
		if o != nil && o.GetNamespace() != "" {
			count[o.GetNamespace()]++
		}
	}
	best := ""
	for _, ns := range sortedKeys(count) {
		if count[ns] > count[best] {
			best = ns
		}
	}
	return best
}

func (im *importer) warn(o *unstructured.Unstructured, f adapters.Feature, format string, args ...any) {
	path := "<input>"
	if o != nil {
		path = o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
		if o.GetNamespace() == "" {
			path = o.GetKind() + "/" + o.GetName()
		}
	}
	im.warns = append(im.warns, adapters.Warning{Path: path, Mesh: Name, Feature: f, Lost: fmt.Sprintf(format, args...), Severity: adapters.SeverityWarning})
}

// service returns the design service ns/name, creating it.
func (im *importer) service(ns, name string) *spec.Service {
	k := ns + "/" + name
	if s, ok := im.svcs[k]; ok {
		return s
	}
	s := &spec.Service{Name: name, Namespace: ns}
	im.svcs[k] = s
	if im.svcPos == nil {
		im.svcPos = map[string]int{}
	}
	im.svcPos[k] = len(im.svcOrder)
	im.svcOrder = append(im.svcOrder, k)
	return s
}

func (im *importer) addPort(s *spec.Service, p spec.Port) {
	for i, q := range s.Ports {
		if q.Port == p.Port {
			if q.Name == "" {
				s.Ports[i].Name = p.Name
			}
			if q.TargetPort == 0 || q.TargetPort == q.Port {
				if p.TargetPort != 0 {
					s.Ports[i].TargetPort = p.TargetPort
				}
			}
			return
		}
	}
	s.Ports = append(s.Ports, p)
}

func (im *importer) trafficFor(ns, name string) *spec.TrafficPolicy {
	k := ns + "/" + name
	if tp, ok := im.traffic[k]; ok {
		return tp
	}
	tp := &spec.TrafficPolicy{Service: name}
	im.traffic[k] = tp
	im.trOrder = append(im.trOrder, k)
	return tp
}

func (im *importer) run() *spec.Design {
	im.namespaces()
	im.versionServices()
	im.plainServices()
	im.meshRoutes("gateway.networking.k8s.io/HTTPRoute", false)
	im.meshRoutes("gateway.networking.k8s.io/GRPCRoute", true)
	im.meshRoutes("policy.linkerd.io/HTTPRoute", false)
	im.serviceProfiles()
	im.serverObjects()
	im.authentications()
	im.authorizations()
	im.rateLimits()
	im.applyServiceRouteDefaults()
	im.serverAuthorizations()
	im.admittingServers()
	im.unauthorizedServers()
	im.reportMissingServices()
	for _, k := range sortedKeys(im.byKind) {
		if importedKinds[k] {
			continue
		}
		why := "it has no design equivalent"
		switch {
		case strings.HasSuffix(k, "smi-spec.io/TrafficSplit") || strings.Contains(k, "smi-spec.io/"):
			why = "SMI objects import with `trellis import smi`"
		case k == "policy.linkerd.io/EgressNetwork" || k == "gateway.networking.k8s.io/TLSRoute" || k == "gateway.networking.k8s.io/TCPRoute":
			why = "egress networks and TLS/TCP routes are not part of a mesh design"
		}
		for _, o := range im.byKind[k] {
			im.warn(o, "", "kind %s (%s) is not imported: %s", o.GetKind(), o.GetAPIVersion(), why)
		}
	}
	d := &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind}
	for _, k := range im.svcOrder {
		s := im.svcs[k]
		if s.Namespace == im.namespace {
			s.Namespace = ""
		}
		d.Spec.Services = append(d.Spec.Services, *s)
	}
	sort.SliceStable(d.Spec.Services, func(i, j int) bool { return d.Spec.Services[i].Name < d.Spec.Services[j].Name })
	for _, k := range im.trOrder {
		tp := im.traffic[k]
		if !im.profiled[k] {
			sortImportedRoutes(tp.Routes) // ServiceProfile routes keep their (first-match) order
		}
		tp.Routes = im.dropShadowedCatchAlls(tp)
		d.Spec.Traffic = append(d.Spec.Traffic, *tp)
	}
	sort.SliceStable(d.Spec.Traffic, func(i, j int) bool { return d.Spec.Traffic[i].Service < d.Spec.Traffic[j].Service })
	d.Spec.Security = im.security
	d.Spec.Telemetry = im.telemetry
	return d
}

// namespaces reads the default inbound policy, access-log and tracing annotations.
func (im *importer) namespaces() {
	im.nsPolicy = map[string]string{}
	for _, o := range im.byKind["/Namespace"] {
		ann := o.GetAnnotations()
		if p, ok := ann[annDefaultInbound]; ok {
			im.nsPolicy[o.GetName()] = p
			sec := im.sec()
			switch p {
			case "deny":
				sec.DefaultPolicy = spec.ActionDeny
			case "all-authenticated", "cluster-authenticated":
				sec.MTLS = spec.MTLSStrict
			case "all-unauthenticated", "cluster-unauthenticated", "audit":
				sec.MTLS = spec.MTLSPermissive
			default:
				im.warn(o, adapters.FeatureDefaultDeny, "unknown default inbound policy %q", p)
			}
		}
		if f, ok := ann[annAccessLog]; ok {
			im.tel().AccessLogs = &spec.AccessLogs{Enabled: true, Format: map[bool]spec.AccessLogFormat{true: spec.AccessLogText, false: spec.AccessLogJSON}[f == "apache"]}
		}
		if c, ok := ann[annTraceCollector]; ok {
			im.tel().Tracing = &spec.Tracing{Provider: spec.TracingOTLP, Endpoint: c}
		}
	}
}

func (im *importer) sec() *spec.Security {
	if im.security == nil {
		im.security = &spec.Security{}
	}
	return im.security
}

func (im *importer) tel() *spec.Telemetry {
	if im.telemetry == nil {
		im.telemetry = &spec.Telemetry{}
	}
	return im.telemetry
}

func (im *importer) servicePorts(o *unstructured.Unstructured, s *spec.Service) {
	ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
	for _, p := range ports {
		pm, _ := p.(map[string]any)
		port := toInt32(pm["port"])
		if port == 0 {
			continue
		}
		name, _ := pm["name"].(string)
		target := toInt32(pm["targetPort"])
		im.addPort(s, spec.Port{Port: port, Name: name, TargetPort: target})
		if ap, _ := pm["appProtocol"].(string); ap == "kubernetes.io/h2c" && s.Protocol == "" {
			s.Protocol = spec.ProtocolHTTP2
		}
	}
}

// plainServices imports the remaining Services: full ones give services and ports, annotated
// (partial) ones give failure accrual.
func (im *importer) plainServices() {
	for _, o := range im.byKind["/Service"] {
		if _, isVersion := o.Object["__version"]; isVersion {
			delete(o.Object, "__version")
			continue
		}
		s := im.service(o.GetNamespace(), o.GetName())
		im.kubeSelector(o, s)
		im.servicePorts(o, s)
		im.accrual(o, s)
		im.serviceRouteDefaults(o, s)
	}
}

// serviceRouteDefaults reads the retry and timeout annotations Linkerd (2.16 and later) also
// takes on a Service ("kubectl annotate service color retry.linkerd.io/http=5xx"): they apply to
// every request to the service whose route sets none of its own.
func (im *importer) serviceRouteDefaults(o *unstructured.Unstructured, s *spec.Service) {
	ann := o.GetAnnotations()
	found := false
	for _, k := range []string{annTimeoutRequest, annRetryHTTP, annRetryGRPC, annRetryLimit, annRetryTimeout, "timeout.linkerd.io/response", "timeout.linkerd.io/idle"} {
		if _, ok := ann[k]; ok {
			found = true
		}
	}
	if !found {
		return
	}
	r := spec.Route{Name: "default"}
	im.routeAnnotations(o, &r)
	if r.Timeout.IsZero() && r.Retries == nil {
		return
	}
	if im.svcDefaults == nil {
		im.svcDefaults = map[string]spec.Route{}
	}
	im.svcDefaults[o.GetNamespace()+"/"+s.Name] = r
}

// applyServiceRouteDefaults gives the routes of each annotated service the service's timeout and
// retries where they set none, or adds a catch-all route carrying them.
func (im *importer) applyServiceRouteDefaults() {
	for _, k := range sortedKeys(im.svcDefaults) {
		def := im.svcDefaults[k]
		ns, name, _ := strings.Cut(k, "/")
		tp := im.trafficFor(ns, name)
		hasCatchAll := false
		for i := range tp.Routes {
			r := &tp.Routes[i]
			if r.Timeout.IsZero() {
				r.Timeout = def.Timeout
			}
			if r.Retries == nil && def.Retries != nil {
				rt := *def.Retries
				r.Retries = &rt
			}
			if len(r.Match) == 0 {
				hasCatchAll = true
			}
		}
		if !hasCatchAll {
			tp.Routes = append(tp.Routes, def)
		}
	}
}

// accrual reads failure-accrual annotations into the service's outlier detection.
func (im *importer) accrual(o *unstructured.Unstructured, s *spec.Service) {
	ann := o.GetAnnotations()
	mode, ok := ann[annAccrual]
	if !ok {
		return
	}
	if mode != "consecutive" {
		im.warn(o, adapters.FeatureOutlierDetection, "failure accrual %q is not understood", mode)
		return
	}
	od := &spec.OutlierDetection{Consecutive5xx: 7, BaseEjectionTime: spec.Dur(time.Second)}
	if v, err := strconv.Atoi(ann[annAccrualMaxFail]); err == nil {
		od.Consecutive5xx = int32(v)
	}
	if d, err := parseLinkerdDuration(ann[annAccrualMinPen]); err == nil {
		od.BaseEjectionTime = spec.Dur(d)
	}
	if _, ok := ann[annAccrualMaxPen]; ok {
		if d, _ := parseLinkerdDuration(ann[annAccrualMaxPen]); d != od.BaseEjectionTime.Duration {
			im.warn(o, adapters.FeatureOutlierDetection, "the maximum penalty has no design field: ejection grows from baseEjectionTime by the mesh's own rule")
		}
	}
	tp := im.trafficFor(o.GetNamespace(), s.Name)
	if tp.Resilience == nil {
		tp.Resilience = &spec.Resilience{}
	}
	tp.Resilience.OutlierDetection = od
}

func parseLinkerdDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

func toInt32(v any) int32 {
	switch x := v.(type) {
	case int64:
		return int32(x)
	case int:
		return int32(x)
	case int32:
		return x
	case float64:
		return int32(x)
	case string:
		n, _ := strconv.Atoi(x)
		return int32(n)
	}
	return 0
}

// meshRoutes imports Gateway API routes whose parent is a Service (outbound routing).
func (im *importer) meshRoutes(kind string, grpc bool) {
	for _, o := range im.byKind[kind] {
		parents, _, _ := unstructured.NestedSlice(o.Object, "spec", "parentRefs")
		var svcParent map[string]any
		serverParentRef := false
		for _, p := range parents {
			pm, _ := p.(map[string]any)
			k, _ := pm["kind"].(string)
			g, _ := pm["group"].(string)
			if k == "Service" && (g == "" || g == "core") {
				svcParent = pm
			}
			if k == "Server" && g == policyGroup {
				serverParentRef = true
			}
		}
		if serverParentRef {
			im.policyRts[o.GetNamespace()+"/"+o.GetName()] = o
			continue
		}
		if svcParent == nil && len(parents) == 0 {
			im.warn(o, adapters.FeatureWeightedSplit, "spec.parentRefs is empty: the route is attached to nothing and routes no traffic; not imported (add a parentRef of kind Service)")
			continue
		}
		if svcParent == nil {
			var kinds []string
			for _, p := range parents {
				pm, _ := p.(map[string]any)
				k, _ := pm["kind"].(string)
				if k == "" {
					k = "Gateway"
				}
				kinds = append(kinds, k)
			}
			im.warn(o, adapters.FeatureWeightedSplit, "spec.parentRefs: the route's parents (%s) are not Services or Servers: only mesh routes (parent Service) and policy routes (parent Server) are part of a design; not imported", strings.Join(kinds, ", "))
			continue
		}
		svcName, _ := svcParent["name"].(string)
		ns := o.GetNamespace()
		if pns, _ := svcParent["namespace"].(string); pns != "" {
			ns = pns
		}
		s := im.service(ns, svcName)
		if grpc {
			s.Protocol = spec.ProtocolGRPC
		}
		port := toInt32(svcParent["port"])
		if port != 0 {
			im.addPort(s, spec.Port{Port: port})
		}
		tp := im.trafficFor(ns, svcName)
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
		base := strings.TrimPrefix(o.GetName(), svcName+"-")
		if len(s.Ports) > 1 || (port != 0 && strings.HasSuffix(base, "-"+strconv.Itoa(int(port)))) {
			base = strings.TrimSuffix(base, "-"+strconv.Itoa(int(port)))
		}
		if routeExists(tp, base) {
			continue // the same route on another port of the service
		}
		for ri, rule := range rules {
			rm, _ := rule.(map[string]any)
			name := base
			if len(rules) > 1 {
				name = fmt.Sprintf("%s-%d", base, ri)
				if n, _ := rm["name"].(string); n != "" {
					name = n
				}
			}
			r := spec.Route{Name: name}
			matches, _ := rm["matches"].([]any)
			for _, m := range matches {
				mm, _ := m.(map[string]any)
				if match, ok := im.importMatch(o, mm, grpc); ok {
					r.Match = append(r.Match, match)
				}
			}
			im.importFilters(o, rm, &r)
			backends, _ := rm["backendRefs"].([]any)
			for _, b := range backends {
				bm, _ := b.(map[string]any)
				r.Backends = append(r.Backends, im.importBackend(ns, s, bm))
			}
			im.routeAnnotations(o, &r)
			for _, k := range sortedKeys(rm) {
				switch k {
				case "name", "matches", "filters", "backendRefs", "timeouts":
				case "retry":
					im.warn(o, adapters.FeatureRetries, "spec.rules[%d].retry: Linkerd ignores the Gateway API retry field (it reads retry.linkerd.io annotations): not imported", ri)
				case "sessionPersistence":
					im.warn(o, adapters.FeatureConsistentHash, "spec.rules[%d].sessionPersistence: Linkerd has no session persistence: not imported", ri)
				default:
					im.warn(o, "", "spec.rules[%d].%s has no design equivalent: not imported", ri, k)
				}
			}
			if t, ok := rm["timeouts"].(map[string]any); ok && r.Timeout.IsZero() {
				if v, _ := t["request"].(string); v != "" {
					if d, err := parseLinkerdDuration(v); err == nil {
						r.Timeout = spec.Dur(d)
					}
				}
				if _, ok := t["backendRequest"]; ok {
					im.warn(o, adapters.FeatureTimeout, "Linkerd ignores timeouts.backendRequest; it is not imported")
				}
			}
			tp.Routes = append(tp.Routes, r)
		}
	}
}

func routeExists(tp *spec.TrafficPolicy, name string) bool {
	for _, r := range tp.Routes {
		if r.Name == name {
			return true
		}
	}
	return false
}

// importMatch converts an HTTPRouteMatch or GRPCRouteMatch to a design match.
func (im *importer) importMatch(o *unstructured.Unstructured, mm map[string]any, grpc bool) (spec.Match, bool) {
	var m spec.Match
	if grpc {
		if method, ok := mm["method"].(map[string]any); ok {
			svc, _ := method["service"].(string)
			meth, _ := method["method"].(string)
			if typ, _ := method["type"].(string); typ == "RegularExpression" {
				im.warn(o, adapters.FeaturePathMatch, "GRPCRoute regular-expression method matches are not imported")
			} else if meth != "" {
				m.Path = &spec.PathMatch{Exact: "/" + svc + "/" + meth}
			} else if svc != "" {
				m.Path = &spec.PathMatch{Prefix: "/" + svc}
			}
		}
	} else if p, ok := mm["path"].(map[string]any); ok {
		typ, _ := p["type"].(string)
		v, _ := p["value"].(string)
		switch typ {
		case "Exact":
			m.Path = &spec.PathMatch{Exact: v}
		case "RegularExpression":
			m.Path = &spec.PathMatch{Regex: v}
		default:
			if v != "/" && v != "" {
				m.Path = &spec.PathMatch{Prefix: v}
			}
		}
	}
	if method, ok := mm["method"].(string); ok && !grpc {
		m.Method = method
	}
	m.Headers = importStringMatches(mm["headers"])
	m.QueryParams = importStringMatches(mm["queryParams"])
	if m.Path == nil && m.Method == "" && len(m.Headers) == 0 && len(m.QueryParams) == 0 {
		return m, false
	}
	return m, true
}

var prefixRegexRE = regexp.MustCompile(`^((?:[^\\.*+?()|\[\]{}^$]|\\.)*)\.\*$`)

// importStringMatches converts Gateway API header or query matches, recognising the regular
// expressions the translator writes for prefix and presence matches.
func importStringMatches(v any) map[string]spec.StringMatch {
	list, _ := v.([]any)
	if len(list) == 0 {
		return nil
	}
	out := map[string]spec.StringMatch{}
	for _, e := range list {
		em, _ := e.(map[string]any)
		name, _ := em["name"].(string)
		typ, _ := em["type"].(string)
		val, _ := em["value"].(string)
		switch {
		case typ == "RegularExpression" && val == ".*":
			out[name] = spec.StringMatch{Present: true}
		case typ == "RegularExpression" && prefixRegexRE.MatchString(val):
			out[name] = spec.StringMatch{Prefix: unquoteMeta(strings.TrimSuffix(val, ".*"))}
		case typ == "RegularExpression":
			out[name] = spec.StringMatch{Regex: val}
		default:
			out[name] = spec.StringMatch{Exact: val}
		}
	}
	return out
}

func unquoteMeta(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// importFilters converts header modifiers (and a Host set, the translator's host rewrite).
func (im *importer) importFilters(o *unstructured.Unstructured, rule map[string]any, r *spec.Route) {
	filters, _ := rule["filters"].([]any)
	for _, f := range filters {
		fm, _ := f.(map[string]any)
		switch typ, _ := fm["type"].(string); typ {
		case "RequestHeaderModifier":
			ops := importHeaderOps(fm["requestHeaderModifier"])
			if host, ok := ops.Set["Host"]; ok {
				delete(ops.Set, "Host")
				if len(ops.Set) == 0 {
					ops.Set = nil
				}
				if r.Rewrite == nil {
					r.Rewrite = &spec.Rewrite{}
				}
				r.Rewrite.Host = host
			}
			if ops.Set != nil || ops.Add != nil || ops.Remove != nil {
				if r.Headers == nil {
					r.Headers = &spec.HeaderOps{}
				}
				r.Headers.Request = ops
			}
		case "ResponseHeaderModifier":
			if r.Headers == nil {
				r.Headers = &spec.HeaderOps{}
			}
			r.Headers.Response = importHeaderOps(fm["responseHeaderModifier"])
		default:
			im.warn(o, adapters.FeatureHeaderOps, "filter %q is not imported", typ)
		}
	}
}

func importHeaderOps(v any) *spec.HeaderOperations {
	m, _ := v.(map[string]any)
	ops := &spec.HeaderOperations{}
	for _, key := range []string{"set", "add"} {
		list, _ := m[key].([]any)
		if len(list) == 0 {
			continue
		}
		h := map[string]string{}
		for _, e := range list {
			em, _ := e.(map[string]any)
			n, _ := em["name"].(string)
			val, _ := em["value"].(string)
			h[n] = val
		}
		if key == "set" {
			ops.Set = h
		} else {
			ops.Add = h
		}
	}
	if list, _ := m["remove"].([]any); len(list) > 0 {
		for _, e := range list {
			if s, ok := e.(string); ok {
				ops.Remove = append(ops.Remove, s)
			}
		}
	}
	return ops
}

// importBackend converts a backendRef: "<svc>-<version>" Services become versions of svc.
func (im *importer) importBackend(ns string, s *spec.Service, bm map[string]any) spec.Backend {
	name, _ := bm["name"].(string)
	bns := ns
	if n, _ := bm["namespace"].(string); n != "" {
		bns = n
	}
	b := spec.Backend{Weight: 1}
	if w, ok := bm["weight"]; ok {
		b.Weight = toInt32(w)
	}
	port := toInt32(bm["port"])
	target := s
	if name != s.Name || bns != ns {
		target = nil
		// A version of the parent service?
		if bns == ns && strings.HasPrefix(name, s.Name+"-") && hasVersion(s, strings.TrimPrefix(name, s.Name+"-")) {
			target = s
			b.Version = strings.TrimPrefix(name, s.Name+"-")
		} else {
			for _, k := range im.svcOrder {
				cand := im.svcs[k]
				cns, _, _ := strings.Cut(k, "/")
				if cns != bns {
					continue
				}
				if cand.Name == name {
					target = cand
					break
				}
				if strings.HasPrefix(name, cand.Name+"-") && hasVersion(cand, strings.TrimPrefix(name, cand.Name+"-")) {
					target = cand
					b.Version = strings.TrimPrefix(name, cand.Name+"-")
					break
				}
			}
			if target == nil {
				target = im.service(bns, name)
				if len(im.byKind["/Service"]) > 0 && !im.hasKubeService(bns, name) {
					im.missingKube[bns+"/"+name] = true
				}
			}
			b.Service = target.Name
		}
	}
	if port != 0 && len(target.Ports) == 0 && im.missingKube[bns+"/"+target.Name] {
		// No Kubernetes Service gives the backend's ports: the route's port is the only one known.
		im.addPort(target, spec.Port{Port: port})
	}
	if port != 0 && len(target.Ports) > 0 && port != target.Ports[0].Port {
		b.Port = port
	}
	return b
}

// hasKubeService reports whether the input holds the Kubernetes Service ns/name.
func (im *importer) hasKubeService(ns, name string) bool {
	if im.kubeIndex == nil {
		im.kubeIndex = map[string]bool{}
		for _, o := range im.byKind["/Service"] {
			im.kubeIndex[o.GetNamespace()+"/"+o.GetName()] = true
		}
	}
	return im.kubeIndex[ns+"/"+name]
}

// reportMissingServices warns about the route backends without a Kubernetes Service among the
// objects (when the input has Services): their pods are assumed to carry app: <name>, which
// selects none for a per-version Service (Istio's reviews-v1 selects app=reviews,version=v1).
func (im *importer) reportMissingServices() {
	for _, k := range sortedKeys(im.missingKube) {
		ns, name, _ := strings.Cut(k, "/")
		path := "service " + name
		if ns != "" {
			path = "service " + ns + "/" + name
		}
		im.warns = append(im.warns, adapters.Warning{Path: path, Mesh: Name, Feature: adapters.FeatureWeightedSplit, Severity: adapters.SeverityWarning,
			Lost: fmt.Sprintf("a route sends traffic to %q, which has no Kubernetes Service among the objects: its pods are assumed to carry app: %s, which may select none (a per-version Service usually selects app and version labels); include the Service", name, name)})
	}
}

func hasVersion(s *spec.Service, v string) bool {
	for _, ver := range s.Versions {
		if ver.Name == v {
			return true
		}
	}
	return false
}

// routeAnnotations reads Linkerd's timeout and retry annotations.
func (im *importer) routeAnnotations(o *unstructured.Unstructured, r *spec.Route) {
	ann := o.GetAnnotations()
	if v, ok := ann[annTimeoutRequest]; ok {
		if d, err := parseLinkerdDuration(v); err == nil {
			r.Timeout = spec.Dur(d)
		}
	}
	for _, k := range []string{"timeout.linkerd.io/response", "timeout.linkerd.io/idle"} {
		if _, ok := ann[k]; ok {
			im.warn(o, adapters.FeatureTimeout, "%s has no design field and is not imported", k)
		}
	}
	httpC, hasHTTP := ann[annRetryHTTP]
	grpcC, hasGRPC := ann[annRetryGRPC]
	if !hasHTTP && !hasGRPC {
		return
	}
	rt := &spec.Retries{Attempts: 1}
	if v, err := strconv.Atoi(ann[annRetryLimit]); err == nil {
		rt.Attempts = int32(v)
	}
	for _, c := range strings.Split(httpC+","+grpcC, ",") {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
		case c == "409":
			rt.On = append(rt.On, "retriable-4xx")
		case strings.Contains(c, "-") && isStatusCode(strings.SplitN(c, "-", 2)[0]):
			im.warn(o, adapters.FeatureRetries, "status range %q is not imported: list the codes", c)
		default:
			rt.On = append(rt.On, c)
		}
	}
	if v, ok := ann[annRetryTimeout]; ok {
		if d, err := parseLinkerdDuration(v); err == nil {
			rt.PerTryTimeout = spec.Dur(d)
		}
	}
	r.Retries = rt
}

// dropShadowedCatchAlls keeps the first route without a match (the one Linkerd uses: equal
// precedence is broken by age, then name) and reports the others, which never see a request.
func (im *importer) dropShadowedCatchAlls(tp *spec.TrafficPolicy) []spec.Route {
	out := tp.Routes[:0:0]
	var kept string
	for _, r := range tp.Routes {
		if len(r.Match) == 0 {
			if kept != "" {
				im.warns = append(im.warns, adapters.Warning{
					Path: "traffic/" + tp.Service + "/" + r.Name, Mesh: Name, Feature: adapters.FeaturePathMatch, Severity: adapters.SeverityWarning,
					Lost: fmt.Sprintf("route %q matches every request like route %q, which takes precedence: it is not imported", r.Name, kept),
				})
				continue
			}
			kept = r.Name
		}
		out = append(out, r)
	}
	// A catch-all must be last: routes with matches after it were sorted after it only when
	// they could not be ranked; move the catch-all to the end.
	for i, r := range out {
		if len(r.Match) == 0 && i != len(out)-1 {
			out = append(append(out[:i:i], out[i+1:]...), r)
			break
		}
	}
	return out
}

// sortImportedRoutes orders routes the way Linkerd evaluates them: most specific match first,
// catch-all routes last.
func sortImportedRoutes(routes []spec.Route) {
	best := func(r spec.Route) (precedence, bool) {
		if len(r.Match) == 0 {
			return precedence{}, false
		}
		var b precedence
		for i, m := range r.Match {
			if p := matchPrecedence(m); i == 0 || p.greater(b) {
				b = p
			}
		}
		return b, true
	}
	sort.SliceStable(routes, func(i, j int) bool {
		pi, mi := best(routes[i])
		pj, mj := best(routes[j])
		if mi != mj {
			return mi
		}
		if pi != pj {
			return pi.greater(pj)
		}
		return false
	})
}
