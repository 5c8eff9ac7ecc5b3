package trellis.rules.linkerd_test

import data.trellis.rules

mesh(objs) := {"metadata": {"name": "d"}, "spec": {}, "meshes": {"linkerd": {"objects": objs}}}

server := {"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server", "metadata": {"name": "api-http", "namespace": "ns"}, "spec": {"port": "http"}}

route(name, path) := {"apiVersion": "policy.linkerd.io/v1beta3", "kind": "HTTPRoute", "metadata": {"name": name, "namespace": "ns"}, "spec": {
	"parentRefs": [{"group": "policy.linkerd.io", "kind": "Server", "name": "api-http"}],
	"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}]}],
}}

authz(kind, name) := {"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy", "metadata": {"name": concat("-", ["authz", name]), "namespace": "ns"}, "spec": {"targetRef": {"group": "policy.linkerd.io", "kind": kind, "name": name}}}

test_lkd001_fires if {
	fs := rules.lkd001.findings with input as mesh([server, route("api", "/api"), authz("HTTPRoute", "api")])
	count(fs) == 1
	some f in fs
	f.object.name == "api-http"
}

test_lkd001_ok if {
	count(rules.lkd001.findings) == 0 with input as mesh([server, route("api", "/api"), route("probes", "/healthz"), authz("HTTPRoute", "api")])
	count(rules.lkd001.findings) == 0 with input as mesh([server, authz("Server", "api-http")])
}

test_lkd002_fires if {
	count(rules.lkd002.findings) == 1 with input as mesh([server])
	count(rules.lkd002.findings) == 1 with input as mesh([server, authz("Server", "other")])
}

test_lkd002_ok if {
	count(rules.lkd002.findings) == 0 with input as mesh([server, authz("Server", "api-http")])
	count(rules.lkd002.findings) == 0 with input as mesh([server, route("api", "/api"), authz("HTTPRoute", "api")])
	count(rules.lkd002.findings) == 0 with input as mesh([server, authz("Namespace", "ns")])
	count(rules.lkd002.findings) == 0 with input as mesh([object.union(server, {"spec": {"accessPolicy": "all-unauthenticated"}})])
}

grpc_route(name, svc) := {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": {"name": name, "namespace": "ns"}, "spec": {
	"parentRefs": [{"group": "policy.linkerd.io", "kind": "Server", "name": "api-http"}],
	"rules": [{"matches": [{"method": {"type": "Exact", "service": svc}}]}],
}}

test_lkd001_fires_grpc if {
	count(rules.lkd001.findings) == 1 with input as mesh([server, grpc_route("users", "users.v1.Users"), authz("GRPCRoute", "users")])
}

test_lkd001_ok_grpc_health if {
	count(rules.lkd001.findings) == 0 with input as mesh([server, grpc_route("users", "users.v1.Users"), grpc_route("probes", "grpc.health.v1.Health")])
}

# The finding names the design service whose selector the Server's podSelector carries, even
# when the pods are not selected by an app label.
test_lkd002_names_the_selected_service if {
	sel := {"app.kubernetes.io/name": "reviews", "app.kubernetes.io/part-of": "shop"}
	s := object.union(server, {"spec": {"podSelector": {"matchLabels": sel}}})
	inp := object.union(mesh([s]), {"spec": {"services": [
		{"name": "ratings", "namespace": "ns", "selector": {"app.kubernetes.io/name": "ratings"}},
		{"name": "reviews", "namespace": "ns", "selector": sel},
	]}})
	fs := rules.lkd002.findings with input as inp
	count(fs) == 1
	some f in fs
	f.service == "reviews"
}

# The service lookup goes through an index of selector labels: a service of another namespace
# with the same selector is not taken, a selector that is a subset of the podSelector is, two
# candidates give the first name, and without any the app label is used.
test_lkd002_service_lookup_by_selector if {
	s := object.union(server, {"spec": {"podSelector": {"matchLabels": {"app": "web", "tier": "front", "version": "v2"}}}})
	svcs := [
		{"name": "web-other-ns", "namespace": "elsewhere", "selector": {"app": "web"}},
		{"name": "web-z", "namespace": "ns", "selector": {"app": "web", "tier": "front"}},
		{"name": "web-a", "namespace": "ns", "selector": {"tier": "front"}},
		{"name": "web-wider", "namespace": "ns", "selector": {"app": "web", "tier": "back"}},
	]
	fs := rules.lkd002.findings with input as object.union(mesh([s]), {"spec": {"services": svcs}})
	[f.service | some f in fs] == ["web-a"]
	only_z := [svcs[0], svcs[1], svcs[3]]
	fz := rules.lkd002.findings with input as object.union(mesh([s]), {"spec": {"services": only_z}})
	[f.service | some f in fz] == ["web-z"]
	none := [svcs[0], svcs[3]]
	fn := rules.lkd002.findings with input as object.union(mesh([s]), {"spec": {"services": none}})
	[f.service | some f in fn] == ["web"]
}

# A Server the design closes on purpose (a deny rule of its service refusing every caller on
# every port, or on the Server's port) is not reported; a deny of one caller, or on another port,
# does not count.
closing(access) := object.union(
	mesh([object.union(server, {"spec": {"port": 9090, "podSelector": {"matchLabels": {"app": "api"}}}})]),
	{"spec": {"services": [{"name": "api", "namespace": "ns", "selector": {"app": "api"}}], "security": {"access": access}}},
)

test_lkd002_closed_on_purpose if {
	every access in [
		[{"destination": "api", "action": "deny", "sources": [{"service": "*"}]}],
		[{"destination": "api", "action": "deny", "sources": [{"namespace": "*"}], "when": [{"ports": [9090]}]}],
	] {
		count(rules.lkd002.findings) == 0 with input as closing(access)
	}
	every access in [
		[{"destination": "api", "action": "deny", "sources": [{"service": "web"}]}],
		[{"destination": "api", "action": "deny", "sources": [{"namespace": "*", "identity": "x"}]}],
		[{"destination": "api", "action": "deny", "sources": [{"service": "*"}], "when": [{"ports": [8080]}]}],
		[{"destination": "api", "action": "deny", "sources": [{"service": "*"}], "when": [{"ports": [9090], "paths": ["/x"]}]}],
		[{"destination": "other", "action": "deny", "sources": [{"service": "*"}]}],
	] {
		count(rules.lkd002.findings) == 1 with input as closing(access)
	}
}
