# METADATA
# title: AuthorizationPolicy path with regular-expression characters
# description: >-
#   Istio AuthorizationPolicy paths are exact, prefix ("/api/*") or suffix ("*.js") strings, never
#   regular expressions; "^", "$", "(", "[", "+", "?", "|" or ".*" are matched literally, so the
#   rule never matches and an ALLOW policy denies, a DENY policy lets requests through.
# custom:
#   id: IST-001
#   severity: warning
#   category: istio
#   mesh: istio
#   remedy: Use exact paths, or a single "*" at the start or end of the path.
#   anchors: [IST0122, Kyverno istio policies]
package trellis.rules.ist001

import data.trellis.lib

findings contains f if {
	some o in lib.objects_of("istio", "AuthorizationPolicy")
	some i, rule in o.spec.rules
	some j, to in rule.to
	some field in ["paths", "notPaths"]
	some k, p in to.operation[field]
	regexish(p)
	f := {
		"msg": sprintf("path %q looks like a regular expression, but Istio matches it literally", [p]),
		"path": sprintf("spec.rules[%d].to[%d].operation.%s[%d]", [i, j, field, k]),
		"object": lib.ref(o),
		"service": object.get(object.get(o.metadata, "labels", {}), "trellis.dev/service", ""),
	}
}

regexish(p) if regex.match(`[\^\$\(\)\[\]\{\}\+\?\|\\]`, p)

regexish(p) if contains(p, ".*")

regexish(p) if contains(trim_suffix(trim_prefix(p, "*"), "*"), "*")
