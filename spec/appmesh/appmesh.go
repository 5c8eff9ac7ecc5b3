// Package appmesh imports AWS App Mesh Kubernetes resources (appmesh.k8s.aws/v1beta2 Mesh,
// VirtualService, VirtualRouter, VirtualNode, and the legacy v1beta1 objects of controller
// v0.x, upgraded on the fly) into Trellis designs, so that App Mesh users (the
// service reached its end of life on 2026-09-30) can move their routing, retries, health checks
// and TLS settings to another mesh.
//
// The mapping:
//   - a VirtualService is a design service (named after the Kubernetes object); when its provider
//     is a VirtualRouter, the router's routes become the service's routes, in App Mesh priority
//     order (0 first; routes without a priority last, in file order), and the virtual nodes the
//     routes target become the service's versions (pod selector labels; the version is named after
//     the "version" label, or the node's name);
//   - a VirtualNode that provides no virtual service is a service of its own (for example the
//     front end that calls the others);
//   - listener health checks become active health checks, outlier detection and connection pools
//     become resilience, listener TLS modes become mTLS overrides, file access logs become telemetry;
//   - Kubernetes Services in the input give service ports; Deployments, Namespaces and other
//     objects are skipped.
//
// Everything without a counterpart is reported as a warning naming the object and field.
package appmesh

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Source is the name this importer reports in warnings.
const Source = "appmesh"

// Group is App Mesh's Kubernetes API group.
const Group = "appmesh.k8s.aws"

// Options tunes an import.
type Options struct {
	// Name is the design's name. Default: the Mesh object's name, else the namespace.
	Name string
	// Namespace is the design's namespace. Default: the namespace most objects are in.
	Namespace string
}

type importer struct {
	ns       string
	design   *spec.Design
	warnings []adapters.Warning
	nodes    map[string]*unstructured.Unstructured
	routers  map[string]*unstructured.Unstructured
	services map[string]*unstructured.Unstructured
	kube     map[string]*unstructured.Unstructured // core Services by name
	index    map[string]int                        // design service name -> index
	owner    map[string]string                     // virtual node -> design service whose version it is
}

func (im *importer) warn(path string, f adapters.Feature, sev adapters.Severity, format string, a ...any) {
	im.warnings = append(im.warnings, adapters.Warning{Path: path, Mesh: Source, Feature: f, Severity: sev, Lost: fmt.Sprintf(format, a...)})
}

// Import builds a design from App Mesh objects. The design is defaulted and validated; an error
// lists every violation.
func Import(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*spec.Design, []adapters.Warning, error) {
	im := &importer{
		nodes: map[string]*unstructured.Unstructured{}, routers: map[string]*unstructured.Unstructured{},
		services: map[string]*unstructured.Unstructured{}, kube: map[string]*unstructured.Unstructured{},
		index: map[string]int{}, owner: map[string]string{},
	}
	im.ns = opts.Namespace
	name := opts.Name
	var vsNames []string
	for _, raw := range objs {
		o, err := normalize(raw)
		if err != nil {
			im.warn(fmt.Sprintf("%s %s", raw.GetKind(), raw.GetName()), "", adapters.SeverityError, "unreadable object: %v; skipped", err)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		gvk := o.GroupVersionKind()
		ref := fmt.Sprintf("%s %s", gvk.Kind, o.GetName())
		if gvk.Group == Group && gvk.Version == "v1beta1" {
			if r := im.upgradeV1beta1(o, ref); r != nil {
				im.routers[r.GetName()] = r
			}
		}
		switch {
		case gvk.Group == Group && gvk.Kind == "Mesh":
			if name == "" {
				name = sanitize(o.GetName())
			}
			im.mesh(o)
		case gvk.Group == Group && gvk.Kind == "VirtualNode":
			im.nodes[o.GetName()] = o
		case gvk.Group == Group && gvk.Kind == "VirtualRouter":
			im.routers[o.GetName()] = o
		case gvk.Group == Group && gvk.Kind == "VirtualService":
			im.services[o.GetName()] = o
			vsNames = append(vsNames, o.GetName())
		case gvk.Group == Group && (gvk.Kind == "VirtualGateway" || gvk.Kind == "GatewayRoute"):
			im.warn(ref, "", adapters.SeverityWarning, "%s (ingress) is not part of a mesh design; migrate it to your ingress gateway (for example a Gateway API Gateway + HTTPRoute)", gvk.Kind)
		case gvk.Group == Group:
			im.warn(ref, "", adapters.SeverityWarning, "App Mesh kind %s is not imported", gvk.Kind)
		case gvk.Group == "" && gvk.Kind == "Service":
			im.kube[o.GetName()] = o
		default:
			im.warn(ref, "", adapters.SeverityInfo, "%s is not an App Mesh resource; skipped", o.GetAPIVersion())
		}
		if im.ns == "" && gvk.Group == Group && o.GetNamespace() != "" {
			im.ns = o.GetNamespace()
		}
	}
	if im.ns == "" {
		im.ns = "default"
	}
	if name == "" {
		name = sanitize(im.ns)
	}
	im.design = &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: name, Namespace: im.ns}}

	sort.Strings(vsNames)
	for _, vs := range vsNames {
		im.virtualService(im.services[vs])
	}
	nodeNames := make([]string, 0, len(im.nodes))
	for n := range im.nodes {
		nodeNames = append(nodeNames, n)
	}
	sort.Strings(nodeNames)
	for _, n := range nodeNames {
		if _, ok := im.owner[n]; !ok {
			// A node that provides no virtual service (a front end, a batch job): a service of its own.
			svc := im.service(sanitize(n), im.nodes[n])
			im.owner[n] = svc
		}
	}
	for _, n := range nodeNames {
		im.nodeSettings(n, im.nodes[n])
	}
	d := im.design
	for i := range d.Spec.Services {
		if s := &d.Spec.Services[i]; !s.InferSelector() {
			im.warn("VirtualService "+s.Name, adapters.FeatureWeightedSplit, adapters.SeverityError,
				"the virtual nodes behind %q select pods with different app labels and share no label: no single selector covers the service; set spec.services[%d].selector (and the versions' labels) by hand", s.Name, i)
		}
	}
	d.SimplifyWeights()
	d.Default()
	if vs := d.Validate(); len(vs) > 0 {
		return d, im.warnings, &spec.ValidationError{Violations: vs}
	}
	adapters.SortWarnings(im.warnings)
	return d, im.warnings, nil
}

func (im *importer) mesh(o *unstructured.Unstructured) {
	ref := "Mesh " + o.GetName()
	if t, _, _ := unstructured.NestedString(o.Object, "spec", "egressFilter", "type"); t == "DROP_ALL" {
		im.warn(ref+".spec.egressFilter", adapters.FeatureExternalServices, adapters.SeverityWarning,
			"egressFilter DROP_ALL (only declared destinations reachable) has no design field; declare external destinations in spec.externalServices and set the target mesh's outbound policy (Istio meshConfig.outboundTrafficPolicy REGISTRY_ONLY)")
	}
}

// service declares a design service, taking ports and protocol from a node's listeners or a
// Kubernetes Service of the same name.
func (im *importer) service(name string, from *unstructured.Unstructured) string {
	if _, ok := im.index[name]; ok {
		return name
	}
	s := spec.Service{Name: name}
	if from != nil {
		listeners, _, _ := unstructured.NestedSlice(from.Object, "spec", "listeners")
		for _, l := range listeners {
			lm, _ := l.(map[string]any)
			port, _, _ := unstructured.NestedInt64(lm, "portMapping", "port")
			proto, _, _ := unstructured.NestedString(lm, "portMapping", "protocol")
			if port > 0 && port < 65536 {
				s.Ports = append(s.Ports, spec.Port{Port: int32(port)})
			}
			if s.Protocol == "" {
				s.Protocol = protocol(proto)
			}
		}
	}
	if ks, ok := im.kube[name]; ok {
		// The Kubernetes Service's selector is the service's: the pods its endpoints come from.
		s.Selector, _, _ = unstructured.NestedStringMap(ks.Object, "spec", "selector")
	}
	if from != nil && from.GetKind() == "VirtualNode" && len(s.Selector) == 0 {
		// A service provided by one node: the node's pods are the service's.
		s.Selector, _, _ = unstructured.NestedStringMap(from.Object, "spec", "podSelector", "matchLabels")
		if exprs, _, _ := unstructured.NestedSlice(from.Object, "spec", "podSelector", "matchExpressions"); len(exprs) > 0 {
			im.warn("VirtualNode "+from.GetName()+".spec.podSelector.matchExpressions", adapters.FeatureAuthzAllow, adapters.SeverityWarning,
				"match expressions have no design counterpart; only matchLabels become service %q's selector", name)
		}
	}
	if ks, ok := im.kube[name]; ok && len(s.Ports) == 0 {
		ports, _, _ := unstructured.NestedSlice(ks.Object, "spec", "ports")
		for _, p := range ports {
			pm, _ := p.(map[string]any)
			if n, ok := pm["port"].(int64); ok && n > 0 && n < 65536 {
				sp := spec.Port{Port: int32(n)}
				if tp, ok := pm["targetPort"].(int64); ok && tp > 0 && tp < 65536 {
					sp.TargetPort = int32(tp)
				}
				s.Ports = append(s.Ports, sp)
			}
		}
	}
	if from != nil && from.GetKind() == "VirtualRouter" {
		im.routerTargetPort(&s, from)
	}
	im.design.Spec.Services = append(im.design.Spec.Services, s)
	im.index[name] = len(im.design.Spec.Services) - 1
	return name
}

// routerTargetPort sets the target port of a router-provided service with one port: the
// VirtualRouter listens on the service port (80 in Argo Rollouts' App Mesh example) and routes to
// virtual nodes whose listeners are the pods' port (8080); without it the design would send the
// service's traffic to port 80 of the pods.
func (im *importer) routerTargetPort(s *spec.Service, router *unstructured.Unstructured) {
	if len(s.Ports) != 1 || s.Ports[0].TargetPort != 0 {
		return
	}
	nodePorts := map[int64]bool{}
	routes, _, _ := unstructured.NestedSlice(router.Object, "spec", "routes")
	for _, r := range routes {
		rm, _ := r.(map[string]any)
		for _, k := range []string{"httpRoute", "http2Route", "grpcRoute", "tcpRoute"} {
			targets, _, _ := unstructured.NestedSlice(rm, k, "action", "weightedTargets")
			for _, t := range targets {
				node, _, _ := unstructured.NestedString(t.(map[string]any), "virtualNodeRef", "name")
				n, ok := im.nodes[node]
				if !ok {
					continue
				}
				listeners, _, _ := unstructured.NestedSlice(n.Object, "spec", "listeners")
				for _, l := range listeners {
					if p, _, _ := unstructured.NestedInt64(l.(map[string]any), "portMapping", "port"); p > 0 && p < 65536 {
						nodePorts[p] = true
					}
				}
			}
		}
	}
	if len(nodePorts) != 1 {
		if len(nodePorts) > 1 {
			im.warn("VirtualRouter "+router.GetName()+".spec.routes", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
				"the virtual nodes behind service %q listen on different ports: the design has one target port per service port, so the pods are assumed to listen on %d; set spec.services[].ports[].targetPort by hand", s.Name, s.Ports[0].Port)
		}
		return
	}
	for p := range nodePorts {
		if int32(p) != s.Ports[0].Port {
			s.Ports[0].TargetPort = int32(p)
		}
	}
}

func protocol(p string) spec.Protocol {
	switch p {
	case "http2":
		return spec.ProtocolHTTP2
	case "grpc":
		return spec.ProtocolGRPC
	case "tcp":
		return spec.ProtocolTCP
	case "http":
		return spec.ProtocolHTTP
	}
	return ""
}

func (im *importer) virtualService(o *unstructured.Unstructured) {
	ref := "VirtualService " + o.GetName()
	name := sanitize(strings.SplitN(o.GetName(), ".", 2)[0])
	if router, ok, _ := unstructured.NestedString(o.Object, "spec", "provider", "virtualRouter", "virtualRouterRef", "name"); ok {
		r, found := im.routers[router]
		if !found {
			im.warn(ref+".spec.provider.virtualRouter", adapters.FeatureWeightedSplit, adapters.SeverityError, "VirtualRouter %q is not among the imported objects; the service is imported without routes", router)
			im.service(name, nil)
			return
		}
		im.service(name, r)
		im.router(name, r)
		return
	}
	if node, ok, _ := unstructured.NestedString(o.Object, "spec", "provider", "virtualNode", "virtualNodeRef", "name"); ok {
		n, found := im.nodes[node]
		if !found {
			im.warn(ref+".spec.provider.virtualNode", "", adapters.SeverityError, "VirtualNode %q is not among the imported objects", node)
			im.service(name, nil)
			return
		}
		im.service(name, n)
		im.owner[node] = name
		return
	}
	if _, ok, _ := unstructured.NestedString(o.Object, "spec", "provider", "virtualRouter", "virtualRouterARN"); ok {
		im.warn(ref+".spec.provider", "", adapters.SeverityError, "providers referenced by ARN are outside this cluster's objects; import them too")
	}
	im.service(name, nil)
}

// version returns the design version name of a virtual node targeted by service svc, declaring the
// version from the node's pod selector.
func (im *importer) version(svc, node, path string) (string, bool) {
	n, ok := im.nodes[node]
	if !ok {
		im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityError, "VirtualNode %q is not among the imported objects; target dropped", node)
		return "", false
	}
	if o, taken := im.owner[node]; taken && o != svc {
		im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityWarning, "VirtualNode %q already backs service %q; also used as a version of %q", node, o, svc)
	}
	im.owner[node] = svc
	labels, _, _ := unstructured.NestedStringMap(n.Object, "spec", "podSelector", "matchLabels")
	if exprs, _, _ := unstructured.NestedSlice(n.Object, "spec", "podSelector", "matchExpressions"); len(exprs) > 0 {
		im.warn("VirtualNode "+node+".spec.podSelector.matchExpressions", adapters.FeatureWeightedSplit, adapters.SeverityWarning, "match expressions have no design counterpart; only matchLabels select the version")
	}
	vname := labels["version"]
	if vname == "" {
		vname = strings.TrimPrefix(node, svc+"-")
	}
	vname = sanitize(vname)
	s := &im.design.Spec.Services[im.index[svc]]
	for _, v := range s.Versions {
		if v.Name == vname {
			return vname, true
		}
	}
	if len(labels) == 0 && n.GetAPIVersion() == Group+"/v1beta1" {
		// v1beta1 nodes are bound to pods by the pods' appmesh.k8s.aws/virtualNode annotation,
		// not by a selector; the walkthroughs label those pods with the version.
		labels = map[string]string{"version": vname}
		im.warn("VirtualNode "+node, adapters.FeatureWeightedSplit, adapters.SeverityWarning,
			"appmesh.k8s.aws/v1beta1 nodes select pods by annotation, not labels: version %q assumed to select pods labelled version=%s; fix spec.services[].versions if not", vname, vname)
	}
	if len(labels) == 0 {
		im.warn("VirtualNode "+node+".spec.podSelector", adapters.FeatureWeightedSplit, adapters.SeverityError, "no matchLabels: the version cannot select pods; target dropped")
		return "", false
	}
	s.Versions = append(s.Versions, spec.Version{Name: vname, Labels: labels})
	return vname, true
}

type route struct {
	priority int64
	has      bool
	idx      int
	r        spec.Route
}

func (im *importer) router(svc string, r *unstructured.Unstructured) {
	ref := "VirtualRouter " + r.GetName()
	rawRoutes, _, _ := unstructured.NestedSlice(r.Object, "spec", "routes")
	var routes []route
	for i, rr := range rawRoutes {
		rm, _ := rr.(map[string]any)
		path := fmt.Sprintf("%s.spec.routes[%d]", ref, i)
		name, _ := rm["name"].(string)
		rt := route{idx: i, r: spec.Route{Name: sanitize(name)}}
		if p, ok := rm["priority"].(int64); ok {
			rt.priority, rt.has = p, true
		}
		var body map[string]any
		kind := ""
		for _, k := range []string{"httpRoute", "http2Route", "grpcRoute", "tcpRoute"} {
			if b, ok := rm[k].(map[string]any); ok {
				body, kind = b, k
				break
			}
		}
		if body == nil {
			im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityError, "route has no httpRoute, http2Route, grpcRoute or tcpRoute; skipped")
			continue
		}
		ok := true
		switch kind {
		case "httpRoute", "http2Route":
			rt.r.Match, ok = im.httpMatch(body, path+"."+kind+".match")
		case "grpcRoute":
			rt.r.Match, ok = im.grpcMatch(body, path+".grpcRoute.match")
		case "tcpRoute":
			if p, found, _ := unstructured.NestedInt64(body, "match", "port"); found {
				im.warn(path+".tcpRoute.match.port", adapters.FeatureWeightedSplit, adapters.SeverityWarning, "routing by listener port %d is not expressible; the route applies to every port", p)
			}
		}
		if !ok {
			continue
		}
		targets, _, _ := unstructured.NestedSlice(body, "action", "weightedTargets")
		for j, t := range targets {
			tm, _ := t.(map[string]any)
			tp := fmt.Sprintf("%s.%s.action.weightedTargets[%d]", path, kind, j)
			node, _, _ := unstructured.NestedString(tm, "virtualNodeRef", "name")
			if node == "" {
				im.warn(tp, adapters.FeatureWeightedSplit, adapters.SeverityError, "targets referenced by ARN cannot be resolved; target dropped")
				continue
			}
			v, ok := im.version(svc, node, tp)
			if !ok {
				continue
			}
			w, _ := tm["weight"].(int64)
			b := spec.Backend{Version: v, Weight: int32(min(w, 10000))}
			if p, ok := tm["port"].(int64); ok && p > 0 && p < 65536 {
				b.Port = int32(p)
			}
			rt.r.Backends = append(rt.r.Backends, b)
		}
		if len(rt.r.Backends) == 0 {
			im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityError, "no usable target; route skipped")
			continue
		}
		allZero := true
		for _, b := range rt.r.Backends {
			allZero = allZero && b.Weight == 0
		}
		if allZero {
			im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityError, "every target has weight 0; route skipped")
			continue
		}
		im.retries(body, path+"."+kind, &rt.r)
		im.timeout(body, path+"."+kind, &rt.r)
		routes = append(routes, rt)
	}
	// App Mesh evaluates routes by priority (0 first); routes without priority come last, in order.
	sort.SliceStable(routes, func(a, b int) bool {
		ra, rb := routes[a], routes[b]
		if ra.has != rb.has {
			return ra.has
		}
		if ra.priority != rb.priority {
			return ra.priority < rb.priority
		}
		return ra.idx < rb.idx
	})
	tp := spec.TrafficPolicy{Service: svc}
	for i, r := range routes {
		if len(r.r.Match) == 0 && i < len(routes)-1 {
			for _, later := range routes[i+1:] {
				im.warn(fmt.Sprintf("%s.spec.routes[%d]", ref, later.idx), adapters.FeaturePathMatch, adapters.SeverityWarning,
					"unreachable: route %q of higher priority matches every request; dropped", r.r.Name)
			}
			tp.Routes = append(tp.Routes, r.r)
			break
		}
		tp.Routes = append(tp.Routes, r.r)
	}
	if len(tp.Routes) > 0 {
		im.design.Spec.Traffic = append(im.design.Spec.Traffic, tp)
	}
}

// httpMatch converts an App Mesh HTTP route match. ok is false when the route cannot be imported
// without matching more requests than in App Mesh.
func (im *importer) httpMatch(body map[string]any, path string) ([]spec.Match, bool) {
	m, _ := body["match"].(map[string]any)
	var sm spec.Match
	if prefix, _ := m["prefix"].(string); prefix != "" && prefix != "/" {
		// App Mesh prefixes are raw string prefixes ("/color" matches "/colorful"); a design prefix
		// matches whole segments, so keep the exact meaning with a regular expression.
		sm.Path = &spec.PathMatch{Regex: regexp.QuoteMeta(prefix) + ".*"}
	}
	if exact, _, _ := unstructured.NestedString(m, "path", "exact"); exact != "" {
		sm.Path = &spec.PathMatch{Exact: exact}
	}
	if re, _, _ := unstructured.NestedString(m, "path", "regex"); re != "" {
		sm.Path = &spec.PathMatch{Regex: re}
	}
	if meth, _ := m["method"].(string); meth != "" {
		sm.Method = meth
	}
	if scheme, _ := m["scheme"].(string); scheme != "" {
		im.warn(path+".scheme", adapters.FeaturePathMatch, adapters.SeverityWarning, "scheme match %q is not expressible; the route matches both schemes", scheme)
	}
	if p, ok := m["port"].(int64); ok {
		im.warn(path+".port", adapters.FeaturePathMatch, adapters.SeverityWarning, "routing by listener port %d is not expressible; the route applies to every port", p)
	}
	hs, _ := m["headers"].([]any)
	for i, h := range hs {
		hm, _ := h.(map[string]any)
		hp := fmt.Sprintf("%s.headers[%d]", path, i)
		sm2, ok := im.stringMatch(hm, hp)
		if !ok {
			return nil, false
		}
		if sm.Headers == nil {
			sm.Headers = map[string]spec.StringMatch{}
		}
		name, _ := hm["name"].(string)
		sm.Headers[strings.ToLower(name)] = sm2
	}
	qs, _ := m["queryParameters"].([]any)
	for _, q := range qs {
		qm, _ := q.(map[string]any)
		name, _ := qm["name"].(string)
		if sm.QueryParams == nil {
			sm.QueryParams = map[string]spec.StringMatch{}
		}
		if exact, _, _ := unstructured.NestedString(qm, "match", "exact"); exact != "" {
			sm.QueryParams[name] = spec.StringMatch{Exact: exact}
		} else {
			sm.QueryParams[name] = spec.StringMatch{Present: true}
		}
	}
	if sm.Path == nil && sm.Method == "" && len(sm.Headers) == 0 && len(sm.QueryParams) == 0 {
		return nil, true
	}
	return []spec.Match{sm}, true
}

// stringMatch converts an App Mesh header or metadata match. A header without a match means
// "present". Inverted and range matches cannot be expressed: the route is then not imported.
func (im *importer) stringMatch(hm map[string]any, path string) (spec.StringMatch, bool) {
	if inv, _ := hm["invert"].(bool); inv {
		im.warn(path+".invert", adapters.FeatureHeaderMatch, adapters.SeverityError, "inverted header matches are not expressible; route skipped (its requests fall through to later routes)")
		return spec.StringMatch{}, false
	}
	mm, _ := hm["match"].(map[string]any)
	switch {
	case mm == nil:
		return spec.StringMatch{Present: true}, true
	case mm["exact"] != nil:
		return spec.StringMatch{Exact: fmt.Sprint(mm["exact"])}, true
	case mm["prefix"] != nil:
		return spec.StringMatch{Prefix: fmt.Sprint(mm["prefix"])}, true
	case mm["suffix"] != nil:
		return spec.StringMatch{Regex: ".*" + regexp.QuoteMeta(fmt.Sprint(mm["suffix"]))}, true
	case mm["regex"] != nil:
		re := fmt.Sprint(mm["regex"])
		if _, err := regexp.Compile(re); err != nil {
			im.warn(path+".match.regex", adapters.FeatureHeaderMatch, adapters.SeverityError, "regex %q is not RE2 (%v); route skipped", re, err)
			return spec.StringMatch{}, false
		}
		return spec.StringMatch{Regex: re}, true
	case mm["range"] != nil:
		im.warn(path+".match.range", adapters.FeatureHeaderMatch, adapters.SeverityError, "numeric range matches are not expressible; route skipped")
		return spec.StringMatch{}, false
	}
	return spec.StringMatch{Present: true}, true
}

func (im *importer) grpcMatch(body map[string]any, path string) ([]spec.Match, bool) {
	m, _ := body["match"].(map[string]any)
	var sm spec.Match
	svc, _ := m["serviceName"].(string)
	meth, _ := m["methodName"].(string)
	switch {
	case svc != "" && meth != "":
		sm.Path = &spec.PathMatch{Exact: "/" + svc + "/" + meth}
	case svc != "":
		sm.Path = &spec.PathMatch{Prefix: "/" + svc}
	}
	md, _ := m["metadata"].([]any)
	for i, h := range md {
		hm, _ := h.(map[string]any)
		s, ok := im.stringMatch(hm, fmt.Sprintf("%s.metadata[%d]", path, i))
		if !ok {
			return nil, false
		}
		if sm.Headers == nil {
			sm.Headers = map[string]spec.StringMatch{}
		}
		name, _ := hm["name"].(string)
		sm.Headers[strings.ToLower(name)] = s
	}
	if sm.Path == nil && len(sm.Headers) == 0 {
		return nil, true
	}
	return []spec.Match{sm}, true
}

// retryEvents maps App Mesh retry events to design retry conditions.
var retryEvents = map[string]string{
	"server-error": "5xx", "gateway-error": "gateway-error", "client-error": "409", "stream-error": "refused-stream",
	"connection-error": "connect-failure",
	"cancelled":        "cancelled", "deadline-exceeded": "deadline-exceeded", "internal": "internal",
	"resource-exhausted": "resource-exhausted", "unavailable": "unavailable",
}

func (im *importer) retries(body map[string]any, path string, r *spec.Route) {
	rp, ok := body["retryPolicy"].(map[string]any)
	if !ok {
		return
	}
	rt := &spec.Retries{}
	if n, ok := rp["maxRetries"].(int64); ok {
		rt.Attempts = int32(min(n, 10))
		if n > 10 {
			im.warn(path+".retryPolicy.maxRetries", adapters.FeatureRetries, adapters.SeverityWarning, "maxRetries %d capped to 10", n)
		}
	}
	if d, ok := duration(rp["perRetryTimeout"]); ok {
		rt.PerTryTimeout = spec.Dur(d)
	}
	for _, k := range []string{"httpRetryEvents", "tcpRetryEvents", "grpcRetryEvents"} {
		evs, _ := rp[k].([]any)
		for _, e := range evs {
			s, _ := e.(string)
			if c, ok := retryEvents[s]; ok {
				rt.On = append(rt.On, c)
			} else {
				im.warn(path+".retryPolicy."+k, adapters.FeatureRetries, adapters.SeverityWarning, "retry event %q has no design counterpart; dropped", s)
			}
		}
	}
	r.Retries = rt
}

func (im *importer) timeout(body map[string]any, path string, r *spec.Route) {
	t, ok := body["timeout"].(map[string]any)
	if !ok {
		return
	}
	if d, ok := duration(t["perRequest"]); ok {
		r.Timeout = spec.Dur(d)
	}
	if _, ok := t["idle"]; ok {
		im.warn(path+".timeout.idle", adapters.FeatureTimeout, adapters.SeverityWarning, "idle timeouts are not part of designs; dropped")
	}
}

// nodeSettings imports a node's listener health check, outlier detection, connection pool, TLS,
// logging and backends onto the service it belongs to.
func (im *importer) nodeSettings(name string, n *unstructured.Unstructured) {
	svcName := im.owner[name]
	si := im.index[svcName]
	ref := "VirtualNode " + name
	listeners, _, _ := unstructured.NestedSlice(n.Object, "spec", "listeners")
	for i, l := range listeners {
		lm, _ := l.(map[string]any)
		lp := fmt.Sprintf("%s.spec.listeners[%d]", ref, i)
		if hc, ok := lm["healthCheck"].(map[string]any); ok {
			im.healthCheck(si, hc, lp+".healthCheck")
		}
		if od, ok := lm["outlierDetection"].(map[string]any); ok {
			res := im.resilience(svcName)
			o := &spec.OutlierDetection{}
			if v, ok := od["maxServerErrors"].(int64); ok {
				o.Consecutive5xx = int32(v)
			}
			if d, ok := duration(od["interval"]); ok {
				o.Interval = spec.Dur(d)
			}
			if d, ok := duration(od["baseEjectionDuration"]); ok {
				o.BaseEjectionTime = spec.Dur(d)
			}
			if v, ok := od["maxEjectionPercent"].(int64); ok {
				o.MaxEjectionPercent = int32(v)
			}
			res.OutlierDetection = o
		}
		if cp, ok := lm["connectionPool"].(map[string]any); ok {
			res := im.resilience(svcName)
			c := &spec.ConnectionLimits{}
			for proto, v := range cp {
				pm, _ := v.(map[string]any)
				if x, ok := pm["maxConnections"].(int64); ok {
					c.Max = int32(x)
				}
				if x, ok := pm["maxPendingRequests"].(int64); ok {
					c.MaxPendingRequests = int32(x)
				}
				if x, ok := pm["maxRequests"].(int64); ok {
					c.MaxRequests = int32(x)
				}
				_ = proto
			}
			res.Connections = c
		}
		if tls, ok := lm["tls"].(map[string]any); ok {
			im.listenerTLS(svcName, tls, lp+".tls")
		}
		if _, ok := lm["timeout"]; ok {
			im.warn(lp+".timeout", adapters.FeatureTimeout, adapters.SeverityWarning, "listener timeouts apply to inbound requests; designs set timeouts on routes (spec.traffic[].routes[].timeout); dropped")
		}
	}
	if p, ok, _ := unstructured.NestedString(n.Object, "spec", "logging", "accessLog", "file", "path"); ok && p != "" {
		if im.design.Spec.Telemetry == nil {
			im.design.Spec.Telemetry = &spec.Telemetry{}
		}
		format := spec.AccessLogText
		if js, _, _ := unstructured.NestedSlice(n.Object, "spec", "logging", "accessLog", "file", "format", "json"); len(js) > 0 {
			format = spec.AccessLogJSON
		}
		im.design.Spec.Telemetry.AccessLogs = &spec.AccessLogs{Enabled: true, Format: format}
		im.warn(ref+".spec.logging.accessLog.file.path", adapters.FeatureAccessLogs, adapters.SeverityInfo, "access logs are enabled design-wide; the file path %q is the target mesh's choice", p)
	}
	if bs, _, _ := unstructured.NestedSlice(n.Object, "spec", "backends"); len(bs) > 0 {
		var callees []string
		for _, b := range bs {
			if v, ok, _ := unstructured.NestedString(b.(map[string]any), "virtualService", "virtualServiceRef", "name"); ok {
				callees = append(callees, strings.SplitN(v, ".", 2)[0])
			}
		}
		im.warn(ref+".spec.backends", adapters.FeatureAuthzAllow, adapters.SeverityInfo,
			"App Mesh backends are an egress allow-list of %q; designs authorize on the receiving side: to keep that restriction add spec.security.access rules with source %q and set defaultPolicy deny",
			strings.Join(callees, ", "), svcName)
	}
	if _, ok, _ := unstructured.NestedMap(n.Object, "spec", "backendDefaults", "clientPolicy", "tls"); ok {
		im.warn(ref+".spec.backendDefaults.clientPolicy.tls", adapters.FeatureMTLSStrict, adapters.SeverityInfo, "client TLS policy is implied by mTLS in the target mesh; certificates are the mesh's")
	}
}

func (im *importer) resilience(svc string) *spec.Resilience {
	for i := range im.design.Spec.Traffic {
		if im.design.Spec.Traffic[i].Service == svc {
			tp := &im.design.Spec.Traffic[i]
			if tp.Resilience == nil {
				tp.Resilience = &spec.Resilience{}
			}
			return tp.Resilience
		}
	}
	im.design.Spec.Traffic = append(im.design.Spec.Traffic, spec.TrafficPolicy{Service: svc, Resilience: &spec.Resilience{}})
	return im.design.Spec.Traffic[len(im.design.Spec.Traffic)-1].Resilience
}

func (im *importer) healthCheck(si int, hc map[string]any, path string) {
	s := &im.design.Spec.Services[si]
	if s.HealthCheck != nil {
		return // one health check per service: the first listener's (versions share it)
	}
	h := &spec.HealthCheck{}
	switch p, _ := hc["protocol"].(string); p {
	case "http", "http2":
		h.Protocol = spec.HealthCheckHTTP
	case "grpc":
		h.Protocol = spec.HealthCheckGRPC
	case "tcp":
		h.Protocol = spec.HealthCheckTCP
	}
	if h.Protocol == spec.HealthCheckHTTP {
		h.Path, _ = hc["path"].(string)
	}
	if p, ok := hc["port"].(int64); ok && p > 0 && p < 65536 {
		h.Port = int32(p)
	}
	if v, ok := hc["intervalMillis"].(int64); ok && v > 0 {
		h.Interval = spec.Dur(time.Duration(v) * time.Millisecond)
	}
	if v, ok := hc["timeoutMillis"].(int64); ok && v > 0 {
		h.Timeout = spec.Dur(time.Duration(v) * time.Millisecond)
	}
	if v, ok := hc["healthyThreshold"].(int64); ok {
		h.HealthyThreshold = int32(v)
	}
	if v, ok := hc["unhealthyThreshold"].(int64); ok {
		h.UnhealthyThreshold = int32(v)
	}
	if !h.Timeout.IsZero() && !h.Interval.IsZero() && h.Timeout.Duration > h.Interval.Duration {
		im.warn(path, adapters.FeatureHealthCheck, adapters.SeverityWarning, "timeout longer than the interval; timeout set to the interval")
		h.Timeout = h.Interval
	}
	s.HealthCheck = h
}

func (im *importer) listenerTLS(svc string, tls map[string]any, path string) {
	mode, _ := tls["mode"].(string)
	var m spec.MTLSMode
	switch mode {
	case "STRICT":
		m = spec.MTLSStrict
		if _, ok := tls["validation"]; !ok {
			im.warn(path, adapters.FeatureMTLSStrict, adapters.SeverityInfo, "App Mesh TLS without client validation is one-way TLS; imported as strict mutual TLS (the target mesh authenticates both sides)")
		}
	case "PERMISSIVE":
		m = spec.MTLSPermissive
	case "DISABLED":
		m = spec.MTLSDisabled
	default:
		return
	}
	if im.design.Spec.Security == nil {
		im.design.Spec.Security = &spec.Security{MTLS: spec.MTLSStrict}
	}
	sec := im.design.Spec.Security
	for _, o := range sec.MTLSOverrides {
		if o.Service == svc {
			return
		}
	}
	if m != sec.MTLS {
		sec.MTLSOverrides = append(sec.MTLSOverrides, spec.MTLSOverride{Service: svc, Mode: m})
	}
}

// normalize copies an object with JSON numbers as int64 (whole) or float64, whichever decoder
// produced it.
func normalize(o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	v, err := adapters.Normalize(o.Object)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// duration reads an App Mesh {value, unit} duration.
func duration(v any) (time.Duration, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return 0, false
	}
	n, ok := m["value"].(int64)
	if !ok || n <= 0 {
		return 0, false
	}
	switch m["unit"] {
	case "ms":
		return time.Duration(n) * time.Millisecond, true
	case "s":
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

func sanitize(s string) string {
	s = strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		s = "imported"
	}
	return s
}

// v1beta1RouteKinds maps the route bodies of the legacy v1beta1 API to their v1beta2 names.
var v1beta1RouteKinds = map[string]string{"http": "httpRoute", "http2": "http2Route", "grpc": "grpcRoute", "tcp": "tcpRoute"}

// upgradeV1beta1 rewrites, in place, a legacy appmesh.k8s.aws/v1beta1 object (App Mesh
// controller v0.x, still common in walkthroughs) into the v1beta2 shape the importer reads:
// virtual nodes' dns.hostName and backends' virtualServiceName; a virtual service's inline
// routes become a VirtualRouter, which it returns (nil otherwise) and references as provider.
func (im *importer) upgradeV1beta1(o *unstructured.Unstructured, ref string) *unstructured.Unstructured {
	sp, _ := o.Object["spec"].(map[string]any)
	if sp == nil {
		return nil
	}
	delete(sp, "meshName")
	switch o.GetKind() {
	case "VirtualNode":
		if dns, ok := asMap(asMap1(sp["serviceDiscovery"])["dns"]); ok {
			if h, ok := dns["hostName"]; ok {
				dns["hostname"] = h
				delete(dns, "hostName")
			}
		}
		for _, b := range asSlice(sp["backends"]) {
			if vs, ok := asMap(asMap1(b)["virtualService"]); ok {
				if n, ok := vs["virtualServiceName"].(string); ok {
					vs["virtualServiceRef"] = map[string]any{"name": n}
					delete(vs, "virtualServiceName")
				}
			}
		}
	case "VirtualService":
		routes := asSlice(sp["routes"])
		vr, _ := asMap(sp["virtualRouter"])
		delete(sp, "routes")
		delete(sp, "virtualRouter")
		if len(routes) == 0 {
			if vr != nil {
				im.warn(ref+".spec.virtualRouter", adapters.FeatureWeightedSplit, adapters.SeverityWarning,
					"v1beta1 virtual router without routes: the service is imported without routes")
			}
			return nil
		}
		rname, _ := vr["name"].(string)
		if rname == "" {
			rname = strings.SplitN(o.GetName(), ".", 2)[0] + "-router"
		}
		var upgraded []any
		for i, r := range routes {
			rm := asMap1(r)
			nr := map[string]any{}
			for k, v := range rm {
				if nk, ok := v1beta1RouteKinds[k]; ok {
					body := asMap1(v)
					for _, t := range asSlice(asMap1(body["action"])["weightedTargets"]) {
						tm := asMap1(t)
						if n, ok := tm["virtualNodeName"].(string); ok {
							tm["virtualNodeRef"] = map[string]any{"name": n}
							delete(tm, "virtualNodeName")
						}
					}
					nr[nk] = body
					continue
				}
				nr[k] = v
			}
			if _, named := nr["name"]; !named {
				nr["name"] = fmt.Sprintf("route-%d", i)
			}
			upgraded = append(upgraded, nr)
		}
		sp["provider"] = map[string]any{"virtualRouter": map[string]any{"virtualRouterRef": map[string]any{"name": rname}}}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": Group + "/v1beta1", "kind": "VirtualRouter",
			"metadata": map[string]any{"name": rname, "namespace": o.GetNamespace()},
			"spec":     map[string]any{"routes": upgraded},
		}}
	}
	return nil
}

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func asMap1(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
