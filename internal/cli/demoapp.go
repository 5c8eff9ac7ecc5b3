package cli

import (
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/examples/demo/demoapp"
)

func init() { register(newDemoAppCmd) }

// newDemoAppCmd builds the hidden `trellis demo-app`: one instance of the demo application, so
// container images (docker-compose.yml) need only the trellis binary.
func newDemoAppCmd() *cobra.Command {
	var cfg demoapp.Config
	var upstreams string
	cmd := &cobra.Command{
		Use:    "demo-app",
		Short:  "Run one instance of the bundled mesh's demo application",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, u := range strings.Split(upstreams, ",") {
				if u = strings.TrimSpace(u); u != "" {
					cfg.Upstreams = append(cfg.Upstreams, u)
				}
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			return demoapp.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Service, "service", "", "service this instance plays (frontend, reviews, ratings, …)")
	f.StringVar(&cfg.Version, "version", "", "version of the instance (v1, v2, …)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:9080", "address to serve HTTP/1.1, h2c and gRPC on")
	f.DurationVar(&cfg.Latency, "latency", 0, "latency added to every request (e.g. 5ms)")
	f.Float64Var(&cfg.ErrorRate, "error-rate", 0, "share of requests answered with an error, 0-1")
	f.StringVar(&upstreams, "upstream", "", "comma-separated services called on every request (Host header = name)")
	f.StringVar(&cfg.Outbound, "outbound", "127.0.0.1:15001", "sidecar outbound address upstreams are called through")
	return cmd
}
