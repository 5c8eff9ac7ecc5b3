# METADATA
# title: Split weights must resolve to 100% with 0.01 precision
# description: >-
#   A route's backend weights are relative shares. They must not all be zero, and each share must
#   be expressible as a percentage with at most two decimals, the precision Consul's splitter and
#   Istio's weights accept; otherwise meshes round differently and the split is not what was meant.
# custom:
#   id: TRF-001
#   severity: error
#   category: traffic
#   remedy: Give the backends weights that sum to 100 (for example 90 and 10), or shares that divide 100 evenly.
#   anchors: [Consul ServiceSplitter weights, IST0106]
package trellis.rules.trf001

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	count(r.backends) > 0
	not weighted(r)
	f := {
		"msg": sprintf("route %q of %q: every backend has weight 0, so the route sends traffic nowhere", [lib.route_name(r, j), t.service]),
		"path": sprintf("spec.traffic[%d].routes[%d].backends", [i, j]),
	}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	count(r.backends) > 1 # a single backend with a positive weight is always 100%
	total := sum([object.get(b, "weight", 0) | some b in r.backends])
	total > 0
	some k, b in r.backends
	w := object.get(b, "weight", 0)
	(w * 10000) % total != 0
	f := {
		"msg": sprintf("route %q of %q: weight %d of a total %d is %.4f%%, which cannot be expressed with 0.01%% precision", [lib.route_name(r, j), t.service, w, total, (w * 100) / total]),
		"path": sprintf("spec.traffic[%d].routes[%d].backends[%d].weight", [i, j, k]),
	}
}

weighted(r) if {
	some b in r.backends
	b.weight > 0
}
