# METADATA
# title: Risky proxy extension
# description: >-
#   WebAssembly extensions run inside every proxy. A fail-open extension silently skips its
#   checks when it cannot load, and a module fetched over plain HTTP or by a mutable "latest" tag
#   can change under the mesh.
# custom:
#   id: GEN-003
#   severity: warning
#   category: general
#   remedy: Use fail-closed for security extensions and pin modules by an immutable oci:// tag or https:// URL with sha256.
#   anchors: [IST0151, IST0155, Istio WasmPlugin best practice]
package trellis.rules.gen003

findings contains f if {
	some i, x in input.spec.extensions
	x.failurePolicy == "fail-open"
	x.phase in {"authn", "authz"}
	f := {"msg": sprintf("extension %q runs in the %s phase but fails open", [x.name, x.phase]), "path": sprintf("spec.extensions[%d].failurePolicy", [i])}
}

findings contains f if {
	some i, x in input.spec.extensions
	startswith(x.source, "http://")
	f := {"msg": sprintf("extension %q is fetched over plain HTTP", [x.name]), "path": sprintf("spec.extensions[%d].source", [i])}
}

findings contains f if {
	some i, x in input.spec.extensions
	startswith(x.source, "oci://")
	mutable(x.source)
	f := {"msg": sprintf("extension %q uses a mutable image reference %q", [x.name, x.source]), "path": sprintf("spec.extensions[%d].source", [i])}
}

mutable(src) if endswith(src, ":latest")

mutable(src) if {
	last := regex.split(`/`, src)
	not contains(last[count(last) - 1], ":")
	not contains(src, "@sha256:")
}
