package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Environment variables naming the Trellis server the CLI talks to.
const (
	envServer = "TRELLIS_SERVER"
	envToken  = "TRELLIS_TOKEN"
)

// serverFlags are --server and --token (env TRELLIS_SERVER, TRELLIS_TOKEN).
type serverFlags struct {
	server, token string
}

func (sf *serverFlags) add(f *pflag.FlagSet, what string) {
	f.StringVar(&sf.server, "server", "", what+" (a Trellis server such as http://127.0.0.1:8080; env "+envServer+")")
	f.StringVar(&sf.token, "token", "", "API token for --server (env "+envToken+"; prefer the environment: flags show in ps)")
}

// client returns the GraphQL client, or nil when no server is configured.
func (sf *serverFlags) client(fl *pflag.FlagSet) (*gqlClient, error) {
	server := pick(fl, "server", sf.server, envServer, "", "")
	if server == "" {
		return nil, nil
	}
	token := pick(fl, "token", sf.token, envToken, "", "")
	if token == "" {
		return nil, withCode(ExitUsage, fmt.Errorf("--server %s needs an API token; hint: pass --token or set %s (`trellis token create --role editor --name perf`)", server, envToken))
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, withCode(ExitUsage, fmt.Errorf("--server %q: expected a URL such as http://127.0.0.1:8080", server))
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/graphql"
	}
	return &gqlClient{url: u.String(), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// gqlClient posts GraphQL operations to a Trellis server.
type gqlClient struct {
	url, token string
	http       *http.Client
}

// gqlRemoteError is a GraphQL error returned by the server.
type gqlRemoteError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code       string `json:"code"`
		Violations []struct {
			Path     string `json:"path"`
			Message  string `json:"message"`
			Expected string `json:"expected"`
			Hint     string `json:"hint"`
		} `json:"violations"`
	} `json:"extensions"`
}

// Error renders the error with its code and violations.
func (e *gqlRemoteError) Error() string {
	var b strings.Builder
	if e.Extensions.Code != "" {
		fmt.Fprintf(&b, "%s: ", e.Extensions.Code)
	}
	if len(e.Extensions.Violations) == 0 {
		b.WriteString(e.Message)
		return b.String()
	}
	b.WriteString("the server rejected the input:")
	for _, v := range e.Extensions.Violations {
		fmt.Fprintf(&b, "\n  %s: %s", v.Path, v.Message)
		if v.Expected != "" {
			fmt.Fprintf(&b, " (expected %s)", v.Expected)
		}
		if v.Hint != "" {
			fmt.Fprintf(&b, "; hint: %s", v.Hint)
		}
	}
	return b.String()
}

// do runs one operation and decodes its data into out.
func (c *gqlClient) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("calling %s: %w", c.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("calling %s: %w; hint: is `trellis serve` running there?", c.url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", c.url, err)
	}
	var resp struct {
		Data   json.RawMessage   `json:"data"`
		Errors []*gqlRemoteError `json:"errors"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("calling %s: HTTP %d, not a GraphQL answer: %.200s", c.url, res.StatusCode, b)
	}
	if len(resp.Errors) > 0 {
		errs := make([]error, len(resp.Errors))
		for i, e := range resp.Errors {
			errs[i] = e
		}
		return fmt.Errorf("%s: %w", c.url, errors.Join(errs...))
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("calling %s: HTTP %d", c.url, res.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			return fmt.Errorf("decoding the answer of %s: %w", c.url, err)
		}
	}
	return nil
}

// checkEditor fails early (before a long run) when the token cannot upload results.
func (c *gqlClient) checkEditor(ctx context.Context) error {
	var me struct{ Me struct{ Name, Role string } }
	if err := c.do(ctx, `{ me { name role } }`, nil, &me); err != nil {
		return err
	}
	if me.Me.Role == "VIEWER" {
		return fmt.Errorf("%s: token %q has the viewer role; uploading results needs editor or admin", c.url, me.Me.Name)
	}
	return nil
}

// uploadResult records a result (the JSON of `perf run -o json`) under its profile's name,
// creating the profile on the server when it has none of that name.
func (c *gqlClient) uploadResult(ctx context.Context, resultJSON []byte, profile, mesh string) (string, error) {
	var out struct {
		RecordPerfResult struct{ ID string }
	}
	err := c.do(ctx, `mutation($in: RecordPerfResultInput!) { recordPerfResult(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"profile": profile, "mesh": mesh, "result": string(resultJSON), "createProfile": true,
	}}, &out)
	if err != nil {
		return "", fmt.Errorf("uploading the result: %w", err)
	}
	return out.RecordPerfResult.ID, nil
}

// perfResultRow is one result as `trellis perf results -o json|yaml` prints it.
type perfResultRow struct {
	ID              string  `json:"id"`
	Profile         string  `json:"profile"`
	Mesh            string  `json:"mesh"`
	StartedAt       string  `json:"startedAt"`
	DurationSeconds float64 `json:"durationSeconds"`
	Requests        int64   `json:"requests"`
	Errors          int64   `json:"errors"`
	ErrorRate       float64 `json:"errorRate"`
	QPS             float64 `json:"qps"`
	Latency         struct {
		MinMs  float64 `json:"minMs"`
		MeanMs float64 `json:"meanMs"`
		P50Ms  float64 `json:"p50Ms"`
		P90Ms  float64 `json:"p90Ms"`
		P99Ms  float64 `json:"p99Ms"`
		P999Ms float64 `json:"p999Ms"`
		MaxMs  float64 `json:"maxMs"`
	} `json:"latency"`
	Noisy     bool   `json:"noisy"`
	Cancelled bool   `json:"cancelled"`
	JSON      string `json:"-"`
}

const perfResultsQuery = `query($profile: String, $mesh: String, $first: Int, $after: String) {
  perfResults(profile: $profile, mesh: $mesh, first: $first, after: $after) {
    edges { node { id profile { name } mesh startedAt durationSeconds requests errors errorRate qps
      latency { minMs meanMs p50Ms p90Ms p99Ms p999Ms maxMs } noisy cancelled json } }
    pageInfo { hasNextPage endCursor }
  }
}`

// listResults reads up to limit results, newest first, following pages.
func (c *gqlClient) listResults(ctx context.Context, profile string, mesh *string, limit int) ([]perfResultRow, error) {
	var rows []perfResultRow
	var after any
	for len(rows) < limit {
		vars := map[string]any{"first": min(100, limit-len(rows)), "after": after}
		if profile != "" {
			vars["profile"] = profile
		}
		if mesh != nil {
			vars["mesh"] = *mesh
		}
		var page struct {
			PerfResults struct {
				Edges []struct {
					Node struct {
						perfResultRow
						Profile struct{ Name string } `json:"profile"`
						JSON    string                `json:"json"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo struct {
					HasNextPage bool    `json:"hasNextPage"`
					EndCursor   *string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"perfResults"`
		}
		if err := c.do(ctx, perfResultsQuery, vars, &page); err != nil {
			return nil, fmt.Errorf("listing performance results: %w", err)
		}
		for _, e := range page.PerfResults.Edges {
			r := e.Node.perfResultRow
			r.Profile, r.JSON = e.Node.Profile.Name, e.Node.JSON
			rows = append(rows, r)
		}
		if !page.PerfResults.PageInfo.HasNextPage || page.PerfResults.PageInfo.EndCursor == nil {
			break
		}
		after = *page.PerfResults.PageInfo.EndCursor
	}
	return rows, nil
}

func newPerfResultsCmd() *cobra.Command {
	var (
		sf              serverFlags
		profile, mesh   string
		output, saveDir string
		limit           int
	)
	cmd := &cobra.Command{
		Use:   "results --server URL [--profile NAME] [--mesh MESH]",
		Short: "List performance results stored on a Trellis server, newest first",
		Long: `List the results uploaded with ` + "`trellis perf run --server`" + ` (or the recordPerfResult mutation),
newest first. --save writes each result's JSON to a directory, ready for ` + "`trellis perf compare`" + `.`,
		Example: `  export TRELLIS_SERVER=http://127.0.0.1:8080 TRELLIS_TOKEN=trellis_…
  trellis perf results --profile reviews -o table
  trellis perf results --mesh "" --limit 1 --save ./baseline -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "table", "text", "json", "yaml":
			default:
				return withCode(ExitUsage, fmt.Errorf("-o: unknown output %q: expected table, json or yaml", output))
			}
			if limit < 1 || limit > 10000 {
				return withCode(ExitUsage, fmt.Errorf("--limit %d: expected 1 to 10000", limit))
			}
			c, err := sf.client(cmd.Flags())
			if err != nil {
				return err
			}
			if c == nil {
				return withCode(ExitUsage, fmt.Errorf("no server: pass --server URL or set %s", envServer))
			}
			var meshFilter *string
			if cmd.Flags().Changed("mesh") {
				meshFilter = &mesh
			}
			rows, err := c.listResults(cmd.Context(), profile, meshFilter, limit)
			if err != nil {
				return withCode(ExitInvalid, err)
			}
			if saveDir != "" {
				if err := os.MkdirAll(saveDir, 0o755); err != nil {
					return withCode(ExitUsage, fmt.Errorf("--save: %w", err))
				}
				for _, r := range rows {
					path := filepath.Join(saveDir, r.Profile+"-"+r.ID+".json")
					if err := os.WriteFile(path, []byte(r.JSON+"\n"), 0o644); err != nil {
						return withCode(ExitUsage, fmt.Errorf("--save: %w", err))
					}
				}
			}
			return writePerfRows(cmd.OutOrStdout(), output, rows)
		},
	}
	f := cmd.Flags()
	sf.add(f, "server to read from")
	f.StringVar(&profile, "profile", "", "only results of this profile")
	f.StringVar(&mesh, "mesh", "", `only results of this mesh ("" for the no-mesh baseline; unset: every mesh)`)
	f.IntVar(&limit, "limit", 50, "at most this many results (1–10000)")
	f.StringVar(&saveDir, "save", "", "directory to write each result's JSON to as <profile>-<id>.json (for `perf compare`)")
	f.StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func writePerfRows(w io.Writer, format string, rows []perfResultRow) error {
	if rows == nil {
		rows = []perfResultRow{}
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(rows)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROFILE\tMESH\tSTARTED\tREQUESTS\tERRORS\tREQ/S\tP50 MS\tP99 MS\tNOISY")
	for _, r := range rows {
		mesh := r.Mesh
		if mesh == "" {
			mesh = "-"
		}
		noisy := ""
		if r.Noisy {
			noisy = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%.1f\t%.3f\t%.3f\t%s\n", r.ID, r.Profile, mesh, r.StartedAt,
			r.Requests, r.Errors, r.QPS, r.Latency.P50Ms, r.Latency.P99Ms, noisy)
	}
	return tw.Flush()
}
