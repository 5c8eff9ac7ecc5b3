// Package native translates designs into Envoy xDS v3 resources (go-control-plane types) for the
// bundled mesh: Trellis's own sidecar (`trellis proxy`) or any Envoy consumes them over ADS.
//
// The API has two halves. Build is pure and design-level: it turns one design into the listeners'
// filter configuration, the "outbound" RouteConfiguration and the outbound clusters every sidecar
// shares. ForNode specialises those resources for one connected proxy (listener addresses from the
// node's metadata, the inbound side of its own service, endpoints of the registered instances) and
// returns a snapshot that passes cache.Snapshot.Consistent. The emitted subset of xDS is fixed by
// the contract with the proxy (notes/xds-contract.md); everything else in a design is reported as
// a warning.
//
// mTLS follows Envoy's API with Istio's secret names: per the design's mode (spec.security.mtls
// and mtlsOverrides) inbound listeners get a DownstreamTlsContext requiring a client certificate
// (strict) or the tls_inspector shape with an mTLS and a plaintext filter chain (permissive), and
// mesh clusters an UpstreamTlsContext checking the destination's SPIFFE ID; certificates come from
// the SDS secrets "default" and "ROOTCA" the control plane serves per node (NodeSecrets). RBAC
// principals are authenticated.principal_name SPIFFE IDs of the verified client certificate.
package native

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Name is the adapter's registered name.
const Name = "native"

// APIVersion is the apiVersion of the objects Translate renders (they are xDS resources, not
// Kubernetes objects; the envelope only serves the shared renderer and golden files).
const APIVersion = "xds.trellis.dev/v3"

// Adapter translates designs to xDS resources for the bundled proxy.
type Adapter struct{}

var _ adapters.Adapter = (*Adapter)(nil)

func init() { adapters.Register(&Adapter{}) }

// Name returns "native".
func (*Adapter) Name() string { return Name }

// Capabilities declares how much of every feature the bundled mesh expresses. The xDS emitted is
// standard, so most rows are native; the notes state what the bundled proxy itself still lacks.
func (*Adapter) Capabilities() adapters.Capabilities {
	c := adapters.Capabilities{}
	for _, f := range adapters.Features {
		c[f.Feature] = adapters.Capability{Support: adapters.Native}
	}
	c[adapters.FeatureHealthCheck] = adapters.Capability{Support: adapters.Partial,
		Note: "emitted as Cluster.health_checks (http/grpc/tcp); probes go through the peer's inbound proxy (a default-deny RBAC lets the probe's method and path through), so a separate health-check port is not expressible; the bundled proxy runs http, grpc and tcp checks"}
	c[adapters.FeatureExternalServices] = adapters.Capability{Support: adapters.Partial,
		Note: "STRICT_DNS/LOGICAL_DNS clusters with an UpstreamTlsContext for TLS origination (the bundled proxy verifies SNI, CA and SANs; it sends no client certificate); wildcard hosts and TLS passthrough (TCP) are not routed because the outbound listener is HTTP only"}
	c[adapters.FeatureConnectionLimits] = adapters.Capability{Support: adapters.Native,
		Note: "circuit_breakers thresholds and connect_timeout; max_requests_per_connection (HttpProtocolOptions) is ignored by the bundled proxy"}
	c[adapters.FeatureConsistentHash] = adapters.Capability{Support: adapters.Native,
		Note: "RING_HASH with a route hash_policy; the bundled proxy hashes an existing cookie but does not set a missing one"}
	c[adapters.FeatureMTLSStrict] = adapters.Capability{Support: adapters.Native,
		Note: "mutual TLS 1.3 between sidecars with SPIFFE certificates from the control plane's mesh CA (SDS over ADS, CSR flow: keys stay in the proxies, 24 h lifetime, rotated at half life); a listener serves every port of a service, so per-port overrides that differ make it accept mTLS and plaintext"}
	c[adapters.FeatureMTLSPermissive] = adapters.Capability{Support: adapters.Native,
		Note: "tls_inspector and two filter chains (mTLS and plaintext) on the inbound listener; meshed callers always use mTLS"}
	c[adapters.FeatureMTLSDisabled] = adapters.Capability{Support: adapters.Native}
	c[adapters.FeatureAuthzAllow] = adapters.Capability{Support: adapters.Native,
		Note: "RBAC on the receiving proxy; principals are authenticated.principal_name matched against the caller's verified client certificate (SPIFFE URI SAN); callers of a service whose mTLS mode is disabled are anonymous"}
	c[adapters.FeatureJWT] = adapters.Capability{Support: adapters.Unsupported,
		Note: "envoy.filters.http.jwt_authn is outside the xDS subset the bundled proxy consumes"}
	c[adapters.FeatureMetrics] = adapters.Capability{Support: adapters.Partial,
		Note: "every bundled proxy always exports Prometheus metrics on its admin /stats; they cannot be turned off per design"}
	c[adapters.FeatureTracing] = adapters.Capability{Support: adapters.Unsupported,
		Note: "HttpConnectionManager tracing is outside the xDS subset the bundled proxy consumes"}
	c[adapters.FeatureTracingSampling] = adapters.Capability{Support: adapters.Unsupported,
		Note: "HttpConnectionManager tracing is outside the xDS subset the bundled proxy consumes"}
	c[adapters.FeatureAccessLogs] = adapters.Capability{Support: adapters.Unsupported,
		Note: "HttpConnectionManager access_log is outside the xDS subset the bundled proxy consumes"}
	c[adapters.FeatureWasm] = adapters.Capability{Support: adapters.Partial,
		Note: "emitted as envoy.filters.http.wasm on the inbound listener; the bundled proxy ignores wasm filters for now (an Envoy sidecar runs them)"}
	return c
}

// Translate renders the design-level resources as objects: the shared outbound listener, the
// "outbound" RouteConfiguration, every outbound cluster with its (empty until proxies register)
// ClusterLoadAssignment, and for each service the inbound listener, route and cluster of a
// canonical node (contract default addresses, app on 127.0.0.1:<targetPort>). Objects of one
// service's inbound side are named "inbound|<svc>.<ns>".
func (a *Adapter) Translate(ctx context.Context, d *spec.Design, opts adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	res, warns, err := Build(d, opts)
	if err != nil {
		return nil, warns, err
	}
	var objs []*unstructured.Unstructured
	add := func(kind, name string, m proto.Message) error {
		o, err := render(d, kind, name, m)
		if err != nil {
			return fmt.Errorf("rendering %s %q for native: %w", kind, name, err)
		}
		objs = append(objs, o)
		return nil
	}
	// The resources every sidecar shares come from one snapshot without a local service; the
	// inbound side of each service is built alone (building a whole snapshot per service would
	// repeat every shared cluster once per service: quadratic in the design's size).
	shared, err := ForNode(res, CanonicalNode(res, ""), nil)
	if err != nil {
		return nil, warns, err
	}
	for _, key := range res.ServiceKeys() {
		in, route, cluster, err := inboundResources(res, CanonicalNode(res, key))
		if err != nil {
			return nil, warns, err
		}
		inbound := "inbound|" + key
		if err := add("Listener", inbound, in); err != nil {
			return nil, warns, err
		}
		if err := add("RouteConfiguration", inbound, route); err != nil {
			return nil, warns, err
		}
		if err := add("Cluster", inbound, cluster); err != nil {
			return nil, warns, err
		}
	}
	kinds := []struct {
		typ  resourcev3.Type
		kind string
	}{
		{resourcev3.ListenerType, "Listener"}, {resourcev3.RouteType, "RouteConfiguration"},
		{resourcev3.ClusterType, "Cluster"}, {resourcev3.EndpointType, "ClusterLoadAssignment"},
	}
	for _, k := range kinds {
		for _, r := range shared[k.typ] {
			name := resourceName(r)
			if name == ListenerInbound || name == RouteInbound || isInboundCluster(name) {
				continue
			}
			if err := add(k.kind, name, r); err != nil {
				return nil, warns, err
			}
		}
	}
	out := &adapters.Output{Objects: objs}
	out.Sort()
	return out, warns, nil
}

// Marshaller renders protos with stable proto field names, the form used by golden files.
var Marshaller = protojson.MarshalOptions{UseProtoNames: true}

func render(d *spec.Design, kind, name string, m proto.Message) (*unstructured.Unstructured, error) {
	b, err := Marshaller.Marshal(m)
	if err != nil {
		return nil, err
	}
	v, err := adapters.Normalize(json.RawMessage(b))
	if err != nil {
		return nil, err
	}
	specMap, _ := v.(map[string]any)
	return adapters.NewObject(APIVersion, kind, "", name, d, specMap), nil
}
