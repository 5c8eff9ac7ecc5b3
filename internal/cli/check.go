package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/all" // registers every mesh adapter
	"github.com/trellis-mesh/trellis/policies"
	"github.com/trellis-mesh/trellis/spec"
)

func init() {
	register(newCheckCmd)
}

// newCheckCmd builds `trellis check`.
func newCheckCmd() *cobra.Command {
	var (
		meshes       []string
		format       string
		failOn       string
		policyDirs   []string
		configPath   string
		consulFormat string
		progress     bool
	)
	cmd := &cobra.Command{
		Use:   "check PATH...",
		Short: "Check designs, and the objects generated for meshes, against best-practice policies",
		Long: `Check loads every design in the given files and directories, validates it, and evaluates the
policy catalogue (see "trellis policies list") on it. With --mesh, each design is also translated
for the named meshes and the mesh-specific rules run on the generated objects.

Findings are suppressed by a config file (.trellis-policy.yaml in the working directory, or
--config) with entries {rule, reason, paths?}, or by the annotation trellis.dev/ignore on the
design, a service, an external service, a traffic policy or an access rule (one "RULE-ID: reason"
per line). Suppressed findings are still reported, marked as suppressed, and never fail the check.

Exit codes:
  0  no unsuppressed finding at or above --fail-on
  1  findings at or above --fail-on, or an invalid design (its validation errors are printed)
  2  bad flags or arguments, unreadable files, or an invalid policy (user policy or config)`,
		Example: `  trellis check designs/
  trellis check bookinfo.yaml --mesh istio,linkerd --fail-on warning
  trellis check designs/ --format sarif > trellis.sarif
  trellis check designs/ --policy-dir policies/ --config ci/trellis-policy.yaml --format github`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			threshold, err := policies.ParseSeverity(failOn)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--fail-on: %w", err))
			}
			if consulFormat != "" && consulFormat != "crd" && consulFormat != "config-entry" {
				return withCode(ExitUsage, fmt.Errorf("--consul-format: unknown value %q (expected crd or config-entry)", consulFormat))
			}
			if !slices.Contains(policies.Formats, format) {
				return withCode(ExitUsage, fmt.Errorf("--format: unknown format %q: expected one of %s", format, strings.Join(policies.Formats, ", ")))
			}
			cfg, err := loadPolicyConfig(configPath)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			var selected []adapters.Adapter
			for _, m := range meshes {
				for _, name := range strings.Split(m, ",") {
					if name = strings.TrimSpace(name); name == "" {
						continue
					}
					a, err := adapters.Lookup(name)
					if err != nil {
						return withCode(ExitUsage, fmt.Errorf("--mesh: %w", err))
					}
					selected = append(selected, a)
				}
			}
			stderr := cmd.ErrOrStderr()
			if !cmd.Flags().Changed("progress") {
				progress = isTerminal(stderr)
			}
			pr := &checkProgress{w: stderr, on: progress, tty: isTerminal(stderr), start: time.Now()}
			designs, err := spec.LoadPaths(args...)
			if err != nil {
				var ve *spec.ValidationError
				if errors.As(err, &ve) {
					for _, v := range ve.Violations {
						fmt.Fprintln(cmd.ErrOrStderr(), v.String())
					}
					return withCode(ExitInvalid, fmt.Errorf("%d violation(s): fix the design before checking policies", len(ve.Violations)))
				}
				return withCode(ExitUsage, err)
			}
			services := 0
			for _, d := range designs {
				services += len(d.Spec.Services)
			}
			pr.stage("loaded %s (%s)", plural(len(designs), "design"), plural(services, "service"))
			engine, err := policies.New(ctx, policies.Options{PolicyDirs: policyDirs, Progress: pr.evaluations})
			if err != nil {
				return withCode(ExitUsage, err)
			}
			for _, u := range engine.UnknownRules(cfg) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: policy config %s names a rule that is not in the catalogue; it suppresses nothing\n", u)
			}
			targets := make([]policies.Target, 0, len(designs))
			for _, d := range designs {
				t := policies.Target{Design: d}
				if len(selected) > 0 {
					t.Meshes = map[string]*adapters.Output{}
				}
				targets = append(targets, t)
			}
			for _, a := range selected {
				objects := 0
				for _, t := range targets {
					out, _, err := adapters.Translate(ctx, a, t.Design, adapters.Options{ConsulFormat: consulFormat})
					if err != nil {
						return withCode(ExitInvalid, err)
					}
					t.Meshes[a.Name()] = out
					objects += len(out.Objects)
				}
				pr.stage("translated for %s (%s)", a.Name(), plural(objects, "object"))
			}
			results, err := engine.CheckAll(ctx, targets, cfg)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			pr.stage("checked %s", plural(len(engine.Rules()), "rule"))
			report := &policies.Report{Rules: engine.Rules(), Threshold: threshold, Designs: len(designs), BaseDir: "."}
			for _, fs := range results {
				report.Findings = append(report.Findings, fs...)
			}
			policies.SortFindings(report.Findings)
			if err := policies.WriteReport(cmd.OutOrStdout(), report, format); err != nil {
				return withCode(ExitUsage, err)
			}
			if report.Failed() {
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&meshes, "mesh", nil, "also translate for these meshes and run their rules (istio, linkerd, consul; comma-separated)")
	f.StringVar(&format, "format", "text", "output format: "+strings.Join(policies.Formats, ", "))
	f.StringVar(&failOn, "fail-on", "error", "lowest severity that fails the check: info, warning or error")
	f.StringSliceVar(&policyDirs, "policy-dir", nil, "directory (or .rego file) of additional policies with the same METADATA contract")
	f.StringVar(&configPath, "config", "", "policy config file (default: "+policies.DefaultConfigFile+" when present)")
	f.StringVar(&consulFormat, "consul-format", "", `consul: check "crd" (default) or "config-entry" output`)
	f.BoolVar(&progress, "progress", false, "print each stage and its time on stderr (default: when stderr is a terminal)")
	return cmd
}

// checkProgress prints the stages of a check on stderr: a line per stage with the time since the
// previous one and, on a terminal, a live count of rule evaluations while the rules run.
type checkProgress struct {
	w        io.Writer
	on, tty  bool
	start    time.Time
	last     time.Time // of the last live update
	live     bool      // a live line is on screen
	previous time.Time // end of the previous stage
}

// stage prints one finished stage.
func (p *checkProgress) stage(format string, args ...any) {
	if !p.on {
		return
	}
	if p.previous.IsZero() {
		p.previous = p.start
	}
	now := time.Now()
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
	fmt.Fprintf(p.w, "%s in %s\n", fmt.Sprintf(format, args...), now.Sub(p.previous).Round(time.Millisecond))
	p.previous = now
}

// evaluations is the engine's progress callback: on a terminal it rewrites one line at most ten
// times a second.
func (p *checkProgress) evaluations(done, total int) {
	if !p.on || !p.tty {
		return
	}
	if now := time.Now(); done == total || now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.live = true
		fmt.Fprintf(p.w, "\rchecking: %d/%d rule evaluations", done, total)
	}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// loadPolicyConfig reads --config, or .trellis-policy.yaml when present; nil when neither.
func loadPolicyConfig(path string) (*policies.Config, error) {
	if path == "" {
		if _, err := os.Stat(policies.DefaultConfigFile); err != nil {
			return nil, nil
		}
		path = policies.DefaultConfigFile
	}
	return policies.LoadConfig(path)
}
