# METADATA
# title: More than one traffic policy for a service
# description: >-
#   Two traffic policies target the same service. Meshes merge or pick one of the resulting
#   route tables unpredictably (conflicting VirtualServices, several HTTPRoutes for one parent).
# custom:
#   id: TRF-006
#   severity: error
#   category: traffic
#   remedy: Merge the routes of both policies into one traffic policy, in the intended order.
#   anchors: [IST0109, KIA1106]
package trellis.rules.trf006

# Sorting pairs finds duplicates in O(n log n).
pairs := sort([[t.service, i] | some i, t in input.spec.traffic])

findings contains f if {
	some k, p in pairs
	k > 0
	pairs[k - 1][0] == p[0]
	f := {
		"msg": sprintf("service %q already has a traffic policy (spec.traffic[%d])", [p[0], pairs[k - 1][1]]),
		"path": sprintf("spec.traffic[%d]", [p[1]]),
	}
}
