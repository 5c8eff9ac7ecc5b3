# METADATA
# title: Authorization on a token header without request authentication
# description: >-
#   An access condition on the Authorization header trusts a token nobody validated. Without a JWT
#   rule covering the destination, any caller can forge the header.
# custom:
#   id: SEC-015
#   severity: error
#   category: security
#   remedy: Add a spec.security.requestAuthentication rule covering the destination.
#   anchors: [IST0149]
package trellis.rules.sec015

import data.trellis.lib

jwt := object.get(lib.security, "requestAuthentication", [])

covered(svc) if {
	some j in jwt
	count(object.get(j, "services", [])) == 0
}

covered(svc) if {
	some j in jwt
	svc in j.services
}

findings contains f if {
	some i, a in lib.access
	some k, c in a.when
	some h, _ in c.headers
	lower(h) == "authorization"
	not covered(a.destination)
	f := {"msg": sprintf("access rule checks the Authorization header, but no JWT rule validates tokens for %q", [a.destination]), "path": sprintf("spec.security.access[%d].when[%d].headers", [i, k])}
}
