// Package consul translates Trellis designs onto HashiCorp Consul service mesh configuration
// entries, and imports existing Consul configuration back into designs.
//
// Two output forms exist, chosen with adapters.Options.ConsulFormat:
//
//   - "crd" (the default): consul-k8s custom resources (consul.hashicorp.com/v1alpha1
//     ServiceDefaults, ServiceRouter, ServiceSplitter, ServiceResolver, ServiceIntentions,
//     ProxyDefaults, Mesh, JWTProvider) for `kubectl apply` or GitOps.
//   - "config-entry": plain Consul config entries with Consul's own CamelCase JSON fields (Kind,
//     Name, Protocol, Routes, …) for `consul config write` and `PUT /v1/config`. They are still
//     returned as unstructured objects (apiVersion ConfigEntryAPIVersion, kind, metadata.name)
//     so one renderer serves every adapter; ConfigEntries strips that envelope and returns the
//     entries in the order Consul needs them written.
//
// Conventions the translation relies on:
//
//   - Versions are ServiceResolver subsets filtered on service metadata: a version with labels
//     {version: v1} becomes the subset filter `Service.Meta.version == "v1"`. Instances must be
//     registered with that metadata (consul-k8s: the pod annotation
//     consul.hashicorp.com/service-meta-version: v1).
//   - A service's selector (its pod labels) is not emitted: consul-k8s registers a pod under the
//     name of the Kubernetes Service that selects it, and config entries name services, not pods.
//   - A route-specific weighted split (a route with matches and several backends) needs its own
//     splitter, and Consul keys splitters by service name, so it is given a virtual service
//     "<service>-<route>" (ServiceDefaults with the service's protocol plus a ServiceSplitter);
//     the router sends the route there.
//   - A backend that means "all instances" of a service whose own traffic is split (or pinned to
//     a default subset) targets an extra subset "all" with an empty filter, so the other split
//     is not applied twice.
//   - Circuit breakers and outlier detection are configured on the callers
//     (ServiceDefaults.upstreamConfig.overrides): the services named by allow rules for the
//     destination, or every other service of the design when the callers are unknown.
//   - defaultPolicy deny becomes, per design service, a wildcard ("*") source that is denied;
//     the design's own access rules are merged per source so that Consul's "most precise source
//     wins" evaluation gives the design's "deny wins" result.
package consul

import (
	"context"
	"fmt"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Name is the adapter's registry name.
const Name = "consul"

// The output forms accepted in adapters.Options.ConsulFormat.
const (
	// FormatCRD emits consul-k8s custom resources (the default).
	FormatCRD = "crd"
	// FormatConfigEntry emits plain Consul config entries.
	FormatConfigEntry = "config-entry"
)

// CRDAPIVersion is the apiVersion of consul-k8s custom resources.
const CRDAPIVersion = "consul.hashicorp.com/v1alpha1"

// ConfigEntryAPIVersion is the apiVersion of the envelope around plain config entries in the
// "config-entry" form. It is not a Kubernetes API; ConfigEntries removes the envelope.
const ConfigEntryAPIVersion = "config-entry.consul.trellis.dev/v1"

// Adapter is the Consul mesh adapter.
type Adapter struct{}

var (
	_ adapters.Adapter  = (*Adapter)(nil)
	_ adapters.Importer = (*Adapter)(nil)
)

// New returns the Consul adapter.
func New() *Adapter { return &Adapter{} }

func init() { adapters.Register(New()) }

// Name returns "consul".
func (*Adapter) Name() string { return Name }

// Capabilities returns Consul's row of the capability matrix.
func (*Adapter) Capabilities() adapters.Capabilities {
	n := func() adapters.Capability { return adapters.Capability{Support: adapters.Native} }
	p := func(note string) adapters.Capability {
		return adapters.Capability{Support: adapters.Partial, Note: note}
	}
	u := func(note string) adapters.Capability {
		return adapters.Capability{Support: adapters.Unsupported, Note: note}
	}
	return adapters.Capabilities{
		adapters.FeatureWeightedSplit:    p("ServiceSplitter percentages (0.01 precision, sum exactly 100); needs an L7 protocol; a route-specific split uses a virtual service"),
		adapters.FeaturePathMatch:        p("ServiceRouter pathExact/pathPrefix/pathRegex; pathPrefix is a raw string prefix, not per path segment"),
		adapters.FeatureMethodMatch:      n(),
		adapters.FeatureHeaderMatch:      n(),
		adapters.FeatureQueryMatch:       n(),
		adapters.FeatureTimeout:          n(),
		adapters.FeatureRetries:          n(),
		adapters.FeatureRetryPerTry:      u("ServiceRouter has no per-try timeout"),
		adapters.FeatureRetryBackoff:     u("ServiceRouter has no retry backoff"),
		adapters.FeatureRetryBudget:      u("Consul has no retry budget"),
		adapters.FeatureFaultDelay:       u("Consul CE cannot inject faults (Consul Enterprise offers a per-service fault-injection extension, not per route)"),
		adapters.FeatureFaultAbort:       u("Consul CE cannot inject faults (Consul Enterprise offers a per-service fault-injection extension, not per route)"),
		adapters.FeatureMirror:           u("Consul has no request mirroring"),
		adapters.FeatureHeaderOps:        n(),
		adapters.FeatureRewrite:          p("prefixRewrite only (with an exact or prefix match); no host rewrite"),
		adapters.FeatureConnectionLimits: p("upstreamConfig limits on the calling services; no max requests per connection"),
		adapters.FeatureOutlierDetection: p("upstreamConfig passiveHealthCheck on the calling services"),
		adapters.FeatureRateLimit:        p("ServiceDefaults rateLimits.instanceLevel, Consul Enterprise 1.17+ only; whole requests per second: requestsPerMinute not a multiple of 60 rounds up; the rate refills once a second, so a burst below it is rendered as is with a warning (a proxy cutting each refill to the bucket enforces the burst per second)"),
		adapters.FeatureLoadBalancer:     n(),
		adapters.FeatureConsistentHash:   p("ServiceResolver ring_hash hashPolicies; with a split only the first hash policy applies"),
		adapters.FeatureHealthCheck:      p("active checks are defined on the service registration, not config entries; subsets use onlyPassing"),
		adapters.FeatureExternalServices: p("ServiceDefaults destination (transparent proxy + terminating gateway); TLS origination is configured on the terminating gateway"),
		adapters.FeatureMTLSStrict:       n(),
		adapters.FeatureMTLSPermissive:   p("mutualTLSMode permissive needs Mesh allowEnablingPermissiveMutualTLS and transparent proxy"),
		adapters.FeatureMTLSDisabled:     u("Consul cannot disable mTLS between sidecars; mapped to permissive"),
		adapters.FeatureDefaultDeny:      n(),
		adapters.FeatureAuthzAllow:       p("ServiceIntentions sources are Consul service names, not identities; namespaces are Enterprise"),
		adapters.FeatureAuthzDeny:        n(),
		adapters.FeatureAuthzConditions:  p("L7 permissions (path, methods, headers); no port conditions"),
		adapters.FeatureJWT:              p("JWTProvider + ServiceIntentions jwt; tokens cannot be optional"),
		adapters.FeatureMetrics:          p("ProxyDefaults config envoy_prometheus_bind_addr; no per-metric customization"),
		adapters.FeatureTracing:          p("raw Envoy JSON in ProxyDefaults config (envoy_tracing_json, envoy_extra_static_clusters_json)"),
		adapters.FeatureTracingSampling:  p("raw Envoy JSON in ProxyDefaults config envoy_listener_tracing_json"),
		adapters.FeatureAccessLogs:       n(),
		adapters.FeatureWasm:             p("builtin/wasm Envoy extension with a remote HTTP source fetched through an upstream; no OCI images, no phase ordering"),
	}
}

// Translate turns a design into Consul configuration in the form chosen by opts.ConsulFormat.
func (a *Adapter) Translate(ctx context.Context, d *spec.Design, opts adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	if d == nil {
		return nil, nil, fmt.Errorf("translating to consul: no design")
	}
	format := opts.ConsulFormat
	if format == "" {
		format = FormatCRD
	}
	if format != FormatCRD && format != FormatConfigEntry {
		return nil, nil, fmt.Errorf("translating to consul: options.consulFormat %q: expected %q or %q", opts.ConsulFormat, FormatCRD, FormatConfigEntry)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	t := newTranslator(d)
	if err := t.run(); err != nil {
		return nil, t.warnings, err
	}
	objs, err := t.objects(format)
	if err != nil {
		return nil, t.warnings, err
	}
	out := &adapters.Output{Objects: objs}
	out.Sort()
	adapters.SortWarnings(t.warnings)
	return out, t.warnings, nil
}
