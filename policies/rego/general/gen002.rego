# METADATA
# title: Malformed suppression annotation
# description: >-
#   Every line of a trellis.dev/ignore annotation must read "RULE-ID: reason". A line without a
#   rule id or without a reason suppresses nothing.
# custom:
#   id: GEN-002
#   severity: error
#   category: general
#   remedy: 'Write one line per rule, for example "TRF-012: the client sets its own deadline".'
#   anchors: [Kiali validation ignore list, Conftest exceptions]
package trellis.rules.gen002

import data.trellis.lib

findings contains f if {
	some [path, ann] in lib.annotated
	value := ann["trellis.dev/ignore"]
	some line in split(value, "\n")
	l := trim_space(line)
	l != ""
	not startswith(l, "#")
	not regex.match(`^[A-Z][A-Z0-9]*-[0-9]{3}\s*:\s*\S`, l)
	f := {"msg": sprintf("suppression %q is not \"RULE-ID: reason\"", [l]), "path": sprintf("%s.annotations", [path])}
}
