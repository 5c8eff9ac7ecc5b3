# METADATA
# title: ServiceSplitter on a service without an HTTP protocol
# description: >-
#   Consul applies splitters and routers only to services whose ServiceDefaults declare protocol
#   http, http2 or grpc; without one (protocol tcp by default) Consul rejects the splitter.
# custom:
#   id: CSL-001
#   severity: error
#   category: consul
#   mesh: consul
#   remedy: Declare the service's protocol (http/http2/grpc) in the design so a ServiceDefaults with that protocol is generated.
#   anchors: [Consul service-splitter protocol requirement]
package trellis.rules.csl001

import data.trellis.lib

protocols := lib.consul_protocols

protocol(name) := protocols[name]

protocol(name) := "undeclared (tcp)" if not protocols[name]

# consul-k8s custom resources.
findings contains f if {
	some kind in ["ServiceSplitter", "ServiceRouter"]
	some o in lib.objects_of("consul", kind)
	not o.Kind # the config-entry form, below
	p := protocol(o.metadata.name)
	not p in lib.l7_protocols
	f := {"msg": sprintf("%s for %q, whose protocol is %s", [o.kind, o.metadata.name, p]), "path": "spec", "object": lib.ref(o), "service": o.metadata.name}
}

# Plain config entries.
findings contains f if {
	some kind in ["service-splitter", "service-router"]
	some o in lib.consul_entries(kind)
	p := protocol(o.Name)
	not p in lib.l7_protocols
	f := {"msg": sprintf("%s for %q, whose protocol is %s", [kind, o.Name, p]), "path": "Kind", "object": lib.ref(o), "service": o.Name}
}
