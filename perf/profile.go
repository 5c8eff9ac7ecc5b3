// Package perf benchmarks HTTP services and meshes side by side: a load Profile is run with the
// fortio library against a loopback target (Run), results are stored as JSON and compared as
// ratios to a baseline (Compare), and RunMesh measures the same profile directly, through one
// bundled proxy and sidecar to sidecar through the bundled mesh serving a design.
package perf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	// MaxDuration caps a run's duration (load phase plus warm-up).
	MaxDuration = 5 * time.Minute
	// MaxRequests caps a run's request count (Profile.Requests).
	MaxRequests = 10_000_000
	// MaxConnections caps a run's concurrent connections.
	MaxConnections = 1024
	// MaxQPS caps a run's target rate.
	MaxQPS = 1_000_000
	// Resolution is the latency histogram's bucket resolution in seconds (0.1 ms): fortio's
	// default 1 ms makes sub-millisecond percentiles meaningless.
	Resolution = 0.0001
)

// Profile is one load profile: what to call, how hard and for how long.
type Profile struct {
	// Name labels the run in comparisons (for example "direct" or "sidecar-to-sidecar").
	Name string `json:"name"`
	// URL is the target; its host must resolve to loopback (127.0.0.0/8 or ::1).
	URL string `json:"url"`
	// Method is the HTTP method (default GET, or POST with a body).
	Method string `json:"method,omitempty"`
	// Headers are sent with every request; "Host" overrides the Host header.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent with every request.
	Body string `json:"body,omitempty"`
	// QPS is the target rate across all connections; 0 means as fast as possible.
	QPS float64 `json:"qps"`
	// Connections is the number of concurrent connections (default 16).
	Connections int `json:"connections"`
	// Duration is the measured load phase (default 10s). With Requests it only bounds the run
	// (default MaxDuration minus the warm-up).
	Duration time.Duration `json:"duration"`
	// WarmUp is an unmeasured load phase at the same rate before the measured one (default 0).
	WarmUp time.Duration `json:"warmUp,omitempty"`
	// Requests, when positive, makes the run send exactly this many measured requests.
	Requests int64 `json:"requests,omitempty"`
	// ExtraPIDs are processes (upstream, proxies) whose CPU time counts as the benchmark's own
	// rather than other tenants' when measuring machine noise.
	ExtraPIDs []int `json:"extraPIDs,omitempty"`
	// TLS configures HTTPS to the target: required for an https URL, refused for http.
	TLS *TLS `json:"tls,omitempty"`
}

// withDefaults returns the profile with documented defaults filled in.
func (p Profile) withDefaults() Profile {
	if p.Connections == 0 {
		p.Connections = 16
	}
	if p.Duration == 0 {
		p.Duration = 10 * time.Second
		if p.Requests > 0 {
			p.Duration = MaxDuration - p.WarmUp
		}
	}
	if p.Method == "" {
		p.Method = http.MethodGet
		if p.Body != "" {
			p.Method = http.MethodPost
		}
	}
	if p.Name == "" {
		p.Name = "run"
	}
	return p
}

// Validate checks the profile's bounds (not the target's address); see CheckLoopback.
func (p Profile) Validate() error {
	var errs []error
	if p.QPS < 0 || p.QPS > MaxQPS {
		errs = append(errs, fmt.Errorf("profile.qps: %g is out of range; expected 0 (as fast as possible) to %d", p.QPS, MaxQPS))
	}
	if p.Connections < 0 || p.Connections > MaxConnections {
		errs = append(errs, fmt.Errorf("profile.connections: %d is out of range; expected 1 to %d", p.Connections, MaxConnections))
	}
	if p.Duration < 0 || p.WarmUp < 0 {
		errs = append(errs, fmt.Errorf("profile.duration: negative durations are not allowed (duration %s, warm-up %s)", p.Duration, p.WarmUp))
	}
	if p.Duration+p.WarmUp > MaxDuration {
		errs = append(errs, fmt.Errorf("profile.duration: duration %s plus warm-up %s exceeds the %s cap; hint: shorten the run or repeat it", p.Duration, p.WarmUp, MaxDuration))
	}
	if p.Requests < 0 || p.Requests > MaxRequests {
		errs = append(errs, fmt.Errorf("profile.requests: %d is out of range; expected 0 (use the duration) to %d", p.Requests, MaxRequests))
	}
	if p.Requests > 0 && p.Connections > 0 && p.Requests < int64(p.Connections) {
		errs = append(errs, fmt.Errorf("profile.requests: %d is fewer than the %d connections; expected at least one request per connection", p.Requests, p.Connections))
	}
	u, err := url.Parse(p.URL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("profile.url: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("profile.url: scheme %q is not supported; expected a URL such as http://127.0.0.1:8080/path or https://…", u.Scheme))
	case u.Hostname() == "":
		errs = append(errs, fmt.Errorf("profile.url: %q has no host; expected a URL such as http://127.0.0.1:8080/path", p.URL))
	case u.Scheme == "https" && p.TLS == nil:
		errs = append(errs, fmt.Errorf("profile.tls: required for the https URL %q; expected at least caFile (or insecure: true)", p.URL))
	case u.Scheme == "http" && p.TLS != nil:
		errs = append(errs, fmt.Errorf("profile.tls: set for the plaintext URL %q; hint: use an https:// URL or drop the TLS settings", p.URL))
	}
	if p.TLS != nil {
		errs = append(errs, p.TLS.validate())
	}
	for k := range p.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			errs = append(errs, fmt.Errorf("profile.headers: invalid header name %q", k))
		}
	}
	return errors.Join(errs...)
}

// ErrNotLoopback is returned (wrapped) for targets that do not resolve to loopback addresses.
var ErrNotLoopback = errors.New("target is not a loopback address")

// CheckLoopback resolves the profile's target host and returns the loopback IP to connect to;
// it refuses any host with a non-loopback address, so load is never sent off the machine.
func CheckLoopback(ctx context.Context, rawURL string) (net.IP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("profile.url: %w", err)
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("profile.url: resolving %q: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("profile.url: %q resolves to no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("profile.url: host %q (%s): %w; expected 127.0.0.0/8 or ::1 (load tests only run against this machine)", host, ip, ErrNotLoopback)
		}
	}
	return ips[0], nil
}
