package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec"
)

func init() { register(newSchemaCmd) }

// newSchemaCmd builds `trellis schema`.
func newSchemaCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of design files",
		Long: `Schema prints the JSON Schema (draft 2020-12) of a design document. Save it and point your
editor at it for completion and inline errors, for example with the YAML language server modeline
as the first line of a design file:

  # yaml-language-server: $schema=./design.schema.json`,
		Example: `  trellis schema > design.schema.json
  trellis schema -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := spec.JSONSchema()
			switch output {
			case "json":
			case "yaml":
				y, err := yaml.JSONToYAML(b)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("converting the schema to YAML: %w", err))
				}
				b = y
			default:
				return withCode(ExitUsage, fmt.Errorf("--output: unknown format %q: expected json or yaml", output))
			}
			_, err := cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or yaml")
	return cmd
}
