# METADATA
# title: Allow and deny for the same caller and destination
# description: >-
#   An allow rule and a deny rule with the same source, destination and conditions contradict each
#   other; deny wins, so the allow rule is dead configuration.
# custom:
#   id: SEC-010
#   severity: warning
#   category: security
#   remedy: Remove one of the two rules, or narrow one with conditions.
#   anchors: [Consul intentions precedence, KIA0201]
package trellis.rules.sec010

import data.trellis.lib

deny_keys := {[a.destination, s, object.get(a, "when", [])] |
	some a in lib.access
	a.action == "deny"
	some s in a.sources
}

findings contains f if {
	some i, a in lib.access
	object.get(a, "action", "allow") == "allow"
	some k, s in a.sources
	deny_keys[[a.destination, s, object.get(a, "when", [])]]
	f := {"msg": sprintf("access rule %q allows a caller that a deny rule for %q refuses with the same conditions", [object.get(a, "name", sprintf("%d", [i])), a.destination]), "path": sprintf("spec.security.access[%d].sources[%d]", [i, k])}
}
