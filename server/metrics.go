package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// metrics holds the server's Prometheus collectors (one registry per server, so tests can run
// several servers in one process).
type metrics struct {
	registry   *prometheus.Registry
	httpDur    *prometheus.HistogramVec
	operations *prometheus.CounterVec
	opDur      *prometheus.HistogramVec
	errors     *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "trellis", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request durations by route, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trellis", Subsystem: "graphql", Name: "operations_total",
			Help: "GraphQL operations (subscription events count once each) by operation name, type and outcome (ok or error).",
		}, []string{"operation", "type", "outcome"}),
		opDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "trellis", Subsystem: "graphql", Name: "operation_duration_seconds",
			Help:    "GraphQL query and mutation durations by operation name.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trellis", Subsystem: "graphql", Name: "errors_total",
			Help: "GraphQL errors by extensions.code.",
		}, []string{"code"}),
	}
	m.registry.MustRegister(m.httpDur, m.operations, m.opDur, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the metrics in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (websocket hijacking, flush).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument records the duration of every request under route.
func (m *metrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusSwitchingProtocols
		}
		m.httpDur.WithLabelValues(route, r.Method, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}

// graphqlMetrics is a gqlgen extension counting operations by name and outcome and errors by
// code.
type graphqlMetrics struct{ m *metrics }

var (
	_ graphql.HandlerExtension    = graphqlMetrics{}
	_ graphql.ResponseInterceptor = graphqlMetrics{}
)

func (graphqlMetrics) ExtensionName() string                   { return "Metrics" }
func (graphqlMetrics) Validate(graphql.ExecutableSchema) error { return nil }

func (g graphqlMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	if resp == nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	name, kind := oc.OperationName, "unknown"
	if oc.Operation != nil {
		kind = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	if name == "" {
		name = "anonymous"
	}
	outcome := "ok"
	if len(resp.Errors) > 0 {
		outcome = "error"
	}
	g.m.operations.WithLabelValues(name, kind, outcome).Inc()
	if kind != string(ast.Subscription) {
		g.m.opDur.WithLabelValues(name, kind).Observe(time.Since(start).Seconds())
	}
	g.m.countErrors(resp.Errors)
	return resp
}

// countErrors counts errors by their extensions.code ("UNKNOWN" when absent).
func (m *metrics) countErrors(errs gqlerror.List) {
	for _, e := range errs {
		code := "UNKNOWN"
		var ge *gqlerror.Error
		if errors.As(e, &ge) && ge.Extensions != nil {
			if c, ok := ge.Extensions["code"].(string); ok {
				code = c
			}
		}
		m.errors.WithLabelValues(code).Inc()
	}
}
