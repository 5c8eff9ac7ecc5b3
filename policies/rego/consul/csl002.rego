# METADATA
# title: ServiceSplitter weights do not sum to 100
# description: >-
#   Consul requires a splitter's weights to sum to exactly 100 (0.01 precision) and rejects the
#   config entry otherwise.
# custom:
#   id: CSL-002
#   severity: error
#   category: consul
#   mesh: consul
#   remedy: Use backend weights that resolve to percentages with at most two decimals.
#   anchors: [Consul service-splitter validation, IST0106]
package trellis.rules.csl002

import data.trellis.lib

# consul-k8s custom resources.
findings contains f if {
	some o in lib.objects_of("consul", "ServiceSplitter")
	not o.Kind # the config-entry form, below
	total := sum([object.get(s, "weight", 0) | some s in o.spec.splits])
	abs(total - 100) > 0.005
	f := {"msg": sprintf("splits of %q sum to %v, not 100", [o.metadata.name, total]), "path": "spec.splits", "object": lib.ref(o), "service": o.metadata.name}
}

# Plain config entries.
findings contains f if {
	some o in lib.consul_entries("service-splitter")
	total := sum([object.get(s, "Weight", 0) | some s in object.get(o, "Splits", [])])
	abs(total - 100) > 0.005
	f := {"msg": sprintf("splits of %q sum to %v, not 100", [o.Name, total]), "path": "Splits", "object": lib.ref(o), "service": o.Name}
}
