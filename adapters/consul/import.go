package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// imported is one Consul entry read back, in the consul-k8s camelCase shape.
type imported struct {
	ref       string
	kind      string
	name      string
	namespace string
	spec      map[string]any
	meta      map[string]string
	used      map[string]bool
}

func (e *imported) field(key string) any {
	e.used[key] = true
	return e.spec[key]
}

type importer struct {
	warnings []adapters.Warning
	entries  map[string]map[string]*imported // kind -> name -> entry
	order    map[string][]string
	// kube holds the Kubernetes Services of the input (consul-k8s registers each one whose pods
	// are injected as a Consul service): they give the design services' ports and selectors.
	kube []*unstructured.Unstructured
}

func (im *importer) warn(path string, f adapters.Feature, format string, args ...any) {
	im.warnings = append(im.warnings, adapters.Warning{
		Path: path, Mesh: Name, Feature: f, Severity: adapters.SeverityWarning, Lost: fmt.Sprintf(format, args...),
	})
}

func (im *importer) get(kind, name string) *imported { return im.entries[kind][name] }

// Import builds a design from consul-k8s custom resources or Consul config entries (in the
// "config-entry" envelope, or bare entries with Kind and Name). What the design cannot hold is
// reported as a warning.
func (a *Adapter) Import(ctx context.Context, objs []*unstructured.Unstructured, opts adapters.ImportOptions) (*spec.Design, []adapters.Warning, error) {
	im := &importer{entries: map[string]map[string]*imported{}, order: map[string][]string{}}
	nsCount := map[string]int{}
	for i, o := range objs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		e, err := im.read(i, o)
		if err != nil {
			return nil, im.warnings, err
		}
		if e == nil {
			continue
		}
		if e.namespace != "" {
			nsCount[e.namespace]++
		}
		if im.entries[e.kind] == nil {
			im.entries[e.kind] = map[string]*imported{}
		}
		if _, dup := im.entries[e.kind][e.name]; dup {
			im.warn(e.ref, adapters.FeatureWeightedSplit, "duplicate %s %q; the later one is ignored", e.kind, e.name)
			continue
		}
		im.entries[e.kind][e.name] = e
		im.order[e.kind] = append(im.order[e.kind], e.name)
	}
	for k := range im.order {
		sort.Strings(im.order[k])
	}
	ns := opts.Namespace
	if ns == "" {
		best := 0
		for _, n := range sortedKeys(nsCount) {
			if nsCount[n] > best {
				ns, best = n, nsCount[n]
			}
		}
	}
	if ns == "" {
		ns = "default"
	}
	name := opts.Name
	if name == "" {
		name = ns
		if len(nsCount) == 0 {
			name = "imported"
		}
	}
	d := &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: name, Namespace: ns}}
	b := &designBuilder{im: im, d: d, ns: ns, services: map[string]int{}, external: map[string]bool{}}
	b.build()
	for _, kind := range sortedKeys(im.entries) {
		for _, n := range im.order[kind] {
			e := im.entries[kind][n]
			for _, k := range sortedKeys(e.spec) {
				if !e.used[k] {
					im.warn(e.ref+".spec."+k, adapters.FeatureWeightedSplit, "field %q has no equivalent in the design and is not imported", k)
				}
			}
		}
	}
	adapters.SortWarnings(im.warnings)
	return d, im.warnings, nil
}

var entryKinds = func() map[string]string {
	m := map[string]string{}
	for k, v := range consulKinds {
		m[v] = k
	}
	return m
}()

// crdGroup is the API group of consul-k8s custom resources.
const crdGroup = "consul.hashicorp.com"

// read normalizes one object; nil (with a warning) when it is not a Consul object.
func (im *importer) read(i int, o *unstructured.Unstructured) (*imported, error) {
	e := &imported{used: map[string]bool{}, meta: map[string]string{}}
	switch {
	case o.GetAPIVersion() == "v1" && o.GetKind() == "Service":
		im.kube = append(im.kube, o)
		return nil, nil
	case strings.HasPrefix(o.GetAPIVersion(), crdGroup+"/"):
		// consul-k8s serves its config-entry CRDs as v1alpha1; manifests and test fixtures also
		// spell them consul.hashicorp.com/v1 with the same schema.
		e.kind = o.GetKind()
		if _, ok := consulKinds[e.kind]; !ok {
			why := "it has no design equivalent"
			switch e.kind {
			case "IngressGateway", "TerminatingGateway", "APIGateway", "Gateway", "HTTPRoute", "TCPRoute":
				why = "gateways are outside the mesh design"
			case "ExportedServices", "SamenessGroup", "PeeringAcceptor", "PeeringDialer", "ControlPlaneRequestLimit":
				why = "cluster peering and control-plane settings are outside the mesh design"
			}
			im.warn(adapters.ObjectRef(o), adapters.FeatureWeightedSplit, "consul kind %s is not imported: %s", e.kind, why)
			return nil, nil
		}
		e.name = o.GetName()
		e.namespace = o.GetNamespace()
		sp, _, err := unstructured.NestedMap(o.Object, "spec")
		if err != nil {
			return nil, fmt.Errorf("importing %s: spec: %w", adapters.ObjectRef(o), err)
		}
		if sp == nil {
			sp = map[string]any{}
		}
		e.spec = sp
		for k, v := range o.GetAnnotations() {
			e.meta[k] = v
		}
		if e.kind == KindServiceIntentions {
			if n, ok, _ := unstructured.NestedString(sp, "destination", "name"); ok && n != "" {
				e.name = n
			}
			e.used["destination"] = true
		}
	case o.GetAPIVersion() == ConfigEntryAPIVersion || (o.GetAPIVersion() == "" && (o.Object["Kind"] != nil || o.Object["kind"] != nil)):
		ce, err := ConfigEntry(&unstructured.Unstructured{Object: withEnvelope(topLevelCamel(o.Object))})
		if err != nil {
			return nil, err
		}
		kindStr, _ := ce["Kind"].(string)
		kind, ok := entryKinds[strings.ToLower(kindStr)]
		if !ok {
			im.warn(fmt.Sprintf("objects[%d]", i), adapters.FeatureWeightedSplit, "config entry kind %q is not imported", kindStr)
			return nil, nil
		}
		e.kind = kind
		e.name, _ = ce["Name"].(string)
		if kind == KindMesh {
			e.name = "mesh"
		}
		if m, ok := ce["Meta"].(map[string]any); ok {
			for k, v := range m {
				if s, ok := v.(string); ok {
					e.meta[k] = s
				}
			}
		}
		delete(ce, "Kind")
		delete(ce, "Name")
		delete(ce, "Meta")
		// Server bookkeeping that `consul config read` and the HTTP API add.
		for _, k := range []string{"CreateIndex", "ModifyIndex", "Hash", "create_index", "modify_index"} {
			delete(ce, k)
		}
		// Enterprise scoping: "default" is what every community edition entry carries.
		if ns, _ := ce["Namespace"].(string); ns != "" && ns != "default" {
			e.namespace = ns
			im.warnInfo(fmt.Sprintf("objects[%d].Namespace", i), adapters.FeatureWeightedSplit,
				"Consul namespace %q is read as the Kubernetes namespace of %q", ns, e.name)
		}
		if p, _ := ce["Partition"].(string); p != "" && p != "default" {
			im.warn(fmt.Sprintf("objects[%d].Partition", i), adapters.FeatureWeightedSplit,
				"admin partition %q has no equivalent in the design; the entry is imported as if in the default partition", p)
		}
		delete(ce, "Namespace")
		delete(ce, "Partition")
		e.spec = toCamelKeys(ce, "").(map[string]any)
	default:
		im.warn(adapters.ObjectRef(o), adapters.FeatureWeightedSplit, "not a Consul object (expected apiVersion %s/*, or a config entry with Kind and Name): not imported", crdGroup)
		return nil, nil
	}
	e.ref = fmt.Sprintf("%s/%s", e.kind, e.name)
	return e, nil
}

// topLevelCamel spells the identifying keys of a snake_case config entry (kind, name, meta,
// namespace, partition: the form HCL files and the Consul docs use) as the API does (Kind, Name,
// ...), so both spellings import alike. Other keys are converted later with CamelKey.
func topLevelCamel(obj map[string]any) map[string]any {
	if obj["apiVersion"] != nil && obj["apiVersion"] != "" {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	for _, k := range []string{"kind", "name", "meta", "namespace", "partition"} {
		v, ok := out[k]
		if !ok {
			continue
		}
		up := strings.ToUpper(k[:1]) + k[1:]
		if _, dup := out[up]; !dup {
			out[up] = v
		}
		delete(out, k)
	}
	return out
}

func withEnvelope(obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		out[k] = v
	}
	out["apiVersion"] = ConfigEntryAPIVersion
	return out
}

type designBuilder struct {
	im       *importer
	d        *spec.Design
	ns       string
	services map[string]int // name -> index in d.Spec.Services
	external map[string]bool
	traffic  map[string]*spec.TrafficPolicy
	tOrder   []string
	virtual  map[string]bool
	allSub   map[string]string
	// defaultProto is the protocol of the global proxy-defaults (config.protocol): the
	// protocol of every service without service-defaults of its own. Empty when unset.
	defaultProto spec.Protocol
}

func (b *designBuilder) ensureService(name, ns string) *spec.Service {
	if i, ok := b.services[name]; ok {
		return &b.d.Spec.Services[i]
	}
	if b.external[name] || name == "" || name == Wildcard {
		return nil
	}
	s := spec.Service{Name: name, Protocol: spec.ProtocolTCP}
	if b.defaultProto != "" {
		s.Protocol = b.defaultProto
	}
	if ns != "" && ns != b.ns {
		s.Namespace = ns
	}
	b.services[name] = len(b.d.Spec.Services)
	b.d.Spec.Services = append(b.d.Spec.Services, s)
	return &b.d.Spec.Services[len(b.d.Spec.Services)-1]
}

func (b *designBuilder) policy(name string) *spec.TrafficPolicy {
	if tp, ok := b.traffic[name]; ok {
		return tp
	}
	tp := &spec.TrafficPolicy{Service: name}
	b.traffic[name] = tp
	b.tOrder = append(b.tOrder, name)
	return tp
}

func (b *designBuilder) build() {
	im := b.im
	b.traffic = map[string]*spec.TrafficPolicy{}
	b.virtual = map[string]bool{}
	b.allSub = map[string]string{}
	// Virtual services of route-specific splits.
	for _, n := range im.order[KindServiceDefaults] {
		if e := im.get(KindServiceDefaults, n); e.meta[MetaSplitOf] != "" {
			b.virtual[n] = true
		}
	}
	b.defaultProto = b.proxyDefaultsProtocol()
	// Services and external services from service defaults.
	for _, n := range im.order[KindServiceDefaults] {
		if b.virtual[n] {
			im.get(KindServiceDefaults, n).used["protocol"] = true
			continue
		}
		b.serviceDefaults(im.get(KindServiceDefaults, n))
	}
	b.kubeServices()
	// Every other service named by an entry.
	for _, kind := range []string{KindServiceResolver, KindServiceRouter, KindServiceSplitter, KindServiceIntentions} {
		for _, n := range im.order[kind] {
			if b.virtual[n] {
				continue
			}
			e := im.get(kind, n)
			if kind == KindServiceSplitter && b.isRouteSplitter(n) {
				continue
			}
			_, declared := b.services[n]
			s := b.ensureService(n, e.namespace)
			if !declared && s != nil && s.Protocol == spec.ProtocolTCP && needsL7(kind, e) {
				// Consul only accepts routers, splitters and L7 intentions for L7 services, so
				// the protocol came from service-defaults that are not part of the input.
				s.Protocol = spec.ProtocolHTTP
				im.warnInfo(e.ref, adapters.FeatureWeightedSplit,
					"no service-defaults for %q: its protocol is taken as http, since Consul requires an L7 protocol for a %s; add its service-defaults (or proxy-defaults) if it is http2 or grpc",
					n, l7Use(kind))
			}
		}
	}
	for _, n := range im.order[KindServiceResolver] {
		b.resolver(im.get(KindServiceResolver, n))
	}
	for _, n := range im.order[KindServiceRouter] {
		b.router(im.get(KindServiceRouter, n))
	}
	// Splitters and default subsets without a router.
	for _, n := range im.order[KindServiceSplitter] {
		if b.virtual[n] || b.isRouteSplitter(n) || im.get(KindServiceRouter, n) != nil {
			continue
		}
		bs := b.splitBackends(n, n)
		tp := b.policy(n)
		tp.Routes = append(tp.Routes, spec.Route{Name: "default", Backends: bs})
	}
	for _, n := range im.order[KindServiceResolver] {
		r := im.get(KindServiceResolver, n)
		ds, _ := r.spec["defaultSubset"].(string)
		if ds == "" || im.get(KindServiceRouter, n) != nil || im.get(KindServiceSplitter, n) != nil {
			continue
		}
		tp := b.policy(n)
		tp.Routes = append(tp.Routes, spec.Route{Name: "default", Backends: []spec.Backend{{Version: ds}}})
	}
	for _, n := range im.order[KindServiceResolver] {
		b.redirect(im.get(KindServiceResolver, n))
	}
	b.resilience()
	b.security()
	b.telemetry()
	b.extensions()
	for _, n := range b.tOrder {
		b.d.Spec.Traffic = append(b.d.Spec.Traffic, *b.traffic[n])
	}
}

// kubeServices declares the Kubernetes Services of the input (consul-k8s registers each one as a
// Consul service of the same name) with their ports and selectors; their protocol stays the one
// of their service-defaults (or proxy-defaults, or tcp), which is where Consul reads it.
func (b *designBuilder) kubeServices() {
	sorted := append([]*unstructured.Unstructured(nil), b.im.kube...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetName() < sorted[j].GetName() })
	for _, o := range sorted {
		ref := adapters.ObjectRef(o)
		if b.external[o.GetName()] {
			b.im.warn(ref, adapters.FeatureWeightedSplit, "Kubernetes Service %q has the name of a terminating-gateway destination (service-defaults with a destination): its ports are not imported", o.GetName())
			continue
		}
		sp, _, _ := unstructured.NestedMap(o.Object, "spec")
		if t := str(sp, "type"); t == "ExternalName" {
			b.im.warn(ref+".spec.type", adapters.FeatureWeightedSplit, "an ExternalName Service is a DNS alias, not a Consul service: not imported")
			continue
		}
		s := b.ensureService(o.GetName(), o.GetNamespace())
		if s == nil {
			continue
		}
		var ports []spec.Port
		for i, p := range asList(sp["ports"]) {
			pm := asMap(p)
			n, ok := num(pm["port"])
			if !ok || n < 1 || n > 65535 {
				b.im.warn(fmt.Sprintf("%s.spec.ports[%d].port", ref, i), adapters.FeatureWeightedSplit, "not a port number (expected 1-65535): the port is not imported")
				continue
			}
			port := spec.Port{Port: int32(n), Name: str(pm, "name")}
			if tp, ok := num(pm["targetPort"]); ok && tp >= 1 && tp <= 65535 {
				port.TargetPort = int32(tp)
			}
			ports = append(ports, port)
		}
		if len(ports) > 0 {
			s.Ports = ports
		}
		if sel, _, _ := unstructured.NestedStringMap(sp, "selector"); len(sel) > 0 {
			s.Selector = sel
		}
	}
}

// isRouteSplitter reports whether splitter n is only reached from another service's router
// (a virtual service created for a route-specific split).
func (b *designBuilder) isRouteSplitter(n string) bool {
	if b.virtual[n] {
		return true
	}
	if _, ok := b.services[n]; ok {
		return false
	}
	if b.im.get(KindServiceSplitter, n) == nil {
		return false
	}
	for _, rn := range b.im.order[KindServiceRouter] {
		routes, _ := b.im.get(KindServiceRouter, rn).spec["routes"].([]any)
		for _, r := range routes {
			if s, _, _ := unstructured.NestedString(asMap(r), "destination", "service"); s == n {
				return true
			}
		}
	}
	return false
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func parseDur(v any) (spec.Duration, bool) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		return spec.Dur(d), err == nil
	default:
		if f, ok := num(v); ok {
			return spec.Dur(time.Duration(int64(f))), true
		}
	}
	return spec.Duration{}, false
}

func (b *designBuilder) serviceDefaults(e *imported) {
	proto := spec.Protocol(strings.ToLower(fmt.Sprint(e.field("protocol"))))
	if e.spec["protocol"] == nil {
		proto = spec.ProtocolTCP
		if b.defaultProto != "" {
			proto = b.defaultProto
		}
	}
	valid := false
	for _, p := range spec.Protocols {
		if p == proto {
			valid = true
		}
	}
	if !valid {
		b.im.warn(e.ref+".spec.protocol", adapters.FeatureWeightedSplit, "protocol %q is not a design protocol; tcp is used", proto)
		proto = spec.ProtocolTCP
	}
	if dest := asMap(e.field("destination")); dest != nil || e.meta[MetaExternalHosts] != "" {
		ext := spec.ExternalService{Name: e.name, Protocol: proto}
		for _, a := range asList(dest["addresses"]) {
			if s, ok := a.(string); ok {
				ext.Hosts = append(ext.Hosts, s)
			}
		}
		if h := e.meta[MetaExternalHosts]; h != "" {
			ext.Hosts = strings.Split(h, ",")
		}
		if p, ok := num(dest["port"]); ok {
			ext.Ports = []spec.Port{{Port: int32(p)}}
		}
		b.external[e.name] = true
		b.d.Spec.ExternalServices = append(b.d.Spec.ExternalServices, ext)
		return
	}
	s := b.ensureService(e.name, e.namespace)
	if s == nil {
		return
	}
	s.Protocol = proto
}

var filterTerm = regexp.MustCompile(`^Service\.Meta(?:\.([A-Za-z][A-Za-z0-9_]*)|\["((?:[^"\\]|\\.)*)"\])\s*==\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_.-]+))$`)

// parseFilter reads the subset filters the translation writes (and hand-written ones of the same
// shape): `Service.Meta.k == "v"` terms joined with "and".
func parseFilter(f string) (map[string]string, bool) {
	labels := map[string]string{}
	for _, term := range strings.Split(f, " and ") {
		term = strings.TrimSpace(term)
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			return nil, false
		}
		k := m[1]
		if k == "" {
			k = strings.ReplaceAll(m[2], `\"`, `"`)
		}
		v := strings.ReplaceAll(m[3], `\"`, `"`)
		if m[4] != "" {
			v = m[4]
		}
		labels[k] = v
	}
	return labels, len(labels) > 0
}

func (b *designBuilder) resolver(e *imported) {
	s := b.ensureService(e.name, e.namespace)
	subsets := asMap(e.field("subsets"))
	e.used["defaultSubset"] = true
	for _, name := range sortedKeys(subsets) {
		sub := asMap(subsets[name])
		filter := str(sub, "filter")
		if filter == "" {
			b.allSub[e.name] = name
			continue
		}
		labels, ok := parseFilter(filter)
		if !ok {
			b.im.warn(e.ref+".spec.subsets."+name+".filter", adapters.FeatureWeightedSplit,
				"filter %q is not a conjunction of Service.Meta equalities; version %q gets labels {version: %s}", filter, name, name)
			labels = map[string]string{"version": name}
		}
		if s != nil {
			s.Versions = append(s.Versions, spec.Version{Name: name, Labels: labels})
		}
	}
}

// redirect reads a resolver's redirect to another service of the mesh as the service's only
// route: every request for it goes to the target (or the target's subset).
func (b *designBuilder) redirect(e *imported) {
	rd := asMap(e.field("redirect"))
	if rd == nil {
		return
	}
	e.used["redirect"] = true
	path := e.ref + ".spec.redirect"
	target := str(rd, "service")
	for _, k := range sortedKeys(rd) {
		switch k {
		case "service", "serviceSubset":
		case "namespace":
			if v := str(rd, k); v != "" && v != "default" && v != e.namespace {
				b.im.warn(path+"."+k, adapters.FeatureWeightedSplit, "redirects to another Consul namespace are imported as redirects within the design's namespace")
			}
		default:
			b.im.warn(path+"."+k, adapters.FeatureWeightedSplit, "redirects to another %s have no design equivalent: the redirect is not imported", k)
			return
		}
	}
	if target == "" || target == e.name && str(rd, "serviceSubset") == "" {
		b.im.warn(path, adapters.FeatureWeightedSplit, "redirect without a target service: not imported")
		return
	}
	if b.im.get(KindServiceRouter, e.name) != nil || b.im.get(KindServiceSplitter, e.name) != nil {
		b.im.warn(path, adapters.FeatureWeightedSplit, "Consul ignores the routers and splitters of a redirected service; the design keeps them and drops the redirect")
		return
	}
	b.ensureService(target, e.namespace)
	tp := b.policy(e.name)
	tp.Routes = []spec.Route{{Name: "redirect", Backends: []spec.Backend{b.backendFor(e.name, target, str(rd, "serviceSubset"))}}}
}

// backendFor turns a router destination or split target into a backend of policy svc.
func (b *designBuilder) backendFor(policySvc, target, subset string) spec.Backend {
	bk := spec.Backend{Version: subset}
	if target != policySvc {
		bk.Service = target
		b.declareDestination(policySvc, target)
	}
	if subset != "" && b.allSub[target] == subset {
		bk.Version = ""
	}
	return bk
}

// splitBackends reads splitter n (reached from policy policySvc) as weighted backends.
func (b *designBuilder) splitBackends(n, policySvc string) []spec.Backend {
	e := b.im.get(KindServiceSplitter, n)
	splits := asList(e.field("splits"))
	pcts := make([]float64, len(splits))
	integral := true
	for i, s := range splits {
		pcts[i], _ = num(asMap(s)["weight"])
		if pcts[i] != math.Trunc(pcts[i]) {
			integral = false
		}
	}
	var out []spec.Backend
	for i, s := range splits {
		m := asMap(s)
		target := str(m, "service")
		if target == "" {
			target = n
		}
		bk := b.backendFor(policySvc, target, str(m, "serviceSubset"))
		if integral {
			bk.Weight = int32(pcts[i])
		} else {
			bk.Weight = int32(math.Round(pcts[i] * 100))
		}
		if m["requestHeaders"] != nil || m["responseHeaders"] != nil {
			b.im.warn(e.ref+".spec.splits", adapters.FeatureHeaderOps, "per-split header operations are not imported")
		}
		out = append(out, bk)
	}
	return out
}

// destination reads a router destination as the backends of a route of policy svc.
func (b *designBuilder) destination(svc string, dest map[string]any) []spec.Backend {
	target := str(dest, "service")
	if target == "" {
		target = svc
	}
	subset := str(dest, "serviceSubset")
	if subset == "" && b.im.get(KindServiceSplitter, target) != nil {
		return b.splitBackends(target, svc)
	}
	if subset == "" && target == svc {
		return nil
	}
	return []spec.Backend{b.backendFor(svc, target, subset)}
}

func (b *designBuilder) router(e *imported) {
	svc := e.name
	routes := asList(e.field("routes"))
	var names []string
	if n := e.meta[MetaRoutes]; n != "" {
		names = strings.Split(n, ",")
	}
	tp := b.policy(svc)
	var prevDest string
	for i, r := range routes {
		rm := asMap(r)
		name := fmt.Sprintf("route-%d", len(tp.Routes))
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		dest := asMap(rm["destination"])
		destKey := mustJSON(dest)
		var match *spec.Match
		if h := asMap(asMap(rm["match"])["http"]); len(h) > 0 {
			match = b.match(fmt.Sprintf("%s.spec.routes[%d].match.http", e.ref, i), h)
		}
		// Consecutive Consul routes of one design route (one per match) merge back.
		if n := len(tp.Routes); n > 0 && tp.Routes[n-1].Name == name && destKey == prevDest && match != nil {
			tp.Routes[n-1].Match = append(tp.Routes[n-1].Match, *match)
			continue
		}
		route := spec.Route{Name: name, Backends: b.destination(svc, dest)}
		if match != nil {
			route.Match = []spec.Match{*match}
		}
		b.routeSettings(fmt.Sprintf("%s.spec.routes[%d].destination", e.ref, i), &route, dest)
		tp.Routes = append(tp.Routes, route)
		prevDest = destKey
	}
	if n := len(tp.Routes); n == 0 || len(tp.Routes[n-1].Match) > 0 {
		name := "default"
		for _, r := range tp.Routes {
			if r.Name == name {
				name = "default-route"
			}
		}
		route := spec.Route{Name: name, Backends: b.destination(svc, map[string]any{})}
		if r := b.im.get(KindServiceResolver, svc); r != nil && route.Backends == nil {
			if ds := str(r.spec, "defaultSubset"); ds != "" {
				route.Backends = []spec.Backend{{Version: ds}}
			}
		}
		tp.Routes = append(tp.Routes, route)
	}
}

func (b *designBuilder) match(path string, h map[string]any) *spec.Match {
	m := &spec.Match{}
	switch {
	case str(h, "pathExact") != "":
		m.Path = &spec.PathMatch{Exact: str(h, "pathExact")}
	case str(h, "pathPrefix") != "":
		m.Path = &spec.PathMatch{Prefix: str(h, "pathPrefix")}
		if p := m.Path.Prefix; p != "/" && !strings.HasSuffix(p, "/") {
			b.im.warnInfo(path+".pathPrefix", adapters.FeaturePathMatch,
				"Consul pathPrefix %q is a raw string prefix; the design's prefix matches whole path segments", p)
		}
	case str(h, "pathRegex") != "":
		m.Path = &spec.PathMatch{Regex: str(h, "pathRegex")}
	}
	methods := asList(h["methods"])
	if len(methods) == 1 {
		m.Method, _ = methods[0].(string)
	} else if len(methods) > 1 {
		b.im.warn(path+".methods", adapters.FeatureMethodMatch, "a design match has one method; only %v is imported", methods[0])
		m.Method, _ = methods[0].(string)
	}
	if hs := asList(h["header"]); len(hs) > 0 {
		m.Headers = map[string]spec.StringMatch{}
		for j, x := range hs {
			hm := asMap(x)
			sm, ok := b.stringMatch(fmt.Sprintf("%s.header[%d]", path, j), hm)
			if ok {
				m.Headers[strings.ToLower(str(hm, "name"))] = sm
			}
		}
	}
	if qs := asList(h["queryParam"]); len(qs) > 0 {
		m.QueryParams = map[string]spec.StringMatch{}
		for j, x := range qs {
			qm := asMap(x)
			sm, ok := b.stringMatch(fmt.Sprintf("%s.queryParam[%d]", path, j), qm)
			if ok {
				m.QueryParams[str(qm, "name")] = sm
			}
		}
	}
	if h["caseInsensitive"] == true {
		b.im.warn(path+".caseInsensitive", adapters.FeaturePathMatch, "case-insensitive path matching is not imported")
	}
	return m
}

var quotedPrefix = regexp.MustCompile(`^((?:[^\\.+*?()|\[\]{}^$]|\\[\\.+*?()|\[\]{}^$])*)\.\*$`)

func (b *designBuilder) stringMatch(path string, m map[string]any) (spec.StringMatch, bool) {
	if m["invert"] == true {
		b.im.warn(path+".invert", adapters.FeatureHeaderMatch, "inverted matches are not imported; the condition is dropped")
		return spec.StringMatch{}, false
	}
	switch {
	case str(m, "exact") != "":
		return spec.StringMatch{Exact: str(m, "exact")}, true
	case str(m, "prefix") != "":
		return spec.StringMatch{Prefix: str(m, "prefix")}, true
	case str(m, "suffix") != "":
		return spec.StringMatch{Regex: ".*" + regexp.QuoteMeta(str(m, "suffix"))}, true
	case str(m, "regex") != "":
		r := str(m, "regex")
		if q := quotedPrefix.FindStringSubmatch(r); q != nil && q[1] != "" {
			return spec.StringMatch{Prefix: unquoteMeta(q[1])}, true
		}
		return spec.StringMatch{Regex: r}, true
	case m["present"] == true:
		return spec.StringMatch{Present: true}, true
	}
	return spec.StringMatch{Present: true}, true
}

func unquoteMeta(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

func (im *importer) warnInfo(path string, f adapters.Feature, format string, args ...any) {
	im.warnings = append(im.warnings, adapters.Warning{
		Path: path, Mesh: Name, Feature: f, Severity: adapters.SeverityInfo, Lost: fmt.Sprintf(format, args...),
	})
}

func (b *designBuilder) routeSettings(path string, r *spec.Route, dest map[string]any) {
	if d, ok := parseDur(dest["requestTimeout"]); ok && !d.IsZero() {
		r.Timeout = d
	}
	if n, ok := num(dest["numRetries"]); ok && n > 0 {
		rt := &spec.Retries{Attempts: int32(n)}
		for _, c := range asList(dest["retryOn"]) {
			if s, ok := c.(string); ok {
				rt.On = append(rt.On, s)
			}
		}
		if dest["retryOnConnectFailure"] == true {
			rt.On = append(rt.On, "connect-failure")
		}
		for _, c := range asList(dest["retryOnStatusCodes"]) {
			if f, ok := num(c); ok {
				rt.On = append(rt.On, strconv.Itoa(int(f)))
			}
		}
		r.Retries = rt
	}
	if req, resp := headerOpsFrom(asMap(dest["requestHeaders"])), headerOpsFrom(asMap(dest["responseHeaders"])); req != nil || resp != nil {
		r.Headers = &spec.HeaderOps{Request: req, Response: resp}
	}
	if pr := str(dest, "prefixRewrite"); pr != "" {
		if len(r.Match) > 0 && r.Match[0].Path != nil && r.Match[0].Path.Exact != "" {
			r.Rewrite = &spec.Rewrite{FullPath: pr}
		} else {
			r.Rewrite = &spec.Rewrite{Prefix: pr}
		}
	}
	if d, ok := parseDur(dest["idleTimeout"]); ok && !d.IsZero() {
		b.im.warn(path+".idleTimeout", adapters.FeatureTimeout, "the design has no idle timeout; %s is not imported", d)
	}
}

func headerOpsFrom(m map[string]any) *spec.HeaderOperations {
	if len(m) == 0 {
		return nil
	}
	o := &spec.HeaderOperations{}
	conv := func(v any) map[string]string {
		src := asMap(v)
		if len(src) == 0 {
			return nil
		}
		out := map[string]string{}
		for k, x := range src {
			out[k] = fmt.Sprint(x)
		}
		return out
	}
	o.Add = conv(m["add"])
	o.Set = conv(m["set"])
	for _, x := range asList(m["remove"]) {
		if s, ok := x.(string); ok {
			o.Remove = append(o.Remove, s)
		}
	}
	return o
}

// declareDestination declares a service that is only named as a route or split destination
// (a router sending /admin to "admin" without any entry for "admin"), so the design stays
// valid. It takes the protocol of the routing service, since Consul only routes between
// services of the same L7 protocol, and says so in a warning.
func (b *designBuilder) declareDestination(policySvc, target string) {
	if _, ok := b.services[target]; ok || b.external[target] || target == "" || target == Wildcard {
		return
	}
	proto := spec.ProtocolTCP
	if i, ok := b.services[policySvc]; ok {
		proto = b.d.Spec.Services[i].Protocol
	}
	s := b.ensureService(target, "")
	if s == nil {
		return
	}
	s.Protocol = proto
	b.im.warnInfo(fmt.Sprintf("service %s", target), adapters.FeatureWeightedSplit,
		"service %q is only named as a destination of %q; declared with protocol %q and default ports: add its service-defaults (or Kubernetes Service) to import its real ports",
		target, policySvc, proto)
}

// proxyDefaultsProtocol reads config.protocol of the global proxy-defaults, the protocol Consul
// gives every service without a protocol of its own; "" when unset or not a design protocol.
func (b *designBuilder) proxyDefaultsProtocol() spec.Protocol {
	pd := b.im.get(KindProxyDefaults, "global")
	if pd == nil {
		return ""
	}
	p, _ := asMap(pd.field("config"))["protocol"].(string)
	if p == "" {
		return ""
	}
	for _, known := range spec.Protocols {
		if spec.Protocol(strings.ToLower(p)) == known {
			return known
		}
	}
	b.im.warn(pd.ref+".spec.config.protocol", adapters.FeatureWeightedSplit, "protocol %q is not a design protocol; services without service-defaults stay tcp", p)
	return ""
}

// needsL7 reports whether entry e of kind only exists for L7 services: routers, splitters and
// intentions with HTTP permissions.
func needsL7(kind string, e *imported) bool {
	switch kind {
	case KindServiceRouter, KindServiceSplitter:
		return true
	case KindServiceIntentions:
		for _, s := range asList(e.field("sources")) {
			if len(asList(asMap(s)["permissions"])) > 0 {
				return true
			}
		}
	}
	return false
}

func l7Use(kind string) string {
	if kind == KindServiceIntentions {
		return "ServiceIntentions with HTTP permissions"
	}
	return kind
}
