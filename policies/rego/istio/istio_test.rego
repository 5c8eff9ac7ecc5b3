package trellis.rules.istio_test

import data.trellis.rules

paths(findings) := {f.path | some f in findings}

mesh(objs) := {"metadata": {"name": "d"}, "spec": {}, "meshes": {"istio": {"objects": objs}}}

authz(paths) := {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "api", "namespace": "ns"}, "spec": {"rules": [{"to": [{"operation": {"paths": paths}}]}]}}

vs(routes) := {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "reviews", "namespace": "ns"}, "spec": {"hosts": ["reviews"], "http": [{"route": routes}]}}

dr(subsets) := {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews", "namespace": "ns"}, "spec": {"host": "reviews.ns.svc.cluster.local", "subsets": subsets}}

test_ist001_fires if {
	fs := rules.ist001.findings with input as mesh([authz(["/api/.*", "^/v1$", "/a/*/b", "/ok/*"])])
	paths(fs) == {"spec.rules[0].to[0].operation.paths[0]", "spec.rules[0].to[0].operation.paths[1]", "spec.rules[0].to[0].operation.paths[2]"}
	some f in fs
	f.object == {"kind": "AuthorizationPolicy", "name": "api", "namespace": "ns"}
}

test_ist001_ok if {
	count(rules.ist001.findings) == 0 with input as mesh([authz(["/api/*", "*.js", "/exact"])])
}

test_ist002_fires if {
	paths(rules.ist002.findings) == {"spec.http[0].route[0].weight"} with input as mesh([vs([{"destination": {"host": "reviews"}, "weight": 50}])])
}

test_ist002_ok if {
	count(rules.ist002.findings) == 0 with input as mesh([vs([{"destination": {"host": "reviews"}, "weight": 100}])])
	count(rules.ist002.findings) == 0 with input as mesh([vs([{"destination": {"host": "reviews"}}])])
}

test_ist003_fires if {
	paths(rules.ist003.findings) == {"spec.subsets[1].name"} with input as mesh([dr([{"name": "v1"}, {"name": "v1"}])])
}

test_ist003_ok if {
	count(rules.ist003.findings) == 0 with input as mesh([dr([{"name": "v1"}, {"name": "v2"}])])
}

test_ist004_fires if {
	objs := [dr([{"name": "v1"}]), vs([{"destination": {"host": "reviews.ns.svc.cluster.local", "subset": "v2"}, "weight": 100}])]
	paths(rules.ist004.findings) == {"spec.http[0].route[0].destination.subset"} with input as mesh(objs)
}

test_ist004_ok if {
	objs := [dr([{"name": "v1"}]), vs([{"destination": {"host": "reviews", "subset": "v1"}}])]
	count(rules.ist004.findings) == 0 with input as mesh(objs)
}
