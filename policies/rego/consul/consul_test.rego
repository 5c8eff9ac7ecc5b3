package trellis.rules.consul_test

import data.trellis.rules

mesh(objs) := {"metadata": {"name": "d"}, "spec": {}, "meshes": {"consul": {"objects": objs}}}

obj(kind, name, spec) := {"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": "ns"}, "spec": spec}

splitter(name, weights) := obj("ServiceSplitter", name, {"splits": [{"weight": w} | some w in weights]})

defaults(name, proto) := obj("ServiceDefaults", name, {"protocol": proto})

test_csl001_fires if {
	count(rules.csl001.findings) == 1 with input as mesh([splitter("db", [50, 50]), defaults("db", "tcp")])
	count(rules.csl001.findings) == 1 with input as mesh([splitter("db", [50, 50])])
}

test_csl001_ok if {
	count(rules.csl001.findings) == 0 with input as mesh([splitter("web", [50, 50]), defaults("web", "http")])
}

test_csl002_fires if {
	fs := rules.csl002.findings with input as mesh([splitter("web", [50, 40]), defaults("web", "http")])
	{f.path | some f in fs} == {"spec.splits"}
}

test_csl002_ok if {
	count(rules.csl002.findings) == 0 with input as mesh([splitter("web", [33.33, 33.33, 33.34]), defaults("web", "http")])
}

intentions(dest, perms) := obj("ServiceIntentions", dest, {"destination": {"name": dest}, "sources": [{"name": "web", "permissions": perms}]})

test_csl003_fires if {
	fs := rules.csl003.findings with input as mesh([intentions("db", [{"action": "allow", "http": {"pathPrefix": "/"}}]), defaults("db", "tcp")])
	{f.path | some f in fs} == {"spec.sources[0].permissions"}
}

test_csl003_ok if {
	count(rules.csl003.findings) == 0 with input as mesh([intentions("api", [{"action": "allow", "http": {"pathPrefix": "/"}}]), defaults("api", "http")])
	count(rules.csl003.findings) == 0 with input as mesh([obj("ServiceIntentions", "db", {"destination": {"name": "db"}, "sources": [{"name": "web", "action": "allow"}]})])
}
