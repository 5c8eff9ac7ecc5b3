# METADATA
# title: External TLS destination without certificate verification
# description: >-
#   Skipping server certificate verification towards an external service (or speaking plaintext to
#   its HTTPS port) lets anyone on the path impersonate it.
# custom:
#   id: SEC-003
#   severity: warning
#   category: security
#   remedy: Remove insecureSkipVerify (set caCertificates for private CAs), and use tls.mode originate for port 443.
#   anchors: [IST0128, IST0129]
package trellis.rules.sec003

findings contains f if {
	some i, e in input.spec.externalServices
	e.tls.insecureSkipVerify == true
	f := {"msg": sprintf("external service %q does not verify the server certificate", [e.name]), "path": sprintf("spec.externalServices[%d].tls.insecureSkipVerify", [i])}
}

findings contains f if {
	some i, e in input.spec.externalServices
	not e.tls
	some k, p in e.ports
	p.port == 443
	f := {"msg": sprintf("external service %q is reached in plaintext on port 443", [e.name]), "path": sprintf("spec.externalServices[%d].ports[%d]", [i, k])}
}
