package native

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/trellis-mesh/trellis/spec"
)

// Node metadata keys a proxy sends (see notes/xds-contract.md); every value is a string.
const (
	// MetaService is the proxy's service name.
	MetaService = "TRELLIS_SERVICE"
	// MetaNamespace is the service's namespace.
	MetaNamespace = "TRELLIS_NAMESPACE"
	// MetaVersion is the instance's version ("" when none).
	MetaVersion = "TRELLIS_VERSION"
	// MetaIdentity is the workload identity.
	MetaIdentity = "TRELLIS_IDENTITY"
	// MetaInboundAddr is where other proxies reach the instance.
	MetaInboundAddr = "TRELLIS_INBOUND_ADDR"
	// MetaOutboundAddr is where the local app sends outgoing requests.
	MetaOutboundAddr = "TRELLIS_OUTBOUND_ADDR"
	// MetaAppAddr is the local app's address.
	MetaAppAddr = "TRELLIS_APP_ADDR"
	// MetaLabels is a JSON object of the instance's pod-like labels.
	MetaLabels = "TRELLIS_LABELS"
	// MetaCSR is the proxy's certificate signing request (base64 of DER) for its workload
	// certificate; the private key stays in the proxy.
	MetaCSR = "TRELLIS_CSR"
)

// Default proxy addresses of the contract.
const (
	// DefaultInboundAddr is the inbound listener's default address.
	DefaultInboundAddr = "127.0.0.1:15006"
	// DefaultOutboundAddr is the outbound listener's default address.
	DefaultOutboundAddr = "127.0.0.1:15001"
)

// NodeInfo is what the control plane knows about one connected proxy.
type NodeInfo struct {
	// ID is the xDS node id ("reviews.default~v2~1a2b3c4d").
	ID string
	// Service and Namespace name the proxy's service.
	Service, Namespace string
	// Version is the instance's version, "" when none.
	Version string
	// Identity is the workload identity.
	Identity string
	// InboundAddr is where other proxies reach the instance (host:port).
	InboundAddr string
	// OutboundAddr is where the local app sends outgoing requests (host:port).
	OutboundAddr string
	// AppAddr is the local app (host:port); "" means the proxy has no inbound side.
	AppAddr string
	// Labels place the instance in version subsets.
	Labels map[string]string
	// CSR is the proxy's certificate signing request (base64 of DER), "" when it sent none.
	CSR string
}

// Key returns "<service>.<namespace>", the key of the node's service.
func (n NodeInfo) Key() string { return n.Service + "." + n.Namespace }

// Endpoint returns the endpoint the node registers while its stream is open.
func (n NodeInfo) Endpoint() Endpoint {
	return Endpoint{Node: n.ID, Service: n.Key(), Version: n.Version, Labels: n.Labels, Address: n.InboundAddr}
}

// NodeInfoFromProto reads a proxy's identity from its xDS node (id, cluster and TRELLIS_*
// metadata). Missing service or namespace fall back to node.cluster ("<svc>.<ns>").
func NodeInfoFromProto(n *corev3.Node) (NodeInfo, error) {
	if n == nil || n.GetId() == "" {
		return NodeInfo{}, fmt.Errorf("reading xDS node: the node id is empty; expected \"<service>.<namespace>~<version>~<instance>\"")
	}
	fields := n.GetMetadata().GetFields()
	get := func(k string) string { return fields[k].GetStringValue() }
	info := NodeInfo{
		ID: n.GetId(), Service: get(MetaService), Namespace: get(MetaNamespace), Version: get(MetaVersion),
		Identity: get(MetaIdentity), InboundAddr: get(MetaInboundAddr), OutboundAddr: get(MetaOutboundAddr), AppAddr: get(MetaAppAddr),
		CSR: get(MetaCSR),
	}
	if info.Service == "" || info.Namespace == "" {
		if svc, ns, ok := strings.Cut(n.GetCluster(), "."); ok {
			if info.Service == "" {
				info.Service = svc
			}
			if info.Namespace == "" {
				info.Namespace = ns
			}
		}
	}
	if info.Service == "" {
		return NodeInfo{}, fmt.Errorf("reading xDS node %q: metadata %s is missing and node.cluster %q is not \"<service>.<namespace>\"", n.GetId(), MetaService, n.GetCluster())
	}
	if info.Namespace == "" {
		info.Namespace = "default"
	}
	if info.Identity == "" {
		info.Identity = info.Service
	}
	if raw := get(MetaLabels); raw != "" {
		if err := json.Unmarshal([]byte(raw), &info.Labels); err != nil {
			return NodeInfo{}, fmt.Errorf("reading xDS node %q: metadata %s: expected a JSON object of strings such as {\"version\":\"v1\"}: %w", n.GetId(), MetaLabels, err)
		}
	}
	for k, v := range map[string]string{MetaInboundAddr: info.InboundAddr, MetaOutboundAddr: info.OutboundAddr, MetaAppAddr: info.AppAddr} {
		if v == "" {
			continue
		}
		if _, _, err := splitAddr(v); err != nil {
			return NodeInfo{}, fmt.Errorf("reading xDS node %q: metadata %s: %w", n.GetId(), k, err)
		}
	}
	return info, nil
}

// Endpoint is one registered instance of a service.
type Endpoint struct {
	// Node is the registering proxy's node id.
	Node string
	// Service is the service's key, "<svc>.<ns>".
	Service string
	// Version is the instance's version, "" when none.
	Version string
	// Labels are the instance's labels.
	Labels map[string]string
	// Address is the instance's inbound address (host:port).
	Address string
}

func (e Endpoint) in(s Subset) bool {
	if e.Service != s.Service {
		return false
	}
	if len(s.Labels) == 0 {
		return true
	}
	if len(e.Labels) == 0 {
		return s.Version != "" && e.Version == s.Version
	}
	for k, v := range s.Labels {
		if e.Labels[k] != v {
			return false
		}
	}
	return true
}

func splitAddr(addr string) (string, uint32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("expected host:port, got %q", addr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", 0, fmt.Errorf("expected a port 1-65535 in %q", addr)
	}
	return host, uint32(p), nil
}

// CanonicalNode returns the node Translate renders for a service key ("" for a proxy without a
// service of the design): the contract's default addresses and the app on its target port.
func CanonicalNode(res *Resources, key string) NodeInfo {
	n := NodeInfo{ID: "canonical", InboundAddr: DefaultInboundAddr, OutboundAddr: DefaultOutboundAddr}
	if sr, ok := res.Services[key]; ok {
		n.ID = key + "~-~canonical"
		n.Service, n.Namespace, n.Identity = sr.Name, sr.Namespace, sr.Identity
		n.AppAddr = "127.0.0.1:" + strconv.Itoa(int(sr.TargetPort))
	}
	return n
}

func resourceName(r types.Resource) string { return cachev3.GetResourceName(r) }

func httpConnectionManager(statPrefix, routeName string, filters []*hcmv3.HttpFilter) *listenerv3.Filter {
	all := append(append([]*hcmv3.HttpFilter(nil), filters...), &hcmv3.HttpFilter{
		Name: RouterFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&routerv3.Router{})},
	})
	m := &hcmv3.HttpConnectionManager{
		StatPrefix: statPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: adsSource(), RouteConfigName: routeName,
		}},
		HttpFilters: all,
	}
	return &listenerv3.Filter{Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(m)}}
}

func listener(name, addr string, hcm *listenerv3.Filter) (*listenerv3.Listener, error) {
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("listener %q: %w", name, err)
	}
	return &listenerv3.Listener{
		Name:         name,
		Address:      socketAddress(host, port),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{hcm}}},
	}, nil
}

// ForNode specialises design-level resources for one proxy: the outbound and inbound listeners
// at the node's addresses, the shared outbound routes and clusters, the inbound route and STATIC
// app cluster of the node's service, and one ClusterLoadAssignment per EDS cluster built from the
// registered endpoints. The result passes cache.Snapshot.Consistent.
func ForNode(res *Resources, node NodeInfo, endpoints []Endpoint) (_ map[resourcev3.Type][]types.Resource, err error) {
	defer recoverAny(&err, "building the snapshot of node "+strconv.Quote(node.ID))
	if res == nil {
		return nil, fmt.Errorf("building the snapshot of node %q: nil resources", node.ID)
	}
	out := map[resourcev3.Type][]types.Resource{}
	outAddr := node.OutboundAddr
	if outAddr == "" {
		outAddr = DefaultOutboundAddr
	}
	outbound, err := listener(ListenerOutbound, outAddr, httpConnectionManager(ListenerOutbound, RouteOutbound, []*hcmv3.HttpFilter{{
		Name: FaultFilter, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(&faultv3.HTTPFault{})},
	}}))
	if err != nil {
		return nil, fmt.Errorf("building the snapshot of node %q: %w", node.ID, err)
	}
	out[resourcev3.ListenerType] = append(out[resourcev3.ListenerType], outbound)
	out[resourcev3.RouteType] = append(out[resourcev3.RouteType], res.Outbound)
	for _, c := range res.Clusters {
		out[resourcev3.ClusterType] = append(out[resourcev3.ClusterType], c)
	}
	if node.AppAddr != "" && node.Service != "" {
		in, route, cluster, err := inboundResources(res, node)
		if err != nil {
			return nil, err
		}
		out[resourcev3.ListenerType] = append(out[resourcev3.ListenerType], in)
		out[resourcev3.RouteType] = append(out[resourcev3.RouteType], route)
		out[resourcev3.ClusterType] = append(out[resourcev3.ClusterType], cluster)
	}
	byService := map[string][]Endpoint{}
	for _, e := range endpoints {
		byService[e.Service] = append(byService[e.Service], e)
	}
	for _, eps := range byService {
		sort.Slice(eps, func(i, j int) bool { return eps[i].Address < eps[j].Address })
	}
	for _, s := range res.Subsets {
		cla := &endpointv3.ClusterLoadAssignment{ClusterName: s.Cluster}
		var lbs []*endpointv3.LbEndpoint
		for _, e := range byService[s.Service] {
			if !e.in(s) {
				continue
			}
			host, port, err := splitAddr(e.Address)
			if err != nil {
				return nil, fmt.Errorf("building the snapshot of node %q: endpoint of %q: %w", node.ID, e.Node, err)
			}
			lbs = append(lbs, lbEndpoint(host, port))
		}
		if len(lbs) > 0 {
			cla.Endpoints = []*endpointv3.LocalityLbEndpoints{{LbEndpoints: lbs}}
		}
		out[resourcev3.EndpointType] = append(out[resourcev3.EndpointType], cla)
	}
	return out, nil
}

func lbEndpoint(host string, port uint32) *endpointv3.LbEndpoint {
	return &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(host, port)}}}
}

// inboundResources builds the inbound side of a node that runs a service of the design: its
// listener (with the service's filters and mTLS mode), the inbound route and the cluster of the
// local application. It costs the same whatever the size of the design.
func inboundResources(res *Resources, node NodeInfo) (*listenerv3.Listener, *routev3.RouteConfiguration, *clusterv3.Cluster, error) {
	key := node.Key()
	sr := res.Services[key]
	var filters []*hcmv3.HttpFilter
	proto := spec.ProtocolHTTP
	mode := spec.MTLSStrict
	if sr != nil {
		filters = sr.HTTPFilters
		proto = sr.Protocol
		mode = sr.MTLS
	}
	inAddr := node.InboundAddr
	if inAddr == "" {
		inAddr = DefaultInboundAddr
	}
	in, err := listener(ListenerInbound, inAddr, httpConnectionManager(ListenerInbound, RouteInbound, filters))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("building the snapshot of node %q: %w", node.ID, err)
	}
	applyInboundMTLS(in, mode)
	route := &routev3.RouteConfiguration{
		Name: RouteInbound,
		VirtualHosts: []*routev3.VirtualHost{{Name: "inbound", Domains: []string{"*"}, Routes: []*routev3.Route{{
			Name:  "default",
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: InboundCluster(key)},
				Timeout:          durationpb.New(0),
			}},
		}}}},
	}
	host, port, err := splitAddr(node.AppAddr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("building the snapshot of node %q: app address: %w", node.ID, err)
	}
	name := InboundCluster(key)
	cluster := &clusterv3.Cluster{
		Name:                          name,
		ClusterDiscoveryType:          &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		LbPolicy:                      clusterv3.Cluster_ROUND_ROBIN,
		LoadAssignment:                &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{lbEndpoint(host, port)}}}},
		TypedExtensionProtocolOptions: httpProtocolOptions(proto, 0),
	}
	return in, route, cluster, nil
}
