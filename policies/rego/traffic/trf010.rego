# METADATA
# title: Fault injection breaks every request
# description: >-
#   A fault that aborts 100% of requests, or delays them at least as long as the route's timeout,
#   turns the route into an outage. Often a leftover from a resilience test.
# custom:
#   id: TRF-010
#   severity: warning
#   category: traffic
#   remedy: Lower the fault's percent, shorten the delay below the timeout, or remove the fault after testing.
#   anchors: [Istio fault injection best practice]
package trellis.rules.trf010

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	a := r.fault.abort
	object.get(a, "percent", 100) >= 100
	f := {
		"msg": sprintf("route %q of %q aborts 100%% of its requests", [lib.route_name(r, j), t.service]),
		"path": sprintf("spec.traffic[%d].routes[%d].fault.abort", [i, j]),
	}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	d := r.fault.delay
	lib.ns(d.fixed) >= lib.ns(r.timeout)
	f := {
		"msg": sprintf("route %q of %q injects a %s delay, not shorter than its %s timeout: delayed requests always time out", [lib.route_name(r, j), t.service, d.fixed, r.timeout]),
		"path": sprintf("spec.traffic[%d].routes[%d].fault.delay.fixed", [i, j]),
	}
}
