package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec"
)

// Version is the release version, set at build time with
// -ldflags "-X github.com/trellis-mesh/trellis/internal/cli.Version=v1.2.3". When empty, the
// module version from the build information is used ("(devel)" for local builds).
var Version = ""

func init() { register(newVersionCmd) }

// versionInfo is what `trellis version` prints.
type versionInfo struct {
	// Version is the release version.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, when known.
	Commit string `json:"commit,omitempty"`
	// CommitTime is the revision's commit time, when known.
	CommitTime string `json:"commitTime,omitempty"`
	// Modified is true when the working tree had local changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// DesignAPIVersion is the design apiVersion this binary reads.
	DesignAPIVersion string `json:"designAPIVersion"`
}

// buildVersion collects the version information of the running binary.
func buildVersion() versionInfo {
	v := versionInfo{
		Version:          Version,
		GoVersion:        runtime.Version(),
		Platform:         runtime.GOOS + "/" + runtime.GOARCH,
		DesignAPIVersion: spec.APIVersion,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

// newVersionCmd builds `trellis version`.
func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of trellis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			out := cmd.OutOrStdout()
			switch output {
			case "text":
				fmt.Fprintf(out, "trellis %s", v.Version)
				if v.Commit != "" {
					c := v.Commit
					if len(c) > 12 {
						c = c[:12]
					}
					fmt.Fprintf(out, " (%s", c)
					if v.Modified {
						fmt.Fprint(out, ", modified")
					}
					fmt.Fprint(out, ")")
				}
				fmt.Fprintf(out, " %s %s, designs %s\n", v.GoVersion, v.Platform, v.DesignAPIVersion)
			case "json":
				b, _ := json.MarshalIndent(v, "", "  ")
				fmt.Fprintln(out, string(b))
			case "yaml":
				b, err := yaml.Marshal(v)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				_, _ = out.Write(b)
			default:
				return withCode(ExitUsage, fmt.Errorf("--output: unknown format %q: expected text, json or yaml", output))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	return cmd
}
