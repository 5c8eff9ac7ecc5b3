package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/models"
)

func init() { register(newTokenCmd) }

// tokenInfo is a token record as `trellis token list -o json|yaml` prints it (never the token).
type tokenInfo struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// newTokenCmd builds `trellis token` with create, list and delete; they work on the store
// directly (the server need not run).
func newTokenCmd() *cobra.Command {
	var home, database string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens (create, list, delete) directly in the store",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&home, "home", "", "home directory (env TRELLIS_HOME; default ~/.trellis)")
	pf.StringVar(&database, "database", "", "PostgreSQL URL or SQLite path (env TRELLIS_DATABASE)")
	open := func(cmd *cobra.Command) (*models.Store, error) {
		fl := cmd.Flags()
		cfg := models.Config{
			Home:     pick(fl, "home", home, envHome, "", defaultHome()),
			Database: pick(fl, "database", database, envDatabase, "", ""),
		}
		s, err := models.Open(cmd.Context(), cfg)
		if err != nil {
			return nil, withCode(ExitUsage, err)
		}
		return s, nil
	}
	actor := func() string {
		if u := os.Getenv("USER"); u != "" {
			return "cli:" + u
		}
		return "cli"
	}

	var role, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token and print it (it is shown only once)",
		Example: `  trellis token create --role editor --name ci
  trellis token create --role viewer --name dashboard --database postgres://…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := models.ParseRole(role)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			token, _, err := s.CreateToken(cmd.Context(), name, r, actor())
			if err != nil {
				return withCode(ExitUsage, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "viewer", "role: viewer, editor or admin")
	create.Flags().StringVar(&name, "name", "", "unique token name, recorded as the actor in the audit log (required)")
	_ = create.MarkFlagRequired("name")

	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (names, roles, last use; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			ts, err := s.ListTokens(cmd.Context())
			if err != nil {
				return withCode(ExitUsage, err)
			}
			infos := make([]tokenInfo, len(ts))
			for i, t := range ts {
				infos[i] = tokenInfo{Name: t.Name, Role: string(t.Role), CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt}
			}
			w := cmd.OutOrStdout()
			switch output {
			case "json":
				b, err := json.MarshalIndent(infos, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(w, string(b))
			case "yaml":
				b, err := yaml.Marshal(infos)
				if err != nil {
					return err
				}
				_, _ = w.Write(b)
			case "table", "text", "":
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED")
				for _, t := range infos {
					last := "never"
					if t.LastUsedAt != nil {
						last = t.LastUsedAt.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.Format(time.RFC3339), last)
				}
				return tw.Flush()
			default:
				return withCode(ExitUsage, fmt.Errorf("-o %q: expected table, json or yaml", output))
			}
			return nil
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.DeleteToken(cmd.Context(), args[0], actor()); err != nil {
				return withCode(ExitUsage, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted token %q\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
