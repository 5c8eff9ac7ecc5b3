# METADATA
# title: Tracing without a collector
# description: >-
#   A tracing block without an endpoint has nowhere to send spans; meshes either reject it or
#   trace into the void.
# custom:
#   id: OBS-001
#   severity: warning
#   category: telemetry
#   remedy: Set spec.telemetry.tracing.endpoint to the collector's host:port, or remove the tracing block.
#   anchors: [IST0157]
package trellis.rules.obs001

findings contains f if {
	t := input.spec.telemetry.tracing
	object.get(t, "endpoint", "") == ""
	f := {"msg": "tracing is configured without a collector endpoint", "path": "spec.telemetry.tracing.endpoint"}
}
