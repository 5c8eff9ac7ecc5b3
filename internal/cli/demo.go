package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/examples/demo/launch"
)

func init() { register(newDemoCmd) }

// newDemoCmd builds `trellis demo`: the bundled mesh on loopback with the demo app.
func newDemoCmd() *cobra.Command {
	var (
		opts       launch.Options
		logLevel   string
		proxyLogs  bool
		proxyCmd   string
		readyLimit time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bundled mesh on loopback: control plane, demo services and their sidecars",
		Long: `Start an xDS control plane serving --design, one demo app instance per service version and a
'trellis proxy' sidecar beside each, all on 127.0.0.1. Prints the frontend URL and the address of
every instance; Ctrl-C stops everything (sidecars drain gracefully). Sidecars talk mutual TLS
with certificates from the control plane's in-memory CA; they enroll with a join token generated
for this run.`,
		Example: `  trellis demo --design examples/demo/design.yaml
  curl -s http://127.0.0.1:<frontend app port>/ | jq .
  curl -s -H 'end-user: jason' http://127.0.0.1:<frontend app port>/ | jq .upstreams[0].body.version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Design == "" {
				return withCode(ExitUsage, fmt.Errorf("--design is required, for example examples/demo/design.yaml"))
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--log-level: %w", err))
			}
			opts.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			opts.ProxyOutput = io.Discard
			if proxyLogs {
				opts.ProxyOutput = cmd.ErrOrStderr()
			}
			if proxyCmd != "" {
				opts.ProxyCommand = strings.Fields(proxyCmd)
			}
			opts.ReadyTimeout = readyLimit
			out := cmd.OutOrStdout()
			// The launcher generates a join token for this run, required from the first
			// sidecar on, and passes it to the sidecars in their environment.
			fmt.Fprintf(out, "starting the demo from %s …\n", opts.Design)
			demo, err := launch.Start(cmd.Context(), opts)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			defer demo.Stop()
			entry := demo.Entry()
			fmt.Fprintf(out, "control plane (xDS/ADS): %s\n", demo.XDS)
			fmt.Fprintf(out, "%-14s %-22s %-22s %-22s %-22s %s\n", "INSTANCE", "APP", "INBOUND", "OUTBOUND", "ADMIN", "CALLS")
			for _, i := range demo.Instances {
				fmt.Fprintf(out, "%-14s %-22s %-22s %-22s %-22s %s\n", i.Name, i.App, i.Inbound, i.Outbound, i.Admin, strings.Join(i.Upstreams, ","))
			}
			fmt.Fprintf(out, "\n%s URL: http://%s/\n", entry.Service, entry.App)
			fmt.Fprintf(out, "through the mesh: curl -H 'Host: %s' http://%s/\n", entry.Service, entry.Outbound)
			fmt.Fprintln(out, "press Ctrl-C to stop")
			select {
			case <-cmd.Context().Done():
				fmt.Fprintln(out, "stopping …")
				demo.Stop()
				return nil
			case <-demo.Failed():
				return withCode(ExitUsage, fmt.Errorf("the demo failed: %w", demo.Err()))
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Design, "design", "examples/demo/design.yaml", "the demo design file")
	f.StringVar(&opts.Host, "host", "127.0.0.1", "loopback address every component binds to")
	f.StringVar(&opts.XDSAddr, "xds-addr", "", "control plane address (default: a free port)")
	f.StringVar(&proxyCmd, "proxy-command", "", "command running a sidecar (default: this binary's 'proxy' command)")
	f.BoolVar(&proxyLogs, "proxy-logs", false, "show the sidecars' logs on stderr")
	f.DurationVar(&readyLimit, "ready-timeout", 30*time.Second, "how long to wait for every sidecar to be ready")
	f.StringVar(&logLevel, "log-level", "warn", "log level (debug, info, warn, error)")
	return cmd
}
