# METADATA
# title: No default-deny authorization baseline
# description: >-
#   With the default policy allow, any workload can call any service that no access rule covers.
#   A zero-trust baseline denies by default and allows explicit callers.
# custom:
#   id: SEC-004
#   severity: warning
#   category: security
#   remedy: Set spec.security.defaultPolicy to deny and add access rules for the legitimate callers.
#   anchors: [GKE ASM default-deny AuthorizationPolicy, Kyverno istio/require-authorizationpolicy, Linkerd default-inbound-policy deny]
package trellis.rules.sec004

import data.trellis.lib

findings contains f if {
	count(input.spec.services) > 0
	lib.default_policy != "deny"
	f := {"msg": "the default policy is allow: requests no access rule matches are let through", "path": "spec.security.defaultPolicy"}
}
