package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/perf"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/spec"
)

// maxResultBytes bounds an uploaded result's JSON.
const maxResultBytes = 1 << 20

// perfNamePattern is what profile names look like.
var perfNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$`)

// meshNamePattern is what mesh names look like ("" is the no-mesh baseline).
var meshNamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?$`)

// profileDoc is the stored form (YAML) of a profile: perf.Profile with readable durations and
// without the run-only fields (name, extra PIDs).
type profileDoc struct {
	URL         string            `json:"url"`
	Method      string            `json:"method,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Body        string            `json:"body,omitempty"`
	QPS         float64           `json:"qps"`
	Connections int               `json:"connections"`
	Duration    string            `json:"duration"`
	WarmUp      string            `json:"warmUp,omitempty"`
	Requests    int64             `json:"requests,omitempty"`
}

// docOf returns the stored form of p.
func docOf(p perf.Profile) profileDoc {
	d := profileDoc{URL: p.URL, Method: p.Method, Headers: p.Headers, Body: p.Body, QPS: p.QPS,
		Connections: p.Connections, Duration: p.Duration.String(), Requests: p.Requests}
	if p.WarmUp > 0 {
		d.WarmUp = p.WarmUp.String()
	}
	return d
}

// specOf renders p as stored YAML.
func specOf(p perf.Profile) (string, error) {
	b, err := yaml.Marshal(docOf(p))
	if err != nil {
		return "", fmt.Errorf("rendering performance profile %q: %w", p.Name, err)
	}
	return string(b), nil
}

// perfProfileOf converts a stored profile for the API.
func perfProfileOf(rec *models.PerfProfile) *model.PerfProfile {
	out := &model.PerfProfile{ID: strconv.FormatInt(rec.ID, 10), Name: rec.Name, Spec: rec.Spec, CreatedAt: rec.CreatedAt,
		Headers: []*model.PerfHeader{}}
	var d profileDoc
	if err := yaml.Unmarshal([]byte(rec.Spec), &d); err != nil {
		return out // written by this API, so never expected; the spec field still shows it
	}
	out.URL, out.Method, out.Body, out.QPS, out.Connections = d.URL, d.Method, d.Body, d.QPS, d.Connections
	out.Duration, out.WarmUp, out.Requests = d.Duration, d.WarmUp, int(d.Requests)
	if out.WarmUp == "" {
		out.WarmUp = "0s"
	}
	if out.Method == "" {
		out.Method = "GET"
		if d.Body != "" {
			out.Method = "POST"
		}
	}
	names := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out.Headers = append(out.Headers, &model.PerfHeader{Name: k, Value: d.Headers[k]})
	}
	return out
}

// perfResultOf converts a stored result (with its Profile) for the API; profile, when not nil,
// is the already converted profile.
func perfResultOf(rec *models.PerfResult, profile *model.PerfProfile) *model.PerfResult {
	out := &model.PerfResult{ID: strconv.FormatInt(rec.ID, 10), Mesh: rec.Mesh, StartedAt: rec.StartedAt,
		DurationSeconds: rec.Duration.Seconds(), JSON: rec.Summary, Profile: profile, Latency: &model.PerfLatency{}}
	if out.Profile == nil && rec.Profile != nil {
		out.Profile = perfProfileOf(rec.Profile)
	}
	if r, err := perf.Decode("stored result", []byte(rec.Summary)); err == nil {
		out.Requests, out.Errors, out.ErrorRate, out.QPS = int(r.Requests), int(r.Errors), r.ErrorRate(), r.QPS
		out.Noisy, out.Cancelled = r.Environment.Noisy(), r.Cancelled
		l := r.Latency
		out.Latency = &model.PerfLatency{MinMs: l.Min, MeanMs: l.Mean, P50Ms: l.P50, P90Ms: l.P90, P99Ms: l.P99, P999Ms: l.P999, MaxMs: l.Max}
	}
	return out
}

// profileViolations checks p's bounds and that its target is on loopback, with field paths
// under prefix ("input." or "input.result.profile."), reusing perf's validation.
func profileViolations(ctx context.Context, p perf.Profile, prefix string) []spec.Violation {
	var out []spec.Violation
	if err := p.Validate(); err != nil {
		out = append(out, perfViolations(err, prefix)...)
	}
	if !hasPath(out, prefix+"url") {
		if _, err := perf.CheckLoopback(ctx, p.URL); err != nil {
			v := perfViolation(err.Error(), prefix)
			if errors.Is(err, perf.ErrNotLoopback) {
				v.Expected = "a host resolving to 127.0.0.0/8 or ::1"
				v.Hint = "load tests only run against this machine; run the service locally or port-forward it"
			}
			out = append(out, v)
		}
	}
	return out
}

func hasPath(vs []spec.Violation, path string) bool {
	for _, v := range vs {
		if v.Path == path {
			return true
		}
	}
	return false
}

// perfViolations splits a (joined) perf validation error into violations.
func perfViolations(err error, prefix string) []spec.Violation {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]spec.Violation, 0, len(errs))
	for _, e := range errs {
		out = append(out, perfViolation(e.Error(), prefix))
	}
	return out
}

// perfViolation turns "profile.field: message; expected …; hint: …" into a violation at
// prefix+field.
func perfViolation(msg, prefix string) spec.Violation {
	v := spec.Violation{Message: msg}
	if field, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(field, "profile.") && !strings.ContainsAny(field, " ") {
		v.Path, v.Message = prefix+strings.TrimPrefix(field, "profile."), rest
	}
	if m, h, ok := strings.Cut(v.Message, "; hint: "); ok {
		v.Message, v.Hint = m, h
	}
	if m, x, ok := strings.Cut(v.Message, "; expected "); ok {
		v.Message, v.Expected = m, x
	}
	return v
}

// profileFromInput builds and validates the profile of a savePerfProfile input.
func profileFromInput(ctx context.Context, in model.SavePerfProfileInput) (perf.Profile, []spec.Violation) {
	var vs []spec.Violation
	p := perf.Profile{Name: in.Name, URL: in.URL, Method: in.Method, Body: in.Body, QPS: in.QPS,
		Connections: in.Connections, Requests: int64(in.Requests)}
	if !perfNamePattern.MatchString(in.Name) {
		vs = append(vs, spec.Violation{Path: "input.name", Message: fmt.Sprintf("invalid profile name %q", in.Name),
			Expected: "1–253 letters, digits, '.', '_' or '-', starting and ending with a letter or digit", Hint: "for example direct or sidecar-2000qps"})
	}
	for i, h := range in.Headers {
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		if _, dup := p.Headers[h.Name]; dup {
			vs = append(vs, spec.Violation{Path: fmt.Sprintf("input.headers[%d].name", i), Message: fmt.Sprintf("header %q is set twice", h.Name),
				Expected: "each header once"})
		}
		p.Headers[h.Name] = h.Value
	}
	for _, d := range []struct {
		field, value string
		dst          *time.Duration
	}{{"duration", in.Duration, &p.Duration}, {"warmUp", in.WarmUp, &p.WarmUp}} {
		v, err := time.ParseDuration(strings.TrimSpace(d.value))
		if err != nil {
			vs = append(vs, spec.Violation{Path: "input." + d.field, Message: fmt.Sprintf("%q is not a duration", d.value),
				Expected: "a Go duration such as 10s or 1m30s", Hint: fmt.Sprintf("the run, warm-up included, is capped at %s", perf.MaxDuration)})
			continue
		}
		*d.dst = v
	}
	if p.Requests > 0 && p.Duration == 0 {
		p.Duration = perf.MaxDuration - p.WarmUp
	}
	if in.Connections < 1 {
		vs = append(vs, spec.Violation{Path: "input.connections", Message: fmt.Sprintf("%d connections", in.Connections),
			Expected: fmt.Sprintf("1 to %d", perf.MaxConnections)})
		p.Connections = 1 // reported; keep the other checks meaningful
	}
	return p, append(vs, profileViolations(ctx, p, "input.")...)
}

// resultFromInput decodes and validates the result of a recordPerfResult input.
func resultFromInput(ctx context.Context, in model.RecordPerfResultInput) (*perf.Result, []spec.Violation) {
	var vs []spec.Violation
	if !perfNamePattern.MatchString(in.Profile) {
		vs = append(vs, spec.Violation{Path: "input.profile", Message: fmt.Sprintf("invalid profile name %q", in.Profile),
			Expected: "1–253 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"})
	}
	if !meshNamePattern.MatchString(in.Mesh) {
		vs = append(vs, spec.Violation{Path: "input.mesh", Message: fmt.Sprintf("invalid mesh name %q", in.Mesh),
			Expected: "empty (no mesh) or a lower-case DNS label such as istio or linkerd"})
	}
	if len(in.Result) > maxResultBytes {
		return nil, append(vs, spec.Violation{Path: "input.result", Message: fmt.Sprintf("%d bytes", len(in.Result)),
			Expected: fmt.Sprintf("at most %d bytes", maxResultBytes)})
	}
	r, err := perf.Decode("input.result", []byte(in.Result))
	if err != nil {
		return nil, append(vs, spec.Violation{Path: "input.result", Message: err.Error(),
			Expected: "the JSON printed by `trellis perf run -o json`", Hint: "upload with `trellis perf run --server URL`"})
	}
	switch {
	case r.Requests < 0 || r.Requests > perf.MaxRequests*10:
		vs = append(vs, spec.Violation{Path: "input.result.requests", Message: fmt.Sprintf("%d requests", r.Requests),
			Expected: "a non-negative count"})
	case r.Errors < 0 || r.Errors > r.Requests:
		vs = append(vs, spec.Violation{Path: "input.result.errors", Message: fmt.Sprintf("%d errors of %d requests", r.Errors, r.Requests),
			Expected: "0 to the number of requests"})
	}
	if r.Start.IsZero() || r.End.Before(r.Start) || r.End.Sub(r.Start) > perf.MaxDuration+time.Minute {
		vs = append(vs, spec.Violation{Path: "input.result.end", Message: fmt.Sprintf("the run spans %s to %s", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339)),
			Expected: fmt.Sprintf("a start time and an end at most %s later", perf.MaxDuration)})
	}
	if r.QPS < 0 || r.Latency.Min < 0 || r.Latency.Max < r.Latency.Min {
		vs = append(vs, spec.Violation{Path: "input.result.latency", Message: "negative or inconsistent statistics",
			Expected: "non-negative rates and latencies with min ≤ max"})
	}
	return r, append(vs, profileViolations(ctx, r.Profile, "input.result.profile.")...)
}

// invalidInput reports violations as BAD_INPUT with extensions.violations.
func invalidInput(ctx context.Context, what string, vs []spec.Violation) error {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Message
		if v.Path != "" {
			msgs[i] = v.Path + ": " + v.Message
		}
	}
	return newError(ctx, CodeBadInput, fmt.Sprintf("invalid %s: %s", what, strings.Join(msgs, "; ")),
		map[string]any{"violations": violationsExt(vs)})
}

// parseID parses a numeric object id.
func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// perfConnection runs a results query and builds its connection; profile, when not nil, is every
// result's profile.
func (r *Resolver) perfConnection(ctx context.Context, f models.PerfResultFilter, profile *model.PerfProfile, first *int, after *string, last *int, before *string) (*model.PerfResultConnection, error) {
	w, err := windowFor(ctx, first, after, last, before, func(c string) (int64, error) { return decodeInt[int64]("perf-result", c) })
	if err != nil {
		return nil, err
	}
	rows, more, err := r.Store.ListPerfResults(ctx, f, w)
	if err != nil {
		return nil, r.toGraphQLError(ctx, err)
	}
	conn := &model.PerfResultConnection{Edges: make([]*model.PerfResultEdge, len(rows))}
	profiles := map[int64]*model.PerfProfile{}
	for i := range rows {
		p := profile
		if p == nil && rows[i].Profile != nil {
			if p = profiles[rows[i].ProfileID]; p == nil {
				p = perfProfileOf(rows[i].Profile)
				profiles[rows[i].ProfileID] = p
			}
		}
		conn.Edges[i] = &model.PerfResultEdge{Cursor: encodeCursor("perf-result", strconv.FormatInt(rows[i].ID, 10)), Node: perfResultOf(&rows[i], p)}
	}
	var fc, lc string
	if len(rows) > 0 {
		fc, lc = conn.Edges[0].Cursor, conn.Edges[len(rows)-1].Cursor
	}
	conn.PageInfo = pageInfo(w, more, fc, lc, len(rows))
	return conn, nil
}

// meshFilter turns the optional mesh argument into a filter.
func meshFilter(f *models.PerfResultFilter, mesh *string) {
	if mesh != nil {
		f.Mesh, f.MeshSet = *mesh, true
	}
}
