package table

import (
	"encoding/json"
	"fmt"
	"os"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"
)

// LoadBootstrap reads static resources from a JSON or YAML file. Two shapes are accepted:
// an Envoy bootstrap (`static_resources: {listeners: [...], clusters: [...]}`, routes inline in the
// HTTP connection manager or named by RDS and listed under a top-level `route_configs`), or a flat
// `resources:` list of typed resources (`"@type": type.googleapis.com/envoy.config.listener.v3.Listener`,
// RouteConfiguration, Cluster, ClusterLoadAssignment, Secret). Static secrets named "default"
// (certificate chain and private key) and "ROOTCA" (trusted_ca) give listeners and clusters mTLS
// without a control plane.
func LoadBootstrap(path string) (Resources, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Resources{}, fmt.Errorf("reading bootstrap: %w", err)
	}
	return ParseBootstrap(path, data)
}

// ParseBootstrap parses bootstrap data (see LoadBootstrap); name is used in errors.
func ParseBootstrap(name string, data []byte) (Resources, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Resources{}, fmt.Errorf("%s: not valid YAML or JSON: %w", name, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return Resources{}, fmt.Errorf("%s: expected an object at the top level: %w", name, err)
	}
	var res Resources
	opts := protojson.UnmarshalOptions{DiscardUnknown: false}
	if raw, ok := top["static_resources"]; ok {
		var b bootstrapv3.Bootstrap
		if err := opts.Unmarshal([]byte(`{"static_resources":`+string(raw)+`}`), &b); err != nil {
			return res, fmt.Errorf("%s: static_resources: %w", name, err)
		}
		res.Listeners = b.GetStaticResources().GetListeners()
		res.Clusters = b.GetStaticResources().GetClusters()
		res.Secrets = b.GetStaticResources().GetSecrets()
	}
	if raw, ok := top["route_configs"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return res, fmt.Errorf("%s: route_configs: expected a list: %w", name, err)
		}
		for i, r := range list {
			var rc routev3.RouteConfiguration
			if err := opts.Unmarshal(r, &rc); err != nil {
				return res, fmt.Errorf("%s: route_configs[%d]: %w", name, i, err)
			}
			res.Routes = append(res.Routes, &rc)
		}
	}
	if raw, ok := top["resources"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return res, fmt.Errorf("%s: resources: expected a list: %w", name, err)
		}
		for i, r := range list {
			var a anypb.Any
			if err := opts.Unmarshal(r, &a); err != nil {
				return res, fmt.Errorf("%s: resources[%d]: %w (hint: each resource needs an \"@type\")", name, i, err)
			}
			m, err := a.UnmarshalNew()
			if err != nil {
				return res, fmt.Errorf("%s: resources[%d]: %w", name, i, err)
			}
			switch v := m.(type) {
			case *listenerv3.Listener:
				res.Listeners = append(res.Listeners, v)
			case *routev3.RouteConfiguration:
				res.Routes = append(res.Routes, v)
			case *clusterv3.Cluster:
				res.Clusters = append(res.Clusters, v)
			case *endpointv3.ClusterLoadAssignment:
				res.Endpoints = append(res.Endpoints, v)
			case *tlsv3.Secret:
				res.Secrets = append(res.Secrets, v)
			default:
				return res, fmt.Errorf("%s: resources[%d]: unsupported type %s (expected Listener, RouteConfiguration, Cluster, ClusterLoadAssignment or Secret)", name, i, a.GetTypeUrl())
			}
		}
	}
	if len(res.Listeners) == 0 {
		return res, fmt.Errorf("%s: no listeners (hint: use static_resources.listeners or a resources list)", name)
	}
	res.Versions = map[string]string{"bootstrap": name}
	return res, nil
}
