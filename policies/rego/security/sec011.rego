# METADATA
# title: JWT keys fetched without HTTPS
# description: >-
#   A JWKS URI over plain HTTP lets a network attacker substitute signing keys and forge tokens.
# custom:
#   id: SEC-011
#   severity: error
#   category: security
#   remedy: Use an https:// jwksURI or an inline jwks.
#   anchors: [Istio RequestAuthentication jwksUri best practice]
package trellis.rules.sec011

import data.trellis.lib

findings contains f if {
	some i, j in object.get(lib.security, "requestAuthentication", [])
	not startswith(j.jwksURI, "https://")
	f := {"msg": sprintf("JWT rule %q fetches keys from %q, not over HTTPS", [j.name, j.jwksURI]), "path": sprintf("spec.security.requestAuthentication[%d].jwksURI", [i])}
}
