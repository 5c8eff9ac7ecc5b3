package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/perf"
	"github.com/trellis-mesh/trellis/spec"
)

func init() {
	register(newPerfCmd)
}

// newPerfCmd builds `trellis perf`: load runs, comparisons and side-by-side mesh benchmarks.
func newPerfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Benchmark services and meshes side by side (loopback targets only)",
		Long: `Run load profiles with the fortio library against a service on this machine, store the results
as JSON and compare them with a baseline, or measure one service of a design directly, through
one bundled proxy and sidecar to sidecar. With --server, results are uploaded to a Trellis server
(` + "`trellis perf results`" + ` lists them). See docs/perf.md.`,
	}
	cmd.AddCommand(newPerfRunCmd(), newPerfCompareCmd(), newPerfMeshCmd(), newPerfResultsCmd())
	return cmd
}

// profileFlags are the load-profile flags shared by `perf run` and `perf mesh`.
type profileFlags struct {
	p       perf.Profile
	headers []string
	output  string
}

func (pf *profileFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&pf.p.Name, "name", "", "name of the run in comparisons (default: run)")
	f.StringVarP(&pf.p.Method, "method", "X", "", "HTTP method (default GET, POST with --body)")
	f.StringArrayVarP(&pf.headers, "header", "H", nil, `request header "Name: value" (repeatable; "Host: x" overrides the host)`)
	f.StringVar(&pf.p.Body, "body", "", "request body")
	f.Float64Var(&pf.p.QPS, "qps", 0, "target requests per second across all connections (0 = as fast as possible)")
	f.IntVarP(&pf.p.Connections, "connections", "c", 16, "concurrent connections")
	f.DurationVarP(&pf.p.Duration, "duration", "d", 10*time.Second, fmt.Sprintf("measured load phase (max %s with the warm-up)", perf.MaxDuration))
	f.DurationVar(&pf.p.WarmUp, "warmup", 0, "unmeasured load phase before the measured one")
	f.Int64VarP(&pf.p.Requests, "requests", "n", 0, "send exactly this many measured requests (bounded by --duration)")
	f.IntSliceVar(&pf.p.ExtraPIDs, "pid", nil, "processes (server, proxies) whose CPU counts as the benchmark's, not other tenants'")
	f.StringVarP(&pf.output, "output", "o", "text", "output format: text, json or yaml")
}

func (pf *profileFlags) profile(cmd *cobra.Command) (perf.Profile, error) {
	p := pf.p
	if p.Requests > 0 && !cmd.Flags().Changed("duration") {
		p.Duration = 0 // bounded by perf.MaxDuration
	}
	for _, h := range pf.headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return p, fmt.Errorf("--header %q: expected \"Name: value\"", h)
		}
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		p.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	switch pf.output {
	case "text", "json", "yaml":
	default:
		return p, fmt.Errorf("-o: unknown output %q: expected text, json or yaml", pf.output)
	}
	return p, nil
}

// stderrProgress prints a progress line on w.
func stderrProgress(w io.Writer, label string) func(perf.Progress) {
	return func(p perf.Progress) {
		if label != "" {
			fmt.Fprintf(w, "%s: ", label)
		}
		rate := 0.0
		if s := p.Elapsed.Seconds(); s > 0 {
			rate = float64(p.Requests) / s
		}
		fmt.Fprintf(w, "%s %s: %d requests (%.0f/s), %d errors\n", p.Phase, p.Elapsed.Round(time.Second), p.Requests, rate, p.Errors)
	}
}

func writePerfStructured(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// runErr maps a perf error to an exit code: bad profiles are usage errors.
func runErr(err error) error {
	if errors.Is(err, perf.ErrNotLoopback) || strings.Contains(err.Error(), "profile.") {
		return withCode(ExitUsage, err)
	}
	return withCode(ExitInvalid, err)
}

func newPerfRunCmd() *cobra.Command {
	var (
		pf   profileFlags
		sf   serverFlags
		mesh string
		tf   perf.TLS
	)
	cmd := &cobra.Command{
		Use:   "run --url http://127.0.0.1:PORT/ [flags]",
		Short: "Run one load profile against a loopback target and print the result",
		Example: `  trellis perf run --url http://127.0.0.1:9080/ --qps 2000 -c 16 -d 15s -o json > direct.json
  trellis perf run --url http://127.0.0.1:15001/ -H "Host: reviews:9080" --qps 2000 -c 16 -d 15s --name sidecar -o json > sidecar.json
  TRELLIS_TOKEN=trellis_… trellis perf run --url http://127.0.0.1:15001/ --name reviews --mesh native --server http://127.0.0.1:8080
  trellis perf run --url https://127.0.0.1:15006/ -H "Host: reviews:9080" --cert frontend.pem --key frontend-key.pem \
    --cacert mesh-ca/ca-cert.pem --server-id spiffe://cluster.local/ns/shop/sa/reviews`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := pf.profile(cmd)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if p.URL == "" {
				return withCode(ExitUsage, errors.New("--url is required (a loopback address such as http://127.0.0.1:9080/)"))
			}
			if tf != (perf.TLS{}) {
				p.TLS = &tf
			}
			client, err := sf.client(cmd.Flags())
			if err != nil {
				return err
			}
			if client != nil {
				// Fail before the run, not after it, when the server or token cannot take the result.
				if err := client.checkEditor(cmd.Context()); err != nil {
					return withCode(ExitUsage, err)
				}
			}
			res, err := perf.Run(cmd.Context(), p, stderrProgress(cmd.ErrOrStderr(), ""))
			if err != nil && res == nil {
				return runErr(err)
			}
			out := cmd.OutOrStdout()
			if pf.output == "text" {
				writeResultText(out, res)
			} else if werr := writePerfStructured(out, pf.output, res); werr != nil {
				return withCode(ExitUsage, werr)
			}
			if err != nil {
				if client != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "the run did not finish: its result was not uploaded")
				}
				return withCode(ExitInvalid, err)
			}
			if client != nil {
				b, err := json.Marshal(res)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				id, err := client.uploadResult(cmd.Context(), b, res.Profile.Name, mesh)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "uploaded result %s of profile %q to %s\n", id, res.Profile.Name, client.url)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&pf.p.URL, "url", "", "target URL; its host must resolve to 127.0.0.0/8 or ::1")
	pf.add(cmd)
	sf.add(cmd.Flags(), "upload the result to this server under the profile --name")
	cmd.Flags().StringVar(&mesh, "mesh", "", "mesh under test, recorded with an uploaded result (empty: the no-mesh baseline)")
	cmd.Flags().StringVar(&tf.CAFile, "cacert", "", "https: PEM roots verifying the target's certificate")
	cmd.Flags().StringVar(&tf.CertFile, "cert", "", "https: PEM client certificate (chain) for mutual TLS, with --key")
	cmd.Flags().StringVar(&tf.KeyFile, "key", "", "https: PEM private key of --cert")
	cmd.Flags().StringVar(&tf.ServerID, "server-id", "", "https: URI SAN (SPIFFE ID) the target's certificate must carry instead of a name matching the URL")
	cmd.Flags().BoolVar(&tf.Insecure, "insecure", false, "https: do not verify the target's certificate")
	return cmd
}

func writeResultText(w io.Writer, r *perf.Result) {
	fmt.Fprintf(w, "%s: %d requests in %s, %.1f req/s (target %s, %d connections)\n", r.Profile.Name, r.Requests,
		r.End.Sub(r.Start).Round(time.Millisecond), r.QPS, qpsText(r.Profile.QPS), r.Profile.Connections)
	l := r.Latency
	fmt.Fprintf(w, "latency ms: min %.3f  mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
		l.Min, l.Mean, l.P50, l.P90, l.P99, l.P999, l.Max)
	fmt.Fprintf(w, "errors: %d (%.2f%%)", r.Errors, 100*r.ErrorRate())
	for _, code := range sortedKeys(r.ErrorCodes) {
		fmt.Fprintf(w, "  %s×%d", code, r.ErrorCodes[code])
	}
	fmt.Fprintln(w)
	e := r.Environment
	fmt.Fprintf(w, "environment: GOMAXPROCS %d, %d cores", e.GOMAXPROCS, e.Cores)
	if e.CPUSampled {
		fmt.Fprintf(w, ", machine busy %.1f%%, ours %.1f%%, other tenants %.1f%%", e.MachineBusyPercent, e.OwnPercent, e.OtherTenantsPercent)
		if e.Noisy() {
			fmt.Fprintf(w, " (noisy: above %.0f%%, repeat the run)", perf.NoisyPercent)
		}
	}
	fmt.Fprintln(w)
}

func qpsText(q float64) string {
	if q == 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", q)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newPerfCompareCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "compare BASE.json OTHER.json...",
		Short:   "Compare stored results with a baseline (throughput ratio, added latency, error rate)",
		Example: `  trellis perf compare direct.json sidecar.json -o markdown`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var results []*perf.Result
			for _, path := range args {
				r, err := perf.Load(path)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				results = append(results, r)
			}
			c, err := perf.Compare(results[0], results[1:]...)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			return writeComparison(cmd.OutOrStdout(), output, c)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, markdown, json or yaml")
	return cmd
}

func writeComparison(w io.Writer, format string, c *perf.Comparison) error {
	switch format {
	case "text":
		_, err := io.WriteString(w, c.Text())
		return err
	case "markdown", "md":
		_, err := io.WriteString(w, c.Markdown())
		return err
	case "json", "yaml":
		return writePerfStructured(w, format, c)
	}
	return withCode(ExitUsage, fmt.Errorf("-o: unknown output %q: expected text, markdown, json or yaml", format))
}

func newPerfMeshCmd() *cobra.Command {
	var (
		pf                                profileFlags
		designFile, service, from, path   string
		upstream, logLevel, saveDirectory string
		subprocess                        bool
		proxyConcurrency, rounds          int
	)
	cmd := &cobra.Command{
		Use:   "mesh --design FILE --service NAME [flags]",
		Short: "Measure one service directly, through one bundled proxy and sidecar to sidecar",
		Long: `Start (in this process, on 127.0.0.1) a test upstream for the service, the bundled control
plane serving the design, one sidecar per version of the service and a client sidecar, then run
the same load profile directly, through the service's sidecar (one proxy) and from the client
sidecar to the service's sidecar (two proxies), and print the comparison with the direct run.
The one-proxy run calls the sidecar over mutual TLS with a certificate of --from from the control
plane's CA (unless the service's mTLS is disabled), so access rules see the same verified
identity in both proxied runs; the sidecars enroll with a join token generated for the run.`,
		Example: `  trellis perf mesh --design examples/bookinfo.yaml --service reviews --qps 2000 -c 16 -d 15s -o markdown`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format := pf.output
			if format == "markdown" || format == "md" {
				pf.output = "text" // a text-like format for the profile's check
			}
			p, err := pf.profile(cmd)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if designFile == "" || service == "" {
				return withCode(ExitUsage, errors.New("--design and --service are required"))
			}
			designs, err := spec.LoadFile(designFile)
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("loading %s: %w", designFile, err))
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return withCode(ExitUsage, fmt.Errorf("--log-level: %w", err))
			}
			stderr := cmd.ErrOrStderr()
			res, err := perf.RunMesh(cmd.Context(), perf.MeshOptions{
				Designs: designs, Service: service, From: from, Path: path, Profile: p, Upstream: upstream, Rounds: rounds,
				Logger:   slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})),
				Progress: func(config string, pr perf.Progress) { stderrProgress(stderr, config)(pr) },
			})
			if err != nil {
				return runErr(err)
			}
			if saveDirectory != "" {
				if err := os.MkdirAll(saveDirectory, 0o755); err != nil {
					return withCode(ExitUsage, fmt.Errorf("--save: %w", err))
				}
				for _, r := range res.Results {
					if err := perf.Save(filepath.Join(saveDirectory, r.Profile.Name+".json"), r); err != nil {
						return withCode(ExitUsage, err)
					}
				}
			}
			out := cmd.OutOrStdout()
			if format == "json" || format == "yaml" {
				return writePerfStructured(out, format, res)
			}
			return writeComparison(out, format, res.Comparison)
		},
	}
	pf.add(cmd)
	_ = cmd.Flags().MarkHidden("name")
	_ = cmd.Flags().MarkHidden("pid")
	f := cmd.Flags()
	f.Lookup("output").Usage = "output format: text, markdown, json or yaml"
	f.StringVar(&designFile, "design", "", "design file served by the in-process control plane")
	f.StringVar(&service, "service", "", `target service, "name" or "name.namespace"`)
	f.StringVar(&from, "from", "", `calling service (its identity meets the target's access rules; default "perf-client")`)
	f.StringVar(&path, "path", "/", "request path")
	f.StringVar(&upstream, "upstream", "", "existing application (loopback host:port) instead of the built-in test server")
	f.StringVar(&saveDirectory, "save", "", "directory to store the three results as <config>.json for `perf compare`")
	f.StringVar(&logLevel, "log-level", "warn", "log level of the control plane and in-process proxies")
	f.IntVar(&rounds, "rounds", 1, "interleaved rounds (direct, one proxy, two proxies, …); each configuration's median is reported (max 9)")
	f.BoolVar(&subprocess, "subprocess", false, "run the sidecars as `trellis proxy` subprocesses (own runtime and GC) instead of in this process")
	f.IntVar(&proxyConcurrency, "proxy-concurrency", 1, "GOMAXPROCS of each subprocess sidecar (0 = all CPUs)")
	return cmd
}
