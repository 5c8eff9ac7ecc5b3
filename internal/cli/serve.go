package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/server"
	"github.com/trellis-mesh/trellis/ui"
)

func init() { register(newServeCmd) }

// Environment variables read by serve and token (a flag wins over its variable, the variable
// over the config file).
const (
	envHome     = "TRELLIS_HOME"
	envDatabase = "TRELLIS_DATABASE"
	envAddr     = "TRELLIS_ADDR"
	envXDSAddr  = "TRELLIS_XDS_ADDR"
	envKube     = "KUBECONFIG"
)

// stringList is a config-file value given as one string or a list of strings.
type stringList []string

// UnmarshalJSON accepts "a" or ["a", "b"].
func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

// serveConfig is the --config file of `trellis serve`; every key mirrors a flag.
type serveConfig struct {
	Addr          string     `json:"addr,omitempty"`
	Home          string     `json:"home,omitempty"`
	Database      string     `json:"database,omitempty"`
	XDSAddr       *string    `json:"xdsAddr,omitempty"`
	Kubeconfig    string     `json:"kubeconfig,omitempty"`
	LoadExamples  stringList `json:"loadExamples,omitempty"`
	PolicyDirs    []string   `json:"policyDirs,omitempty"`
	LogFormat     string     `json:"logFormat,omitempty"`
	LogLevel      string     `json:"logLevel,omitempty"`
	MaxDepth      int        `json:"maxDepth,omitempty"`
	MaxComplexity int        `json:"maxComplexity,omitempty"`
	NoPlayground  bool       `json:"noPlayground,omitempty"`
}

// defaultHome is $TRELLIS_HOME or ~/.trellis.
func defaultHome() string {
	if h := os.Getenv(envHome); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".trellis")
	}
	return ".trellis"
}

// pick returns the flag's value when it was set, else the environment variable, else the config
// file's value, else def.
func pick(flags *pflag.FlagSet, name, flagValue, env, fileValue, def string) string {
	if flags.Changed(name) {
		return flagValue
	}
	if env != "" {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	if fileValue != "" {
		return fileValue
	}
	return def
}

// newLogger builds the slog logger for format (json or text) and level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: expected json or text", format)
}

// newServeCmd builds `trellis serve`.
func newServeCmd() *cobra.Command {
	var (
		cfgFile, addr, home, database, logFormat, logLevel, xdsAddr, kubeconfig string
		policyDirs, examples                                                    []string
		maxDepth, maxComplexity                                                 int
		noPlayground                                                            bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the GraphQL API (with subscriptions), metrics and the playground",
		Long: `Serve the Trellis API: GraphQL at /graphql (POST, and websocket subscriptions with the
graphql-transport-ws protocol), the GraphQL playground at /playground, Prometheus metrics at
/metrics, and /healthz and /readyz. The dashboard, when built in, is served at /.

The embedded xDS control plane of the bundled mesh (ADS over gRPC, --xds-addr, default
127.0.0.1:15010, "" disables it) serves the head revision of every stored design and pushes new
snapshots whenever a design is saved or deleted.

Deployments go to the contexts of --kubeconfig (default $KUBECONFIG or ~/.kube/config): the
clusters query lists them, the deploy mutation applies a design revision for a mesh to one.

Data lives in SQLite at $TRELLIS_HOME/trellis.db unless --database names a PostgreSQL URL. On first
start an admin API token is printed once to stderr and written to $TRELLIS_HOME/admin-token (mode
0600); create more with 'trellis token create'. Every API request needs 'Authorization: Bearer <token>'.

Settings come from flags, then the environment (TRELLIS_ADDR, TRELLIS_HOME, TRELLIS_DATABASE,
TRELLIS_XDS_ADDR, KUBECONFIG), then the --config YAML file (keys: addr, home, database, xdsAddr,
kubeconfig, loadExamples (a string or a list), policyDirs, logFormat, logLevel, maxDepth,
maxComplexity, noPlayground).`,
		Example: `  trellis serve --home .trellis --load-examples examples/designs --load-examples spec/testdata/cases
  trellis serve --xds-addr "" --kubeconfig ~/.kube/config
  trellis serve --database postgres://trellis@127.0.0.1:5432/trellis?sslmode=disable --addr 0.0.0.0:8080
  TOKEN=$(cat .trellis/admin-token); curl -H "Authorization: Bearer $TOKEN" -d '{"query":"{ me { name role } }"}' http://127.0.0.1:8080/graphql`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var file serveConfig
			if cfgFile != "" {
				b, err := os.ReadFile(cfgFile)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("reading --config: %w", err))
				}
				if err := yaml.UnmarshalStrict(b, &file); err != nil {
					return withCode(ExitUsage, fmt.Errorf("%s: %w; hint: valid keys are addr, home, database, xdsAddr, kubeconfig, loadExamples, policyDirs, logFormat, logLevel, maxDepth, maxComplexity, noPlayground", cfgFile, err))
				}
			}
			fl := cmd.Flags()
			cfg := server.Config{
				Addr:              pick(fl, "addr", addr, envAddr, file.Addr, server.DefaultAddr),
				Home:              pick(fl, "home", home, envHome, file.Home, defaultHome()),
				Database:          pick(fl, "database", database, envDatabase, file.Database, ""),
				ExampleDirs:       examples,
				Kubeconfig:        pick(fl, "kubeconfig", kubeconfig, envKube, file.Kubeconfig, ""),
				PolicyDirs:        policyDirs,
				MaxDepth:          maxDepth,
				MaxComplexity:     maxComplexity,
				DisablePlayground: noPlayground || file.NoPlayground,
				AdminTokenOut:     cmd.ErrOrStderr(),
			}
			if !fl.Changed("load-examples") {
				cfg.ExampleDirs = file.LoadExamples
			}
			// An empty --xds-addr or TRELLIS_XDS_ADDR disables the control plane.
			switch v, set := os.LookupEnv(envXDSAddr); {
			case fl.Changed("xds-addr"):
				cfg.XDSAddr = xdsAddr
			case set:
				cfg.XDSAddr = v
			case file.XDSAddr != nil:
				cfg.XDSAddr = *file.XDSAddr
			default:
				cfg.XDSAddr = server.DefaultXDSAddr
			}
			if !fl.Changed("policy-dir") && len(file.PolicyDirs) > 0 {
				cfg.PolicyDirs = file.PolicyDirs
			}
			if !fl.Changed("max-depth") && file.MaxDepth > 0 {
				cfg.MaxDepth = file.MaxDepth
			}
			if !fl.Changed("max-complexity") && file.MaxComplexity > 0 {
				cfg.MaxComplexity = file.MaxComplexity
			}
			logger, err := newLogger(cmd.ErrOrStderr(), pick(fl, "log-format", logFormat, "", file.LogFormat, "text"),
				pick(fl, "log-level", logLevel, "", file.LogLevel, "info"))
			if err != nil {
				return withCode(ExitUsage, err)
			}
			cfg.Logger = logger
			ctx := cmd.Context()
			srv, err := server.New(ctx, cfg)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			defer srv.Close()
			// The dashboard (a static single-page app; it calls /graphql with the user's token).
			srv.Mount("/", ui.Handler())
			if err := srv.Run(ctx); err != nil {
				return withCode(ExitUsage, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "YAML config file (flags and environment variables override it)")
	f.StringVar(&addr, "addr", server.DefaultAddr, "listen address (env TRELLIS_ADDR)")
	f.StringVar(&home, "home", "", "home directory for the SQLite database and the admin token (env TRELLIS_HOME; default ~/.trellis)")
	f.StringVar(&database, "database", "", "PostgreSQL URL (postgres://…) or SQLite path (env TRELLIS_DATABASE; default $TRELLIS_HOME/trellis.db)")
	f.StringArrayVar(&examples, "load-examples", nil, "directory of design files saved as revision 1 on first start (repeatable)")
	f.StringVar(&xdsAddr, "xds-addr", server.DefaultXDSAddr, `listen address of the embedded xDS control plane; "" disables it (env TRELLIS_XDS_ADDR)`)
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig whose contexts are the clusters deployments go to (env KUBECONFIG; default ~/.kube/config)")
	f.StringSliceVar(&policyDirs, "policy-dir", nil, "directory of extra Rego policies (repeatable)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.IntVar(&maxDepth, "max-depth", server.DefaultMaxDepth, "deepest GraphQL selection nesting allowed")
	f.IntVar(&maxComplexity, "max-complexity", server.DefaultMaxComplexity, "GraphQL complexity budget per operation")
	f.BoolVar(&noPlayground, "no-playground", false, "do not serve the GraphQL playground")
	return cmd
}
