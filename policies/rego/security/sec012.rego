# METADATA
# title: Wildcard host on an external service
# description: >-
#   A wildcard host ("*.example.com") opens egress to every subdomain, including ones controlled by
#   others on shared platforms.
# custom:
#   id: SEC-012
#   severity: warning
#   category: security
#   remedy: List the exact host names the workloads need.
#   anchors: [Kyverno istio/prevent-wildcard-hosts, Gatekeeper host restrictions]
package trellis.rules.sec012

findings contains f if {
	some i, e in input.spec.externalServices
	some k, h in e.hosts
	startswith(h, "*")
	f := {"msg": sprintf("external service %q allows the wildcard host %q", [e.name, h]), "path": sprintf("spec.externalServices[%d].hosts[%d]", [i, k])}
}
