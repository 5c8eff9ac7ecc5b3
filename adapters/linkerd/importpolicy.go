package linkerd

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// serverObjects imports Servers: each names a service port (and its protocol); an access policy
// other than the namespace's default becomes an mTLS override.
func (im *importer) serverObjects() {
	for _, o := range im.byKind["policy.linkerd.io/Server"] {
		ns := o.GetNamespace()
		sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "podSelector", "matchLabels")
		s := im.serverService(o, ns, sel)
		rawPort, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "port")
		port := toInt32(rawPort)
		if named, ok := rawPort.(string); ok && port == 0 {
			if p, found := im.namedServerPort(ns, s.Name, named); found {
				port = p
			} else {
				im.warn(o, adapters.FeatureAuthzAllow, "Server port %q names a container port that no Service port of %s targets (by name or targetPort): the port is not imported; hint: include the Service, or use the port number", named, s.Name)
			}
		} else if port == 0 {
			im.warn(o, adapters.FeatureAuthzAllow, "Server port %v is not a port number or name: the port is not imported", rawPort)
		}
		var svcPort int32
		for _, p := range s.Ports {
			tp := p.TargetPort
			if tp == 0 {
				tp = p.Port
			}
			if tp == port {
				svcPort = p.Port
			}
		}
		portName := strings.TrimPrefix(o.GetName(), s.Name+"-")
		if portName == o.GetName() {
			portName = ""
		}
		if svcPort == 0 && port != 0 {
			if len(s.Ports) == 1 && s.Ports[0].Name == "" && (s.Ports[0].TargetPort == 0 || s.Ports[0].TargetPort == s.Ports[0].Port) {
				// The Server names the container port behind the only service port.
				s.Ports[0].TargetPort = port
				s.Ports[0].Name = portName
				svcPort = s.Ports[0].Port
			} else {
				im.addPort(s, spec.Port{Port: port, Name: portName})
				svcPort = port
			}
		}
		proto, _, _ := unstructured.NestedString(o.Object, "spec", "proxyProtocol")
		switch proto {
		case "gRPC":
			s.Protocol = spec.ProtocolGRPC
		case "HTTP/2":
			if s.Protocol == "" {
				s.Protocol = spec.ProtocolHTTP2
			}
		case "opaque":
			s.Protocol = spec.ProtocolTCP
		}
		im.servers[ns+"/"+o.GetName()] = &importedServer{obj: o, svc: s.Name, port: svcPort, proto: proto}
		access, found, _ := unstructured.NestedString(o.Object, "spec", "accessPolicy")
		if !found {
			access = "deny"
		}
		nsPolicy, ok := im.nsPolicy[ns]
		if !ok {
			// Without a namespace default, a design's nil security means strict mTLS.
			nsPolicy = "all-authenticated"
		}
		if access == nsPolicy || access == "deny" {
			continue
		}
		var mode spec.MTLSMode
		switch access {
		case "all-authenticated", "cluster-authenticated":
			mode = spec.MTLSStrict
		case "all-unauthenticated", "cluster-unauthenticated", "audit":
			mode = spec.MTLSPermissive
		}
		if mode == "" || (nsPolicy == "deny") {
			continue
		}
		sec := im.sec()
		ov := spec.MTLSOverride{Service: s.Name, Mode: mode}
		if len(s.Ports) > 1 {
			ov.Port = svcPort
		}
		sec.MTLSOverrides = append(sec.MTLSOverrides, ov)
	}
}

func equalLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// authentications indexes MeshTLSAuthentications and NetworkAuthentications.
func (im *importer) authentications() {
	for _, o := range im.byKind["policy.linkerd.io/MeshTLSAuthentication"] {
		ids, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "identities")
		refs, _, _ := unstructured.NestedSlice(o.Object, "spec", "identityRefs")
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			kind, _ := rm["kind"].(string)
			name, _ := rm["name"].(string)
			rns, _ := rm["namespace"].(string)
			if rns == "" {
				rns = o.GetNamespace()
			}
			switch {
			case kind == "ServiceAccount" && name != "":
				ids = append(ids, name+"."+rns+".serviceaccount.identity.linkerd.*")
			case kind == "ServiceAccount" || kind == "Namespace":
				ids = append(ids, "*."+rns+".serviceaccount.identity.linkerd.*")
			default:
				im.warn(o, adapters.FeatureAuthzAllow, "identityRef of kind %q is not imported", kind)
			}
		}
		im.mtlsAuth[o.GetNamespace()+"/"+o.GetName()] = ids
	}
	for _, o := range im.byKind["policy.linkerd.io/NetworkAuthentication"] {
		nets, _, _ := unstructured.NestedSlice(o.Object, "spec", "networks")
		var cidrs []string
		for _, n := range nets {
			nm, _ := n.(map[string]any)
			c, _ := nm["cidr"].(string)
			if _, hasExcept := nm["except"]; hasExcept {
				c += " (with exceptions)"
			}
			cidrs = append(cidrs, c)
		}
		im.netAuth[o.GetNamespace()+"/"+o.GetName()] = cidrs
	}
}

// importedRule accumulates one access rule from AuthorizationPolicies.
type importedRule struct {
	name    string
	ns      string
	dest    string
	sources []spec.Source
	// ports maps a service port to its conditions; nil conditions admit the whole port.
	ports map[int32][]spec.AccessCondition
	whole map[int32]bool
}

func allNetworks(cidrs []string) bool {
	v4, v6 := false, false
	for _, c := range cidrs {
		v4 = v4 || c == "0.0.0.0/0"
		v6 = v6 || c == "::/0"
	}
	return v4 && (v6 || len(cidrs) == 1)
}

// authorizations imports AuthorizationPolicies as access rules.
func (im *importer) authorizations() {
	rules := map[string]*importedRule{}
	var order []string
	for _, o := range im.byKind["policy.linkerd.io/AuthorizationPolicy"] {
		ns := o.GetNamespace()
		target, _, _ := unstructured.NestedMap(o.Object, "spec", "targetRef")
		switch raw, _, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "targetRef"); raw.(type) {
		case map[string]any:
		case nil:
			im.warn(o, adapters.FeatureAuthzAllow, "spec.targetRef is missing (expected an object with group, kind and name, for example kind: Server): not imported")
			continue
		default:
			// linkerd2's test/integration/viz/policy/testdata writes web-public's targetRef as a
			// one-item list, which the AuthorizationPolicy CRD rejects.
			im.warn(o, adapters.FeatureAuthzAllow, "spec.targetRef is a %s, not an object (expected group, kind and name; the AuthorizationPolicy CRD rejects this policy, so no cluster applies it): not imported; hint: remove the leading \"- \" of the target", yamlKind(raw))
			continue
		}
		tkind, _ := target["kind"].(string)
		tname, _ := target["name"].(string)
		var srv *importedServer
		var conds []spec.AccessCondition
		switch tkind {
		case "Server":
			srv = im.servers[ns+"/"+tname]
		case "HTTPRoute", "GRPCRoute":
			rt := im.policyRts[ns+"/"+tname]
			if rt == nil {
				im.warn(o, adapters.FeatureAuthzConditions, "target %s %q is not among the objects: not imported", tkind, tname)
				continue
			}
			srv = im.routeServer(rt)
			conds = im.routeConditions(rt)
			if len(conds) == 0 {
				im.warn(o, adapters.FeatureAuthzConditions, "no match of %s %q could be imported: the authorization is not imported (its requests stay denied)", tkind, tname)
				continue
			}
		case "Namespace":
			im.warn(o, adapters.FeatureAuthzAllow, "namespace-wide authorization has no design equivalent (rules name one destination): not imported")
			continue
		default:
			im.warn(o, adapters.FeatureAuthzAllow, "target kind %q is not imported", tkind)
			continue
		}
		if srv == nil {
			if tkind == "Server" {
				// Extensions' policies (Flagger's kustomize/linkerd grants its service account
				// linkerd-viz's prometheus-admin Server) target Servers another chart installs.
				im.warn(o, adapters.FeatureAuthzAllow, "target Server %s/%s is not among the objects: not imported (the design needs the Server's pods and port: add the Server, for example from the chart that installs it, to the input)", ns, tname)
			} else {
				im.warn(o, adapters.FeatureAuthzAllow, "target %s %s/%s attaches to no Server among the objects: not imported (add the Server its parentRefs name to the input)", tkind, ns, tname)
			}
			continue
		}
		refs, _, _ := unstructured.NestedSlice(o.Object, "spec", "requiredAuthenticationRefs")
		var key, ruleName string
		var sources []spec.Source
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			kind, _ := rm["kind"].(string)
			name, _ := rm["name"].(string)
			rns, _ := rm["namespace"].(string)
			if rns == "" {
				rns = ns
			}
			switch kind {
			case "MeshTLSAuthentication":
				ids, ok := im.mtlsAuth[rns+"/"+name]
				if !ok {
					im.warn(o, adapters.FeatureAuthzAllow, "MeshTLSAuthentication %s/%s is not among the objects", rns, name)
					continue
				}
				key, ruleName = rns+"/"+name, name
				sources = append(sources, im.identitySources(ids)...)
			case "NetworkAuthentication":
				cidrs := im.netAuth[rns+"/"+name]
				if strings.HasSuffix(tname, "-probes") && allNetworks(cidrs) {
					key = "" // the probe route Linkerd needs once routes attach
					sources = nil
					goto next
				}
				if !allNetworks(cidrs) {
					im.warn(o, adapters.FeatureAuthzAllow, "network-based authentication (%s) has no design equivalent: not imported", strings.Join(cidrs, ", "))
					goto next
				}
				if key == "" {
					ruleName = strings.TrimSuffix(o.GetName(), "-unauthenticated")
					if p := "-" + im.portName(srv); strings.HasSuffix(ruleName, p) {
						ruleName = strings.TrimSuffix(ruleName, p)
					}
					key = ns + "/" + ruleName
					sources = append(sources, spec.Source{Service: "*"})
				}
			case "ServiceAccount":
				key, ruleName = ns+"/"+o.GetName(), o.GetName()
				sources = append(sources, im.identitySources([]string{name + "." + rns + ".serviceaccount.identity.linkerd.*"})...)
			default:
				im.warn(o, adapters.FeatureAuthzAllow, "authentication of kind %q is not imported", kind)
			}
		}
		if key == "" {
			continue
		}
		{
			r, ok := rules[key]
			if !ok {
				r = &importedRule{name: ruleName, ns: ns, dest: srv.svc, ports: map[int32][]spec.AccessCondition{}, whole: map[int32]bool{}}
				rules[key] = r
				order = append(order, key)
			}
			r.sources = mergeSources(r.sources, sources)
			if conds == nil {
				r.whole[srv.port] = true
			} else {
				r.ports[srv.port] = append(r.ports[srv.port], conds...)
			}
		}
	next:
	}
	sort.Strings(order)
	for _, k := range order {
		r := rules[k]
		rule := spec.AccessRule{Name: r.name, Destination: r.dest, Sources: r.sources}
		s := im.svcs[r.ns+"/"+r.dest]
		allPorts := s != nil && len(r.whole) == len(s.Ports)
		if !allPorts || len(r.ports) > 0 {
			multi := s != nil && len(s.Ports) > 1
			var wholePorts []int32
			for p := range r.whole {
				wholePorts = append(wholePorts, p)
			}
			sort.Slice(wholePorts, func(i, j int) bool { return wholePorts[i] < wholePorts[j] })
			if len(wholePorts) > 0 && multi {
				rule.When = append(rule.When, spec.AccessCondition{Ports: wholePorts})
			}
			var condPorts []int32
			for p := range r.ports {
				if !r.whole[p] {
					condPorts = append(condPorts, p)
				}
			}
			sort.Slice(condPorts, func(i, j int) bool { return condPorts[i] < condPorts[j] })
			for _, p := range condPorts {
				for _, c := range r.ports[p] {
					if multi {
						c.Ports = []int32{p}
					}
					rule.When = append(rule.When, c)
				}
			}
		}
		sec := im.sec()
		sec.Access = append(sec.Access, rule)
	}
}

// portName returns the name the translator gives a server's port ("http", "http-8080").
func (im *importer) portName(srv *importedServer) string {
	name := srv.obj.GetName()
	if i := strings.Index(name, srv.svc+"-"); i == 0 {
		return strings.TrimPrefix(name, srv.svc+"-")
	}
	return ""
}

func mergeSources(a, b []spec.Source) []spec.Source {
	for _, s := range b {
		dup := false
		for _, x := range a {
			if x == s {
				dup = true
			}
		}
		if !dup {
			a = append(a, s)
		}
	}
	return a
}

// routeServer returns the Server a policy route attaches to.
func (im *importer) routeServer(rt *unstructured.Unstructured) *importedServer {
	parents, _, _ := unstructured.NestedSlice(rt.Object, "spec", "parentRefs")
	for _, p := range parents {
		pm, _ := p.(map[string]any)
		if k, _ := pm["kind"].(string); k == "Server" {
			name, _ := pm["name"].(string)
			return im.servers[rt.GetNamespace()+"/"+name]
		}
	}
	return nil
}

// routeConditions converts a policy route's matches into access conditions.
func (im *importer) routeConditions(rt *unstructured.Unstructured) []spec.AccessCondition {
	grpc := rt.GetKind() == "GRPCRoute"
	rules, _, _ := unstructured.NestedSlice(rt.Object, "spec", "rules")
	type group struct {
		headers map[string]spec.StringMatch
		methods []string
		paths   []string
		n       int
		singles []spec.AccessCondition
	}
	var groups []*group
	find := func(h map[string]spec.StringMatch) *group {
		for _, g := range groups {
			if fmt.Sprint(g.headers) == fmt.Sprint(h) {
				return g
			}
		}
		g := &group{headers: h}
		groups = append(groups, g)
		return g
	}
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		matches, _ := rm["matches"].([]any)
		if len(matches) == 0 {
			return []spec.AccessCondition{{Paths: []string{"*"}}}
		}
		for _, m := range matches {
			mm, _ := m.(map[string]any)
			g := find(importStringMatches(mm["headers"]))
			var c spec.AccessCondition
			if grpc {
				if method, ok := mm["method"].(map[string]any); ok {
					svc, _ := method["service"].(string)
					meth, _ := method["method"].(string)
					if meth != "" {
						c.Paths = []string{"/" + svc + "/" + meth}
					} else if svc != "" {
						c.Paths = []string{"/" + svc + "/*"}
					}
				}
			} else {
				if p, ok := mm["path"].(map[string]any); ok {
					if ap, ok := accessPathBack(p); ok {
						if ap != "" {
							c.Paths = []string{ap}
							// A Gateway API PathPrefix matches the prefix itself too ("/ping"
							// matches "/ping" and "/ping/x"); an access path "/ping/*" does not.
							if t, _ := p["type"].(string); (t == "" || t == "PathPrefix") && strings.HasSuffix(ap, "/*") {
								c.Paths = []string{strings.TrimSuffix(ap, "/*"), ap}
							}
						}
					} else {
						// Never widen an authorization on import: leave the match out, so its
						// requests stay denied, and say so.
						im.warn(rt, adapters.FeatureAuthzConditions, "path regular expression %v cannot be an access-rule path: this match is not imported and its requests stay denied", p["value"])
						continue
					}
				}
				if method, ok := mm["method"].(string); ok {
					c.Methods = []string{method}
				}
			}
			g.n++
			g.singles = append(g.singles, c)
			for _, m := range c.Methods {
				if !contains(g.methods, m) {
					g.methods = append(g.methods, m)
				}
			}
			for _, p := range c.Paths {
				if !contains(g.paths, p) {
					g.paths = append(g.paths, p)
				}
			}
		}
	}
	var out []spec.AccessCondition
	for _, g := range groups {
		nm, np := len(g.methods), len(g.paths)
		if nm == 0 {
			nm = 1
		}
		if np == 0 {
			np = 1
		}
		if nm*np == g.n {
			out = append(out, spec.AccessCondition{Methods: g.methods, Paths: g.paths, Headers: g.headers})
			continue
		}
		for _, c := range g.singles {
			c.Headers = g.headers
			out = append(out, c)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

var (
	suffixRegex = regexp.MustCompile(`^((?:[^\\.*+?()|\[\]{}^$]|\\.)*)\.\*$`)
	prefixAny   = regexp.MustCompile(`^\.\*((?:[^\\.*+?()|\[\]{}^$]|\\.)*)$`)
)

// accessPathBack converts an HTTPPathMatch back to an access-rule path.
func accessPathBack(p map[string]any) (string, bool) {
	typ, _ := p["type"].(string)
	v, _ := p["value"].(string)
	switch typ {
	case "Exact":
		return v, true
	case "RegularExpression":
		if m := suffixRegex.FindStringSubmatch(v); m != nil {
			return unquoteMeta(m[1]) + "*", true
		}
		if m := prefixAny.FindStringSubmatch(v); m != nil {
			return "*" + unquoteMeta(m[1]), true
		}
		return "", false
	default:
		if v == "/" || v == "" {
			return "", true
		}
		return strings.TrimSuffix(v, "/") + "/*", true
	}
}

// identitySources converts Linkerd identities back to design sources.
func (im *importer) identitySources(ids []string) []spec.Source {
	var out []spec.Source
	for _, id := range ids {
		if id == "*" {
			out = append(out, spec.Source{Service: "*"})
			continue
		}
		parts := strings.SplitN(id, ".", 3)
		if len(parts) < 3 || !strings.HasPrefix(parts[2], "serviceaccount.identity.linkerd.") {
			im.warn(nil, adapters.FeatureAuthzAllow, "identity %q is not a Linkerd service-account identity: not imported", id)
			continue
		}
		sa, ns := parts[0], parts[1]
		if sa == "*" {
			out = append(out, spec.Source{Namespace: ns})
			continue
		}
		if s := im.identityService(ns, sa); s != nil {
			out = append(out, spec.Source{Service: s.Name})
			continue
		}
		src := spec.Source{Identity: sa}
		if ns != im.namespace {
			src.Namespace = ns
		}
		out = append(out, src)
	}
	return out
}

// identityService finds the service of namespace ns running as service account sa: one whose
// identity (or name) is sa, or whose name ends sa ("bookinfo-reviews" runs "reviews"), which then
// records sa as its identity.
func (im *importer) identityService(ns, sa string) *spec.Service {
	// The first service (in discovery order) with that identity, or without an identity and
	// named sa; else the first without an identity whose name ends sa after a dash, which then
	// takes the identity. Candidates come from indexes (by identity, and by the name after each
	// dash of sa), so resolving many identities does not scan every service each time.
	var best *spec.Service
	bestPos := 0
	consider := func(k string, ok func(*spec.Service) bool) {
		s := im.svcs[k]
		if s == nil || !ok(s) {
			return
		}
		if p := im.svcPos[k]; best == nil || p < bestPos {
			best, bestPos = s, p
		}
	}
	for _, k := range im.byIdentity[ns+"/"+sa] {
		consider(k, func(s *spec.Service) bool { return s.Identity == sa })
	}
	consider(ns+"/"+sa, func(s *spec.Service) bool { return s.Identity == sa || s.Identity == "" })
	if best != nil {
		return best
	}
	for i := 0; i < len(sa); i++ {
		if sa[i] == '-' {
			consider(ns+"/"+sa[i+1:], func(s *spec.Service) bool { return s.Identity == "" })
		}
	}
	if best != nil {
		best.Identity = sa
		if im.byIdentity == nil {
			im.byIdentity = map[string][]string{}
		}
		k := ns + "/" + sa
		im.byIdentity[k] = append(im.byIdentity[k], ns+"/"+best.Name)
	}
	return best
}

// rateLimits imports HTTPLocalRateLimitPolicies targeting Servers.
func (im *importer) rateLimits() {
	for _, o := range im.byKind["policy.linkerd.io/HTTPLocalRateLimitPolicy"] {
		tname, _, _ := unstructured.NestedString(o.Object, "spec", "targetRef", "name")
		srv := im.servers[o.GetNamespace()+"/"+tname]
		if srv == nil {
			im.warn(o, adapters.FeatureRateLimit, "target Server %q is not among the objects: not imported", tname)
			continue
		}
		rps, found, _ := unstructured.NestedInt64(o.Object, "spec", "total", "requestsPerSecond")
		if !found {
			im.warn(o, adapters.FeatureRateLimit, "only a total limit maps onto the design: per-identity limits are not imported")
			continue
		}
		if _, ok, _ := unstructured.NestedMap(o.Object, "spec", "identity"); ok {
			im.warn(o, adapters.FeatureRateLimit, "the per-identity limit has no design field and is not imported")
		}
		if _, ok, _ := unstructured.NestedSlice(o.Object, "spec", "overrides"); ok {
			im.warn(o, adapters.FeatureRateLimit, "per-client overrides have no design field and are not imported")
		}
		tp := im.trafficFor(o.GetNamespace(), srv.svc)
		if tp.Resilience == nil {
			tp.Resilience = &spec.Resilience{}
		}
		tp.Resilience.RateLimit = &spec.RateLimit{RequestsPerSecond: int32(rps)}
	}
}

// namedServerPort resolves a Server's named container port ("grpc", as in Linkerd's Emojivoto
// policies) through the Kubernetes Service of svc: the port whose targetPort is that name, else
// the port of that name. It returns the container port number (the service port when the
// container port is only known by name).
func (im *importer) namedServerPort(ns, svc, name string) (int32, bool) {
	for _, o := range im.byKind["/Service"] {
		if o.GetNamespace() != ns || o.GetName() != svc {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
		for _, pass := range []string{"targetPort", "name"} {
			for _, p := range ports {
				pm, _ := p.(map[string]any)
				if v, _ := pm[pass].(string); v != name {
					continue
				}
				if t := toInt32(pm["targetPort"]); t != 0 {
					return t, true
				}
				return toInt32(pm["port"]), true
			}
		}
	}
	return 0, false
}

// serverAuthorizations imports legacy ServerAuthorizations (policy.linkerd.io/v1beta1, still the
// form of Linkerd's "Restricting Access To Services" task): each allows its clients to the
// service port of the Servers it names.
func (im *importer) serverAuthorizations() {
	for _, o := range im.byKind["policy.linkerd.io/ServerAuthorization"] {
		ns := o.GetNamespace()
		var servers []*importedServer
		if n, _, _ := unstructured.NestedString(o.Object, "spec", "server", "name"); n != "" {
			if srv := im.servers[ns+"/"+n]; srv != nil {
				servers = append(servers, srv)
			}
		} else if sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "server", "selector", "matchLabels"); len(sel) > 0 {
			for _, k := range sortedKeys(im.servers) {
				srv := im.servers[k]
				if srv.obj.GetNamespace() == ns && labelsSelect(sel, srv.obj.GetLabels()) {
					servers = append(servers, srv)
				}
			}
		}
		if len(servers) == 0 {
			im.warn(o, adapters.FeatureAuthzAllow, "spec.server selects no Server among the objects: not imported (include the Server)")
			continue
		}
		client, _, _ := unstructured.NestedMap(o.Object, "spec", "client")
		var sources []spec.Source
		if nets, _, _ := unstructured.NestedSlice(client, "networks"); len(nets) > 0 {
			var cidrs []string
			for _, n := range nets {
				nm, _ := n.(map[string]any)
				if c, _ := nm["cidr"].(string); c != "" {
					cidrs = append(cidrs, c)
				}
				if ex, _ := nm["except"].([]any); len(ex) > 0 {
					cidrs = append(cidrs, "except ...")
				}
			}
			if !allNetworks(cidrs) {
				im.warn(o, adapters.FeatureAuthzAllow, "spec.client.networks %v: network restrictions have no design equivalent: the authorization is not imported (its clients stay denied)", cidrs)
				continue
			}
		}
		if un, _, _ := unstructured.NestedBool(client, "unauthenticated"); un {
			sources = append(sources, spec.Source{Service: "*"})
		}
		mtls, _, _ := unstructured.NestedMap(client, "meshTLS")
		if v, _, _ := unstructured.NestedBool(mtls, "unauthenticatedTLS"); v {
			sources = append(sources, spec.Source{Service: "*"})
		}
		ids, _, _ := unstructured.NestedStringSlice(mtls, "identities")
		sources = append(sources, im.identitySources(ids)...)
		sas, _, _ := unstructured.NestedSlice(mtls, "serviceAccounts")
		for _, sa := range sas {
			sm, _ := sa.(map[string]any)
			name, _ := sm["name"].(string)
			sns, _ := sm["namespace"].(string)
			if sns == "" {
				sns = ns
			}
			if name != "" {
				sources = append(sources, im.identitySources([]string{name + "." + sns + ".serviceaccount.identity.linkerd.cluster.local"})...)
			}
		}
		if len(sources) == 0 {
			im.warn(o, adapters.FeatureAuthzAllow, "spec.client names no client the design can express: not imported")
			continue
		}
		for _, srv := range servers {
			rule := spec.AccessRule{Name: o.GetName(), Destination: srv.svc, Sources: mergeSources(nil, sources)}
			if s := im.svcs[ns+"/"+srv.svc]; s != nil && len(s.Ports) > 1 && srv.port != 0 {
				rule.When = []spec.AccessCondition{{Ports: []int32{srv.port}}}
			}
			if len(servers) > 1 {
				rule.Name = o.GetName() + "-" + srv.obj.GetName()
			}
			sec := im.sec()
			sec.Access = append(sec.Access, rule)
		}
	}
}

func labelsSelect(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// yamlKind names the YAML shape of a decoded value for messages.
func yamlKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, float64, int:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// admitsPort reports whether one of the allow rules of a service applies to port of a Server
// (multi: the service has several ports and the Server selects one).
func admitsPort(allows []spec.AccessRule, multi bool, port int32) bool {
	for _, r := range allows {
		if !multi || len(r.When) == 0 {
			return true
		}
		for _, c := range r.When {
			if len(c.Ports) == 0 || slices.Contains(c.Ports, port) {
				return true
			}
		}
	}
	return false
}

// allowRulesByDestination returns the imported allow rules by destination service.
func (im *importer) allowRulesByDestination() map[string][]spec.AccessRule {
	allows := map[string][]spec.AccessRule{}
	if im.security != nil {
		for _, r := range im.security.Access {
			if r.Action != spec.ActionDeny {
				allows[r.Destination] = append(allows[r.Destination], r)
			}
		}
	}
	return allows
}

// admittingServers reads the Servers whose accessPolicy admits callers (all-authenticated,
// all-unauthenticated, cluster-*, audit) while authorizations target them: Linkerd applies the
// accessPolicy to the traffic no authorization matches, so every caller it admits passes and the
// authorizations restrict nothing. The design gets an allow rule for every caller of that port,
// so that it admits what Linkerd admits, and a warning.
func (im *importer) admittingServers() {
	allows := im.allowRulesByDestination()
	for _, k := range sortedKeys(im.servers) {
		srv := im.servers[k]
		access, found, _ := unstructured.NestedString(srv.obj.Object, "spec", "accessPolicy")
		if !found || access == "deny" || srv.svc == "" {
			continue
		}
		s := im.svcs[srv.obj.GetNamespace()+"/"+srv.svc]
		if s == nil {
			continue
		}
		multi := len(s.Ports) > 1 && srv.port != 0
		if !admitsPort(allows[srv.svc], multi, srv.port) {
			continue
		}
		rule := spec.AccessRule{Name: srv.obj.GetName() + "-access-policy", Destination: srv.svc, Sources: []spec.Source{{Namespace: "*"}}}
		if multi {
			rule.When = []spec.AccessCondition{{Ports: []int32{srv.port}}}
		}
		im.sec().Access = append(im.sec().Access, rule)
		who := "authenticated (meshed) caller"
		if strings.Contains(access, "unauthenticated") || access == "audit" {
			who = "caller"
		}
		if strings.HasPrefix(access, "cluster-") {
			who += " of the cluster"
		}
		im.warn(srv.obj, adapters.FeatureAuthzAllow, "accessPolicy %s applies to the traffic no authorization matches, so every %s passes and the authorizations of this Server restrict nothing; "+
			"imported as allow rule %q for every caller (set accessPolicy: deny to admit only the authorized callers)", access, who, rule.Name)
	}
}

// unauthorizedServers reads the Servers that no imported authorization admits anyone to: their
// accessPolicy (default deny) refuses every request to the port (linkerd2's emoji-policy test
// data leaves web-http so when its policy's targetRef is malformed). Under a namespace default
// of deny the design already says so; otherwise the design gets a deny rule for every caller of
// that port, since its default admits them.
func (im *importer) unauthorizedServers() {
	// The allow rules by destination, so that each Server looks at its service's rules only.
	allows := im.allowRulesByDestination()
	for _, k := range sortedKeys(im.servers) {
		srv := im.servers[k]
		ns := srv.obj.GetNamespace()
		access, found, _ := unstructured.NestedString(srv.obj.Object, "spec", "accessPolicy")
		if (found && access != "deny") || im.nsPolicy[ns] == "deny" || srv.svc == "" {
			continue
		}
		s := im.svcs[ns+"/"+srv.svc]
		if s == nil {
			continue
		}
		multi := len(s.Ports) > 1 && srv.port != 0
		if admitsPort(allows[srv.svc], multi, srv.port) {
			continue
		}
		rule := spec.AccessRule{Name: srv.obj.GetName() + "-unauthorized", Destination: srv.svc, Action: spec.ActionDeny, Sources: []spec.Source{{Service: "*"}}}
		port := "its port"
		if multi {
			rule.When = []spec.AccessCondition{{Ports: []int32{srv.port}}}
			port = fmt.Sprintf("port %d", srv.port)
		}
		im.sec().Access = append(im.sec().Access, rule)
		im.warn(srv.obj, adapters.FeatureAuthzDeny, "no imported AuthorizationPolicy or ServerAuthorization admits anyone to this Server, whose accessPolicy is deny: Linkerd refuses every request to %s of %s; imported as deny rule %q for every caller", port, srv.svc, rule.Name)
		im.warns[len(im.warns)-1].Severity = adapters.SeverityInfo
	}
}
