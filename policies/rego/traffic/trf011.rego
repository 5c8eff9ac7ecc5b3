# METADATA
# title: Invalid path, method or regular expression in a match
# description: >-
#   Exact and prefix paths must start with "/", methods must be HTTP methods in upper case and
#   regular expressions must be valid RE2; a prefix rewrite needs prefix matches. Meshes reject
#   such routes or never match them.
# custom:
#   id: TRF-011
#   severity: error
#   category: traffic
#   remedy: Start paths with "/", use GET/POST/PUT/DELETE/PATCH/HEAD/OPTIONS/CONNECT/TRACE and check the regular expression.
#   anchors: [Consul service-router path validation, IST0122]
package trellis.rules.trf011

import data.trellis.lib

methods := {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some m, cond in r.match
	some kind in ["exact", "prefix"]
	p := cond.path[kind]
	not startswith(p, "/")
	f := {"msg": sprintf("%s path %q does not start with \"/\"", [kind, p]), "path": sprintf("spec.traffic[%d].routes[%d].match[%d].path.%s", [i, j, m, kind])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some m, cond in r.match
	not regex.is_valid(cond.path.regex)
	f := {"msg": sprintf("path regex %q is not a valid RE2 expression", [cond.path.regex]), "path": sprintf("spec.traffic[%d].routes[%d].match[%d].path.regex", [i, j, m])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some m, cond in r.match
	some field in ["headers", "queryParams"]
	some name, sm in cond[field]
	not regex.is_valid(sm.regex)
	f := {"msg": sprintf("%s %q: regex %q is not a valid RE2 expression", [field, name, sm.regex]), "path": sprintf("spec.traffic[%d].routes[%d].match[%d].%s.%s.regex", [i, j, m, field, name])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	some m, cond in r.match
	not cond.method in methods
	f := {"msg": sprintf("method %q is not an upper-case HTTP method", [cond.method]), "path": sprintf("spec.traffic[%d].routes[%d].match[%d].method", [i, j, m])}
}

findings contains f if {
	some i, t in input.spec.traffic
	some j, r in t.routes
	r.rewrite.prefix
	some m, cond in object.get(r, "match", [{}])
	not cond.path.prefix
	f := {"msg": sprintf("route %q rewrites the path prefix but match %d is not a prefix match", [lib.route_name(r, j), m]), "path": sprintf("spec.traffic[%d].routes[%d].rewrite.prefix", [i, j])}
}
