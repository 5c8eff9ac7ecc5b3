package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/kube"
	"github.com/trellis-mesh/trellis/spec"
)

func init() { register(newMeshCmd) }

// meshInstallFlags are the flags of `trellis mesh install|uninstall|status`.
type meshInstallFlags struct {
	kubeconfig, context, version, trustDomain, chartDir, output string
	// files are design files whose mesh-wide settings become install values (install only).
	files []string
}

func (f *meshInstallFlags) add(cmd *cobra.Command, install bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "kubeconfig context to use")
	fl.StringVar(&f.version, "version", "", "mesh chart version (default: the version Trellis is tested with)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text, json or yaml")
	if install {
		fl.StringVar(&f.trustDomain, "trust-domain", "", `the mesh's trust domain (default "cluster.local")`)
		fl.StringVar(&f.chartDir, "chart-dir", "", "install from local charts (<name>-<version>.tgz or <name>/) instead of the mesh's chart repository")
		fl.StringArrayVarP(&f.files, "file", "f", nil, "design file or directory whose mesh-wide settings (istio: tracing collectors, JSON access logs) the install configures (repeatable)")
	}
}

func (f *meshInstallFlags) charts(stdin io.Reader, name string) ([]adapters.Chart, error) {
	var designs []*spec.Design
	if len(f.files) > 0 {
		ds, err := loadDesigns(stdin, f.files)
		if err != nil {
			return nil, withCode(ExitInvalid, err)
		}
		designs = ds
	}
	a, err := adapters.Lookup(name)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	in, ok := a.(adapters.Installer)
	if !ok {
		return nil, withCode(ExitUsage, fmt.Errorf("trellis cannot install %s with Helm (for the bundled mesh run `trellis serve` or `trellis control-plane`)", name))
	}
	cs, err := in.Charts(adapters.InstallOptions{Version: f.version, TrustDomain: f.trustDomain, Designs: designs})
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return cs, nil
}

func (f *meshInstallFlags) helm() (*kube.Helm, error) {
	cfg, _, err := kube.Config(f.kubeconfig, f.context)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return kube.NewHelm(cfg), nil
}

// releaseStatus is one line of `trellis mesh status`.
type releaseStatus struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	Chart     string `json:"chart"`
	Version   string `json:"version,omitempty"`
	Revision  int    `json:"revision,omitempty"`
	Status    string `json:"status"`
}

func newMeshCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "Install, upgrade, remove and inspect meshes with Helm (istio, linkerd, consul)",
	}
	var inf, unf, stf meshInstallFlags
	install := &cobra.Command{
		Use:   "install MESH",
		Short: "Install or upgrade a mesh's control plane with its Helm charts (CRDs first)",
		Example: `  trellis mesh install istio
  trellis mesh install istio -f designs/          # meshConfig for the designs' tracing and access logs
  trellis mesh install linkerd --trust-domain prod.example --context prod
  trellis mesh install consul --chart-dir ./charts   # offline: consul-1.9.0.tgz in ./charts`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			charts, err := inf.charts(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			h, err := inf.helm()
			if err != nil {
				return err
			}
			for i, c := range charts {
				fmt.Fprintf(cmd.ErrOrStderr(), "[%d/%d] %s: chart %s %s → %s/%s\n", i+1, len(charts), args[0], c.Name, c.Version, c.Namespace, c.Release)
				ch, err := kube.LoadChart(c, inf.chartDir)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				rel, err := h.InstallOrUpgrade(cmd.Context(), kube.ChartRelease{Chart: ch, Name: c.Release, Namespace: c.Namespace, Values: c.Values})
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s/%s revision %d %s\n", c.Namespace, c.Release, rel.Version, rel.Info.Status)
			}
			return nil
		},
	}
	inf.add(install, true)
	uninstall := &cobra.Command{
		Use:   "uninstall MESH",
		Short: "Remove a mesh's Helm releases (reverse order)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			charts, err := unf.charts(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			h, err := unf.helm()
			if err != nil {
				return err
			}
			for i := len(charts) - 1; i >= 0; i-- {
				c := charts[i]
				if err := h.Uninstall(cmd.Context(), c.Release, c.Namespace); err != nil {
					return withCode(ExitInvalid, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s/%s uninstalled\n", c.Namespace, c.Release)
			}
			return nil
		},
	}
	unf.add(uninstall, false)
	status := &cobra.Command{
		Use:   "status MESH",
		Short: "Show a mesh's Helm releases",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stf.output != "text" && stf.output != "json" && stf.output != "yaml" {
				return withCode(ExitUsage, errors.New("unknown output format: expected text, json or yaml"))
			}
			charts, err := stf.charts(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			h, err := stf.helm()
			if err != nil {
				return err
			}
			var out []releaseStatus
			for _, c := range charts {
				rel, err := h.Status(cmd.Context(), c.Release, c.Namespace)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				s := releaseStatus{Release: c.Release, Namespace: c.Namespace, Chart: c.Name, Status: "not installed"}
				if rel != nil {
					s.Version, s.Revision, s.Status = rel.Chart.Metadata.Version, rel.Version, rel.Info.Status.String()
				}
				out = append(out, s)
			}
			if stf.output != "text" {
				return writeStructured(cmd.OutOrStdout(), stf.output, out)
			}
			for _, s := range out {
				fmt.Fprintf(cmd.OutOrStdout(), "%s/%s\t%s %s\trevision %d\t%s\n", s.Namespace, s.Release, s.Chart, s.Version, s.Revision, s.Status)
			}
			return nil
		},
	}
	stf.add(status, false)
	cmd.AddCommand(install, uninstall, status)
	return cmd
}
