package consul

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// The consul-k8s kinds the adapter emits, in the order Consul needs them written (an entry may
// only refer to what is already there: protocols before routers, providers before intentions).
const (
	// KindProxyDefaults is the global proxy configuration (mTLS mode, telemetry).
	KindProxyDefaults = "ProxyDefaults"
	// KindMesh is the mesh-wide configuration (permissive mTLS switch).
	KindMesh = "Mesh"
	// KindServiceDefaults is a service's protocol, mTLS mode, upstream limits and extensions.
	KindServiceDefaults = "ServiceDefaults"
	// KindJWTProvider is a JSON Web Token issuer.
	KindJWTProvider = "JWTProvider"
	// KindServiceResolver holds a service's subsets, load balancing and connect timeout.
	KindServiceResolver = "ServiceResolver"
	// KindServiceSplitter holds a weighted split.
	KindServiceSplitter = "ServiceSplitter"
	// KindServiceRouter holds a service's L7 routes.
	KindServiceRouter = "ServiceRouter"
	// KindServiceIntentions holds the access rules of a destination.
	KindServiceIntentions = "ServiceIntentions"
)

// writeOrder lists the kinds in dependency order.
var writeOrder = []string{
	KindMesh, KindProxyDefaults, KindServiceDefaults, KindJWTProvider, KindServiceResolver,
	KindServiceSplitter, KindServiceRouter, KindServiceIntentions,
}

// consulKinds maps consul-k8s kinds to config-entry kinds.
var consulKinds = map[string]string{
	KindProxyDefaults:     "proxy-defaults",
	KindMesh:              "mesh",
	KindServiceDefaults:   "service-defaults",
	KindJWTProvider:       "jwt-provider",
	KindServiceResolver:   "service-resolver",
	KindServiceSplitter:   "service-splitter",
	KindServiceRouter:     "service-router",
	KindServiceIntentions: "service-intentions",
}

// Annotation (CRD form) and Meta (config-entry form) keys Trellis uses to keep design facts
// Consul has no field for, so that an import can restore them.
const (
	// MetaRoutes lists the design route name of every ServiceRouter route, comma separated.
	MetaRoutes = "trellis.dev/routes"
	// MetaExternalHosts keeps the hosts of an external service when some of them (wildcards)
	// cannot be a Consul destination address, comma separated.
	MetaExternalHosts = "trellis.dev/external-hosts"
	// MetaSplitOf marks the ServiceDefaults and ServiceSplitter of a virtual service created for
	// a route-specific split: "<service>/<route>".
	MetaSplitOf = "trellis.dev/split-of"
)

// entry is one config entry being built: a consul-k8s kind, the Consul entry name and a spec in
// the CRD's camelCase shape (converted to Consul's CamelCase for the config-entry form).
type entry struct {
	kind      string
	name      string
	namespace string
	spec      map[string]any
	meta      map[string]string
}

type translator struct {
	d        *spec.Design
	ns       string
	services map[string]*spec.Service
	external map[string]*spec.ExternalService
	warnings []adapters.Warning

	entries  map[string]*entry // key kind/name
	identity map[string]string // identity -> service name

	// traffic planning
	policies     map[string]int    // service -> index of its traffic policy
	ownSplit     map[string]bool   // the service's own catch-all traffic is split
	defSubset    map[string]string // the service's resolver default subset
	allSubset    map[string]string // name of the "all instances" subset, when needed
	virtualNames map[string]bool
	globalMTLS   string
	// resolverTimeout marks services whose only route's timeout is on the resolver.
	resolverTimeout map[string]bool
	allowedBy       map[string][]spec.AccessRule
}

func newTranslator(d *spec.Design) *translator {
	t := &translator{
		d:            d,
		ns:           d.Metadata.Namespace,
		services:     map[string]*spec.Service{},
		external:     map[string]*spec.ExternalService{},
		entries:      map[string]*entry{},
		identity:     map[string]string{},
		policies:     map[string]int{},
		ownSplit:     map[string]bool{},
		defSubset:    map[string]string{},
		allSubset:    map[string]string{},
		virtualNames: map[string]bool{},

		resolverTimeout: map[string]bool{},
	}
	if t.ns == "" {
		t.ns = "default"
	}
	for i := range d.Spec.Services {
		s := &d.Spec.Services[i]
		t.services[s.Name] = s
		id := s.Identity
		if id == "" {
			id = s.Name
		}
		if _, dup := t.identity[id]; !dup {
			t.identity[id] = s.Name
		}
	}
	for i := range d.Spec.ExternalServices {
		e := &d.Spec.ExternalServices[i]
		t.external[e.Name] = e
	}
	for i, tp := range d.Spec.Traffic {
		t.policies[tp.Service] = i
	}
	return t
}

func (t *translator) warn(path string, f adapters.Feature, sev adapters.Severity, format string, args ...any) {
	t.warnings = append(t.warnings, adapters.Warning{
		Path: path, Mesh: Name, Feature: f, Severity: sev, Lost: fmt.Sprintf(format, args...),
	})
}

// get returns the entry of kind and name, creating it in namespace ns when missing.
func (t *translator) get(kind, name, ns string) *entry {
	key := kind + "/" + name
	if e, ok := t.entries[key]; ok {
		return e
	}
	e := &entry{kind: kind, name: name, namespace: ns, spec: map[string]any{}}
	t.entries[key] = e
	return e
}

func (t *translator) has(kind, name string) bool {
	_, ok := t.entries[kind+"/"+name]
	return ok
}

// serviceNamespace is the Kubernetes namespace of a service's objects.
func (t *translator) serviceNamespace(name string) string {
	if s, ok := t.services[name]; ok && s.Namespace != "" {
		return s.Namespace
	}
	return t.ns
}

// protocol is the protocol of a design service or external service (http when unknown).
func (t *translator) protocol(name string) spec.Protocol {
	if s, ok := t.services[name]; ok {
		if s.Protocol != "" {
			return s.Protocol
		}
		return spec.ProtocolHTTP
	}
	if e, ok := t.external[name]; ok {
		return externalProtocol(e)
	}
	return spec.ProtocolHTTP
}

func externalProtocol(e *spec.ExternalService) spec.Protocol {
	if e.Protocol != "" {
		return e.Protocol
	}
	if e.TLS != nil && e.TLS.Mode == spec.ExternalTLSPassthrough {
		return spec.ProtocolTCP
	}
	return spec.ProtocolHTTP
}

// serviceDefaults returns the ServiceDefaults entry of a design service or external service.
func (t *translator) serviceDefaults(name string) *entry {
	e := t.get(KindServiceDefaults, name, t.serviceNamespace(name))
	if _, ok := e.spec["protocol"]; !ok {
		e.spec["protocol"] = string(t.protocol(name))
	}
	return e
}

// resolver returns the ServiceResolver entry of a service.
func (t *translator) resolver(name string) *entry {
	return t.get(KindServiceResolver, name, t.serviceNamespace(name))
}

func (t *translator) run() error {
	for _, s := range t.d.Spec.Services {
		if s.Name == "" {
			return fmt.Errorf("spec.services: a service has no name")
		}
		t.serviceDefaults(s.Name)
	}
	t.translateServices()
	t.translateExternal()
	if err := t.translateTraffic(); err != nil {
		return err
	}
	t.translateSecurity()
	t.translateTelemetry()
	t.translateExtensions()
	if t.globalMTLS != "" && (t.globalMTLS != "strict" || t.has(KindProxyDefaults, "global")) {
		t.get(KindProxyDefaults, "global", t.ns).spec["mutualTLSMode"] = t.globalMTLS
	}
	return nil
}

// metaKeyRE matches the keys Consul accepts in service metadata.
var metaKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// translateServices emits subsets for versions and reports health checks.
func (t *translator) translateServices() {
	for i, s := range t.d.Spec.Services {
		path := fmt.Sprintf("spec.services[%d]", i)
		if len(s.Versions) > 0 {
			r := t.resolver(s.Name)
			subsets := map[string]any{}
			metas := make([]map[string]string, len(s.Versions))
			for vi := range s.Versions {
				v := &s.Versions[vi]
				metas[vi] = versionMeta(&s, v)
				sub := map[string]any{"filter": subsetFilter(metas[vi])}
				if s.HealthCheck != nil {
					sub["onlyPassing"] = true
				}
				subsets[v.Name] = sub
				for _, k := range sortedKeys(metas[vi]) {
					if !metaKeyRE.MatchString(k) {
						t.warn(fmt.Sprintf("%s.versions[%d].labels[%q]", path, vi, k), adapters.FeatureWeightedSplit, adapters.SeverityWarning,
							"%q is not a valid Consul service metadata key (at most 128 letters, digits, '-' or '_'): no instance can be registered with it, so subset %q selects no instance; use a label key such as \"version\"", k, v.Name)
					}
				}
			}
			r.spec["subsets"] = subsets
			t.warn(path+".versions", adapters.FeatureWeightedSplit, adapters.SeverityInfo,
				"Consul selects versions by service metadata, not pod labels: register instances with meta %s (consul-k8s: pod annotations consul.hashicorp.com/service-meta-<key>)", labelList(metas[0]))
		}
		if s.HealthCheck != nil {
			t.warn(path+".healthCheck", adapters.FeatureHealthCheck, adapters.SeverityWarning,
				"Consul active health checks are defined on the service registration (consul-k8s: the pod's readiness probe), not in config entries; callers only use passing instances%s", map[bool]string{true: " (subsets set onlyPassing)", false: ""}[len(s.Versions) > 0])
		}
	}
}

// versionMeta returns the labels a version's instances must carry as Consul service metadata:
// the version's labels without those of the service's selector (every instance registered under
// the service already has them; they are pod labels, not metadata). Empty when the version is
// the whole service.
func versionMeta(s *spec.Service, v *spec.Version) map[string]string {
	sel := s.SelectorLabels()
	out := map[string]string{}
	for k, val := range v.Labels {
		if sel[k] != val {
			out[k] = val
		}
	}
	return out
}

// subsetFilter is the bexpr filter that selects a version's instances by service metadata.
func subsetFilter(labels map[string]string) string {
	keys := sortedKeys(labels)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, metaSelector(k)+" == "+quote(labels[k]))
	}
	return strings.Join(parts, " and ")
}

func metaSelector(key string) string {
	if isIdentifier(key) {
		return "Service.Meta." + key
	}
	return "Service.Meta[" + quote(key) + "]"
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if i == 0 && !letter {
			return false
		}
		if !letter && !(r >= '0' && r <= '9') && r != '_' {
			return false
		}
	}
	return true
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

func labelList(labels map[string]string) string {
	keys := sortedKeys(labels)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// translateExternal emits ServiceDefaults destinations for external services.
func (t *translator) translateExternal() {
	for i, e := range t.d.Spec.ExternalServices {
		path := fmt.Sprintf("spec.externalServices[%d]", i)
		sd := t.serviceDefaults(e.Name)
		var addrs []any
		for j, h := range e.Hosts {
			if strings.HasPrefix(h, "*.") {
				t.warn(fmt.Sprintf("%s.hosts[%d]", path, j), adapters.FeatureExternalServices, adapters.SeverityWarning,
					"Consul destinations take exact hostnames or IPs; wildcard host %q is not configured", h)
				continue
			}
			addrs = append(addrs, h)
		}
		port := int64(80)
		if e.TLS != nil {
			port = 443
		}
		if len(e.Ports) > 0 {
			port = int64(e.Ports[0].Port)
			if len(e.Ports) > 1 {
				t.warn(path+".ports", adapters.FeatureExternalServices, adapters.SeverityWarning,
					"a Consul destination has one port; only port %d is configured", port)
			}
		}
		if len(addrs) < len(e.Hosts) {
			sd.meta = map[string]string{MetaExternalHosts: strings.Join(e.Hosts, ",")}
		}
		if len(addrs) == 0 {
			t.warn(path, adapters.FeatureExternalServices, adapters.SeverityWarning,
				"no host Consul can use as a destination address; the external service is not reachable through the mesh")
		} else {
			sd.spec["destination"] = map[string]any{"addresses": addrs, "port": port}
		}
		if e.TLS != nil && (e.TLS.Mode == "" || e.TLS.Mode == spec.ExternalTLSOriginate) {
			t.warn(path+".tls", adapters.FeatureExternalServices, adapters.SeverityWarning,
				"TLS origination to %s is configured on the terminating gateway (TerminatingGateway services[].caFile/sni), which these config entries do not include", strings.Join(e.Hosts, ","))
		}
	}
}
