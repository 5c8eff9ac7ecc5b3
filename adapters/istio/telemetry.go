package istio

import (
	"fmt"
	"strconv"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// telemetry emits one namespace-wide Telemetry per service namespace.
func (t *translator) telemetry() {
	tel := t.d.Spec.Telemetry
	if tel == nil {
		return
	}
	s := obj{}
	if tr := tel.Tracing; tr != nil {
		entry := obj{"providers": []any{obj{"name": string(tr.Provider)}}}
		if tr.SamplingPercent != nil {
			entry["randomSamplingPercentage"] = *tr.SamplingPercent
		}
		s["tracing"] = []any{entry}
		t.warn("spec.telemetry.tracing.endpoint", adapters.FeatureTracing,
			fmt.Sprintf("Istio's Telemetry names the provider only: the collector endpoint %q must be configured in meshConfig.extensionProviders as a provider named %q", tr.Endpoint, tr.Provider), adapters.SeverityWarning)
	}
	if al := tel.AccessLogs; al != nil {
		if al.Enabled {
			s["accessLogging"] = []any{obj{"providers": []any{obj{"name": "envoy"}}}}
			if al.Format == spec.AccessLogJSON {
				t.warn("spec.telemetry.accessLogs.format", adapters.FeatureAccessLogs,
					"Telemetry cannot choose the log format: JSON needs meshConfig.accessLogEncoding: JSON for the built-in envoy provider", adapters.SeverityWarning)
			}
		} else {
			s["accessLogging"] = []any{obj{"disabled": true}}
		}
	}
	if m := tel.Metrics; m != nil {
		entry := obj{"providers": []any{obj{"name": "prometheus"}}}
		if !m.IsEnabled() {
			entry["overrides"] = []any{obj{"match": obj{"metric": "ALL_METRICS"}, "disabled": true}}
		}
		s["metrics"] = []any{entry}
		if m.Provider != "" && m.Provider != "prometheus" {
			t.warn("spec.telemetry.metrics.provider", adapters.FeatureMetrics,
				"Istio's built-in metrics provider is prometheus; provider "+strconv.Quote(m.Provider)+" must be defined in meshConfig.extensionProviders", adapters.SeverityWarning)
		}
	}
	if len(s) == 0 {
		return
	}
	for _, ns := range t.serviceNamespaces() {
		t.add(TelemetryV1, "Telemetry", ns, t.d.Metadata.Name, deepCopy(s).(obj))
	}
}

var wasmPhases = map[spec.ExtensionPhase]string{
	spec.PhaseAuthn: "AUTHN", spec.PhaseAuthz: "AUTHZ", spec.PhaseStats: "STATS",
}

// extensions emits WasmPlugins: one per listed service, or one namespace-wide per namespace.
func (t *translator) extensions() {
	for i := range t.d.Spec.Extensions {
		e := &t.d.Spec.Extensions[i]
		path := fmt.Sprintf("spec.extensions[%d]", i)
		s := obj{"url": e.Source, "sha256": e.SHA256}
		if p, ok := wasmPhases[e.Phase]; ok {
			s["phase"] = p
		}
		if e.Priority != 0 {
			s["priority"] = int64(e.Priority)
		}
		if len(e.Config) > 0 {
			cfg, err := adapters.Normalize(e.Config)
			if err != nil {
				t.warn(path+".config", adapters.FeatureWasm, "configuration cannot be encoded: "+err.Error(), adapters.SeverityError)
			} else {
				s["pluginConfig"] = cfg
			}
		}
		if e.FailurePolicy == spec.FailOpen {
			s["failStrategy"] = "FAIL_OPEN"
		} else {
			s["failStrategy"] = "FAIL_CLOSE"
		}
		if len(e.Services) == 0 {
			for _, ns := range t.serviceNamespaces() {
				t.add(ExtensionsV1alpha1, "WasmPlugin", ns, e.Name, deepCopy(s).(obj))
			}
			continue
		}
		for si, name := range e.Services {
			svc, ok := t.services[name]
			if !ok {
				t.warn(fmt.Sprintf("%s.services[%d]", path, si), adapters.FeatureWasm,
					"no service "+strconv.Quote(name)+" in the design: extension not attached to it", adapters.SeverityWarning)
				continue
			}
			objName := e.Name
			if len(e.Services) > 1 {
				objName = e.Name + "-" + name
			}
			ws := deepCopy(s).(obj)
			ws["selector"] = t.selector(name)
			t.add(ExtensionsV1alpha1, "WasmPlugin", svc.Namespace, objName, ws)
		}
	}
}

// rateLimits emits an EnvoyFilter inserting Envoy's local rate limit filter on the inbound
// listener of every service with a rate limit.
func (t *translator) rateLimits() {
	for ti := range t.d.Spec.Traffic {
		tp := &t.d.Spec.Traffic[ti]
		if tp.Resilience == nil || tp.Resilience.RateLimit == nil {
			continue
		}
		rl := tp.Resilience.RateLimit
		path := fmt.Sprintf("spec.traffic[%d].resilience.rateLimit", ti)
		svc, ok := t.services[tp.Service]
		if !ok {
			t.warn(path, adapters.FeatureRateLimit, "a local rate limit is enforced by the receiving workload's proxy: external services have none", adapters.SeverityWarning)
			continue
		}
		t.warn(path, adapters.FeatureRateLimit,
			"Istio has no rate-limit API: an EnvoyFilter (escape hatch tied to Envoy internals, unsupported by Istio's compatibility guarantees) inserts envoy.filters.http.local_ratelimit", adapters.SeverityWarning)
		burst, perFill, fill, exact := rl.TokenBucket()
		if !exact {
			t.warn(path+".burst", adapters.FeatureRateLimit, lossyBucket(rl, burst, perFill, fill), adapters.SeverityWarning)
		}
		full := obj{"default_value": obj{"numerator": int64(100), "denominator": "HUNDRED"}}
		t.add(NetworkingV1alpha3, "EnvoyFilter", svc.Namespace, svc.Name+"-local-ratelimit", obj{
			"workloadSelector": obj{"labels": stringMap(svc.SelectorLabels())},
			"configPatches": []any{obj{
				"applyTo": "HTTP_FILTER",
				"match": obj{
					"context":  "SIDECAR_INBOUND",
					"listener": obj{"filterChain": obj{"filter": obj{"name": "envoy.filters.network.http_connection_manager"}}},
				},
				"patch": obj{
					"operation": "INSERT_BEFORE",
					"value": obj{
						"name": "envoy.filters.http.local_ratelimit",
						"typed_config": obj{
							"@type":       "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
							"stat_prefix": "http_local_rate_limiter",
							"token_bucket": obj{
								"max_tokens":      int64(burst),
								"tokens_per_fill": int64(perFill),
								"fill_interval":   protoDuration(fill),
							},
							"filter_enabled":  deepCopy(full),
							"filter_enforced": deepCopy(full),
						},
					},
				},
			}},
		})
	}
}

// protoDuration formats a whole-millisecond duration as protobuf JSON does ("1s", "0.050s",
// "17.143s"), the form EnvoyFilter typed configs are parsed with.
func protoDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms%1000 == 0 {
		return fmt.Sprintf("%ds", ms/1000)
	}
	return fmt.Sprintf("%d.%03ds", ms/1000, ms%1000)
}

// lossyBucket says how a rate limit whose burst cannot carry its rate exactly is enforced.
func lossyBucket(rl *spec.RateLimit, burst, perFill int32, fill time.Duration) string {
	unit := "second"
	if rl.Interval() == time.Minute {
		unit = "minute"
	}
	return fmt.Sprintf("Envoy adds at most the burst (%d tokens) per refill and refills at most every 50ms: no token bucket carries %d per %s exactly, enforced as %d every %s (%.6g per %s), a stricter limit",
		burst, rl.Count(), unit, perFill, protoDuration(fill), float64(perFill)*float64(rl.Interval())/float64(fill), unit)
}
