# METADATA
# title: HTTP features on a TCP service
# description: >-
#   Matches, timeouts, retries, faults, mirroring, header operations and rewrites need an L7
#   protocol. On a tcp service meshes drop them (Istio TCP routes, Consul's protocol check).
# custom:
#   id: TRF-009
#   severity: error
#   category: traffic
#   remedy: Set the service's protocol to http, http2 or grpc, or remove the HTTP-only fields.
#   anchors: [Consul service-router protocol check, IST0118]
package trellis.rules.trf009

import data.trellis.lib

l7_fields := ["match", "timeout", "retries", "fault", "mirror", "headers", "rewrite"]

findings contains f if {
	some i, t in input.spec.traffic
	lib.declared(t.service)
	not lib.is_l7(t.service)
	some j, r in t.routes
	some field in l7_fields
	r[field]
	f := {
		"msg": sprintf("route %q of %q uses %s, but %q speaks %s", [lib.route_name(r, j), t.service, field, t.service, lib.protocol(t.service)]),
		"path": sprintf("spec.traffic[%d].routes[%d].%s", [i, j, field]),
	}
}
