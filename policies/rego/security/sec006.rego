# METADATA
# title: Identity-based rule while mTLS is not strict
# description: >-
#   Caller identities come from mTLS certificates. When the destination accepts plaintext, callers
#   without a certificate have no identity: deny rules by identity do not stop them and allow rules
#   cannot be satisfied.
# custom:
#   id: SEC-006
#   severity: error
#   category: security
#   remedy: Make mTLS strict for the destination, or use namespace-wide rules only after migrating callers.
#   anchors: [KIA0105, KIA0106]
package trellis.rules.sec006

import data.trellis.lib

identity_source(s) if not object.get(s, "service", "") in {"", "*"}

identity_source(s) if object.get(s, "identity", "") != ""

findings contains f if {
	some i, a in lib.access
	mode := lib.service_mtls(a.destination)
	mode != "strict"
	some k, s in a.sources
	identity_source(s)
	f := {
		"msg": sprintf("access rule %q matches caller identities, but mTLS for %q is %s", [object.get(a, "name", sprintf("%d", [i])), a.destination, mode]),
		"path": sprintf("spec.security.access[%d].sources[%d]", [i, k]),
	}
}
