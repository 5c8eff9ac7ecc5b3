# METADATA
# title: Version defined twice or without a selector
# description: >-
#   Versions become subsets selected by pod labels. A version without labels selects every pod,
#   and two versions with the same name or the same labels are ambiguous.
# custom:
#   id: TRF-007
#   severity: error
#   category: traffic
#   remedy: Give every version a unique name and a distinct, non-empty label selector.
#   anchors: [KIA0201, KIA0209]
package trellis.rules.trf007

findings contains f if {
	some i, s in input.spec.services
	some k, v in s.versions
	count(object.get(v, "labels", {})) == 0
	f := {"msg": sprintf("version %q of %q has no labels: it selects every instance", [v.name, s.name]), "path": sprintf("spec.services[%d].versions[%d].labels", [i, k])}
}

findings contains f if {
	some i, s in input.spec.services
	some k, v in s.versions
	some l, w in s.versions
	k < l
	v.name == w.name
	f := {"msg": sprintf("version %q of %q is defined twice", [v.name, s.name]), "path": sprintf("spec.services[%d].versions[%d].name", [i, l])}
}

findings contains f if {
	some i, s in input.spec.services
	some k, v in s.versions
	some l, w in s.versions
	k < l
	v.labels == w.labels
	v.name != w.name
	count(v.labels) > 0
	f := {"msg": sprintf("versions %q and %q of %q select the same labels", [v.name, w.name, s.name]), "path": sprintf("spec.services[%d].versions[%d].labels", [i, l])}
}
