package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trellis-mesh/trellis/spec"
)

func init() { register(newValidateCmd) }

// validateReport is the JSON output of `trellis validate -o json`.
type validateReport struct {
	// Valid is true when every design loaded without violations.
	Valid bool `json:"valid"`
	// Files are the files read, in order.
	Files []string `json:"files"`
	// Designs are the names of the designs loaded (only when valid).
	Designs []string `json:"designs"`
	// Violations lists every problem found.
	Violations []spec.Violation `json:"violations"`
}

// newValidateCmd builds `trellis validate`.
func newValidateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Validate design files (syntax, types, references, value ranges)",
		Long: `Validate loads every design in the given files and directories (directories are searched
recursively for *.yaml, *.yml and *.json; "-" reads standard input), applies defaults and checks
it. Every violation of every document is printed with its file:line:column, field path, what is
expected and a hint.

Exit codes:
  0  every design is valid
  1  at least one violation
  2  bad flags or arguments, or unreadable files`,
		Example: `  trellis validate designs/
  trellis validate bookinfo.yaml -o json
  cat design.yaml | trellis validate -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return withCode(ExitUsage, fmt.Errorf("--output: unknown format %q: expected text or json", output))
			}
			rep, err := runValidate(cmd.InOrStdin(), args)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return withCode(ExitUsage, err)
				}
			} else {
				for _, v := range rep.Violations {
					fmt.Fprintln(out, v.String())
				}
				if rep.Valid {
					fmt.Fprintf(out, "%s in %s: valid\n", plural(len(rep.Designs), "design"), plural(len(rep.Files), "file"))
				} else {
					fmt.Fprintf(out, "%s in %s: invalid\n", plural(len(rep.Violations), "violation"), plural(len(rep.Files), "file"))
				}
			}
			if !rep.Valid {
				return silentExit(ExitInvalid)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// runValidate loads the paths ("-" is standard input) and reports the result; the error is for
// I/O problems only.
func runValidate(stdin io.Reader, args []string) (*validateReport, error) {
	rep := &validateReport{Files: []string{}, Designs: []string{}, Violations: []spec.Violation{}}
	var paths []string
	var stdinDesigns []*spec.Design
	for _, a := range args {
		if a != "-" {
			paths = append(paths, a)
			continue
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		rep.Files = append(rep.Files, "<stdin>")
		ds, err := spec.LoadBytes("<stdin>", b)
		if !collectViolations(rep, err) {
			return nil, err
		}
		stdinDesigns = append(stdinDesigns, ds...)
	}
	var designs []*spec.Design
	if len(paths) > 0 {
		files, err := spec.ExpandPaths(paths...)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no *.yaml, *.yml or *.json design file in %v", paths)
		}
		rep.Files = append(rep.Files, files...)
		ds, err := spec.LoadPaths(paths...)
		if !collectViolations(rep, err) {
			return nil, err
		}
		designs = ds
	}
	for _, d := range append(stdinDesigns, designs...) {
		rep.Designs = append(rep.Designs, d.Metadata.Name)
	}
	rep.Valid = len(rep.Violations) == 0
	if !rep.Valid {
		rep.Designs = []string{}
	}
	return rep, nil
}

// collectViolations adds a validation error's violations to rep; it returns false for any other
// error.
func collectViolations(rep *validateReport, err error) bool {
	if err == nil {
		return true
	}
	var ve *spec.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	rep.Violations = append(rep.Violations, ve.Violations...)
	return true
}

// plural formats "1 design" or "3 designs".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
