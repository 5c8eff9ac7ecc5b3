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

findings contains f if {
	some k, o in lib.security.mtlsOverrides
	some l, p in lib.security.mtlsOverrides
	k < l
	o.service == p.service
	object.get(o, "port", 0) == object.get(p, "port", 0)
	f := {"msg": sprintf("mtlsOverrides[%d] and mtlsOverrides[%d] both set the mode of %q port %d", [k, l, o.service, object.get(o, "port", 0)]), "path": sprintf("spec.security.mtlsOverrides[%d]", [l])}
}

findings contains f if {
	some k, a in lib.security.requestAuthentication
	some l, b in lib.security.requestAuthentication
	k < l
	count(object.get(a, "services", [])) == 0
	count(object.get(b, "services", [])) == 0
	a.issuer == b.issuer
	f := {"msg": sprintf("JWT rules %q and %q both apply to every service for issuer %q", [a.name, b.name, a.issuer]), "path": sprintf("spec.security.requestAuthentication[%d]", [l])}
}
