package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
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
		caDir       string
		caCert      string
		caKey       string
		tokenFile   string
		certTTL     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "control-plane",
		Short: "Serve xDS (ADS over gRPC) to bundled proxies from a directory of designs",
		Long: `Serve the designs found in --designs (a directory, walked for *.yaml, *.yml and *.json, or one
file) as Envoy xDS v3 over ADS. Every 'trellis proxy' (or Envoy) that connects registers its
instance from its node metadata and receives listeners, routes, clusters and the endpoints of the
other connected instances. The designs are reloaded when a file changes (polled, content-hashed);
an invalid design is logged with every violation and the last good configuration stays in force.

The control plane is the mesh CA: sidecars talk mutual TLS with short-lived SPIFFE certificates
(spiffe://<trust-domain>/ns/<namespace>/sa/<identity>) it signs from their certificate signing
requests and pushes over the same ADS stream (SDS), rotated at half life. The CA (ECDSA P-256) is
created on first start in --ca-dir (files 0600) or loaded from --ca-cert/--ca-key (bring your own
CA, for example an intermediate of your PKI). A proxy must present the join token (--join-token-file,
created beside the CA on first start) to enroll: whoever can read that file can enroll a proxy
under any identity of the mesh, so keep it as private as the CA key.`,
		Example: `  trellis control-plane --designs examples/demo --addr 127.0.0.1:15010
  trellis proxy --xds 127.0.0.1:15010 --join-token-file ~/.config/trellis/mesh-ca/join-token \
    --service reviews --version v1 --labels version=v1`,
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
			ca, token, tokenPath, err := loadMeshIdentity(caDir, caCert, caKey, tokenFile, trustDomain, cmd.ErrOrStderr())
			if err != nil {
				return withCode(ExitUsage, err)
			}
			cp := controlplane.New(controlplane.Options{Logger: log, TrustDomain: trustDomain, CA: ca, JoinToken: token, CertTTL: certTTL})
			lis, err := net.Listen("tcp", addr)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--addr: %w", err))
			}
			ctx := cmd.Context()
			go func() { _ = cp.WatchDir(ctx, designs, interval) }()
			fmt.Fprintf(cmd.OutOrStdout(), "xDS control plane on %s serving %s (Ctrl-C stops)\n", lis.Addr(), designs)
			fmt.Fprintf(cmd.OutOrStdout(), "proxies enroll with: trellis proxy --xds %s --join-token-file %s ...\n", lis.Addr(), tokenPath)
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
	f.StringVar(&caDir, "ca-dir", defaultCADir(), "directory of the mesh CA (ca-cert.pem, ca-key.pem, join-token), created on first start")
	f.StringVar(&caCert, "ca-cert", "", "bring your own CA: PEM CA certificate (with --ca-key; may be an intermediate)")
	f.StringVar(&caKey, "ca-key", "", "bring your own CA: PEM private key of --ca-cert")
	f.StringVar(&tokenFile, "join-token-file", "", "join token proxies must present (default: <ca-dir>/join-token, created when missing)")
	f.DurationVar(&certTTL, "cert-ttl", meshca.DefaultTTL, "lifetime of workload certificates (rotated at half life)")
	return cmd
}

// defaultCADir is <user config dir>/trellis/mesh-ca (a relative directory when there is none).
func defaultCADir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "trellis", "mesh-ca")
	}
	return filepath.Join(".trellis", "mesh-ca")
}

// loadMeshIdentity loads (or creates) the mesh CA and the join token and reports what it created
// on w. The token itself is never printed: it stays in its 0600 file.
func loadMeshIdentity(caDir, caCert, caKey, tokenFile, trustDomain string, w io.Writer) (*meshca.CA, string, string, error) {
	var (
		ca  *meshca.CA
		err error
	)
	switch {
	case caCert != "" || caKey != "":
		if caCert == "" || caKey == "" {
			return nil, "", "", fmt.Errorf("--ca-cert and --ca-key go together (bring your own CA)")
		}
		ca, err = meshca.Load(caCert, caKey)
		if err != nil {
			return nil, "", "", fmt.Errorf("--ca-cert/--ca-key: %w", err)
		}
	default:
		var created bool
		ca, created, err = meshca.LoadOrCreate(caDir, trustDomain)
		if err != nil {
			return nil, "", "", fmt.Errorf("--ca-dir %s: %w", caDir, err)
		}
		if created {
			fmt.Fprintf(w, "trellis: created the mesh CA in %s\n", caDir)
		}
	}
	if tokenFile == "" {
		tokenFile = filepath.Join(caDir, meshca.TokenFile)
	}
	token, created, err := meshca.LoadOrCreateToken(tokenFile)
	if err != nil {
		return nil, "", "", fmt.Errorf("--join-token-file: %w", err)
	}
	if created {
		fmt.Fprintf(w, "trellis: created the proxies' join token in %s (mode 0600)\n", tokenFile)
	}
	return ca, token, tokenFile, nil
}
