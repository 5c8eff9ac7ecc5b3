# METADATA
# title: DestinationRule with duplicate subset names
# description: >-
#   Two subsets of one DestinationRule share a name; Istio keeps one of them, so traffic for that
#   subset may reach the wrong pods.
# custom:
#   id: IST-003
#   severity: error
#   category: istio
#   mesh: istio
#   remedy: Give every version of the service a unique name.
#   anchors: [KIA0201, IST0106]
package trellis.rules.ist003

import data.trellis.lib

findings contains f if {
	some o in lib.objects_of("istio", "DestinationRule")
	some i, a in o.spec.subsets
	some j, b in o.spec.subsets
	i < j
	a.name == b.name
	f := {"msg": sprintf("subset %q is defined twice (subsets %d and %d)", [a.name, i, j]), "path": sprintf("spec.subsets[%d].name", [j]), "object": lib.ref(o)}
}
