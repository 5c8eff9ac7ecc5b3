package consul

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// PrometheusBindAddr is the address Envoy serves Prometheus metrics on when metrics are enabled.
const PrometheusBindAddr = "0.0.0.0:20200"

// envoyTextFormat is Envoy's default access-log line, used for the "text" format.
const envoyTextFormat = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" " +
	"%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% " +
	"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" " +
	"\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n"

func (t *translator) translateTelemetry() {
	tel := t.d.Spec.Telemetry
	if tel == nil {
		return
	}
	config := map[string]any{}
	if m := tel.Metrics; m != nil {
		if m.IsEnabled() {
			config["envoy_prometheus_bind_addr"] = PrometheusBindAddr
		} else {
			t.warn("spec.telemetry.metrics.enabled", adapters.FeatureMetrics, adapters.SeverityInfo,
				"Consul has no switch to turn Envoy statistics off: no Prometheus listener is configured, Envoy's admin stats remain")
		}
		if m.Provider != "" && m.Provider != "prometheus" {
			t.warn("spec.telemetry.metrics.provider", adapters.FeatureMetrics, adapters.SeverityWarning,
				"Consul exposes Envoy metrics in Prometheus format only; provider %q is not configured", m.Provider)
		}
	}
	if tr := tel.Tracing; tr != nil {
		t.tracing(tr, config)
	}
	pd := t.get(KindProxyDefaults, "global", t.ns)
	if len(config) > 0 {
		pd.spec["config"] = config
	}
	if al := tel.AccessLogs; al != nil && al.Enabled {
		logs := map[string]any{"enabled": true}
		if al.Format == spec.AccessLogText {
			logs["textFormat"] = envoyTextFormat
		}
		pd.spec["accessLogs"] = logs
	}
}

// tracing fills ProxyDefaults config with the raw Envoy JSON Consul accepts for tracing: the
// provider (envoy_tracing_json), the collector cluster (envoy_extra_static_clusters_json) and
// the listeners' tracing with the sampling rate (envoy_listener_tracing_json).
func (t *translator) tracing(tr *spec.Tracing, config map[string]any) {
	host, portStr, err := net.SplitHostPort(tr.Endpoint)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || host == "" {
		t.warn("spec.telemetry.tracing.endpoint", adapters.FeatureTracing, adapters.SeverityWarning,
			"endpoint %q is not host:port; tracing is not configured", tr.Endpoint)
		return
	}
	provider := tr.Provider
	if provider == "" {
		provider = spec.TracingOTLP
	}
	var http map[string]any
	cluster := map[string]any{
		"connect_timeout":   "5s",
		"type":              "STRICT_DNS",
		"dns_lookup_family": "V4_ONLY",
		"lb_policy":         "ROUND_ROBIN",
	}
	var name string
	switch provider {
	case spec.TracingZipkin:
		name = "trellis_zipkin"
		http = map[string]any{"name": "envoy.tracers.zipkin", "typed_config": map[string]any{
			"@type":                      "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
			"collector_cluster":          name,
			"collector_endpoint":         "/api/v2/spans",
			"collector_endpoint_version": "HTTP_JSON",
			"shared_span_context":        false,
		}}
	default:
		name = "trellis_otlp"
		http = map[string]any{"name": "envoy.tracers.opentelemetry", "typed_config": map[string]any{
			"@type":        "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
			"grpc_service": map[string]any{"envoy_grpc": map[string]any{"cluster_name": name}},
		}}
		cluster["typed_extension_protocol_options"] = map[string]any{
			"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": map[string]any{
				"@type":                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
				"explicit_http_config": map[string]any{"http2_protocol_options": map[string]any{}},
			},
		}
	}
	cluster["name"] = name
	cluster["load_assignment"] = map[string]any{
		"cluster_name": name,
		"endpoints": []any{map[string]any{"lb_endpoints": []any{map[string]any{"endpoint": map[string]any{
			"address": map[string]any{"socket_address": map[string]any{"address": host, "port_value": port}},
		}}}}},
	}
	sampling := 1.0
	if tr.SamplingPercent != nil {
		sampling = *tr.SamplingPercent
	}
	listener := map[string]any{
		"@type":           "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Tracing",
		"provider":        http,
		"random_sampling": map[string]any{"value": sampling},
	}
	config["envoy_tracing_json"] = mustJSON(map[string]any{"http": http})
	config["envoy_extra_static_clusters_json"] = mustJSON(cluster)
	config["envoy_listener_tracing_json"] = mustJSON(listener)
	t.warn("spec.telemetry.tracing", adapters.FeatureTracing, adapters.SeverityInfo,
		"Consul takes tracing as raw Envoy JSON in proxy-defaults config; Envoy sidecars must be restarted to pick up bootstrap changes")
}

// mustJSON marshals values built from maps of strings, numbers and bools, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", err.Error())
	}
	return string(b)
}

// translateExtensions attaches WebAssembly extensions to the services' ServiceDefaults as
// builtin/wasm Envoy extensions.
func (t *translator) translateExtensions() {
	type attached struct {
		ext  spec.Extension
		path string
	}
	perService := map[string][]attached{}
	for i, ext := range t.d.Spec.Extensions {
		path := fmt.Sprintf("spec.extensions[%d]", i)
		if strings.HasPrefix(ext.Source, "oci://") {
			t.warn(path+".source", adapters.FeatureWasm, adapters.SeverityWarning,
				"Consul's builtin/wasm extension loads modules from a local file or an HTTP upstream, not OCI images; extension %q is not configured", ext.Name)
			continue
		}
		if ext.Phase != "" && ext.Phase != spec.PhaseUnspecified {
			t.warn(path+".phase", adapters.FeatureWasm, adapters.SeverityInfo,
				"Consul inserts Wasm filters before the router in list order; phase %q is not honoured (order follows priority)", ext.Phase)
		}
		services := ext.Services
		if len(services) == 0 {
			for _, s := range t.d.Spec.Services {
				services = append(services, s.Name)
			}
		}
		for _, s := range services {
			if _, ok := t.services[s]; !ok {
				t.warn(path+".services", adapters.FeatureWasm, adapters.SeverityWarning, "unknown service %q; not attached", s)
				continue
			}
			perService[s] = append(perService[s], attached{ext: ext, path: path})
		}
	}
	for _, svc := range sortedKeys(perService) {
		list := perService[svc]
		sort.SliceStable(list, func(i, j int) bool {
			if list[i].ext.Priority != list[j].ext.Priority {
				return list[i].ext.Priority > list[j].ext.Priority
			}
			return list[i].ext.Name < list[j].ext.Name
		})
		var exts []any
		for _, a := range list {
			if e := t.wasmExtension(a.path, svc, a.ext); e != nil {
				exts = append(exts, e)
			}
		}
		if len(exts) > 0 {
			t.serviceDefaults(svc).spec["envoyExtensions"] = exts
		}
	}
}

func (t *translator) wasmExtension(path, svc string, ext spec.Extension) map[string]any {
	code := map[string]any{}
	switch {
	case strings.HasPrefix(ext.Source, "file://"):
		code["Local"] = map[string]any{"Filename": strings.TrimPrefix(ext.Source, "file://")}
	default:
		u, err := url.Parse(ext.Source)
		if err != nil || u.Host == "" {
			t.warn(path+".source", adapters.FeatureWasm, adapters.SeverityWarning,
				"source %q is not a URL Consul can fetch; extension %q is not configured", ext.Source, ext.Name)
			return nil
		}
		upstream := strings.ReplaceAll(u.Hostname(), ".", "-")
		code["Remote"] = map[string]any{
			"HttpURI": map[string]any{"Service": map[string]any{"Name": upstream}, "URI": ext.Source},
			"SHA256":  ext.SHA256,
		}
		t.warn(path+".source", adapters.FeatureWasm, adapters.SeverityInfo,
			"Consul fetches remote Wasm modules through an upstream: %s needs an upstream (or destination) service named %q serving %s", svc, upstream, u.Host)
	}
	plugin := map[string]any{
		"Name":   ext.Name,
		"RootID": ext.Name,
		"VmConfig": map[string]any{
			"Runtime": "v8",
			"Code":    code,
		},
	}
	if len(ext.Config) > 0 {
		plugin["Configuration"] = mustJSON(ext.Config)
	}
	proto := "http"
	if !t.protocol(svc).IsL7() {
		proto = "tcp"
	}
	return map[string]any{
		"name":     "builtin/wasm",
		"required": ext.FailurePolicy != spec.FailOpen,
		"arguments": map[string]any{
			"Protocol":     proto,
			"ListenerType": "inbound",
			"ProxyType":    "connect-proxy",
			"PluginConfig": plugin,
		},
	}
}
