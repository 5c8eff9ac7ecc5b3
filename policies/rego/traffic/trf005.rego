# METADATA
# title: Destination not declared in the design
# description: >-
#   A traffic policy, backend or mirror names a service that is neither a service nor an external
#   service of the design, so the generated configuration points at nothing.
# custom:
#   id: TRF-005
#   severity: error
#   category: traffic
#   remedy: Declare the service under spec.services (or spec.externalServices) or fix the name.
#   anchors: [IST0101, KIA1101]
package trellis.rules.trf005

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	not lib.declared(t.service)
	f := {"msg": sprintf("traffic policy for undeclared service %q", [t.service]), "path": sprintf("spec.traffic[%d].service", [i])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some k, b in r.backends
	s := lib.backend_service(b, t)
	not lib.declared(s)
	f := {
		"msg": sprintf("route %q of %q sends traffic to undeclared service %q", [lib.route_name(r, j), t.service, s]),
		"path": sprintf("spec.traffic[%d].routes[%d].backends[%d].service", [i, j, k]),
	}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	s := lib.backend_service(r.mirror, t)
	not lib.declared(s)
	f := {
		"msg": sprintf("route %q of %q mirrors to undeclared service %q", [lib.route_name(r, j), t.service, s]),
		"path": sprintf("spec.traffic[%d].routes[%d].mirror.service", [i, j]),
	}
}
