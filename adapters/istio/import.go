package istio

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// importer holds the state of one import.
type importer struct {
	// vsPolicy names the traffic policy the VirtualService being read adds routes to ("" when
	// none) and vsBefore its number of routes before (see dropUnreachableRoutes).
	vsPolicy string
	vsBefore int
	opts     adapters.ImportOptions
	d        *spec.Design
	warnings []adapters.Warning
	// services by namespace/name, in discovery order.
	services map[string]*spec.Service
	order    []string
	// Indexes over services, so lookups do not scan them all: pos is a key's index in order,
	// byName the keys of each name (in order), byIdent the keys that were given each
	// "namespace/identity" (entries whose identity changed since are skipped on lookup).
	pos      map[string]int
	byName   map[string][]string
	byIdent  map[string][]string
	external map[string]*spec.ExternalService // by ServiceEntry name
	extHosts map[string]string                // host -> external service name
	traffic  map[string]*spec.TrafficPolicy   // by service name
	tOrder   []string
	budgets  map[string]*spec.RetryBudget
	required map[string]bool // namespace/selector-app of RequestAuthentications that require a token
	// kubeSel holds the selectors of the Kubernetes Services among the objects, by namespace/name.
	kubeSel map[string]map[string]string
	// selCands holds, by namespace/service, the labels of the workload selectors naming a service.
	selCands map[string][]selectorCandidate
	// fromKube holds the namespace/name of the services a Kubernetes Service of the input
	// declares; the others are known from routes only (see routePort).
	fromKube map[string]bool
	// workloads are the pod templates of the workload objects among the input (Deployments,
	// Pods, Rollouts, ...), which give named target ports their numbers.
	workloads []podPorts
	// byPortName indexes workloads by "namespace/container port name", so that resolving a
	// named targetPort looks only at the workloads that declare the name.
	byPortName map[string][]int
}

// podPorts is what a workload object tells the importer: its namespace, pod labels and named
// container ports.
type podPorts struct {
	ref    string
	ns     string
	labels map[string]string
	ports  map[string]int32
}

// ReadsWorkloads reports true: Import resolves named targetPorts from workload objects.
func (*Adapter) ReadsWorkloads() bool { return true }

// Import builds a design from Istio objects (and Kubernetes Services, which give ports and
// protocols, and workload objects such as Deployments, Pods and Argo Rollouts, whose named
// container ports give a Service's named targetPort its number): VirtualService,
// DestinationRule, ServiceEntry, PeerAuthentication, AuthorizationPolicy, RequestAuthentication,
// Telemetry, WasmPlugin and local-rate-limit EnvoyFilters. Fields without a design equivalent
// are reported as warnings whose path names the object and field ("VirtualService
// bookinfo/reviews: spec.http[0].corsPolicy").
func (a *Adapter) Import(ctx context.Context, objs []*unstructured.Unstructured, opts adapters.ImportOptions) (*spec.Design, []adapters.Warning, error) {
	im := &importer{
		opts:       opts,
		services:   map[string]*spec.Service{},
		pos:        map[string]int{},
		byName:     map[string][]string{},
		byIdent:    map[string][]string{},
		external:   map[string]*spec.ExternalService{},
		extHosts:   map[string]string{},
		traffic:    map[string]*spec.TrafficPolicy{},
		budgets:    map[string]*spec.RetryBudget{},
		required:   map[string]bool{},
		kubeSel:    map[string]map[string]string{},
		fromKube:   map[string]bool{},
		byPortName: map[string][]int{},
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
	// Services selected by policies are known before principals are resolved to services; the
	// Kubernetes Services' selectors are known before policies' selectors are resolved.
	for _, o := range sorted {
		if im.known(o) && o.GetKind() == "Service" {
			s, _, _ := unstructured.NestedMap(o.Object, "spec")
			if sel, _, _ := unstructured.NestedStringMap(s, "selector"); len(sel) > 0 {
				im.kubeSel[o.GetNamespace()+"/"+o.GetName()] = sel
			}
		}
	}
	for _, o := range sorted {
		if im.known(o) && o.GetKind() != "Service" {
			s, _, _ := unstructured.NestedMap(o.Object, "spec")
			if app := im.selectorApp(o, s); app != "" {
				im.service(app, im.workloadNS(o, app))
			}
		}
	}
	handled := map[string]bool{}
	for _, o := range sorted {
		if w, ok := workloadPorts(o); ok {
			for _, n := range sortedKeys(w.ports) {
				im.byPortName[w.ns+"/"+n] = append(im.byPortName[w.ns+"/"+n], len(im.workloads))
			}
			im.workloads = append(im.workloads, w)
			handled[ref(o)] = true
		}
	}
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
			why := ""
			switch o.GetKind() {
			case "Gateway":
				why = ": ingress and egress gateways are outside the mesh design"
			case "Sidecar":
				why = ": it scopes what each proxy is configured with; a design has no equivalent (every service may call every other, as access rules allow)"
			case "ProxyConfig", "WorkloadEntry", "WorkloadGroup":
				why = ": proxy settings and VM workloads have no design equivalent"
			case "TrafficSplit", "HTTPRouteGroup", "TrafficTarget":
				why = ": SMI objects import with `trellis import smi`"
			case "HTTPRoute", "GRPCRoute", "TCPRoute":
				why = ": Gateway API routes import with `trellis import gateway-api`"
			}
			im.warn(o, "", adapters.Feature(""), "kind not imported: "+o.GetAPIVersion()+" "+o.GetKind()+why)
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
	name := im.opts.Name
	if name == "" {
		name = designName
	}
	if name == "" {
		name = ns
	}
	if name == "" {
		name = "imported"
	}
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	im.d.Metadata = spec.Metadata{Name: name, Namespace: ns}
	delete(common, adapters.LabelManagedBy)
	delete(common, adapters.LabelDesign)
	if len(common) > 0 {
		im.d.Metadata.Labels = common
	}
}

// rootNamespace is Istio's default root namespace: a policy there with a workload selector
// applies to the selected workloads of every namespace (Istio's tasks apply rate limits and
// plugins in istio-system for workloads in default).
const rootNamespace = "istio-system"

// workloadNS returns the namespace of the service a policy selects: the policy's own, except
// for root-namespace policies, which select the only Kubernetes Service of that name elsewhere.
func (im *importer) workloadNS(o *unstructured.Unstructured, app string) string {
	ns := o.GetNamespace()
	if ns != rootNamespace {
		return ns
	}
	var found []string
	for k := range im.kubeSel {
		if kns, kname, _ := strings.Cut(k, "/"); kname == app && kns != ns {
			found = append(found, kns)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ns
}

// service returns the design service for name in namespace, creating it on first sight.
func (im *importer) service(name, ns string) *spec.Service {
	key := ns + "/" + name
	if s, ok := im.services[key]; ok {
		return s
	}
	s := &spec.Service{Name: name, Namespace: ns}
	im.services[key] = s
	im.pos[key] = len(im.order)
	im.order = append(im.order, key)
	im.byName[name] = append(im.byName[name], key)
	return s
}

// serviceByName finds a known service by name (any namespace; the first discovered).
func (im *importer) serviceByName(name string) *spec.Service {
	if keys := im.byName[name]; len(keys) > 0 {
		return im.services[keys[0]]
	}
	return nil
}

// setIdentity gives a service an identity and indexes it.
func (im *importer) setIdentity(svc *spec.Service, identity string) {
	if svc.Identity == identity {
		return
	}
	svc.Identity = identity
	k := svc.Namespace + "/" + identity
	im.byIdent[k] = append(im.byIdent[k], svc.Namespace+"/"+svc.Name)
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
		im.vsPolicy = ""
		im.virtualService(o, s)
		im.dropUnreachableRoutes(o, s)
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

// ---- Kubernetes Services and ServiceEntries ----

// workloadKinds are the kinds (by API group) whose pod template declares container ports.
var workloadKinds = map[string]string{
	"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps",
	"Pod": "", "Job": "batch", "CronJob": "batch", "Rollout": "argoproj.io",
}

// workloadPorts reads the pod labels and named container ports of a workload object.
func workloadPorts(o *unstructured.Unstructured) (podPorts, bool) {
	g, ok := workloadKinds[o.GetKind()]
	if !ok || o.GroupVersionKind().Group != g {
		return podPorts{}, false
	}
	var tmpl []string
	switch o.GetKind() {
	case "Pod":
	case "CronJob":
		tmpl = []string{"spec", "jobTemplate", "spec", "template"}
	default:
		tmpl = []string{"spec", "template"}
	}
	w := podPorts{ref: o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName(), ns: o.GetNamespace(), ports: map[string]int32{}}
	w.labels, _, _ = unstructured.NestedStringMap(o.Object, append(append([]string{}, tmpl...), "metadata", "labels")...)
	if o.GetKind() == "Pod" {
		w.labels = o.GetLabels()
	}
	pod, _, _ := unstructured.NestedMap(o.Object, append(append([]string{}, tmpl...), "spec")...)
	for _, k := range []string{"initContainers", "containers"} {
		for _, c := range list(pod, k) {
			cm, _ := c.(map[string]any)
			for _, p := range list(cm, "ports") {
				pm, _ := p.(map[string]any)
				if n, cp := str(pm, "name"), i32(pm, "containerPort"); n != "" && cp > 0 {
					if _, seen := w.ports[n]; !seen {
						w.ports[n] = cp
					}
				}
			}
		}
	}
	return w, true
}

// namedTargetPort resolves a Service's named targetPort to the number the container port of that
// name has in the workloads the Service selects (in the Service's namespace), as Kubernetes does
// per pod. It returns the first number (in sorted object order), 0 when none declares it, and
// every distinct number found.
func (im *importer) namedTargetPort(ns string, selector map[string]string, name string) (int32, []string) {
	var first int32
	var found []string
	seen := map[int32]bool{}
	for _, i := range im.byPortName[ns+"/"+name] {
		w := im.workloads[i]
		if len(selector) == 0 || !selectorMatches(selector, w.labels) {
			continue
		}
		if n := w.ports[name]; !seen[n] {
			seen[n] = true
			if first == 0 {
				first = n
			}
			found = append(found, fmt.Sprintf("%d (%s)", n, w.ref))
		}
	}
	return first, found
}

func selectorMatches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (im *importer) kubeService(o *unstructured.Unstructured, s map[string]any) {
	svc := im.service(o.GetName(), o.GetNamespace())
	im.fromKube[o.GetNamespace()+"/"+o.GetName()] = true
	im.kubeSelector(o, svc, s)
	sel, _, _ := unstructured.NestedStringMap(s, "selector")
	for i, p := range list(s, "ports") {
		pm, _ := p.(map[string]any)
		port := spec.Port{Port: i32(pm, "port"), Name: str(pm, "name")}
		if tp := i32(pm, "targetPort"); tp != 0 {
			port.TargetPort = tp
		} else if name := str(pm, "targetPort"); name != "" {
			// A named targetPort is a container port name, resolved per pod by Kubernetes.
			field := fmt.Sprintf("spec.ports[%d].targetPort", i)
			n, found := im.namedTargetPort(o.GetNamespace(), sel, name)
			switch {
			case n == 0:
				im.warn(o, field, "", fmt.Sprintf(
					"targetPort %s is a container port name no workload of the input declares: the design uses the service port %d; include the workload or set targetPort",
					name, port.Port))
			case len(found) > 1:
				im.warn(o, field, "", fmt.Sprintf(
					"targetPort %s names different container ports in the workloads the Service selects (%s): a design port has one target, so it is imported as %d",
					name, strings.Join(found, ", "), n))
			}
			port.TargetPort = n
		}
		svc.Ports = append(svc.Ports, port)
		if svc.Protocol == "" {
			svc.Protocol = protocolOf(str(pm, "appProtocol"), port.Name)
		}
	}
	// A design service has one protocol: a port of another protocol (the ext-authz sample serves
	// http on 8000 and grpc on 9000) is served as the first port's protocol by the translation.
	for i, p := range list(s, "ports") {
		pm, _ := p.(map[string]any)
		if pp := protocolOf(str(pm, "appProtocol"), str(pm, "name")); pp != "" && svc.Protocol != "" && pp != svc.Protocol && !(pp == spec.ProtocolGRPC && svc.Protocol == spec.ProtocolHTTP2) {
			im.warn(o, fmt.Sprintf("spec.ports[%d]", i), adapters.FeatureWeightedSplit, fmt.Sprintf(
				"port %d (%s) is %s, another port is %s: a design service has one protocol, so it is imported as %s; put the %s port in a Service of its own to keep its protocol",
				i32(pm, "port"), str(pm, "name"), pp, svc.Protocol, svc.Protocol, pp))
		}
	}
}

// dropUnreachableRoutes removes the routes a VirtualService adds after one without a match: it
// takes every request, so Istio never uses the rules after it (Istio's
// fault-injection-details-v1 sample aborts every request in its first rule and keeps a plain rule
// after it), and a design rejects such routes. A VirtualService adds routes to one traffic policy
// (im.vsPolicy, which had im.vsBefore routes before it); only that one is looked at, so importing
// many VirtualServices stays linear.
func (im *importer) dropUnreachableRoutes(o *unstructured.Unstructured, s map[string]any) {
	// Only the spec.http rules are ordered by precedence; spec.tcp routes follow them.
	https := list(s, "http")
	nHTTP := len(https)
	if nHTTP > 1 {
		if lm, _ := https[nHTTP-1].(map[string]any); str(lm, "name") == FallthroughRoute && len(list(lm, "match")) == 0 {
			nHTTP-- // the catch-all the translator appends is not imported
		}
	}
	if tp, ok := im.traffic[im.vsPolicy]; ok && im.vsPolicy != "" {
		start := im.vsBefore
		end := min(len(tp.Routes), start+nHTTP)
		for i := start; i < end-1; i++ {
			if len(tp.Routes[i].Match) > 0 {
				continue
			}
			var dropped []string
			for j := i + 1; j < end; j++ {
				dropped = append(dropped, fmt.Sprintf("spec.http[%d]", j-start))
			}
			im.warn(o, fmt.Sprintf("spec.http[%d]", i-start), adapters.FeatureWeightedSplit, fmt.Sprintf(
				"the rule has no match, so it takes every request and Istio never uses the %d rule(s) after it (%s): they are dropped; give the rule a match if they should apply",
				len(dropped), strings.Join(dropped, ", ")))
			tp.Routes = append(tp.Routes[:i+1], tp.Routes[end:]...)
			break
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

// finish assembles services and traffic into the design in a stable order.
func (im *importer) finish() {
	im.selectors()
	im.mergeSameVersions()
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
	return mergePerService(rules, func(r *spec.JWTRule) (*string, *[]string) { return &r.Name, &r.Services })
}

// mergeExtensions folds WasmPlugins generated per service from one extension back into it.
func mergeExtensions(exts []spec.Extension) []spec.Extension {
	return mergePerService(exts, func(e *spec.Extension) (*string, *[]string) { return &e.Name, &e.Services })
}

// mergePerService folds items generated per service from one item ("<name>-<service>", one
// service each, otherwise identical, at least two) back into one item listing the services.
func mergePerService[T any](items []T, fields func(*T) (*string, *[]string)) []T {
	key := func(it T) (string, bool) {
		name, svcs := fields(&it)
		base, ok := perServiceBase(*name, *svcs)
		if !ok {
			return "", false
		}
		*name, *svcs = base, nil
		return fmt.Sprintf("%+v", it), true
	}
	counts := map[string]int{}
	for _, it := range items {
		if k, ok := key(it); ok {
			counts[k]++
		}
	}
	var out []T
	index := map[string]int{}
	for _, it := range items {
		k, ok := key(it)
		if !ok || counts[k] < 2 {
			out = append(out, it)
			continue
		}
		name, svcs := fields(&it)
		if i, seen := index[k]; seen {
			_, outSvcs := fields(&out[i])
			*outSvcs = append(*outSvcs, *svcs...)
			continue
		}
		*name, _ = perServiceBase(*name, *svcs)
		index[k] = len(out)
		out = append(out, it)
	}
	return out
}

// mergeSameVersions folds the versions of a service whose labels are the same (subsets that
// select the same pods: Argo Rollouts' canary and stable subsets before the controller adds
// each ReplicaSet's rollouts-pod-template-hash label) into the first of them, and sends the
// routes' backends of the others to it, adding up their weights. A design needs distinct labels
// for each version; the traffic each backend receives is the same.
func (im *importer) mergeSameVersions() {
	renamed := map[string]string{} // service/version -> version kept
	for _, k := range im.order {
		s := im.services[k]
		first := map[string]string{}
		var kept []spec.Version
		for _, v := range s.Versions {
			var key strings.Builder
			for _, l := range sortedKeys(v.Labels) {
				key.WriteString(l + "=" + v.Labels[l] + ",")
			}
			if f, dup := first[key.String()]; dup {
				renamed[s.Name+"/"+v.Name] = f
				im.warnings = append(im.warnings, adapters.Warning{Path: "DestinationRule (host " + s.Name + "): spec.subsets", Mesh: Name, Feature: adapters.FeatureWeightedSplit, Severity: adapters.SeverityWarning,
					Lost: fmt.Sprintf("subsets %q and %q select the same pods (%s): a design needs distinct labels for each version, so %q is imported as %q and the routes to it go to %q "+
						"(Argo Rollouts and Flagger add a pod-template-hash label to each subset while a rollout runs: import the live DestinationRule to keep both)",
						f, v.Name, strings.TrimSuffix(key.String(), ","), v.Name, f, f)})
				continue
			}
			first[key.String()] = v.Name
			kept = append(kept, v)
		}
		s.Versions = kept
	}
	if len(renamed) == 0 {
		return
	}
	for _, n := range im.tOrder {
		tp := im.traffic[n]
		for ri := range tp.Routes {
			r := &tp.Routes[ri]
			var out []spec.Backend
			for _, b := range r.Backends {
				svc := b.Service
				if svc == "" {
					svc = tp.Service
				}
				if to, ok := renamed[svc+"/"+b.Version]; ok {
					b.Version = to
				}
				merged := false
				for j := range out {
					osvc := out[j].Service
					if osvc == "" {
						osvc = tp.Service
					}
					if osvc == svc && out[j].Version == b.Version && out[j].Port == b.Port {
						out[j].Weight += b.Weight
						merged = true
					}
				}
				if !merged {
					out = append(out, b)
				}
			}
			r.Backends = out
			if m := r.Mirror; m != nil {
				svc := m.Service
				if svc == "" {
					svc = tp.Service
				}
				if to, ok := renamed[svc+"/"+m.Version]; ok {
					m.Version = to
				}
			}
		}
	}
}
