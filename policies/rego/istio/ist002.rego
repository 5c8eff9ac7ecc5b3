# METADATA
# title: VirtualService route with a single weighted destination
# description: >-
#   A VirtualService HTTP route with exactly one destination whose weight is set to something other
#   than 100 is rejected or misread: the destination gets all traffic anyway.
# custom:
#   id: IST-002
#   severity: warning
#   category: istio
#   mesh: istio
#   remedy: Drop the weight of a single destination (or set it to 100).
#   anchors: [KIA1104]
package trellis.rules.ist002

import data.trellis.lib

findings contains f if {
	some o in lib.objects_of("istio", "VirtualService")
	some i, h in o.spec.http
	count(h.route) == 1
	w := h.route[0].weight
	w != 100
	w != 0
	f := {
		"msg": sprintf("route %d has one destination (%s) with weight %d", [i, h.route[0].destination.host, w]),
		"path": sprintf("spec.http[%d].route[0].weight", [i]),
		"object": lib.ref(o),
	}
}
