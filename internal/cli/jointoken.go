package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/server"
)

func init() { register(newJoinTokenCmd) }

// newJoinTokenCmd builds `trellis join-token`: it loads (or creates, as `trellis serve` would)
// the bundled mesh's join token in $TRELLIS_HOME/mesh-ca and copies only the token to a file
// that sidecars can mount, without the CA key or the admin token beside it.
func newJoinTokenCmd() *cobra.Command {
	var home, out string
	cmd := &cobra.Command{
		Use:   "join-token --out FILE",
		Short: "Write the bundled mesh's join token (created when missing) to a file for proxies",
		Long: `Load the join token of the bundled mesh from $TRELLIS_HOME/mesh-ca/join-token, creating it there
(mode 0600) when missing exactly as 'trellis serve' does on first start, and write a copy to --out
(mode 0600, its directory created 0700). Proxies read the copy with 'trellis proxy --join-token-file';
the copy's directory holds nothing else, so it can be shared with sidecars that must not see the
mesh CA's key. The token is never printed.`,
		Example: `  trellis join-token --out /var/lib/trellis-join/join-token   # docker-compose.yml runs this once
  trellis proxy --xds trellis:15010 --join-token-file /var/lib/trellis-join/join-token ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return withCode(ExitUsage, fmt.Errorf("--out is required: the file proxies read the token from"))
			}
			h := pick(cmd.Flags(), "home", home, envHome, "", defaultHome())
			src := filepath.Join(h, server.MeshCADir, meshca.TokenFile)
			token, created, err := meshca.LoadOrCreateToken(src)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--out: %w", err))
			}
			// Write a new file and rename it, so that a proxy never reads a partial token.
			tmp, err := os.CreateTemp(filepath.Dir(out), ".join-token-*")
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--out: %w", err))
			}
			_, werr := tmp.WriteString(token + "\n")
			if cerr := tmp.Close(); werr == nil {
				werr = cerr
			}
			if werr == nil {
				werr = os.Rename(tmp.Name(), out)
			}
			if werr != nil {
				_ = os.Remove(tmp.Name())
				return withCode(ExitUsage, fmt.Errorf("--out %s: %w", out, werr))
			}
			verb := "loaded"
			if created {
				verb = "created"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s the join token in %s; copied to %s\n", verb, src, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&home, "home", "", "Trellis home holding mesh-ca/ (env TRELLIS_HOME; default ~/.trellis)")
	cmd.Flags().StringVar(&out, "out", "", "file to write the token to (mode 0600)")
	return cmd
}
