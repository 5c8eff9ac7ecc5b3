package cli

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/proxy"
)

func init() {
	register(newProxyCmd)
}

// newProxyCmd builds `trellis proxy`, the bundled sidecar data plane.
func newProxyCmd() *cobra.Command {
	var (
		cfg         proxy.Config
		labels      string
		concurrency int
		logLevel    string
		tokenFile   string
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the bundled sidecar proxy (xDS v3 over ADS, or a static bootstrap file)",
		Long: `Run the Trellis sidecar proxy. With --xds it connects to a control plane over ADS and serves
the "outbound" (local app -> mesh) and "inbound" (mesh -> local app) listeners it receives.
With --bootstrap it reads static resources (Envoy-like static_resources, or a list of typed
resources) and needs no control plane.

With --xds the proxy generates its private key, sends a certificate signing request and the join
token (--join-token-file, as printed by 'trellis control-plane' or 'trellis serve') and receives
its SPIFFE certificate over SDS. Sidecars then talk mutual TLS 1.3; inbound RBAC matches the
caller's verified certificate, never the x-trellis-peer-identity header (which the receiving
proxy sets to the verified identity for the local app).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.XDS == "" && cfg.Bootstrap == "" {
				return withCode(ExitUsage, fmt.Errorf("one of --xds or --bootstrap is required"))
			}
			if cfg.XDS != "" && cfg.Bootstrap != "" {
				return withCode(ExitUsage, fmt.Errorf("--xds and --bootstrap are mutually exclusive"))
			}
			if cfg.XDS != "" && cfg.Service == "" {
				return withCode(ExitUsage, fmt.Errorf("--service is required with --xds"))
			}
			lm, err := parseLabels(labels)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			cfg.Labels = lm
			cfg.TrimMemory = true
			if tokenFile != "" {
				tok, err := meshca.ReadToken(tokenFile)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("--join-token-file: %w", err))
				}
				cfg.JoinToken = tok
			} else if tok := os.Getenv("TRELLIS_JOIN_TOKEN"); tok != "" {
				cfg.JoinToken = tok
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--log-level: %w", err))
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			if concurrency > 0 {
				runtime.GOMAXPROCS(concurrency)
			}
			// A proxy's live heap is small; a lower GC target keeps RSS low at little CPU cost.
			debug.SetMemoryLimit(64 << 20)
			if err := proxy.Run(cmd.Context(), cfg); err != nil {
				return withCode(ExitUsage, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.XDS, "xds", "", "ADS server address (e.g. 127.0.0.1:15010)")
	f.StringVar(&cfg.Bootstrap, "bootstrap", "", "static resources file (JSON or YAML) instead of --xds")
	f.StringVar(&cfg.Service, "service", "", "local service name")
	f.StringVar(&cfg.Namespace, "namespace", "default", "local service namespace")
	f.StringVar(&cfg.Version, "version", "", "local service version (subset)")
	f.StringVar(&cfg.Identity, "identity", "", "local workload identity (default: the service name)")
	f.StringVar(&cfg.TrustDomain, "trust-domain", "cluster.local", "SPIFFE trust domain of the identity the proxy asks a certificate for")
	f.StringVar(&tokenFile, "join-token-file", "", "file holding the control plane's join token (default: $TRELLIS_JOIN_TOKEN)")
	f.StringVar(&labels, "labels", "", "pod-like labels, e.g. app=reviews,version=v2")
	f.StringVar(&cfg.Inbound, "inbound", "127.0.0.1:15006", "inbound address advertised to the control plane")
	f.StringVar(&cfg.Outbound, "outbound", "127.0.0.1:15001", "outbound address advertised to the control plane")
	f.StringVar(&cfg.App, "app", "127.0.0.1:9080", "local application address")
	f.StringVar(&cfg.Admin, "admin", "127.0.0.1:15000", "admin listener (/ready, /config_dump, /stats); empty disables")
	f.StringVar(&cfg.Instance, "instance", "", "instance id (default: 8 random hex characters)")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Second, "graceful drain deadline on SIGTERM")
	f.IntVar(&concurrency, "concurrency", 0, "GOMAXPROCS for the proxy (0 = number of CPUs)")
	f.StringVar(&logLevel, "log-level", "info", "log level (debug, info, warn, error)")
	return cmd
}

// parseLabels parses "k=v,k2=v2".
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels: expected key=value pairs separated by commas, got %q", kv)
		}
		out[k] = v
	}
	return out, nil
}
