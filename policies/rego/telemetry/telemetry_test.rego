package trellis.rules.telemetry_test

import data.trellis.rules

paths(findings) := {f.path | some f in findings}

d(tel) := {"spec": {"services": [{"name": "a"}], "telemetry": tel}}

test_obs001_fires if {
	paths(rules.obs001.findings) == {"spec.telemetry.tracing.endpoint"} with input as d({"tracing": {"provider": "otlp"}})
}

test_obs001_ok if {
	count(rules.obs001.findings) == 0 with input as d({"tracing": {"endpoint": "otel:4317"}})
}

test_obs002_fires if {
	paths(rules.obs002.findings) == {"spec.telemetry.metrics.enabled"} with input as d({"metrics": {"enabled": false}})
}

test_obs002_ok if {
	count(rules.obs002.findings) == 0 with input as d({"metrics": {"enabled": true}})
	count(rules.obs002.findings) == 0 with input as d({})
}

test_obs003_fires if {
	paths(rules.obs003.findings) == {"spec.telemetry.tracing.samplingPercent", "spec.telemetry.accessLogs"} with input as d({"tracing": {"endpoint": "o:1", "samplingPercent": 100}})
}

test_obs003_ok if {
	count(rules.obs003.findings) == 0 with input as d({"tracing": {"endpoint": "o:1", "samplingPercent": 1}, "accessLogs": {"enabled": true}})
}

test_obs004_fires if {
	paths(rules.obs004.findings) == {"spec.telemetry.accessLogs.format"} with input as d({"accessLogs": {"enabled": true, "format": "text"}})
}

test_obs004_ok if {
	count(rules.obs004.findings) == 0 with input as d({"accessLogs": {"enabled": true, "format": "json"}})
}
