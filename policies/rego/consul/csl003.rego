# METADATA
# title: L7 intention permissions on a non-HTTP service
# description: >-
#   ServiceIntentions permissions (methods, paths, headers) are only valid for destinations whose
#   protocol is http, http2 or grpc; Consul rejects them otherwise.
# custom:
#   id: CSL-003
#   severity: error
#   category: consul
#   mesh: consul
#   remedy: Use plain allow/deny intentions for TCP services, or declare an HTTP protocol for the service.
#   anchors: [Consul L7 intentions]
package trellis.rules.csl003

import data.trellis.lib

protocols := lib.consul_protocols

# consul-k8s custom resources.
findings contains f if {
	some o in lib.objects_of("consul", "ServiceIntentions")
	not o.Kind # the config-entry form, below
	dest := o.spec.destination.name
	p := object.get(protocols, dest, "tcp")
	not p in lib.l7_protocols
	some i, s in o.spec.sources
	count(object.get(s, "permissions", [])) > 0
	f := {"msg": sprintf("source %q has L7 permissions, but %q speaks %s", [s.name, dest, p]), "path": sprintf("spec.sources[%d].permissions", [i]), "object": lib.ref(o), "service": dest}
}

# Plain config entries: the destination is the entry's Name.
findings contains f if {
	some o in lib.consul_entries("service-intentions")
	dest := o.Name
	p := object.get(protocols, dest, "tcp")
	not p in lib.l7_protocols
	some i, s in object.get(o, "Sources", [])
	count(object.get(s, "Permissions", [])) > 0
	f := {"msg": sprintf("source %q has L7 permissions, but %q speaks %s", [s.Name, dest, p]), "path": sprintf("Sources[%d].Permissions", [i]), "object": lib.ref(o), "service": dest}
}
