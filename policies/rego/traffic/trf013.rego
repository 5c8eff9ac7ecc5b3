# METADATA
# title: Per-try timeout longer than the request timeout
# description: >-
#   The request timeout includes every retry, so a per-try timeout at least as long leaves no
#   time for a retry; a backoff whose maximum is below its base interval is contradictory.
# custom:
#   id: TRF-013
#   severity: error
#   category: traffic
#   remedy: Make perTryTimeout shorter than the route timeout (timeout ≥ attempts × perTryTimeout is ideal) and maxInterval ≥ baseInterval.
#   anchors: [Linkerd HTTPRoute timeouts (backendRequest <= request)]
package trellis.rules.trf013

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	lib.ns(r.retries.perTryTimeout) > lib.ns(r.timeout)
	f := {
		"msg": sprintf("route %q of %q: per-try timeout %s exceeds the route timeout %s", [lib.route_name(r, j), t.service, r.retries.perTryTimeout, r.timeout]),
		"path": sprintf("spec.traffic[%d].routes[%d].retries.perTryTimeout", [i, j]),
	}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	b := r.retries.backoff
	lib.ns(b.maxInterval) < lib.ns(b.baseInterval)
	f := {
		"msg": sprintf("route %q of %q: backoff maxInterval %s is below baseInterval %s", [lib.route_name(r, j), t.service, b.maxInterval, b.baseInterval]),
		"path": sprintf("spec.traffic[%d].routes[%d].retries.backoff.maxInterval", [i, j]),
	}
}
