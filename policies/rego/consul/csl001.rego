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

protocols := {o.metadata.name: lower(object.get(o.spec, "protocol", "tcp")) |
	some o in lib.objects_of("consul", "ServiceDefaults")
}

protocol(name) := protocols[name]

protocol(name) := "undeclared (tcp)" if not protocols[name]

findings contains f if {
	some kind in ["ServiceSplitter", "ServiceRouter"]
	some o in lib.objects_of("consul", kind)
	p := protocol(o.metadata.name)
	not p in lib.l7_protocols
	f := {"msg": sprintf("%s for %q, whose protocol is %s", [o.kind, o.metadata.name, p]), "path": "spec", "object": lib.ref(o), "service": o.metadata.name}
}
