# METADATA
# title: Single destination with a weight other than 100
# description: >-
#   A route with one backend sends it all of the traffic whatever its weight; a weight other
#   than 100 suggests a split whose other half was forgotten.
# custom:
#   id: TRF-003
#   severity: warning
#   category: traffic
#   remedy: Remove the weight (it defaults to 100) or add the other backends of the split.
#   anchors: [KIA1104]
package trellis.rules.trf003

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	count(r.backends) == 1
	w := r.backends[0].weight
	w != 100
	f := {
		"msg": sprintf("route %q of %q has a single backend with weight %d: it receives 100%% of the traffic anyway", [lib.route_name(r, j), t.service, w]),
		"path": sprintf("spec.traffic[%d].routes[%d].backends[0].weight", [i, j]),
	}
}
