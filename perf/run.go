package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	flog "fortio.org/log"
)

// Progress is reported about once a second while a run is under way.
type Progress struct {
	// Phase is "warm-up" or "load".
	Phase string `json:"phase"`
	// Elapsed is the time since the phase started.
	Elapsed time.Duration `json:"elapsed"`
	// Requests and Errors are the phase's completed requests and failed ones so far.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
}

// Latency summarises a run's latency distribution, in milliseconds.
type Latency struct {
	// Min, Mean and Max are over every measured request (errors included).
	Min  float64 `json:"minMs"`
	Mean float64 `json:"meanMs"`
	Max  float64 `json:"maxMs"`
	// P50, P90, P99 and P999 are percentiles, interpolated within 0.1 ms buckets.
	P50  float64 `json:"p50Ms"`
	P90  float64 `json:"p90Ms"`
	P99  float64 `json:"p99Ms"`
	P999 float64 `json:"p999Ms"`
}

// Environment records the conditions of a run, so that noisy runs can be told apart.
type Environment struct {
	// GOMAXPROCS and Cores are the load generator's Go scheduler limit and the machine's CPUs.
	GOMAXPROCS int `json:"gomaxprocs"`
	Cores      int `json:"cores"`
	// OS and GoVersion identify the platform.
	OS        string `json:"os"`
	GoVersion string `json:"goVersion"`
	// CPUSampled tells whether CPU use was measured: false when /proc/stat is unreadable (not
	// Linux) or the run was shorter than one clock tick; the fields below are zero then.
	CPUSampled bool `json:"cpuSampled"`
	// MachineBusyPercent is the machine's busy CPU time during the run, as a percentage of all
	// cores' time.
	MachineBusyPercent float64 `json:"machineBusyPercent"`
	// OwnPercent is the share of all cores' time used by this process and Profile.ExtraPIDs.
	OwnPercent float64 `json:"ownPercent"`
	// OtherTenantsPercent is busy time not used by this process or Profile.ExtraPIDs (other
	// tenants' noise); results with more than NoisyPercent are suspect.
	OtherTenantsPercent float64 `json:"otherTenantsPercent"`
}

// NoisyPercent is the other tenants' CPU share above which a run is flagged as noisy.
const NoisyPercent = 10.0

// Noisy reports whether other tenants used more than NoisyPercent of the machine during the run.
func (e Environment) Noisy() bool { return e.CPUSampled && e.OtherTenantsPercent > NoisyPercent }

// Result is the outcome of one run.
type Result struct {
	// Profile is the profile that was run (defaults filled in).
	Profile Profile `json:"profile"`
	// Requests is the number of measured requests; Errors those without a 2xx status.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// Codes counts responses by status code ("-1" is a connection or socket error).
	Codes map[string]int64 `json:"codes"`
	// ErrorCodes counts the errors by status code (the non-2xx subset of Codes).
	ErrorCodes map[string]int64 `json:"errorCodes,omitempty"`
	// QPS is the achieved request rate over the measured phase.
	QPS float64 `json:"qps"`
	// Latency summarises the latency distribution.
	Latency Latency `json:"latency"`
	// Start and End bound the measured phase.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Environment records the run's conditions.
	Environment Environment `json:"environment"`
	// Cancelled is true when the run was stopped early by its context.
	Cancelled bool `json:"cancelled,omitempty"`
}

// ErrorRate returns the share of requests that failed (0 to 1).
func (r *Result) ErrorRate() float64 {
	if r == nil || r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

var quietFortio sync.Once

// Run runs a profile with the fortio library and returns its result. progress (optional) is
// called about once a second. The target must resolve to loopback; the run is bounded by
// MaxDuration and MaxRequests, and cancelling ctx stops the load promptly: Run then returns the
// partial result (Cancelled set) together with the context's error.
func Run(ctx context.Context, profile Profile, progress func(Progress)) (*Result, error) {
	quietFortio.Do(func() {
		flog.SetOutput(io.Discard)
		flog.SetLogLevelQuiet(flog.Critical)
	})
	p := profile.withDefaults()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("invalid load profile %q: %w", p.Name, err)
	}
	ip, err := CheckLoopback(ctx, p.URL)
	if err != nil {
		return nil, fmt.Errorf("load profile %q: %w", p.Name, err)
	}
	target, host, err := pinTarget(p.URL, ip)
	if err != nil {
		return nil, fmt.Errorf("load profile %q: %w", p.Name, err)
	}
	resolve := ""
	if p.TLS != nil {
		// The URL keeps its name (fortio verifies it as the TLS server name) and connections go
		// to the checked loopback IP.
		u, _ := url.Parse(p.URL)
		port := u.Port()
		if port == "" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
		target, host, resolve = u.String(), "", ip.String()
		if err := checkTLS(ctx, p.TLS, u.Hostname(), net.JoinHostPort(resolve, port)); err != nil {
			return nil, fmt.Errorf("load profile %q: %w", p.Name, err)
		}
	}
	if p.WarmUp > 0 {
		if _, _, err := phase(ctx, p, target, host, resolve, "warm-up", p.WarmUp, 0, progress); err != nil {
			return nil, fmt.Errorf("warming up %q: %w", p.Name, err)
		}
	}
	cpu0, cpuErr := sampleCPU(p.ExtraPIDs)
	res, start, err := phase(ctx, p, target, host, resolve, "load", p.Duration, p.Requests, progress)
	end := time.Now()
	cpu1, cpuErr1 := sampleCPU(p.ExtraPIDs)
	var partial *partialError
	if err != nil && res == nil && !errors.As(err, &partial) {
		return nil, fmt.Errorf("running %q: %w", p.Name, err)
	}
	out := convert(p, res, start, end)
	if partial != nil { // no histogram: only the counts
		out.Requests, out.Errors = partial.requests, partial.errors
		if d := end.Sub(start).Seconds(); d > 0 {
			out.QPS = float64(out.Requests) / d
		}
	}
	out.Environment = Environment{GOMAXPROCS: runtime.GOMAXPROCS(0), Cores: runtime.NumCPU(), OS: runtime.GOOS, GoVersion: runtime.Version()}
	if cpuErr == nil && cpuErr1 == nil {
		cpu1.since(cpu0, &out.Environment)
	}
	if ctx.Err() != nil {
		out.Cancelled = true
		return out, fmt.Errorf("running %q: stopped early: %w", p.Name, ctx.Err())
	}
	return out, err
}

// pinTarget rewrites the URL to the checked loopback IP (so the name cannot resolve elsewhere
// later) and returns the Host header to send for a name.
func pinTarget(raw string, ip net.IP) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("profile.url: %w", err)
	}
	host := ""
	if net.ParseIP(u.Hostname()) == nil {
		host = u.Host
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	u.Host = net.JoinHostPort(ip.String(), port)
	return u.String(), host, nil
}

// counter is a fortio access logger counting completed requests for progress reports.
type counter struct{ requests, errors atomic.Int64 }

func (c *counter) Start(ctx context.Context, _ periodic.ThreadID, _ int64, _ time.Time) context.Context {
	return ctx
}

func (c *counter) Report(_ context.Context, _ periodic.ThreadID, _ int64, _ time.Time, _ float64, ok bool, _ string) {
	c.requests.Add(1)
	if !ok {
		c.errors.Add(1)
	}
}

func (c *counter) Info() string { return "trellis perf progress counter" }

var _ periodic.AccessLogger = (*counter)(nil)

// phase runs fortio once for dur; exactly > 0 sends that many requests instead, stopping at dur.
// resolve (https only) is the loopback IP fortio connects to for the URL's name.
func phase(ctx context.Context, p Profile, target, host, resolve, name string, dur time.Duration, exactly int64, progress func(Progress)) (*fhttp.HTTPRunnerResults, time.Time, error) {
	// fortio stops a timed run itself (the margin is a safety net); a counted run is stopped at
	// the duration bound.
	bound := dur + 10*time.Second
	if exactly > 0 {
		bound = dur
	}
	runCtx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	aborter := periodic.NewAborter()
	cnt := &counter{}
	qps := p.QPS
	if qps == 0 {
		qps = -1 // fortio: no wait between calls
	}
	o := &fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{
			RunType: "trellis perf " + name, Labels: p.Name, QPS: qps, Duration: dur, NumThreads: p.Connections,
			Percentiles: []float64{50, 90, 99, 99.9}, Resolution: Resolution, Out: io.Discard, Stop: aborter,
			Exactly: exactly, AccessLogger: cnt,
		},
		AllowInitialErrors: true,
	}
	o.HTTPOptions.InitHeaders()
	for k := range p.Headers {
		if strings.EqualFold(k, "Host") {
			host = "" // the profile's Host header wins over the URL's name
		}
	}
	if host != "" {
		if err := o.HTTPOptions.AddAndValidateExtraHeader("Host: " + host); err != nil {
			return nil, time.Time{}, fmt.Errorf("host header: %w", err)
		}
	}
	keys := make([]string, 0, len(p.Headers))
	for k := range p.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := o.HTTPOptions.AddAndValidateExtraHeader(k + ": " + p.Headers[k]); err != nil {
			return nil, time.Time{}, fmt.Errorf("profile.headers[%q]: %w", k, err)
		}
	}
	o.HTTPOptions.URL = target
	if p.TLS != nil {
		o.HTTPOptions.TLSOptions = p.TLS.fortioTLS()
		o.HTTPOptions.Resolve = resolve
	}
	o.HTTPOptions.HTTPReqTimeOut = 5 * time.Second
	o.HTTPOptions.Resolution = Resolution
	if p.Body != "" {
		o.HTTPOptions.Payload = []byte(p.Body)
	}
	o.HTTPOptions.MethodOverride = p.Method
	o.URL = target

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		started := time.Now()
		for {
			select {
			case <-done:
				return
			case <-runCtx.Done():
				aborter.Abort(false)
				return
			case <-tick.C:
				if progress != nil {
					progress(Progress{Phase: name, Elapsed: time.Since(started).Round(time.Millisecond), Requests: cnt.requests.Load(), Errors: cnt.errors.Load()})
				}
			}
		}
	}()
	start := time.Now()
	type outcome struct {
		res *fhttp.HTTPRunnerResults
		err error
	}
	finished := make(chan outcome, 1)
	go func() {
		res, err := fhttp.RunHTTPTest(o)
		finished <- outcome{res, err}
	}()
	var out outcome
	select {
	case out = <-finished:
	case <-ctx.Done():
		// Aborting stops new requests at once; requests in flight to a slow target may take up
		// to the request timeout, so only wait a moment for fortio's own result.
		aborter.Abort(false)
		select {
		case out = <-finished:
		case <-time.After(cancelGrace):
			close(done)
			wg.Wait()
			return nil, start, &partialError{requests: cnt.requests.Load(), errors: cnt.errors.Load(), err: ctx.Err()}
		}
	}
	close(done)
	wg.Wait()
	if out.err != nil {
		return nil, start, out.err
	}
	if out.res != nil && !out.res.StartTime.IsZero() {
		start = out.res.StartTime
	}
	return out.res, start, nil
}

// cancelGrace is how long a cancelled run waits for requests in flight before returning.
const cancelGrace = 500 * time.Millisecond

// partialError is a cancelled phase whose requests in flight did not finish within cancelGrace:
// only the counts so far are known.
type partialError struct {
	requests, errors int64
	err              error
}

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// convert turns fortio's results into a Result.
func convert(p Profile, r *fhttp.HTTPRunnerResults, start, end time.Time) *Result {
	out := &Result{Profile: p, Codes: map[string]int64{}, Start: start.UTC(), End: end.UTC()}
	if r == nil {
		return out
	}
	for code, n := range r.RetCodes {
		k := strconv.Itoa(code)
		out.Codes[k] += n
		out.Requests += n
		if code < 200 || code > 299 {
			if out.ErrorCodes == nil {
				out.ErrorCodes = map[string]int64{}
			}
			out.ErrorCodes[k] += n
			out.Errors += n
		}
	}
	if r.ActualDuration > 0 {
		out.End = out.Start.Add(r.ActualDuration)
		out.QPS = float64(out.Requests) / r.ActualDuration.Seconds()
	}
	if h := r.DurationHistogram; h != nil && h.Count > 0 {
		out.Latency = Latency{Min: ms(h.Min), Mean: ms(h.Avg), Max: ms(h.Max)}
		for _, pc := range h.Percentiles {
			switch pc.Percentile {
			case 50:
				out.Latency.P50 = ms(pc.Value)
			case 90:
				out.Latency.P90 = ms(pc.Value)
			case 99:
				out.Latency.P99 = ms(pc.Value)
			case 99.9:
				out.Latency.P999 = ms(pc.Value)
			}
		}
	}
	return out
}

func ms(seconds float64) float64 { return float64(int64(seconds*1e6+0.5)) / 1e3 }

// errNoProc is returned where /proc is unavailable.
var errNoProc = errors.New("cpu accounting needs /proc (Linux)")
