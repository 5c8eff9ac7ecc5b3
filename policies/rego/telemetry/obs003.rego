# METADATA
# title: Extreme trace sampling or no access logs
# description: >-
#   Sampling 100% of traces costs a lot at production volume, 0% records nothing unless callers
#   force sampling; without access logs there is no audit trail of requests.
# custom:
#   id: OBS-003
#   severity: info
#   category: telemetry
#   remedy: Sample between 0.1% and 10% in production and enable access logs.
#   anchors: [Istio tracing sampling best practice]
package trellis.rules.obs003

findings contains f if {
	p := input.spec.telemetry.tracing.samplingPercent
	p in {0, 100}
	f := {"msg": sprintf("tracing samples %v%% of requests", [p]), "path": "spec.telemetry.tracing.samplingPercent"}
}

findings contains f if {
	count(input.spec.services) > 0
	not input.spec.telemetry.accessLogs.enabled
	f := {"msg": "access logs are off", "path": "spec.telemetry.accessLogs"}
}
