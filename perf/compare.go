package perf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Row is one result compared with the baseline.
type Row struct {
	// Name is the result's profile name.
	Name string `json:"name"`
	// QPS is the achieved rate and Throughput its ratio to the baseline's (1 for the baseline).
	QPS        float64 `json:"qps"`
	Throughput float64 `json:"throughput"`
	// P50, P99 and P999 are the result's latency percentiles (ms).
	P50  float64 `json:"p50Ms"`
	P99  float64 `json:"p99Ms"`
	P999 float64 `json:"p999Ms"`
	// AddedP50, AddedP99 and AddedP999 are the latency added over the baseline (ms).
	AddedP50  float64 `json:"addedP50Ms"`
	AddedP99  float64 `json:"addedP99Ms"`
	AddedP999 float64 `json:"addedP999Ms"`
	// ErrorRate is the share of failed requests (0 to 1).
	ErrorRate float64 `json:"errorRate"`
	// Requests is the number of measured requests.
	Requests int64 `json:"requests"`
	// OtherTenantsPercent is the machine noise during the run and Noisy flags it above
	// NoisyPercent.
	OtherTenantsPercent float64 `json:"otherTenantsPercent"`
	Noisy               bool    `json:"noisy,omitempty"`
}

// Comparison is a table of results relative to a baseline (its first row).
type Comparison struct {
	// Baseline is the baseline's name.
	Baseline string `json:"baseline"`
	// Rows holds the baseline first, then the others in order.
	Rows []Row `json:"rows"`
}

// Compare compares results with a baseline measured under the same profile, ideally in the same
// session: throughput as a ratio, latency as milliseconds added to the baseline's.
func Compare(baseline *Result, others ...*Result) (*Comparison, error) {
	if baseline == nil {
		return nil, errors.New("comparing results: the baseline is missing")
	}
	c := &Comparison{Baseline: baseline.Profile.Name}
	for i, r := range append([]*Result{baseline}, others...) {
		if r == nil {
			return nil, fmt.Errorf("comparing results: result %d is missing", i)
		}
		row := Row{
			Name: r.Profile.Name, QPS: round2(r.QPS), P50: r.Latency.P50, P99: r.Latency.P99, P999: r.Latency.P999,
			AddedP50: round3(r.Latency.P50 - baseline.Latency.P50), AddedP99: round3(r.Latency.P99 - baseline.Latency.P99),
			AddedP999: round3(r.Latency.P999 - baseline.Latency.P999),
			ErrorRate: r.ErrorRate(), Requests: r.Requests,
			OtherTenantsPercent: r.Environment.OtherTenantsPercent, Noisy: r.Environment.Noisy(),
		}
		if baseline.QPS > 0 {
			row.Throughput = round3(r.QPS / baseline.QPS)
		}
		c.Rows = append(c.Rows, row)
	}
	return c, nil
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func round3(v float64) float64 {
	if v < 0 {
		return -round3(-v)
	}
	return float64(int64(v*1000+0.5)) / 1000
}

func (c *Comparison) cells() ([]string, [][]string) {
	head := []string{"config", "req/s", "× " + c.Baseline, "p50 ms", "p99 ms", "p99.9 ms", "added p50 / p99 / p99.9 ms", "errors", "other CPU %"}
	var rows [][]string
	for i, r := range c.Rows {
		added := "—"
		if i > 0 {
			added = fmt.Sprintf("%+.2f / %+.2f / %+.2f", r.AddedP50, r.AddedP99, r.AddedP999)
		}
		noise := fmt.Sprintf("%.1f", r.OtherTenantsPercent)
		if r.Noisy {
			noise += " (noisy)"
		}
		rows = append(rows, []string{
			r.Name, fmt.Sprintf("%.0f", r.QPS), fmt.Sprintf("%.2f", r.Throughput),
			fmt.Sprintf("%.2f", r.P50), fmt.Sprintf("%.2f", r.P99), fmt.Sprintf("%.2f", r.P999),
			added, fmt.Sprintf("%.2f%%", 100*r.ErrorRate), noise,
		})
	}
	return head, rows
}

// Text renders the comparison as an aligned plain-text table.
func (c *Comparison) Text() string {
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head, rows := c.cells()
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	_ = w.Flush()
	if c.noisy() {
		fmt.Fprintf(&b, "warning: other tenants used more than %.0f%% of the CPU during a run marked (noisy); repeat it\n", NoisyPercent)
	}
	return b.String()
}

// Markdown renders the comparison as a Markdown table.
func (c *Comparison) Markdown() string {
	var b strings.Builder
	head, rows := c.cells()
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if c.noisy() {
		fmt.Fprintf(&b, "\nRuns marked (noisy) had more than %.0f%% of the CPU used by other tenants; repeat them.\n", NoisyPercent)
	}
	return b.String()
}

func (c *Comparison) noisy() bool {
	for _, r := range c.Rows {
		if r.Noisy {
			return true
		}
	}
	return false
}

// Save writes a result as indented JSON.
func Save(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding result %q: %w", r.Profile.Name, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving result: %w", err)
	}
	return nil
}

// Load reads a result written by Save (or `trellis perf run -o json`).
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading result: %w", err)
	}
	return Decode(path, b)
}

// Decode parses a JSON result; name is used in errors.
func Decode(name string, data []byte) (*Result, error) {
	var r Result
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("loading result %s: %w; expected the JSON written by `trellis perf run -o json`", name, err)
	}
	if r.Profile.Name == "" && r.Requests == 0 && r.Start.IsZero() {
		return nil, fmt.Errorf("loading result %s: no profile, requests or start time; expected the JSON written by `trellis perf run -o json`", name)
	}
	return &r, nil
}

// Median combines repeated runs of one profile: the median of each rate and latency figure,
// summed request and status counts, the earliest start and latest end, and the noisiest
// environment (the largest other-tenant share). It returns nil without results.
func Median(results ...*Result) *Result {
	if len(results) == 0 {
		return nil
	}
	if len(results) == 1 {
		return results[0]
	}
	out := &Result{Profile: results[0].Profile, Codes: map[string]int64{}, Start: results[0].Start, End: results[0].End,
		Environment: results[0].Environment}
	pick := func(f func(*Result) float64) float64 {
		v := make([]float64, len(results))
		for i, r := range results {
			v[i] = f(r)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	for _, r := range results {
		out.Requests += r.Requests
		out.Errors += r.Errors
		for k, n := range r.Codes {
			out.Codes[k] += n
		}
		for k, n := range r.ErrorCodes {
			if out.ErrorCodes == nil {
				out.ErrorCodes = map[string]int64{}
			}
			out.ErrorCodes[k] += n
		}
		if r.Start.Before(out.Start) {
			out.Start = r.Start
		}
		if r.End.After(out.End) {
			out.End = r.End
		}
		if r.Environment.OtherTenantsPercent > out.Environment.OtherTenantsPercent {
			out.Environment = r.Environment
		}
		out.Cancelled = out.Cancelled || r.Cancelled
	}
	out.QPS = pick(func(r *Result) float64 { return r.QPS })
	out.Latency = Latency{
		Min:  pick(func(r *Result) float64 { return r.Latency.Min }),
		Mean: pick(func(r *Result) float64 { return r.Latency.Mean }),
		Max:  pick(func(r *Result) float64 { return r.Latency.Max }),
		P50:  pick(func(r *Result) float64 { return r.Latency.P50 }),
		P90:  pick(func(r *Result) float64 { return r.Latency.P90 }),
		P99:  pick(func(r *Result) float64 { return r.Latency.P99 }),
		P999: pick(func(r *Result) float64 { return r.Latency.P999 }),
	}
	return out
}
