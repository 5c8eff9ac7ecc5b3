package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/kube"
	"github.com/trellis-mesh/trellis/spec"
)

func init() {
	register(newApplyCmd)
	register(newDiffCmd)
}

// clusterFlags are the kubectl-like flags shared by commands that talk to a cluster.
type clusterFlags struct {
	files      []string
	mesh       string
	kubeconfig string
	context    string
	namespace  string
	output     string
	opts       adapters.Options
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.files, "file", "f", nil, "design file or directory (repeatable)")
	fl.StringVar(&f.mesh, "mesh", "", "mesh to translate to (see 'trellis meshes')")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&f.context, "context", "", "kubeconfig context to use")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "only accept designs for this namespace (a design names its own namespace)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text, json or yaml")
	fl.BoolVar(&f.opts.MeshRoutes, "mesh-routes", false, "istio: emit Gateway API HTTPRoutes instead of VirtualServices where possible")
	fl.StringVar(&f.opts.TrustDomain, "trust-domain", "", `the mesh's trust domain (default "cluster.local")`)
	_ = cmd.MarkFlagRequired("mesh")
}

// designObjects loads, translates and returns the objects of every design, per design name.
func (f *clusterFlags) designObjects(cmd *cobra.Command) ([]*spec.Design, map[string][]*unstructured.Unstructured, error) {
	if len(f.files) == 0 {
		return nil, nil, withCode(ExitUsage, errors.New("no design given: use -f PATH"))
	}
	if f.output != "text" && f.output != "json" && f.output != "yaml" {
		return nil, nil, withCode(ExitUsage, fmt.Errorf("unknown output format %q: expected text, json or yaml", f.output))
	}
	a, err := adapters.Lookup(f.mesh)
	if err != nil {
		return nil, nil, withCode(ExitUsage, err)
	}
	designs, err := spec.LoadPaths(f.files...)
	if err != nil {
		var ve *spec.ValidationError
		if errors.As(err, &ve) {
			for _, v := range ve.Violations {
				fmt.Fprintln(cmd.ErrOrStderr(), v.String())
			}
			return nil, nil, withCode(ExitInvalid, fmt.Errorf("%d violation(s): fix the design first (trellis validate)", len(ve.Violations)))
		}
		return nil, nil, withCode(ExitUsage, err)
	}
	objs := map[string][]*unstructured.Unstructured{}
	for _, d := range designs {
		if f.namespace != "" && d.Metadata.Namespace != f.namespace {
			return nil, nil, withCode(ExitUsage, fmt.Errorf("design %q targets namespace %q, not %q (-n); hint: change metadata.namespace or drop -n", d.Metadata.Name, d.Metadata.Namespace, f.namespace))
		}
		out, ws, err := adapters.Translate(cmd.Context(), a, d, f.opts)
		for _, w := range ws {
			fmt.Fprintln(cmd.ErrOrStderr(), w.String())
		}
		if err != nil {
			return nil, nil, withCode(ExitInvalid, fmt.Errorf("translating %q for %s: %w", d.Metadata.Name, a.Name(), err))
		}
		objs[d.Metadata.Name] = out.Objects
	}
	return designs, objs, nil
}

func (f *clusterFlags) client() (*kube.Client, error) {
	cfg, _, err := kube.Config(f.kubeconfig, f.context)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	c, err := kube.New(cfg)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return c, nil
}

func writeStructured(w io.Writer, format string, v any) error {
	var b []byte
	var err error
	if format == "json" {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func newApplyCmd() *cobra.Command {
	var f clusterFlags
	var dryRun, prune bool
	cmd := &cobra.Command{
		Use:   "apply -f PATH --mesh MESH",
		Short: "Translate designs and server-side apply the result to a cluster (all or nothing)",
		Long: `Translate designs for a mesh and apply the objects to the cluster of the current kubeconfig
context with server-side apply (field manager "trellis"). Every object is first checked with a
server-side dry run: when the API server rejects any of them, nothing is written and every
rejection is listed. --prune deletes mesh objects labelled for the design that it no longer
produces (core objects such as Services and Namespaces are never deleted).

Exit codes: 0 applied, 1 invalid design or rejected objects, 2 usage or connection error.`,
		Example: `  trellis apply -f bookinfo.yaml --mesh istio --dry-run
  trellis apply -f designs/ --mesh linkerd --context prod --prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			designs, objs, err := f.designObjects(cmd)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var all []kube.Result
			suffix := ""
			if dryRun {
				suffix = " (server dry run)"
			}
			for _, d := range designs {
				rs, err := c.Apply(cmd.Context(), objs[d.Metadata.Name], kube.ApplyOptions{
					DryRun: dryRun, Prune: prune, Design: d.Metadata.Name,
					Progress: func(done, total int, r kube.Result) {
						if f.output == "text" {
							fmt.Fprintf(cmd.OutOrStdout(), "[%d/%d] %s %s%s\n", done, total, r.Object, r.Action, suffix)
						}
					},
				})
				all = append(all, rs...)
				if err != nil {
					return withCode(ExitInvalid, fmt.Errorf("applying design %q: %w", d.Metadata.Name, err))
				}
				if f.output == "text" {
					for _, r := range rs {
						if r.Action == kube.Pruned || strings.HasPrefix(r.Object, "Namespace/") {
							fmt.Fprintf(cmd.OutOrStdout(), "%s %s%s\n", r.Object, r.Action, suffix)
						}
					}
				}
			}
			if f.output != "text" {
				return writeStructured(cmd.OutOrStdout(), f.output, all)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and report every change with a server-side dry run; write nothing")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete mesh objects of the design that it no longer produces")
	return cmd
}

func newDiffCmd() *cobra.Command {
	var f clusterFlags
	cmd := &cobra.Command{
		Use:   "diff -f PATH --mesh MESH",
		Short: "Show drift between what designs generate and what runs in the cluster",
		Long: `Compare the objects designs generate with the cluster: missing objects, drifted objects (with a
unified diff from the live object to the design's, after the API server's defaults), and orphaned
objects labelled for the design that it no longer produces.

Exit codes: 0 in sync, 1 differences found, 2 usage or connection error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			designs, objs, err := f.designObjects(cmd)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var all []kube.Change
			for _, d := range designs {
				ch, err := c.Diff(cmd.Context(), objs[d.Metadata.Name], d.Metadata.Name)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("comparing design %q: %w", d.Metadata.Name, err))
				}
				all = append(all, ch...)
			}
			differ := 0
			for _, ch := range all {
				if ch.Kind != kube.InSync {
					differ++
				}
			}
			if f.output != "text" {
				if err := writeStructured(cmd.OutOrStdout(), f.output, all); err != nil {
					return err
				}
			} else {
				for _, ch := range all {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", ch.Object, ch.Kind)
					if ch.Diff != "" {
						fmt.Fprint(cmd.OutOrStdout(), ch.Diff)
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d object(s), %d differ\n", len(all), differ)
			}
			if differ > 0 {
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
