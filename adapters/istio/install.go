package istio

import "github.com/trellis-mesh/trellis/adapters"

var _ adapters.Installer = (*Adapter)(nil)

// DefaultVersion is the Istio version `trellis mesh install istio` installs by default.
const DefaultVersion = "1.30.3"

// Charts returns Istio's base (CRDs) and istiod charts from Istio's chart repository.
func (a *Adapter) Charts(opts adapters.InstallOptions) ([]adapters.Chart, error) {
	v := opts.Version
	if v == "" {
		v = DefaultVersion
	}
	const repo = "https://istio-release.storage.googleapis.com/charts"
	return []adapters.Chart{
		{Repo: repo, Name: "base", Version: v, Release: "istio-base", Namespace: "istio-system",
			Values: map[string]any{"defaultRevision": "default"}},
		{Repo: repo, Name: "istiod", Version: v, Release: "istiod", Namespace: "istio-system",
			Values: map[string]any{"meshConfig": map[string]any{"trustDomain": opts.TrustDomainOrDefault()}}},
	}, nil
}
