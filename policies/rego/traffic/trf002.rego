# METADATA
# title: Same destination listed twice in one route
# description: >-
#   Two backends of one route name the same service, version and port. Meshes reject or merge
#   duplicate destinations, so the intended split is lost.
# custom:
#   id: TRF-002
#   severity: error
#   category: traffic
#   remedy: Merge the duplicate backends into one and add their weights.
#   anchors: [KIA1105, Consul ServiceSplitter duplicate destination]
package trellis.rules.trf002

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	count(r.backends) > 1
	some k, b in r.backends
	some l, c in r.backends
	k < l
	# Cheapest comparison first: most pairs differ by version.
	object.get(b, "version", "") == object.get(c, "version", "")
	lib.backend_service(b, t) == lib.backend_service(c, t)
	object.get(b, "port", 0) == object.get(c, "port", 0)
	f := {
		"msg": sprintf("route %q of %q: backends[%d] repeats backends[%d] (service %q, version %q)", [lib.route_name(r, j), t.service, l, k, lib.backend_service(b, t), object.get(b, "version", "")]),
		"path": sprintf("spec.traffic[%d].routes[%d].backends[%d]", [i, j, l]),
	}
}
