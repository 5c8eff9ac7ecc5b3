# METADATA
# title: Route-level authorization without probe routes
# description: >-
#   Attaching an HTTPRoute or GRPCRoute to a Server removes Linkerd's default routes, including
#   the ones that let kubelet probes through. Unless an HTTPRoute for the probe paths (or, for gRPC, a GRPCRoute for grpc.health.v1.Health) exists, the
#   pods' liveness and readiness probes are refused and the pods never become ready.
# custom:
#   id: LKD-001
#   severity: warning
#   category: linkerd
#   mesh: linkerd
#   remedy: Add an HTTPRoute for the probe paths (/healthz, /ready, /live) on the Server, authorized for unauthenticated clients.
#   anchors: [Linkerd route-based authorization docs, linkerd check]
package trellis.rules.lkd001

import data.trellis.lib

probe_paths := {"/healthz", "/health", "/ready", "/readyz", "/live", "/livez", "/ping"}

server_parent(route) := p.name if {
	some p in route.spec.parentRefs
	p.kind == "Server"
}

route_servers := {s |
	some kind in ["HTTPRoute", "GRPCRoute"]
	some o in lib.objects_of("linkerd", kind)
	s := server_parent(o)
}

# probe_servers are the Servers with a probe route. Complete rules (set comprehensions), so each
# is computed once per evaluation: a partial set rule queried with a Server's name would scan
# every route again for every Server.
probe_servers := http_probe_servers | grpc_probe_servers

http_probe_servers := {s |
	some o in lib.objects_of("linkerd", "HTTPRoute")
	s := server_parent(o)
	some r in o.spec.rules
	some m in r.matches
	some p in probe_paths
	startswith(m.path.value, p)
}

grpc_probe_servers := {s |
	some o in lib.objects_of("linkerd", "GRPCRoute")
	s := server_parent(o)
	some r in o.spec.rules
	some m in r.matches
	m.method.service == "grpc.health.v1.Health"
}

findings contains f if {
	some o in lib.objects_of("linkerd", "Server")
	route_servers[o.metadata.name]
	not probe_servers[o.metadata.name]
	f := {"msg": sprintf("Server %q has HTTPRoutes but none for probe paths: kubelet probes will be refused", [o.metadata.name]), "path": "spec", "object": lib.ref(o), "service": lib.server_service(o)}
}
