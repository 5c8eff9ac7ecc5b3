# METADATA
# title: Unreachable route or duplicated match
# description: >-
#   Routes are evaluated in order. A route after a catch-all route (one without matches), or a
#   match identical to an earlier route's match, never handles a request.
# custom:
#   id: TRF-008
#   severity: warning
#   category: traffic
#   remedy: Move catch-all routes last and remove or reorder shadowed matches.
#   anchors: [IST0130, IST0131]
package trellis.rules.trf008

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	count(object.get(r, "match", [])) == 0
	some k, later in t.routes
	k > j
	f := {
		"msg": sprintf("route %q of %q is unreachable: route %q before it matches every request", [lib.route_name(later, k), t.service, lib.route_name(r, j)]),
		"path": sprintf("spec.traffic[%d].routes[%d]", [i, k]),
	}
}

findings contains f if {
	some i, t in input.spec.traffic
	some k, r in t.routes
	some m, cond in r.match
	some j, earlier in t.routes
	j < k
	cond in object.get(earlier, "match", [])
	f := {
		"msg": sprintf("match %d of route %q of %q repeats a match of route %q, which handles those requests first", [m, lib.route_name(r, k), t.service, lib.route_name(earlier, j)]),
		"path": sprintf("spec.traffic[%d].routes[%d].match[%d]", [i, k, m]),
	}
}
