package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/trellis-mesh/trellis/adapters"
)

// Helm installs, upgrades and removes Helm charts (meshes, Trellis itself) with the Helm SDK,
// storing releases as Secrets like the helm CLI, so `helm list` sees them.
type Helm struct {
	cfg *rest.Config
}

// NewHelm returns a Helm installer for the cluster behind cfg.
func NewHelm(cfg *rest.Config) *Helm { return &Helm{cfg: cfg} }

// ChartRelease is one chart to install or upgrade.
type ChartRelease struct {
	// Chart is the loaded chart.
	Chart *chart.Chart
	// Name is the release name.
	Name string
	// Namespace is the release's namespace; it is created when missing.
	Namespace string
	// Values override the chart's defaults.
	Values map[string]any
	// Timeout bounds the whole operation. Default 5 minutes.
	Timeout time.Duration
	// Wait waits for workloads to become ready (needs running pods, so not against a bare API
	// server).
	Wait bool
}

// InstallOrUpgrade installs the release, or upgrades it when it exists. A failed install is rolled
// back (atomic), so it leaves no half-installed release behind.
func (h *Helm) InstallOrUpgrade(ctx context.Context, r ChartRelease) (*release.Release, error) {
	if r.Chart == nil || r.Name == "" || r.Namespace == "" {
		return nil, errors.New("helm release needs a chart, a name and a namespace")
	}
	if r.Timeout == 0 {
		r.Timeout = 5 * time.Minute
	}
	ac, err := h.action(r.Namespace)
	if err != nil {
		return nil, err
	}
	hist := action.NewHistory(ac)
	hist.Max = 1
	if _, err := hist.Run(r.Name); errors.Is(err, driver.ErrReleaseNotFound) {
		in := action.NewInstall(ac)
		in.ReleaseName, in.Namespace, in.CreateNamespace = r.Name, r.Namespace, true
		in.Timeout, in.Wait, in.Atomic = r.Timeout, r.Wait, r.Wait
		rel, err := in.RunWithContext(ctx, r.Chart, r.Values)
		if err != nil {
			if !r.Wait {
				// Without --atomic's wait, remove what a failed install left behind.
				un := action.NewUninstall(ac)
				un.Timeout = r.Timeout
				_, _ = un.Run(r.Name)
			}
			return nil, fmt.Errorf("installing chart %s as %s/%s: %w", r.Chart.Name(), r.Namespace, r.Name, err)
		}
		return rel, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading release %s/%s: %w", r.Namespace, r.Name, err)
	}
	up := action.NewUpgrade(ac)
	up.Namespace, up.Timeout, up.Wait, up.Atomic = r.Namespace, r.Timeout, r.Wait, r.Wait
	rel, err := up.RunWithContext(ctx, r.Name, r.Chart, r.Values)
	if err != nil {
		return nil, fmt.Errorf("upgrading %s/%s to chart %s %s: %w", r.Namespace, r.Name, r.Chart.Name(), r.Chart.Metadata.Version, err)
	}
	return rel, nil
}

// Uninstall removes a release and the objects it created. Removing a release that does not exist
// is not an error.
func (h *Helm) Uninstall(ctx context.Context, name, namespace string) error {
	ac, err := h.action(namespace)
	if err != nil {
		return err
	}
	un := action.NewUninstall(ac)
	un.Timeout = 5 * time.Minute
	if _, err := un.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("uninstalling %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Status returns a release, or nil when it is not installed.
func (h *Helm) Status(ctx context.Context, name, namespace string) (*release.Release, error) {
	ac, err := h.action(namespace)
	if err != nil {
		return nil, err
	}
	rel, err := action.NewStatus(ac).Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	return rel, err
}

func (h *Helm) action(namespace string) (*action.Configuration, error) {
	ac := new(action.Configuration)
	getter := &restGetter{cfg: h.cfg, namespace: namespace}
	if err := ac.Init(getter, namespace, "secret", func(format string, v ...any) {
		slog.Debug(fmt.Sprintf(format, v...), "component", "helm")
	}); err != nil {
		return nil, fmt.Errorf("initialising helm for namespace %s: %w", namespace, err)
	}
	return ac, nil
}

// restGetter adapts a rest.Config to Helm's RESTClientGetter.
type restGetter struct {
	cfg       *rest.Config
	namespace string
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(g.cfg)
	if err != nil {
		return nil, err
	}
	return memory.NewMemCacheClient(dc), nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return restmapper.NewDeferredDiscoveryRESTMapper(dc), nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	c := clientcmdapi.NewConfig()
	c.Clusters["cluster"] = &clientcmdapi.Cluster{Server: g.cfg.Host, CertificateAuthorityData: g.cfg.CAData, InsecureSkipTLSVerify: g.cfg.Insecure}
	c.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: g.cfg.CertData, ClientKeyData: g.cfg.KeyData, Token: g.cfg.BearerToken}
	c.Contexts["ctx"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "user", Namespace: g.namespace}
	c.CurrentContext = "ctx"
	return clientcmd.NewDefaultClientConfig(*c, &clientcmd.ConfigOverrides{})
}

// LoadChart loads a mesh chart: from chartDir when set (offline installs: a directory holding
// "<name>-<version>.tgz" or an unpacked "<name>/" folder), otherwise downloaded from the chart's
// repository into Helm's cache.
func LoadChart(c adapters.Chart, chartDir string) (*chart.Chart, error) {
	if chartDir != "" {
		for _, p := range []string{
			filepath.Join(chartDir, fmt.Sprintf("%s-%s.tgz", c.Name, c.Version)),
			filepath.Join(chartDir, c.Name),
		} {
			if _, err := os.Stat(p); err == nil {
				ch, err := loader.Load(p)
				if err != nil {
					return nil, fmt.Errorf("loading chart %s: %w", p, err)
				}
				return ch, nil
			}
		}
		return nil, fmt.Errorf("chart %s %s not found in %s; hint: put %s-%s.tgz there (helm pull %s --repo %s --version %s)",
			c.Name, c.Version, chartDir, c.Name, c.Version, c.Name, c.Repo, c.Version)
	}
	settings := cli.New()
	opts := action.ChartPathOptions{RepoURL: c.Repo, Version: c.Version}
	p, err := opts.LocateChart(c.Name, settings)
	if err != nil {
		return nil, fmt.Errorf("downloading chart %s %s from %s: %w; hint: without network access use --chart-dir", c.Name, c.Version, c.Repo, err)
	}
	ch, err := loader.Load(p)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", p, err)
	}
	return ch, nil
}
