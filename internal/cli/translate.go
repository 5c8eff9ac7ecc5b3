package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/all" // registers every mesh adapter
	"github.com/trellis-mesh/trellis/spec"
)

func init() { register(newTranslateCmd) }

// newTranslateCmd builds `trellis translate`: designs in, mesh manifests out.
func newTranslateCmd() *cobra.Command {
	var (
		files  []string
		mesh   string
		output string
		opts   adapters.Options
	)
	cmd := &cobra.Command{
		Use:   "translate -f PATH --mesh MESH",
		Short: "Translate designs into a mesh's configuration (manifests on stdout, warnings on stderr)",
		Long: `Translate one or more designs into the configuration of one mesh. Manifests are written to
stdout as canonical multi-document YAML (or a JSON List with -o json), ready for kubectl apply or
a GitOps repository. Anything the mesh cannot express is reported on stderr as a warning with its
field path; --strict turns warnings into an error (exit code 1, no manifests).

Meshes: see 'trellis meshes'.`,
		Example: `  trellis translate -f bookinfo.yaml --mesh istio
  trellis translate -f designs/ --mesh istio --mesh-routes -o json
  trellis translate -f bookinfo.yaml --mesh istio --strict`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return withCode(ExitUsage, errors.New("no design given: use -f PATH (a file or a directory)"))
			}
			if output != "yaml" && output != "json" {
				return withCode(ExitUsage, fmt.Errorf("unknown output format %q: expected yaml or json", output))
			}
			a, err := adapters.Lookup(mesh)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			designs, err := loadDesigns(cmd.InOrStdin(), files)
			if err != nil {
				var ve *spec.ValidationError
				if errors.As(err, &ve) {
					for _, v := range ve.Violations {
						fmt.Fprintln(cmd.ErrOrStderr(), v.String())
					}
					return withCode(ExitInvalid, fmt.Errorf("%d violation(s): fix the design before translating", len(ve.Violations)))
				}
				return withCode(ExitUsage, err)
			}
			var all []*adapters.Output
			var warnings []adapters.Warning
			strictFailed := false
			for _, d := range designs {
				out, ws, err := adapters.Translate(cmd.Context(), a, d, opts)
				warnings = append(warnings, ws...)
				var se *adapters.StrictError
				if errors.As(err, &se) {
					strictFailed = true
					continue
				}
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				all = append(all, out)
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), w.String())
			}
			if strictFailed {
				return withCode(ExitInvalid, fmt.Errorf("strict mode: %d warning(s) translating to %s", len(warnings), a.Name()))
			}
			var objs []*unstructured.Unstructured
			for _, o := range all {
				objs = append(objs, o.Objects...)
			}
			b, err := adapters.Render(objs, output)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&files, "file", "f", nil, "design file, directory of *.yaml/*.yml/*.json designs, or - for stdin (repeatable)")
	f.StringVar(&mesh, "mesh", "", "mesh to translate to (see 'trellis meshes')")
	f.StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	f.BoolVar(&opts.Strict, "strict", false, "fail (exit 1) when the mesh cannot express part of a design")
	f.BoolVar(&opts.MeshRoutes, "mesh-routes", false, "istio: emit Gateway API HTTPRoutes (Service parentRef) instead of VirtualServices where possible")
	f.BoolVar(&opts.ServiceProfiles, "service-profiles", false, "linkerd: also emit legacy ServiceProfiles (retry budgets)")
	f.StringVar(&opts.ConsulFormat, "consul-format", "", `consul: "crd" (default) or "config-entry"`)
	f.StringVar(&opts.TrustDomain, "trust-domain", "", `the mesh's trust domain (default "cluster.local")`)
	_ = cmd.MarkFlagRequired("mesh")
	return cmd
}

// loadDesigns loads every design of the given files and directories (*.yaml, *.yml, *.json in a
// directory, sorted; "-" reads stdin), collecting every validation violation.
func loadDesigns(stdin io.Reader, paths []string) ([]*spec.Design, error) {
	var files []string
	var designs []*spec.Design
	var violations []spec.Violation
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading designs from stdin: %w", err)
			}
			ds, err := spec.LoadBytes("<stdin>", data)
			var ve *spec.ValidationError
			switch {
			case errors.As(err, &ve):
				violations = append(violations, ve.Violations...)
			case err != nil:
				return nil, fmt.Errorf("loading <stdin>: %w", err)
			default:
				designs = append(designs, ds...)
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading designs: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("reading designs: no *.yaml, *.yml or *.json file in directory %s", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	for _, f := range files {
		ds, err := spec.LoadFile(f)
		if err != nil {
			var ve *spec.ValidationError
			if errors.As(err, &ve) {
				violations = append(violations, ve.Violations...)
				continue
			}
			return nil, fmt.Errorf("loading %s: %w", f, err)
		}
		designs = append(designs, ds...)
	}
	if len(violations) > 0 {
		return nil, &spec.ValidationError{Violations: violations}
	}
	return designs, nil
}

// joinNames formats names as "a, b or c".
func joinNames(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
