// Package istio translates Trellis designs into Istio configuration (networking.istio.io/v1
// VirtualService, DestinationRule and ServiceEntry; security.istio.io/v1 PeerAuthentication,
// AuthorizationPolicy and RequestAuthentication; telemetry.istio.io/v1 Telemetry;
// extensions.istio.io/v1alpha1 WasmPlugin; networking.istio.io/v1alpha3 EnvoyFilter for local
// rate limits; optionally Gateway API HTTPRoutes for mesh routing) and imports existing Istio
// configuration back into a design.
//
// Conventions: a service's workloads are selected by its selector (selector.matchLabels,
// EnvoyFilter workloadSelector.labels), by default the pod label app=<service name> (the
// Kubernetes/Istio convention, e.g. bookinfo); DestinationRule subsets carry only the versions'
// labels, which filter the endpoints of the host's Service; hosts are fully qualified
// (<service>.<namespace>.svc.cluster.local); objects of a service live in its namespace and are
// named after it; namespace-wide objects are named "default" (PeerAuthentication),
// "<design>-default-deny" (AuthorizationPolicy) and "<design>" (Telemetry).
package istio

import (
	"github.com/trellis-mesh/trellis/adapters"
)

// Name is the adapter's registry name.
const Name = "istio"

// API versions of the generated objects.
const (
	NetworkingV1       = "networking.istio.io/v1"
	NetworkingV1alpha3 = "networking.istio.io/v1alpha3"
	SecurityV1         = "security.istio.io/v1"
	TelemetryV1        = "telemetry.istio.io/v1"
	ExtensionsV1alpha1 = "extensions.istio.io/v1alpha1"
	GatewayV1          = "gateway.networking.k8s.io/v1"
)

// AppLabel is the pod label of a service's default selector ({app: <service name>}).
const AppLabel = "app"

// ClusterDomain is the DNS suffix of in-cluster service hosts.
const ClusterDomain = "svc.cluster.local"

// Adapter translates designs to Istio and imports Istio configuration.
type Adapter struct{}

var (
	_ adapters.Adapter        = (*Adapter)(nil)
	_ adapters.Importer       = (*Adapter)(nil)
	_ adapters.WorkloadReader = (*Adapter)(nil)
)

// New returns the Istio adapter.
func New() *Adapter { return &Adapter{} }

func init() { adapters.Register(New()) }

// Name returns "istio".
func (*Adapter) Name() string { return Name }

// Capabilities declares how well Istio expresses every feature of the capability matrix.
func (*Adapter) Capabilities() adapters.Capabilities {
	n := adapters.Capability{Support: adapters.Native}
	return adapters.Capabilities{
		adapters.FeatureWeightedSplit:    n,
		adapters.FeaturePathMatch:        n,
		adapters.FeatureMethodMatch:      n,
		adapters.FeatureHeaderMatch:      n,
		adapters.FeatureQueryMatch:       n,
		adapters.FeatureTimeout:          n,
		adapters.FeatureRetries:          n,
		adapters.FeatureRetryPerTry:      n,
		adapters.FeatureRetryBackoff:     {Support: adapters.Partial, Note: "VirtualService retries.backoff sets the base interval only; the maximum is Envoy's fixed 10× base"},
		adapters.FeatureRetryBudget:      {Support: adapters.Partial, Note: "DestinationRule trafficPolicy.retryBudget (Istio 1.27+) is per destination, not per route"},
		adapters.FeatureFaultDelay:       n,
		adapters.FeatureFaultAbort:       n,
		adapters.FeatureMirror:           n,
		adapters.FeatureHeaderOps:        n,
		adapters.FeatureRewrite:          n,
		adapters.FeatureConnectionLimits: n,
		adapters.FeatureOutlierDetection: n,
		adapters.FeatureRateLimit:        {Support: adapters.Partial, Note: "no first-class API: an EnvoyFilter inserting envoy.filters.http.local_ratelimit (escape hatch, tied to Envoy internals); a burst below the rate refills smaller steps (at least every 50ms) so the sustained rate holds, and a burst too small for any exact step (such as one below a twentieth of a per-second rate) is enforced at the closest slower rate with a warning"},
		adapters.FeatureLoadBalancer:     n,
		adapters.FeatureConsistentHash:   n,
		adapters.FeatureHealthCheck:      {Support: adapters.Unsupported, Note: "Istio relies on Kubernetes readiness probes; callers' proxies do not actively health-check"},
		adapters.FeatureExternalServices: n,
		adapters.FeatureMTLSStrict:       n,
		adapters.FeatureMTLSPermissive:   n,
		adapters.FeatureMTLSDisabled:     n,
		adapters.FeatureDefaultDeny:      n,
		adapters.FeatureAuthzAllow:       n,
		adapters.FeatureAuthzDeny:        n,
		adapters.FeatureAuthzConditions:  {Support: adapters.Partial, Note: "AuthorizationPolicy matches headers by exact value, prefix or suffix only: header regex conditions cannot be expressed"},
		adapters.FeatureJWT:              n,
		adapters.FeatureMetrics:          n,
		adapters.FeatureTracing:          {Support: adapters.Partial, Note: "Telemetry names a provider; the collector endpoint lives in meshConfig.extensionProviders, outside Istio's CRDs (`trellis mesh install istio -f DESIGN` sets it)"},
		adapters.FeatureTracingSampling:  n,
		adapters.FeatureAccessLogs:       {Support: adapters.Partial, Note: "Telemetry turns logs on or off; the JSON format is meshConfig.accessLogEncoding, outside Istio's CRDs (`trellis mesh install istio -f DESIGN` sets it)"},
		adapters.FeatureWasm:             n,
	}
}
