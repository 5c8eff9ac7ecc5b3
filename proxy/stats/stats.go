// Package stats keeps the proxy's lock-free request counters and latency histograms and renders
// them in the Prometheus text exposition format.
package stats

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets are the latency histogram upper bounds in seconds.
var Buckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Series counts requests of one (listener, route, cluster) by status code, with a latency histogram.
type Series struct {
	listener, route, cluster string
	codes                    [600]atomic.Uint64
	buckets                  [15]atomic.Uint64
	sumMicros                atomic.Uint64
	count                    atomic.Uint64
}

// Observe records one request with status code and duration.
func (s *Series) Observe(code int, d time.Duration) {
	if s == nil {
		return
	}
	if code < 0 || code >= 600 {
		code = 0
	}
	s.codes[code].Add(1)
	sec := d.Seconds()
	i := 0
	for i < len(Buckets) && sec > Buckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumMicros.Add(uint64(d.Microseconds()))
	s.count.Add(1)
}

// Counter is a named global counter.
type Counter struct {
	name, help string
	v          atomic.Uint64
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current value.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Registry holds every series and counter of one proxy.
type Registry struct {
	mu       sync.Mutex
	series   map[[3]string]*Series
	counters map[string]*Counter
	gauges   []func(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{series: map[[3]string]*Series{}, counters: map[string]*Counter{}}
}

// Series returns the (persistent) series for a listener, route and cluster.
func (r *Registry) Series(listener, route, cluster string) *Series {
	k := [3]string{listener, route, cluster}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.series[k]
	if s == nil {
		s = &Series{listener: listener, route: route, cluster: cluster}
		r.series[k] = s
	}
	return s
}

// Counter returns the (persistent) counter name with labels (a Prometheus label string like
// `listener="inbound"`, may be empty).
func (r *Registry) Counter(name, labels, help string) *Counter {
	key := name + "{" + labels + "}"
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counters[key]
	if c == nil {
		c = &Counter{name: key, help: name + "|" + help}
		r.counters[key] = c
	}
	return c
}

// AddCollector registers a function that writes extra metric lines (gauges) at render time.
func (r *Registry) AddCollector(f func(w io.Writer)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges = append(r.gauges, f)
}

// Label quotes a Prometheus label value.
func Label(v string) string { return strconv.Quote(v) }

// WritePrometheus renders every metric.
func (r *Registry) WritePrometheus(w io.Writer) {
	r.mu.Lock()
	series := make([]*Series, 0, len(r.series))
	for _, s := range r.series {
		series = append(series, s)
	}
	counters := make([]*Counter, 0, len(r.counters))
	for _, c := range r.counters {
		counters = append(counters, c)
	}
	gauges := append([]func(io.Writer){}, r.gauges...)
	r.mu.Unlock()
	sort.Slice(series, func(i, j int) bool {
		a, b := series[i], series[j]
		return a.listener+"\x00"+a.route+"\x00"+a.cluster < b.listener+"\x00"+b.route+"\x00"+b.cluster
	})
	fmt.Fprintln(w, "# HELP trellis_proxy_requests_total Requests by listener, route, upstream cluster and response code.")
	fmt.Fprintln(w, "# TYPE trellis_proxy_requests_total counter")
	for _, s := range series {
		lbl := fmt.Sprintf("listener=%s,route=%s,cluster=%s", Label(s.listener), Label(s.route), Label(s.cluster))
		for code := range s.codes {
			if v := s.codes[code].Load(); v > 0 {
				fmt.Fprintf(w, "trellis_proxy_requests_total{%s,code=\"%d\"} %d\n", lbl, code, v)
			}
		}
	}
	fmt.Fprintln(w, "# HELP trellis_proxy_request_duration_seconds Request latency as seen by the proxy.")
	fmt.Fprintln(w, "# TYPE trellis_proxy_request_duration_seconds histogram")
	for _, s := range series {
		if s.count.Load() == 0 {
			continue
		}
		lbl := fmt.Sprintf("listener=%s,route=%s,cluster=%s", Label(s.listener), Label(s.route), Label(s.cluster))
		var cum uint64
		for i, ub := range Buckets {
			cum += s.buckets[i].Load()
			fmt.Fprintf(w, "trellis_proxy_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", lbl, ub, cum)
		}
		cum += s.buckets[len(Buckets)].Load()
		fmt.Fprintf(w, "trellis_proxy_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl, cum)
		fmt.Fprintf(w, "trellis_proxy_request_duration_seconds_sum{%s} %g\n", lbl, float64(s.sumMicros.Load())/1e6)
		fmt.Fprintf(w, "trellis_proxy_request_duration_seconds_count{%s} %d\n", lbl, s.count.Load())
	}
	sort.Slice(counters, func(i, j int) bool { return counters[i].name < counters[j].name })
	lastName := ""
	for _, c := range counters {
		name, help, _ := strings.Cut(c.help, "|")
		if name != lastName {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
			lastName = name
		}
		n := strings.TrimSuffix(c.name, "{}")
		fmt.Fprintf(w, "%s %d\n", n, c.v.Load())
	}
	for _, g := range gauges {
		g(w)
	}
}
