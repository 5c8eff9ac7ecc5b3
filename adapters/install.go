package adapters

import "github.com/trellis-mesh/trellis/spec"

// Chart is a Helm chart that installs (part of) a mesh's control plane.
type Chart struct {
	// Repo is the chart repository URL.
	Repo string `json:"repo"`
	// Name is the chart's name in the repository.
	Name string `json:"name"`
	// Version is the chart version.
	Version string `json:"version"`
	// Release is the Helm release name.
	Release string `json:"release"`
	// Namespace is the release's namespace.
	Namespace string `json:"namespace"`
	// Values override the chart's defaults. They may hold generated secrets (for example
	// Linkerd's identity issuer key): never log them.
	Values map[string]any `json:"-"`
}

// InstallOptions tunes a mesh installation.
type InstallOptions struct {
	// Version is the mesh version to install. Default: the adapter's tested version.
	Version string
	// TrustDomain is the mesh's trust domain. Default "cluster.local".
	TrustDomain string
	// Designs are the designs the mesh will run. Their mesh-wide settings that no per-namespace
	// object can express (for Istio: tracing collectors and the access-log encoding, which live in
	// meshConfig) become install values. Default nil: the mesh's own defaults.
	Designs []*spec.Design
}

// TrustDomainOrDefault returns the trust domain, "cluster.local" when unset.
func (o InstallOptions) TrustDomainOrDefault() string {
	if o.TrustDomain == "" {
		return "cluster.local"
	}
	return o.TrustDomain
}

// Installer is implemented by adapters whose mesh Trellis can install with Helm. Charts returns
// the charts in installation order (CRDs first); uninstalling goes in reverse order.
type Installer interface {
	Charts(opts InstallOptions) ([]Chart, error)
}
