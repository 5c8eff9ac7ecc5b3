# METADATA
# title: Conflicting default policies in one scope
# description: >-
#   Two mTLS overrides for the same service and port, or two design-wide JWT rules for the same
#   issuer, are like several selector-less policies of one kind in a namespace: which one applies
#   is undefined.
# custom:
#   id: GEN-001
#   severity: error
#   category: general
#   remedy: Keep one override per service and port, and one design-wide JWT rule per issuer.
#   anchors: [IST0111, IST0160, KIA0002]
package trellis.rules.gen001

import data.trellis.lib

# Conflicts are found by grouping (one pass; OPA indexes the inner comprehensions on the outer
# key), not by comparing every pair of entries, so a design with thousands of overrides stays
# linear. Within a group, every pair is reported, at the later entry.

# override_keys lists [service/port, index] of every mTLS override.
override_keys := [[sprintf("%s/%d", [o.service, object.get(o, "port", 0)]), k] | some k, o in object.get(lib.security, "mtlsOverrides", [])]

# overrides_by_key maps service/port to the sorted indexes of the overrides that set it.
overrides_by_key := {key: ks |
	some p in override_keys
	key := p[0]
	ks := sort([q[1] | some q in override_keys; q[0] == key])
}

findings contains f if {
	some ks in overrides_by_key
	count(ks) > 1
	some i, k in ks
	some j, l in ks
	i < j
	o := lib.security.mtlsOverrides[k]
	f := {"msg": sprintf("mtlsOverrides[%d] and mtlsOverrides[%d] both set the mode of %q port %d", [k, l, o.service, object.get(o, "port", 0)]), "path": sprintf("spec.security.mtlsOverrides[%d]", [l])}
}

# global_jwt lists [issuer, index] of every JWT rule that applies to every service.
global_jwt := [[a.issuer, k] |
	some k, a in object.get(lib.security, "requestAuthentication", [])
	count(object.get(a, "services", [])) == 0
]

# jwt_by_issuer maps an issuer to the sorted indexes of its design-wide JWT rules.
jwt_by_issuer := {issuer: ks |
	some p in global_jwt
	issuer := p[0]
	ks := sort([q[1] | some q in global_jwt; q[0] == issuer])
}

findings contains f if {
	some ks in jwt_by_issuer
	count(ks) > 1
	some i, k in ks
	some j, l in ks
	i < j
	a := lib.security.requestAuthentication[k]
	b := lib.security.requestAuthentication[l]
	f := {"msg": sprintf("JWT rules %q and %q both apply to every service for issuer %q", [a.name, b.name, a.issuer]), "path": sprintf("spec.security.requestAuthentication[%d]", [l])}
}
