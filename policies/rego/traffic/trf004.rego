# METADATA
# title: Route references an undefined version
# description: >-
#   A backend or mirror names a version its service does not define. Meshes then route to a
#   subset with no instances and requests fail with 503.
# custom:
#   id: TRF-004
#   severity: error
#   category: traffic
#   remedy: Define the version under spec.services[].versions or fix the version name.
#   anchors: [KIA1107, IST0173]
package trellis.rules.trf004

import data.trellis.lib

# versions holds "<service>/<version>" for every version of every service.
versions := {concat("/", [s.name, x.name]) |
	some s in input.spec.services
	some x in s.versions
}

bad(svc, v) := sprintf("version %q is not defined by service %q", [v, svc]) if {
	not versions[concat("/", [svc, v])]
	lib.services[svc]
}

bad(svc, v) := sprintf("%q is an external service, which has no versions (asked for %q)", [svc, v]) if lib.externals[svc]

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some k, b in r.backends
	v := b.version
	v != ""
	why := bad(lib.backend_service(b, t), v)
	f := {
		"msg": sprintf("route %q of %q: %s", [lib.route_name(r, j), t.service, why]),
		"path": sprintf("spec.traffic[%d].routes[%d].backends[%d].version", [i, j, k]),
	}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	v := r.mirror.version
	v != ""
	why := bad(lib.backend_service(r.mirror, t), v)
	f := {
		"msg": sprintf("route %q of %q: mirror: %s", [lib.route_name(r, j), t.service, why]),
		"path": sprintf("spec.traffic[%d].routes[%d].mirror.version", [i, j]),
	}
}
