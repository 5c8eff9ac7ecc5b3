# METADATA
# title: mTLS override for an unknown service or port
# description: >-
#   An mTLS override names a service the design does not declare, or a port the service does not
#   expose, so it silently applies to nothing.
# custom:
#   id: SEC-002
#   severity: error
#   category: security
#   remedy: Fix the service name or port, or remove the override.
#   anchors: [IST0101, KIA0105]
package trellis.rules.sec002

import data.trellis.lib

findings contains f if {
	some k, o in lib.security.mtlsOverrides
	not lib.services[o.service]
	f := {"msg": sprintf("mTLS override for undeclared service %q", [o.service]), "path": sprintf("spec.security.mtlsOverrides[%d].service", [k])}
}

findings contains f if {
	some k, o in lib.security.mtlsOverrides
	s := lib.services[o.service]
	port := object.get(o, "port", 0)
	port != 0
	ports := {p.port | some p in s.ports}
	not ports[port]
	f := {"msg": sprintf("mTLS override for port %d, which %q does not expose", [port, o.service]), "path": sprintf("spec.security.mtlsOverrides[%d].port", [k])}
}
