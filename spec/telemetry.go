package spec

// Telemetry configures metrics, tracing and access logs for the design's services.
type Telemetry struct {
	// Metrics configures proxy metrics. Default nil: the mesh's defaults (metrics on).
	Metrics *Metrics `json:"metrics,omitempty"`
	// Tracing configures distributed tracing. Default nil: no tracing configured by Trellis.
	Tracing *Tracing `json:"tracing,omitempty"`
	// AccessLogs configures per-request logs. Default nil: the mesh's defaults.
	AccessLogs *AccessLogs `json:"accessLogs,omitempty"`
}

// Metrics configures proxy metrics.
type Metrics struct {
	// Enabled turns metrics on or off. Default true (nil means true).
	Enabled *bool `json:"enabled,omitempty"`
	// Provider is the metrics backend: "prometheus". Default "prometheus".
	Provider string `json:"provider,omitempty"`
}

// IsEnabled reports whether metrics are on (nil Enabled means on).
func (m *Metrics) IsEnabled() bool { return m == nil || m.Enabled == nil || *m.Enabled }

// TracingProvider names a tracing backend protocol.
type TracingProvider string

// The tracing providers.
const (
	// TracingOTLP exports spans with OpenTelemetry's OTLP over gRPC.
	TracingOTLP TracingProvider = "otlp"
	// TracingZipkin exports spans in Zipkin's format.
	TracingZipkin TracingProvider = "zipkin"
)

// Tracing configures distributed tracing.
type Tracing struct {
	// Provider is "otlp" or "zipkin". Default "otlp".
	Provider TracingProvider `json:"provider,omitempty"`
	// Endpoint is the collector's "host:port". Required.
	Endpoint string `json:"endpoint"`
	// SamplingPercent is the share of traces sampled, [0-100]. Default 1. Zero samples nothing
	// unless a caller's trace context says sampled.
	SamplingPercent *float64 `json:"samplingPercent,omitempty"`
}

// AccessLogFormat is the format of access-log lines.
type AccessLogFormat string

// The access-log formats.
const (
	// AccessLogText is the mesh's default single-line text format.
	AccessLogText AccessLogFormat = "text"
	// AccessLogJSON is one JSON object per request.
	AccessLogJSON AccessLogFormat = "json"
)

// AccessLogs configures per-request access logs.
type AccessLogs struct {
	// Enabled turns access logs on. Default false.
	Enabled bool `json:"enabled"`
	// Format is "text" or "json". Default "json".
	Format AccessLogFormat `json:"format,omitempty"`
}
