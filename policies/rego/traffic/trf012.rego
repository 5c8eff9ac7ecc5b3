# METADATA
# title: HTTP or gRPC route without a request timeout
# description: >-
#   Without a timeout a slow backend holds callers' connections and threads indefinitely (Istio
#   and Linkerd set none by default; Envoy's default of 15s is not visible in the design).
# custom:
#   id: TRF-012
#   severity: warning
#   category: traffic
#   remedy: Set spec.traffic[].routes[].timeout to the longest acceptable response time (for example 2s).
#   anchors: [Consul service-router RequestTimeout, Linkerd HTTPRoute timeouts]
package trellis.rules.trf012

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	lib.is_l7(t.service)
	some j, r in t.routes
	not r.timeout
	f := {
		"msg": sprintf("route %q of %q has no timeout", [lib.route_name(r, j), t.service]),
		"path": sprintf("spec.traffic[%d].routes[%d].timeout", [i, j]),
	}
}
