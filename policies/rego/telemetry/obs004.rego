# METADATA
# title: Access logs in text format
# description: >-
#   Text access logs are hard to parse reliably; JSON lines keep every field queryable in log
#   pipelines.
# custom:
#   id: OBS-004
#   severity: info
#   category: telemetry
#   remedy: Set spec.telemetry.accessLogs.format to json.
#   anchors: [Istio accessLogEncoding JSON]
package trellis.rules.obs004

findings contains f if {
	input.spec.telemetry.accessLogs.enabled == true
	input.spec.telemetry.accessLogs.format == "text"
	f := {"msg": "access logs are written as text", "path": "spec.telemetry.accessLogs.format"}
}
