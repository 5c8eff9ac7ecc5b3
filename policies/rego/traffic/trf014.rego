# METADATA
# title: Risky retry settings
# description: >-
#   More than 5 retries multiply load on a failing service (retry storms), unknown retry
#   conditions are ignored or rejected by meshes, and retries without a per-try timeout let one
#   slow try consume the whole request deadline.
# custom:
#   id: TRF-014
#   severity: warning
#   category: traffic
#   remedy: Keep attempts at 5 or fewer, use conditions from the documented list or 3-digit status codes, and set perTryTimeout.
#   anchors: [Consul service-router RetryOn, Istio retries best practice]
package trellis.rules.trf014

import data.trellis.lib

conditions := {"5xx", "gateway-error", "reset", "connect-failure", "refused-stream", "retriable-4xx", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	r.retries.attempts > 5
	f := {"msg": sprintf("route %q of %q retries %d times (more than 5)", [lib.route_name(r, j), t.service, r.retries.attempts]), "path": sprintf("spec.traffic[%d].routes[%d].retries.attempts", [i, j])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some k, c in r.retries.on
	not conditions[c]
	not regex.match(`^[1-5][0-9][0-9]$`, c)
	f := {"msg": sprintf("route %q of %q: unknown retry condition %q", [lib.route_name(r, j), t.service, c]), "path": sprintf("spec.traffic[%d].routes[%d].retries.on[%d]", [i, j, k])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	r.retries.attempts > 0
	not r.retries.perTryTimeout
	f := {"msg": sprintf("route %q of %q retries without a per-try timeout", [lib.route_name(r, j), t.service]), "path": sprintf("spec.traffic[%d].routes[%d].retries.perTryTimeout", [i, j])}
}
