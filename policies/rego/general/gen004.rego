# METADATA
# title: Suppression names an unknown rule
# description: >-
#   A trellis.dev/ignore line names a rule id that is not in the catalogue (a typo, a renamed rule
#   or a policy directory that was not loaded), so it suppresses nothing.
# custom:
#   id: GEN-004
#   severity: warning
#   category: general
#   remedy: Use an id listed by "trellis policies list" (with the same --policy-dir flags), or remove the line.
#   anchors: [Kiali validation ignore list, Conftest exceptions]
package trellis.rules.gen004

import data.trellis.lib

# data.trellis.catalogue is provided by the engine: every rule id of the catalogue in use.
findings contains f if {
	data.trellis.catalogue
	some [path, ann] in lib.annotated
	some line in split(ann["trellis.dev/ignore"], "\n")
	m := regex.find_all_string_submatch_n(`^\s*([A-Z][A-Z0-9]*-[0-9]{3})\s*:`, line, 1)
	id := m[0][1]
	not data.trellis.catalogue[id]
	f := {"msg": sprintf("suppression names %s, which is not a rule of the catalogue", [id]), "path": sprintf("%s.annotations", [path])}
}
