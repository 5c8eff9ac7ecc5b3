# METADATA
# title: VirtualService routes to a subset no DestinationRule defines
# description: >-
#   A destination subset must be defined by a DestinationRule for its host; otherwise Envoy has no
#   cluster for it and requests fail with 503 (NR/UH).
# custom:
#   id: IST-004
#   severity: error
#   category: istio
#   mesh: istio
#   remedy: Define the version on the service in the design so a subset is generated, or remove it from the route.
#   anchors: [KIA1107, IST0173]
package trellis.rules.ist004

import data.trellis.lib

# subsets holds "<short host>/<subset>" for every subset of every DestinationRule (string keys
# hash faster than pairs).
subsets := {concat("/", [split(o.spec.host, ".")[0], s.name]) |
	some o in lib.objects_of("istio", "DestinationRule")
	some s in o.spec.subsets
}

findings contains f if {
	some o in lib.objects_of("istio", "VirtualService")
	some i, h in o.spec.http
	some j, r in h.route
	sub := r.destination.subset
	not subsets[concat("/", [split(r.destination.host, ".")[0], sub])]
	f := {"msg": sprintf("subset %q of host %q is not defined by any DestinationRule", [sub, r.destination.host]), "path": sprintf("spec.http[%d].route[%d].destination.subset", [i, j]), "object": lib.ref(o)}
}
