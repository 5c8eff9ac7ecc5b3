# METADATA
# title: Rule names an unknown service
# description: >-
#   An access rule, JWT rule or extension names a service the design does not declare, so it
#   protects or extends nothing.
# custom:
#   id: SEC-007
#   severity: error
#   category: security
#   remedy: Fix the service name or declare the service.
#   anchors: [KIA0101, KIA0106, IST0101]
package trellis.rules.sec007

import data.trellis.lib

findings contains f if {
	some i, a in lib.access
	not lib.declared(a.destination)
	f := {"msg": sprintf("access rule protects undeclared service %q", [a.destination]), "path": sprintf("spec.security.access[%d].destination", [i])}
}

findings contains f if {
	some i, a in lib.access
	some k, s in a.sources
	name := object.get(s, "service", "")
	not name in {"", "*"}
	not lib.services[name]
	f := {"msg": sprintf("access rule names undeclared calling service %q", [name]), "path": sprintf("spec.security.access[%d].sources[%d].service", [i, k])}
}

findings contains f if {
	some i, j in object.get(lib.security, "requestAuthentication", [])
	some k, name in j.services
	not lib.services[name]
	f := {"msg": sprintf("JWT rule %q names undeclared service %q", [j.name, name]), "path": sprintf("spec.security.requestAuthentication[%d].services[%d]", [i, k])}
}

findings contains f if {
	some i, x in input.spec.extensions
	some k, name in x.services
	not lib.services[name]
	f := {"msg": sprintf("extension %q names undeclared service %q", [x.name, name]), "path": sprintf("spec.extensions[%d].services[%d]", [i, k])}
}
