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

# Plain config entries, as written by trellis translate --consul-format config-entry (inside a
# kind/metadata envelope) and without any envelope.
entry(kind, crd_kind, name, fields) := object.union(fields, {
	"Kind": kind, "Name": name, "apiVersion": "config-entry.consul.trellis.dev/v1",
	"kind": crd_kind, "metadata": {"name": name},
})

bare(kind, name, fields) := object.union(fields, {"Kind": kind, "Name": name})

entry_splitter(name, weights) := entry("service-splitter", "ServiceSplitter", name, {"Splits": [{"Weight": w} | some w in weights]})

entry_defaults(name, proto) := entry("service-defaults", "ServiceDefaults", name, {"Protocol": proto})

entry_intentions(dest, perms) := entry("service-intentions", "ServiceIntentions", dest, {"Sources": [{"Name": "web", "Permissions": perms}]})

test_csl001_fires_config_entries if {
	fs := rules.csl001.findings with input as mesh([entry_splitter("db", [50, 50]), entry_defaults("db", "tcp")])
	{[f.path, f.object.kind, f.object.name, f.service] | some f in fs} == {["Kind", "ServiceSplitter", "db", "db"]}
	count(rules.csl001.findings) == 1 with input as mesh([bare("service-router", "db", {"Routes": []})])
	fs2 := rules.csl001.findings with input as mesh([bare("service-splitter", "db", {"Splits": []}), bare("service-defaults", "db", {"Protocol": "tcp"})])
	{[f.object.kind, f.object.name] | some f in fs2} == {["service-splitter", "db"]}
}

test_csl001_ok_config_entries if {
	count(rules.csl001.findings) == 0 with input as mesh([entry_splitter("web", [50, 50]), entry_defaults("web", "HTTP")])
	count(rules.csl001.findings) == 0 with input as mesh([bare("service-router", "web", {}), bare("service-defaults", "web", {"Protocol": "grpc"})])
	# Mixed forms: custom resource defaults, plain splitter.
	count(rules.csl001.findings) == 0 with input as mesh([entry_splitter("web", [50, 50]), defaults("web", "http")])
}

test_csl002_fires_config_entries if {
	fs := rules.csl002.findings with input as mesh([entry_splitter("web", [50, 40]), entry_defaults("web", "http")])
	{[f.path, f.service] | some f in fs} == {["Splits", "web"]}
	count(rules.csl002.findings) == 1 with input as mesh([bare("service-splitter", "web", {"Splits": [{"Weight": 99}]})])
}

test_csl002_ok_config_entries if {
	count(rules.csl002.findings) == 0 with input as mesh([entry_splitter("web", [33.33, 33.33, 33.34]), entry_defaults("web", "http")])
	count(rules.csl002.findings) == 0 with input as mesh([bare("service-splitter", "web", {"Splits": [{"Weight": 100}]})])
}

test_csl003_fires_config_entries if {
	fs := rules.csl003.findings with input as mesh([entry_intentions("db", [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]), entry_defaults("db", "tcp")])
	{[f.path, f.service] | some f in fs} == {["Sources[0].Permissions", "db"]}
	count(rules.csl003.findings) == 1 with input as mesh([bare("service-intentions", "db", {"Sources": [{"Name": "web", "Permissions": [{"Action": "deny"}]}]})])
}

test_csl003_ok_config_entries if {
	count(rules.csl003.findings) == 0 with input as mesh([entry_intentions("api", [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]), entry_defaults("api", "http")])
	count(rules.csl003.findings) == 0 with input as mesh([bare("service-intentions", "db", {"Sources": [{"Name": "web", "Action": "allow"}]})])
}
