# METADATA
# title: HTTP conditions on a TCP destination
# description: >-
#   Methods, paths and headers can only be checked on HTTP traffic. On a TCP destination Istio
#   drops such rules (an allow then matches nothing), Consul rejects L7 intentions.
# custom:
#   id: SEC-009
#   severity: error
#   category: security
#   remedy: Use ports only in conditions for TCP services, or declare the service's protocol as http/grpc.
#   anchors: [Consul L7 intentions require HTTP, IST0128]
package trellis.rules.sec009

import data.trellis.lib

findings contains f if {
	some i, a in lib.access
	lib.declared(a.destination)
	not lib.is_l7(a.destination)
	some k, c in a.when
	some field in ["methods", "paths", "headers"]
	c[field]
	f := {"msg": sprintf("access rule condition uses %s but %q speaks %s", [field, a.destination, lib.protocol(a.destination)]), "path": sprintf("spec.security.access[%d].when[%d].%s", [i, k, field])}
}
