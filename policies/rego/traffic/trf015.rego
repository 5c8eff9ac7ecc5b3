# METADATA
# title: Retries without outlier detection
# description: >-
#   Retries against a service that never ejects failing instances keep hitting the same bad
#   instances; outlier detection (a circuit breaker) lets retries land on healthy ones.
# custom:
#   id: TRF-015
#   severity: warning
#   category: traffic
#   remedy: Add resilience.outlierDetection to the service's traffic policy.
#   anchors: [Istio DestinationRule outlierDetection best practice]
package trellis.rules.trf015

import data.trellis.lib

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	r.retries.attempts > 0
	not t.resilience.outlierDetection
	f := {
		"msg": sprintf("route %q of %q retries, but %q has no outlier detection", [lib.route_name(r, j), t.service, t.service]),
		"path": sprintf("spec.traffic[%d].resilience.outlierDetection", [i]),
	}
}
