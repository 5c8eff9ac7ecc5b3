# METADATA
# title: mTLS is not strict
# description: >-
#   Permissive or disabled mTLS accepts plaintext connections: callers are not authenticated,
#   traffic can be read on the network and identity-based rules cannot be enforced for them.
# custom:
#   id: SEC-001
#   severity: error
#   category: security
#   remedy: Set spec.security.mtls to strict (use permissive only while migrating callers, with a suppression that says so).
#   anchors: [Kyverno istio/enforce-strict-mtls, GKE ASM strict mTLS, KIA0205, KIA0208]
package trellis.rules.sec001

import data.trellis.lib

findings contains f if {
	lib.mtls != "strict"
	f := {"msg": sprintf("mesh-wide mTLS is %s", [lib.mtls]), "path": "spec.security.mtls"}
}

findings contains f if {
	some k, o in lib.security.mtlsOverrides
	o.mode != "strict"
	f := {"msg": sprintf("mTLS is %s for %s%q", [o.mode, where(object.get(o, "port", 0)), o.service]), "path": sprintf("spec.security.mtlsOverrides[%d].mode", [k])}
}

where(port) := sprintf("port %d of ", [port]) if port != 0

else := ""
