# METADATA
# title: Metrics disabled
# description: >-
#   Without proxy metrics there are no golden signals (rate, errors, latency) for the services,
#   and canary analysis and alerting go blind.
# custom:
#   id: OBS-002
#   severity: warning
#   category: telemetry
#   remedy: Remove spec.telemetry.metrics.enabled or set it to true.
#   anchors: [Istio Telemetry best practice, linkerd check viz]
package trellis.rules.obs002

findings contains f if {
	input.spec.telemetry.metrics.enabled == false
	f := {"msg": "proxy metrics are disabled", "path": "spec.telemetry.metrics.enabled"}
}
