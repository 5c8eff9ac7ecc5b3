package cli

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/controlplane"
)

func init() { register(newControlPlaneCmd) }

// newControlPlaneCmd builds `trellis control-plane`: the bundled mesh's xDS server, fed from a
// directory of designs that it watches.
func newControlPlaneCmd() *cobra.Command {
	var (
		designs     string
		addr        string
		trustDomain string
		interval    time.Duration
		logLevel    string
	)
	cmd := &cobra.Command{
		Use:   "control-plane",
		Short: "Serve xDS (ADS over gRPC) to bundled proxies from a directory of designs",
		Long: `Serve the designs found in --designs (a directory, walked for *.yaml, *.yml and *.json, or one
file) as Envoy xDS v3 over ADS. Every 'trellis proxy' (or Envoy) that connects registers its
instance from its node metadata and receives listeners, routes, clusters and the endpoints of the
other connected instances. The designs are reloaded when a file changes (polled, content-hashed);
an invalid design is logged with every violation and the last good configuration stays in force.`,
		Example: `  trellis control-plane --designs examples/demo --addr 127.0.0.1:15010
  trellis proxy --xds 127.0.0.1:15010 --service reviews --version v1 --labels version=v1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if designs == "" {
				return withCode(ExitUsage, fmt.Errorf("--designs is required: a directory or file of designs"))
			}
			if _, err := os.Stat(designs); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--designs: %w", err))
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--log-level: %w", err))
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			cp := controlplane.New(controlplane.Options{Logger: log, TrustDomain: trustDomain})
			lis, err := net.Listen("tcp", addr)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--addr: %w", err))
			}
			ctx := cmd.Context()
			go func() { _ = cp.WatchDir(ctx, designs, interval) }()
			fmt.Fprintf(cmd.OutOrStdout(), "xDS control plane on %s serving %s (Ctrl-C stops)\n", lis.Addr(), designs)
			if err := cp.Serve(ctx, lis); err != nil {
				return withCode(ExitUsage, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&designs, "designs", "", "directory (or file) of designs to serve; watched for changes")
	f.StringVar(&addr, "addr", "127.0.0.1:15010", "gRPC listen address of the ADS server")
	f.StringVar(&trustDomain, "trust-domain", "cluster.local", "SPIFFE trust domain of access-rule principals")
	f.DurationVar(&interval, "poll", time.Second, "how often the designs are checked for changes")
	f.StringVar(&logLevel, "log-level", "info", "log level (debug, info, warn, error)")
	return cmd
}
