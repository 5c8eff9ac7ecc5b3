# METADATA
# title: Server without an AuthorizationPolicy
# description: >-
#   A Linkerd Server whose accessPolicy is deny (the default) refuses every request that no
#   AuthorizationPolicy (on the Server, one of its routes or its namespace) authorizes, so such a
#   Server without one makes its port unreachable.
# custom:
#   id: LKD-002
#   severity: warning
#   category: linkerd
#   mesh: linkerd
#   remedy: Add access rules for the service in the design, or remove the Server.
#   anchors: [Kyverno linkerd/require-linkerd-server, Linkerd AuthorizationPolicy]
package trellis.rules.lkd002

import data.trellis.lib

# authorized_servers are the Servers an AuthorizationPolicy targets, directly or through a route
# attached to them. These are complete rules (set comprehensions), computed once per evaluation:
# a partial set rule queried with a Server's name would scan every policy again for every Server.
authorized_servers := direct_servers | route_target_servers

direct_servers := {t.name |
	some o in lib.objects_of("linkerd", "AuthorizationPolicy")
	t := o.spec.targetRef
	t.kind == "Server"
}

# route_servers maps [kind, namespace, name] of every route to the Servers it attaches to.
route_servers := {[kind, object.get(r.metadata, "namespace", ""), r.metadata.name]: servers |
	some kind in ["HTTPRoute", "GRPCRoute"]
	some r in lib.objects_of("linkerd", kind)
	servers := [p.name | some p in r.spec.parentRefs; p.kind == "Server"]
}

route_target_servers := {s |
	some o in lib.objects_of("linkerd", "AuthorizationPolicy")
	t := o.spec.targetRef
	some s in route_servers[[t.kind, object.get(o.metadata, "namespace", ""), t.name]]
}

# namespace_wide are the namespaces with an AuthorizationPolicy targeting the whole namespace.
namespace_wide := {ns |
	some o in lib.objects_of("linkerd", "AuthorizationPolicy")
	o.spec.targetRef.kind == "Namespace"
	ns := object.get(o.metadata, "namespace", "")
}

findings contains f if {
	some o in lib.objects_of("linkerd", "Server")
	object.get(o.spec, "accessPolicy", "deny") == "deny"
	not authorized_servers[o.metadata.name]
	not namespace_wide[object.get(o.metadata, "namespace", "")]
	not closed_on_purpose(o)
	f := {"msg": sprintf("no AuthorizationPolicy authorizes Server %q: every request to its port is refused", [o.metadata.name]), "path": "spec", "object": lib.ref(o), "service": lib.server_service(o)}
}

# closed_on_purpose holds for a Server the design closes itself: a deny rule of the Server's
# service refuses every caller (a source {service: "*"}, or {namespace: "*"} without an identity)
# on every port, or with a condition that names only ports, the Server's among them. The Linkerd
# adapter expresses such a rule as exactly this Server.
closed_on_purpose(o) if {
	some a in denials_of_everyone[lib.server_service(o)]
	port_covered(a, o.spec.port)
}

# everyone_denials lists [destination, rule] of the deny rules that refuse every caller.
everyone_denials := [[a.destination, a] |
	some a in lib.access
	object.get(a, "action", "allow") == "deny"
	every_caller(a)
]

# denials_of_everyone maps a destination to its deny rules that refuse every caller (one pass:
# OPA indexes the inner comprehension on the destination).
denials_of_everyone := {dest: rules |
	some p in everyone_denials
	dest := p[0]
	rules := [q[1] | some q in everyone_denials; q[0] == dest]
}

every_caller(a) if {
	some s in a.sources
	object.get(s, "service", "") == "*"
}

every_caller(a) if {
	some s in a.sources
	object.get(s, "namespace", "") == "*"
	object.get(s, "identity", "") == ""
}

port_covered(a, _) if count(object.get(a, "when", [])) == 0

port_covered(a, port) if {
	some c in a.when
	object.keys(c) == {"ports"}
	some p in c.ports
	p == port
}
