package consul

import "github.com/trellis-mesh/trellis/adapters"

var _ adapters.Installer = (*Adapter)(nil)

// DefaultChartVersion is the consul-k8s Helm chart version installed by default.
const DefaultChartVersion = "1.9.0"

// Charts returns HashiCorp's consul chart with the service mesh (connect injection) enabled.
func (a *Adapter) Charts(opts adapters.InstallOptions) ([]adapters.Chart, error) {
	v := opts.Version
	if v == "" {
		v = DefaultChartVersion
	}
	return []adapters.Chart{{
		Repo: "https://helm.releases.hashicorp.com", Name: "consul", Version: v, Release: "consul", Namespace: "consul",
		Values: map[string]any{
			"global":        map[string]any{"name": "consul", "tls": map[string]any{"enabled": true}, "acls": map[string]any{"manageSystemACLs": true}},
			"server":        map[string]any{"replicas": 1},
			"connectInject": map[string]any{"enabled": true, "default": false},
		},
	}}, nil
}
