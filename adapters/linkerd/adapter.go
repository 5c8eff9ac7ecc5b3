// Package linkerd translates Trellis designs onto Linkerd (2.18+ / edge-26.x) and imports Linkerd
// configurations back into designs.
//
// What a design becomes:
//
//   - Routing (matches, weighted splits, header modifiers) becomes Gateway API mesh routes:
//     gateway.networking.k8s.io/v1 HTTPRoute (GRPCRoute for gRPC services) whose parentRef is the
//     Service (group "core", kind Service, one parentRef per service port; Linkerd ignores a
//     Service parentRef without a port). One route object is emitted per design route (per port
//     for multi-port services), named "<service>-<route>", so that per-route timeouts and retries
//     can be carried by Linkerd's route annotations (timeout.linkerd.io/request,
//     retry.linkerd.io/{limit,http,grpc,timeout}), which apply to a whole route object.
//   - Linkerd splits traffic across Services, not label subsets. For every version of every
//     service the adapter emits a per-version Service "<service>-<version>" with the service's
//     ports and the service's selector (default {app: <service>}) plus the version's labels.
//     Servers select the service's pods with the same selector.
//   - Failure accrual (outlier detection) becomes balancer.linkerd.io/failure-accrual*
//     annotations on the Service. Services and Namespaces belong to the user, so annotations on
//     them are emitted as minimal partial objects (apiVersion, kind, metadata name, namespace and
//     annotations only, no Trellis labels so that pruning never deletes them). They must be
//     applied with server-side apply (field manager "trellis"), which merges the annotations into
//     the existing objects and owns only those fields; a client-side apply would replace them.
//   - Security: the namespace's default inbound policy (annotation
//     config.linkerd.io/default-inbound-policy: deny, all-authenticated under strict mTLS,
//     all-unauthenticated under permissive), a policy.linkerd.io/v1beta3 Server per protected
//     service port, AuthorizationPolicy + MeshTLSAuthentication per access rule, and, for rules
//     with HTTP conditions, a policy.linkerd.io/v1beta3 HTTPRoute whose parent is the Server.
//     Because Linkerd drops its default probe and catch-all routes once a route attaches to a
//     Server, the adapter then also emits a probe route (/healthz, /readyz, /live, /ready and the
//     design's health-check path, GET, authorized from every network through a
//     NetworkAuthentication of 0.0.0.0/0 and ::/0) and a catch-all route "<server>-default".
//     Rules without conditions authorize the whole Server (Linkerd applies Server-level
//     authorizations to every route of the Server).
//   - Local rate limits become policy.linkerd.io/v1alpha1 HTTPLocalRateLimitPolicy per Server.
//   - With Options.ServiceProfiles, routing, timeouts and retries are emitted as legacy
//     linkerd.io/v1alpha2 ServiceProfiles instead (the only Linkerd object with retry budgets).
//
// Everything Linkerd cannot express (fault injection, mirroring, load-balancing algorithms,
// sticky sessions, connection limits, JWT, disabling mTLS, deny rules, tracing sampling, wasm,
// TLS origination, active health checks, ...) is reported as a warning naming the field.
package linkerd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Name is the adapter's registered name.
const Name = "linkerd"

// API versions and annotation keys the adapter emits and reads.
const (
	gatewayAPIVersion   = "gateway.networking.k8s.io/v1"
	policyV1beta3       = "policy.linkerd.io/v1beta3"
	policyV1alpha1      = "policy.linkerd.io/v1alpha1"
	policyGroup         = "policy.linkerd.io"
	serviceProfileAPI   = "linkerd.io/v1alpha2"
	annTimeoutRequest   = "timeout.linkerd.io/request"
	annRetryLimit       = "retry.linkerd.io/limit"
	annRetryHTTP        = "retry.linkerd.io/http"
	annRetryGRPC        = "retry.linkerd.io/grpc"
	annRetryTimeout     = "retry.linkerd.io/timeout"
	annAccrual          = "balancer.linkerd.io/failure-accrual"
	annAccrualMaxFail   = "balancer.linkerd.io/failure-accrual-consecutive-max-failures"
	annAccrualMinPen    = "balancer.linkerd.io/failure-accrual-consecutive-min-penalty"
	annAccrualMaxPen    = "balancer.linkerd.io/failure-accrual-consecutive-max-penalty"
	annDefaultInbound   = "config.linkerd.io/default-inbound-policy"
	annAccessLog        = "config.linkerd.io/access-log"
	annTraceCollector   = "config.linkerd.io/trace-collector"
	allNetworksAuthName = "all-networks"
	clusterDomain       = "cluster.local"
)

// Adapter is the Linkerd adapter. The zero value is ready to use.
type Adapter struct{}

// New returns the Linkerd adapter.
func New() *Adapter { return &Adapter{} }

var (
	_ adapters.Adapter  = (*Adapter)(nil)
	_ adapters.Importer = (*Adapter)(nil)
)

func init() { adapters.Register(New()) }

// Name returns "linkerd".
func (a *Adapter) Name() string { return Name }

// Capabilities returns Linkerd's row of the capability matrix.
func (a *Adapter) Capabilities() adapters.Capabilities {
	n := func() adapters.Capability { return adapters.Capability{Support: adapters.Native} }
	p := func(note string) adapters.Capability {
		return adapters.Capability{Support: adapters.Partial, Note: note}
	}
	u := func(note string) adapters.Capability {
		return adapters.Capability{Support: adapters.Unsupported, Note: note}
	}
	return adapters.Capabilities{
		adapters.FeatureWeightedSplit:    p("HTTPRoute/GRPCRoute backendRefs across per-version Services; TCP splits need TCPRoute (experimental), not emitted"),
		adapters.FeaturePathMatch:        p("HTTPRoute path Exact/PathPrefix/RegularExpression; gRPC only service/method paths; routes ordered by Gateway API precedence, not design order"),
		adapters.FeatureMethodMatch:      p("HTTPRoute method; not for gRPC routes"),
		adapters.FeatureHeaderMatch:      p("Exact and RegularExpression only; prefix and presence become regular expressions"),
		adapters.FeatureQueryMatch:       p("HTTPRoute queryParams Exact/RegularExpression; none for gRPC"),
		adapters.FeatureTimeout:          p("timeout.linkerd.io/request annotation on the route"),
		adapters.FeatureRetries:          p("retry.linkerd.io/{limit,http,grpc} annotations: status codes and gRPC codes only, no connect-failure/reset"),
		adapters.FeatureRetryPerTry:      n(),
		adapters.FeatureRetryBackoff:     u("Linkerd has no retry backoff setting"),
		adapters.FeatureRetryBudget:      p("only with the ServiceProfiles option (retryBudget: ratio and minimum retries per second)"),
		adapters.FeatureFaultDelay:       u("Linkerd has no fault injection"),
		adapters.FeatureFaultAbort:       u("Linkerd has no fault injection"),
		adapters.FeatureMirror:           u("Linkerd rejects the RequestMirror filter"),
		adapters.FeatureHeaderOps:        n(),
		adapters.FeatureRewrite:          p("no URLRewrite filter: path rewrites are lost, host rewrites become a Host header set"),
		adapters.FeatureConnectionLimits: u("Linkerd has no connection or request limits"),
		adapters.FeatureOutlierDetection: p("failure accrual annotations on the Service: consecutive failures and penalty only"),
		adapters.FeatureRateLimit:        p("HTTPLocalRateLimitPolicy per Server: whole requests per second, no burst (the sustained rate is exact; bursts are one second's requests, with a warning); requestsPerMinute not a multiple of 60 rounds up"),
		adapters.FeatureLoadBalancer:     u("Linkerd always balances with EWMA"),
		adapters.FeatureConsistentHash:   u("Linkerd has no sticky sessions"),
		adapters.FeatureHealthCheck:      u("Linkerd has no active health checks; Kubernetes probes and failure accrual apply"),
		adapters.FeatureExternalServices: u("no TLS origination; EgressNetwork is not emitted"),
		adapters.FeatureMTLSStrict:       n(),
		adapters.FeatureMTLSPermissive:   p("all-unauthenticated inbound policy: meshed callers still use mTLS"),
		adapters.FeatureMTLSDisabled:     u("mTLS between meshed pods cannot be disabled; translated as permissive"),
		adapters.FeatureDefaultDeny:      p("namespace default-inbound-policy annotation, read when pods are injected; Servers default to deny"),
		adapters.FeatureAuthzAllow:       n(),
		adapters.FeatureAuthzDeny:        p("a deny of every caller with no HTTP condition is its ports' Servers with accessPolicy deny and no authorization; narrower deny rules (some callers or requests) cannot be subtracted from allows: authorization is allow-only"),
		adapters.FeatureAuthzConditions:  p("policy HTTPRoute on the Server (methods, paths, headers); probe and catch-all routes are added"),
		adapters.FeatureJWT:              u("Linkerd has no JWT authentication"),
		adapters.FeatureMetrics:          p("Prometheus metrics are always on and fixed"),
		adapters.FeatureTracing:          p("config.linkerd.io/trace-collector namespace annotation (OpenTelemetry), read at injection"),
		adapters.FeatureTracingSampling:  u("Linkerd follows the caller's sampling decision; no rate"),
		adapters.FeatureAccessLogs:       p("config.linkerd.io/access-log namespace annotation (apache or json), read at injection"),
		adapters.FeatureWasm:             u("Linkerd proxies do not run WebAssembly"),
	}
}

// Translate turns a design into Linkerd and Gateway API objects. It is pure and deterministic.
func (a *Adapter) Translate(ctx context.Context, d *spec.Design, opts adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	if d == nil {
		return nil, nil, fmt.Errorf("translating to linkerd: no design")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("translating design %q to linkerd: %w", d.Metadata.Name, err)
	}
	t := newTranslator(d, opts)
	t.versionServices()
	t.traffic()
	t.security()
	t.telemetry()
	t.extensions()
	t.externalServices()
	t.flushPartials()
	if err := checkCollisions(t.objs); err != nil {
		return nil, t.warns, fmt.Errorf("translating design %q to linkerd: %w", d.Metadata.Name, err)
	}
	out := &adapters.Output{Objects: t.objs}
	out.Sort()
	adapters.SortWarnings(t.warns)
	if opts.Strict && len(t.warns) > 0 {
		return out, t.warns, &adapters.StrictError{Mesh: Name, Warnings: t.warns}
	}
	return out, t.warns, nil
}

// checkCollisions fails when two generated objects share apiVersion, kind, namespace and name
// (for example a route "<service>-<route>" and a policy route "<rule>-<port>" that happen to
// spell the same), rather than letting one silently replace the other when applied.
func checkCollisions(objs []*unstructured.Unstructured) error {
	type key struct{ apiVersion, kind, ns, name string }
	seen := make(map[key]bool, len(objs))
	for _, o := range objs {
		k := key{o.GetAPIVersion(), o.GetKind(), o.GetNamespace(), o.GetName()}
		if seen[k] {
			return fmt.Errorf("two generated objects are both named %s: rename the route, access rule or version that produces it", adapters.ObjectRef(o))
		}
		seen[k] = true
	}
	return nil
}

// translator holds the state of one translation.
type translator struct {
	d        *spec.Design
	opts     adapters.Options
	ns       string
	td       string
	labels   map[string]string
	services map[string]*spec.Service
	external map[string]*spec.ExternalService
	objs     []*unstructured.Unstructured
	warns    []adapters.Warning
	// svcAnn collects annotations for partial Service objects, keyed "ns/name".
	svcAnn map[string]map[string]string
	// nsAnn collects annotations for partial Namespace objects, keyed by namespace.
	nsAnn map[string]map[string]string
	// servers are the Servers the security phase must emit, keyed "ns/name".
	servers map[string]*server
	// serverOrder keeps the Servers in creation order.
	serverOrder []*server
	// allNetworks records namespaces that need the all-networks NetworkAuthentication.
	allNetworks map[string]bool
	// deniedPorts maps "<service>/<port>" to the deny rule that refuses every caller of that
	// port (see denyAllPorts): its Server is emitted with accessPolicy deny and no authorization.
	deniedPorts map[string]string
}

func newTranslator(d *spec.Design, opts adapters.Options) *translator {
	ns := d.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	t := &translator{
		d:           d,
		opts:        opts,
		ns:          ns,
		td:          opts.TrustDomainOrDefault(),
		labels:      adapters.DesignLabels(d),
		services:    make(map[string]*spec.Service, len(d.Spec.Services)),
		external:    map[string]*spec.ExternalService{},
		svcAnn:      map[string]map[string]string{},
		nsAnn:       map[string]map[string]string{},
		servers:     map[string]*server{},
		allNetworks: map[string]bool{},
		deniedPorts: map[string]string{},
	}
	for i := range d.Spec.Services {
		s := &d.Spec.Services[i]
		t.services[s.Name] = s
	}
	for i := range d.Spec.ExternalServices {
		e := &d.Spec.ExternalServices[i]
		t.external[e.Name] = e
	}
	return t
}

// warn records a warning.
func (t *translator) warn(path string, f adapters.Feature, sev adapters.Severity, format string, args ...any) {
	t.warns = append(t.warns, adapters.Warning{Path: path, Mesh: Name, Feature: f, Lost: fmt.Sprintf(format, args...), Severity: sev})
}

// newObject builds a generated object with the design's labels.
func (t *translator) newObject(apiVersion, kind, ns, name string, objSpec map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
	}}
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	labels := make(map[string]any, len(t.labels))
	for k, v := range t.labels {
		labels[k] = v
	}
	meta["labels"] = labels
	o.Object["metadata"] = meta
	if objSpec != nil {
		o.Object["spec"] = objSpec
	}
	t.objs = append(t.objs, o)
	return o
}

// setAnnotations sets annotations on an object (nothing when empty).
func setAnnotations(o *unstructured.Unstructured, ann map[string]string) {
	if len(ann) == 0 {
		return
	}
	m := make(map[string]any, len(ann))
	for k, v := range ann {
		m[k] = v
	}
	o.Object["metadata"].(map[string]any)["annotations"] = m
}

// addServiceAnnotation records an annotation for the partial Service object ns/name.
func (t *translator) addServiceAnnotation(ns, name, key, value string) {
	k := ns + "/" + name
	if t.svcAnn[k] == nil {
		t.svcAnn[k] = map[string]string{}
	}
	t.svcAnn[k][key] = value
}

// addNamespaceAnnotation records an annotation for the partial Namespace object ns.
func (t *translator) addNamespaceAnnotation(ns, key, value string) {
	if t.nsAnn[ns] == nil {
		t.nsAnn[ns] = map[string]string{}
	}
	t.nsAnn[ns][key] = value
}

// flushPartials emits the partial Service and Namespace objects for server-side apply.
func (t *translator) flushPartials() {
	for _, k := range sortedKeys(t.svcAnn) {
		ns, name, _ := strings.Cut(k, "/")
		o := partialObject("v1", "Service", ns, name, t.svcAnn[k])
		t.objs = append(t.objs, o)
	}
	for _, ns := range sortedKeys(t.nsAnn) {
		o := partialObject("v1", "Namespace", "", ns, t.nsAnn[ns])
		t.objs = append(t.objs, o)
	}
}

// partialObject builds a minimal object holding only identity and annotations, for server-side
// apply onto an object the user owns.
func partialObject(apiVersion, kind, ns, name string, ann map[string]string) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	a := make(map[string]any, len(ann))
	for k, v := range ann {
		a[k] = v
	}
	meta["annotations"] = a
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}}
}

// IsPartial reports whether o is a partial object the adapter emits to annotate a user-owned
// Service or Namespace (it carries no Trellis labels and must be server-side applied).
func IsPartial(o *unstructured.Unstructured) bool {
	if o.GetAPIVersion() != "v1" || (o.GetKind() != "Service" && o.GetKind() != "Namespace") {
		return false
	}
	_, hasSpec := o.Object["spec"]
	return !hasSpec
}

// ---- design accessors with defaults (the loader defaults designs; these keep the adapter
// correct on hand-built designs too) ----

func (t *translator) svcNamespace(s *spec.Service) string {
	if s.Namespace != "" {
		return s.Namespace
	}
	return t.ns
}

func svcProtocol(s *spec.Service) spec.Protocol {
	if s.Protocol == "" {
		return spec.ProtocolHTTP
	}
	return s.Protocol
}

func svcIdentity(s *spec.Service) string {
	if s.Identity != "" {
		return s.Identity
	}
	return s.Name
}

// svcPorts returns the service's ports with names and target ports filled in.
func svcPorts(s *spec.Service) []spec.Port {
	ports := s.Ports
	if len(ports) == 0 {
		ports = []spec.Port{{Port: 80}}
	}
	out := make([]spec.Port, len(ports))
	for i, p := range ports {
		if p.Name == "" {
			p.Name = string(svcProtocol(s))
			if len(ports) > 1 {
				p.Name += "-" + strconv.Itoa(int(p.Port))
			}
		}
		if p.TargetPort == 0 {
			p.TargetPort = p.Port
		}
		out[i] = p
	}
	return out
}

func routeName(i int, r *spec.Route) string {
	if r.Name != "" {
		return r.Name
	}
	return "route-" + strconv.Itoa(i)
}

func accessRuleName(i int, r *spec.AccessRule) string {
	if r.Name != "" {
		return r.Name
	}
	action := r.Action
	if action == "" {
		action = spec.ActionAllow
	}
	return fmt.Sprintf("%s-%s-%d", r.Destination, action, i)
}

// appLabel is the pod label of a service's default selector ({app: <service name>}).
const appLabel = spec.DefaultSelectorLabel

// podLabels returns the labels selecting a service's pods: the service's selector (default
// {app: <name>}).
func podLabels(s *spec.Service) map[string]string { return s.SelectorLabels() }

// versionServiceName is the name of the per-version Service of version v of service s.
func versionServiceName(svc, version string) string { return svc + "-" + version }

// fmtDuration formats a duration the way Linkerd's annotation parser and Gateway API durations
// accept it: a whole number of one unit (h, m, s or ms).
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	default:
		ms := int64(d / time.Millisecond)
		if ms == 0 {
			ms = 1
		}
		return strconv.FormatInt(ms, 10) + "ms"
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func labelsToAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
