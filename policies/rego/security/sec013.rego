# METADATA
# title: Access path pattern meshes cannot express
# description: >-
#   Access rule paths are exact paths or prefixes ending in "*". A "*" elsewhere or regular
#   expression syntax is matched literally by Istio and Linkerd, so the rule never matches.
# custom:
#   id: SEC-013
#   severity: warning
#   category: security
#   remedy: Use an exact path or a prefix such as /api/* and split complex patterns into several paths.
#   anchors: [IST0122, Istio AuthorizationPolicy paths]
package trellis.rules.sec013

import data.trellis.lib

findings contains f if {
	some i, a in lib.access
	some k, c in a.when
	some l, p in c.paths
	bad(p)
	f := {"msg": sprintf("path %q is neither an exact path nor a prefix ending in *", [p]), "path": sprintf("spec.security.access[%d].when[%d].paths[%d]", [i, k, l])}
}

bad(p) if contains(trim_suffix(p, "*"), "*")

bad(p) if regex.match(`[\^\$\(\)\[\]\{\}\+\?\|\\]`, p)

bad(p) if not startswith(p, "/")
