package trellis.rules.security_test

import data.trellis.rules

svc(name, proto) := {"name": name, "protocol": proto, "ports": [{"port": 8080, "name": proto}], "identity": name}

base := {"metadata": {"name": "s"}, "spec": {"services": [svc("web", "http"), svc("api", "http"), svc("db", "tcp")]}}

with_security(sec) := object.union(base, {"spec": {"security": sec}})

paths(findings) := {f.path | some f in findings}

test_sec001_fires if {
	d := with_security({"mtls": "permissive", "mtlsOverrides": [{"service": "db", "mode": "disabled", "port": 8080}]})
	paths(rules.sec001.findings) == {"spec.security.mtls", "spec.security.mtlsOverrides[0].mode"} with input as d
}

test_sec001_ok if {
	count(rules.sec001.findings) == 0 with input as base
	count(rules.sec001.findings) == 0 with input as with_security({"mtls": "strict", "mtlsOverrides": [{"service": "db", "mode": "strict"}]})
}

test_sec002_fires if {
	d := with_security({"mtlsOverrides": [{"service": "ghost", "mode": "strict"}, {"service": "db", "port": 9999, "mode": "permissive"}]})
	paths(rules.sec002.findings) == {"spec.security.mtlsOverrides[0].service", "spec.security.mtlsOverrides[1].port"} with input as d
}

test_sec002_ok if {
	count(rules.sec002.findings) == 0 with input as with_security({"mtlsOverrides": [{"service": "db", "port": 8080, "mode": "permissive"}]})
}

test_sec003_fires if {
	d := object.union(base, {"spec": {"externalServices": [
		{"name": "a", "hosts": ["a.com"], "ports": [{"port": 443}], "tls": {"insecureSkipVerify": true}},
		{"name": "b", "hosts": ["b.com"], "ports": [{"port": 443}]},
	]}})
	paths(rules.sec003.findings) == {"spec.externalServices[0].tls.insecureSkipVerify", "spec.externalServices[1].ports[0]"} with input as d
}

test_sec003_ok if {
	d := object.union(base, {"spec": {"externalServices": [{"name": "a", "hosts": ["a.com"], "ports": [{"port": 443}], "tls": {"mode": "originate"}}]}})
	count(rules.sec003.findings) == 0 with input as d
}

test_sec004_fires if {
	paths(rules.sec004.findings) == {"spec.security.defaultPolicy"} with input as base
}

test_sec004_ok if {
	count(rules.sec004.findings) == 0 with input as with_security({"defaultPolicy": "deny"})
}

test_sec005_fires if {
	d := with_security({"defaultPolicy": "deny", "access": [{"destination": "api", "sources": [{"service": "web"}]}]})
	paths(rules.sec005.findings) == {"spec.services[0]", "spec.services[2]"} with input as d
}

test_sec005_ok if {
	count(rules.sec005.findings) == 0 with input as base
}

test_sec006_fires if {
	d := with_security({"mtls": "permissive", "access": [{"destination": "api", "sources": [{"service": "web"}, {"namespace": "ops"}, {"service": "*"}, {"identity": "ci"}]}]})
	paths(rules.sec006.findings) == {"spec.security.access[0].sources[0]", "spec.security.access[0].sources[3]"} with input as d
}

test_sec006_ok if {
	d := with_security({"mtls": "permissive", "mtlsOverrides": [{"service": "api", "mode": "strict"}], "access": [{"destination": "api", "sources": [{"service": "web"}]}]})
	count(rules.sec006.findings) == 0 with input as d
}

# Conflicting whole-service overrides (GEN-001's finding) do not stop the rule: the first applies.
test_sec006_conflicting_overrides if {
	access := [{"destination": "api", "sources": [{"service": "web"}]}]
	first_strict := with_security({"mtls": "permissive", "mtlsOverrides": [{"service": "api", "mode": "strict"}, {"service": "api", "mode": "permissive"}], "access": access})
	count(rules.sec006.findings) == 0 with input as first_strict
	first_permissive := with_security({"mtls": "strict", "mtlsOverrides": [{"service": "api", "mode": "permissive"}, {"service": "api", "mode": "strict"}], "access": access})
	count(rules.sec006.findings) == 1 with input as first_permissive
}

test_sec007_fires if {
	d := object.union(with_security({
		"access": [{"destination": "ghost", "sources": [{"service": "phantom"}, {"service": "*"}]}],
		"requestAuthentication": [{"name": "j", "issuer": "i", "services": ["nobody"]}],
	}), {"spec": {"extensions": [{"name": "x", "services": ["none"]}]}})
	paths(rules.sec007.findings) == {
		"spec.security.access[0].destination", "spec.security.access[0].sources[0].service",
		"spec.security.requestAuthentication[0].services[0]", "spec.extensions[0].services[0]",
	} with input as d
}

test_sec007_ok if {
	d := with_security({"access": [{"destination": "api", "sources": [{"service": "web"}, {"service": "*"}]}]})
	count(rules.sec007.findings) == 0 with input as d
}

test_sec008_fires if {
	d := with_security({"access": [{"destination": "api", "sources": [{"service": "*"}, {"namespace": "*"}, {"namespace": "*", "identity": "x"}]}]})
	paths(rules.sec008.findings) == {"spec.security.access[0].sources[0]", "spec.security.access[0].sources[1]"} with input as d
}

test_sec008_ok if {
	d := with_security({"access": [{"destination": "api", "action": "deny", "sources": [{"namespace": "*"}]}]})
	count(rules.sec008.findings) == 0 with input as d
}

test_sec009_fires if {
	d := with_security({"access": [{"destination": "db", "sources": ["api"], "when": [{"ports": [8080]}, {"methods": ["GET"], "paths": ["/x"]}]}]})
	paths(rules.sec009.findings) == {"spec.security.access[0].when[1].methods", "spec.security.access[0].when[1].paths"} with input as d
}

test_sec009_ok if {
	d := with_security({"access": [{"destination": "db", "sources": ["api"], "when": [{"ports": [8080]}]}, {"destination": "api", "sources": ["web"], "when": [{"methods": ["GET"]}]}]})
	count(rules.sec009.findings) == 0 with input as d
}

test_sec010_fires if {
	d := with_security({"access": [
		{"destination": "api", "sources": [{"service": "web"}]},
		{"destination": "api", "action": "deny", "sources": [{"service": "web"}]},
	]})
	paths(rules.sec010.findings) == {"spec.security.access[0].sources[0]"} with input as d
}

test_sec010_ok if {
	d := with_security({"access": [
		{"destination": "api", "sources": [{"service": "web"}]},
		{"destination": "api", "action": "deny", "sources": [{"service": "web"}], "when": [{"paths": ["/admin/*"]}]},
	]})
	count(rules.sec010.findings) == 0 with input as d
}

test_sec011_fires if {
	d := with_security({"requestAuthentication": [{"name": "j", "issuer": "i", "jwksURI": "http://idp/keys"}]})
	paths(rules.sec011.findings) == {"spec.security.requestAuthentication[0].jwksURI"} with input as d
}

test_sec011_ok if {
	d := with_security({"requestAuthentication": [{"name": "j", "issuer": "i", "jwksURI": "https://idp/keys"}, {"name": "k", "issuer": "i", "jwks": "{}"}]})
	count(rules.sec011.findings) == 0 with input as d
}

test_sec012_fires if {
	d := object.union(base, {"spec": {"externalServices": [{"name": "a", "hosts": ["api.a.com", "*.a.com"]}]}})
	paths(rules.sec012.findings) == {"spec.externalServices[0].hosts[1]"} with input as d
}

test_sec012_ok if {
	d := object.union(base, {"spec": {"externalServices": [{"name": "a", "hosts": ["api.a.com"]}]}})
	count(rules.sec012.findings) == 0 with input as d
}

test_sec013_fires if {
	d := with_security({"access": [{"destination": "api", "sources": ["web"], "when": [{"paths": ["/api/*/x", "^/v[0-9]+$", "api", "/ok/*"]}]}]})
	paths(rules.sec013.findings) == {"spec.security.access[0].when[0].paths[0]", "spec.security.access[0].when[0].paths[1]", "spec.security.access[0].when[0].paths[2]"} with input as d
}

test_sec013_ok if {
	d := with_security({"access": [{"destination": "api", "sources": ["web"], "when": [{"paths": ["/api/*", "/health"]}]}]})
	count(rules.sec013.findings) == 0 with input as d
}

test_sec015_fires if {
	d := with_security({"access": [{"destination": "api", "sources": ["web"], "when": [{"headers": {"Authorization": {"prefix": "Bearer "}}}]}]})
	paths(rules.sec015.findings) == {"spec.security.access[0].when[0].headers"} with input as d
}

test_sec015_ok if {
	d := with_security({
		"access": [{"destination": "api", "sources": ["web"], "when": [{"headers": {"authorization": {"prefix": "Bearer "}}}]}],
		"requestAuthentication": [{"name": "j", "issuer": "i", "jwksURI": "https://idp", "services": ["api"]}],
	})
	count(rules.sec015.findings) == 0 with input as d
}
