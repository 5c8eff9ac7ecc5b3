# METADATA
# title: Service not covered by any access rule
# description: >-
#   When a design uses access rules, a service that no allow rule names is either open to every
#   caller (default allow) or unreachable (default deny).
# custom:
#   id: SEC-005
#   severity: warning
#   category: security
#   remedy: Add an access rule with the service as destination listing its callers.
#   anchors: [KIA1301, Kyverno istio/require-authorizationpolicy]
package trellis.rules.sec005

import data.trellis.lib

allowed := {a.destination | some a in lib.access; object.get(a, "action", "allow") == "allow"}

uses_access if count(lib.access) > 0

uses_access if lib.default_policy == "deny"

effect := "with the default policy deny, every request to it is refused" if lib.default_policy == "deny"

else := "any caller can reach it"

findings contains f if {
	uses_access
	some i, s in input.spec.services
	not allowed[s.name]
	f := {"msg": sprintf("no access rule allows traffic to %q: %s", [s.name, effect]), "path": sprintf("spec.services[%d]", [i])}
}
