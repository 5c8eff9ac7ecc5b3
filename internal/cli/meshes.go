package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/adapters"
)

func init() { register(newMeshesCmd) }

// meshInfo is one registered adapter as `trellis meshes -o json|yaml` lists it.
type meshInfo struct {
	Name         string                `json:"name"`
	Import       bool                  `json:"import"`
	Native       int                   `json:"native"`
	Partial      int                   `json:"partial"`
	Unsupported  int                   `json:"unsupported"`
	Capabilities adapters.Capabilities `json:"capabilities"`
}

// newMeshesCmd builds `trellis meshes`: the registered adapters and their capability matrix.
func newMeshesCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "meshes",
		Short: "List the meshes Trellis translates to, with their capability matrix",
		Example: `  trellis meshes
  trellis meshes -o markdown > docs/capabilities.md
  trellis meshes -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var infos []meshInfo
			for _, n := range adapters.Names() {
				a, _ := adapters.Get(n)
				_, imp := a.(adapters.Importer)
				info := meshInfo{Name: n, Import: imp, Capabilities: a.Capabilities()}
				for _, f := range adapters.Features {
					switch info.Capabilities[f.Feature].Support {
					case adapters.Native:
						info.Native++
					case adapters.Partial:
						info.Partial++
					default:
						info.Unsupported++
					}
				}
				infos = append(infos, info)
			}
			w := cmd.OutOrStdout()
			switch output {
			case "table", "":
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "MESH\tIMPORT\tNATIVE\tPARTIAL\tUNSUPPORTED")
				for _, i := range infos {
					imp := "no"
					if i.Import {
						imp = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", i.Name, imp, i.Native, i.Partial, i.Unsupported)
				}
				return tw.Flush()
			case "markdown", "md":
				_, err := fmt.Fprint(w, adapters.MatrixMarkdown())
				return err
			case "json":
				b, err := json.MarshalIndent(infos, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(w, string(b))
				return err
			case "yaml":
				b, err := yaml.Marshal(infos)
				if err != nil {
					return err
				}
				_, err = w.Write(b)
				return err
			default:
				return withCode(ExitUsage, fmt.Errorf("unknown output format %q: expected table, json, yaml or markdown", output))
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json, yaml or markdown")
	return cmd
}
