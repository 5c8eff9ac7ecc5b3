# METADATA
# title: Allow rule for any caller
# description: >-
#   An allow rule whose source is {service: "*"} or {namespace: "*"} lets every workload of every
#   namespace through, which defeats least privilege.
# custom:
#   id: SEC-008
#   severity: warning
#   category: security
#   remedy: List the calling services or identities; use a namespace source for a trusted namespace only.
#   anchors: [Consul intentions precedence, GKE ASM least privilege]
package trellis.rules.sec008

import data.trellis.lib

wildcard(s) if s.service == "*"

wildcard(s) if {
	s.namespace == "*"
	object.get(s, "identity", "") == ""
}

findings contains f if {
	some i, a in lib.access
	object.get(a, "action", "allow") == "allow"
	some k, s in a.sources
	wildcard(s)
	f := {"msg": sprintf("access rule %q allows any caller to reach %q", [object.get(a, "name", sprintf("%d", [i])), a.destination]), "path": sprintf("spec.security.access[%d].sources[%d]", [i, k])}
}
