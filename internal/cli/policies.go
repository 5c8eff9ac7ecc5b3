package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/policies"
)

func init() {
	register(newPoliciesCmd)
}

// newPoliciesCmd builds `trellis policies` with its list and test subcommands.
func newPoliciesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "List the policy catalogue and run Rego policy unit tests",
	}
	cmd.AddCommand(newPoliciesListCmd(), newPoliciesTestCmd())
	return cmd
}

func newPoliciesListCmd() *cobra.Command {
	var (
		output     string
		policyDirs []string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print the rule catalogue (built-in rules plus --policy-dir rules)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := policies.New(cmd.Context(), policies.Options{PolicyDirs: policyDirs})
			if err != nil {
				return withCode(ExitUsage, err)
			}
			rules := e.Rules()
			w := cmd.OutOrStdout()
			switch output {
			case "", "table", "text":
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tCATEGORY\tMESH\tTITLE\tANCHORS")
				for _, r := range rules {
					mesh := r.Mesh
					if mesh == "" {
						mesh = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Category, mesh, r.Title, strings.Join(r.Anchors, ", "))
				}
				return tw.Flush()
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rules)
			case "yaml":
				b, err := yaml.Marshal(rules)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				_, err = w.Write(b)
				return err
			}
			return withCode(ExitUsage, fmt.Errorf("-o: unknown output %q: expected table, json or yaml", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	cmd.Flags().StringSliceVar(&policyDirs, "policy-dir", nil, "directory (or .rego file) of additional policies")
	return cmd
}

func newPoliciesTestCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "test [DIR...]",
		Short: "Run Rego unit tests (test_* rules): the built-in catalogue's, or those in DIR",
		Long: `Run Rego unit tests with OPA's test runner. Without DIR the built-in catalogue's tests run.
With DIR, the policies and *_test.rego files under DIR run together with the built-in rules and
helpers (so tests can use data.trellis.lib).

Exit codes: 0 all tests pass, 1 a test failed, 2 a policy does not parse or compile.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := policies.RunTests(cmd.Context(), args)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			w := cmd.OutOrStdout()
			failed := 0
			for _, r := range res {
				if !r.Pass && !r.Skip {
					failed++
				}
			}
			switch output {
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			case "", "text":
				for _, r := range res {
					status := "PASS"
					switch {
					case r.Skip:
						status = "SKIP"
					case !r.Pass:
						status = "FAIL"
					}
					line := fmt.Sprintf("%s %s.%s (%s)", status, r.Package, r.Name, r.Location)
					if r.Error != "" {
						line += ": " + r.Error
					}
					fmt.Fprintln(w, line)
				}
				fmt.Fprintf(w, "%d test(s), %d passed, %d failed\n", len(res), len(res)-failed, failed)
			default:
				return withCode(ExitUsage, fmt.Errorf("-o: unknown output %q: expected text or json", output))
			}
			if len(res) == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no Rego tests found (test rules are named test_*)"))
			}
			if failed > 0 {
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
