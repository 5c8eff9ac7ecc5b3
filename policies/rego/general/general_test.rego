package trellis.rules.general_test

import data.trellis.rules

paths(findings) := {f.path | some f in findings}

test_gen001_fires if {
	d := {"spec": {"services": [{"name": "a"}], "security": {
		"mtlsOverrides": [{"service": "a", "mode": "strict"}, {"service": "a", "mode": "permissive"}],
		"requestAuthentication": [{"name": "j1", "issuer": "i"}, {"name": "j2", "issuer": "i"}],
	}}}
	paths(rules.gen001.findings) == {"spec.security.mtlsOverrides[1]", "spec.security.requestAuthentication[1]"} with input as d
}

# Three overrides of one service and port are three conflicting pairs, each reported at its later
# entry; overrides of other services or ports in between do not interfere.
test_gen001_every_pair if {
	d := {"spec": {"services": [{"name": "a"}, {"name": "b"}], "security": {
		"mtlsOverrides": [
			{"service": "a", "mode": "strict"},
			{"service": "b", "mode": "strict"},
			{"service": "a", "mode": "permissive"},
			{"service": "a", "port": 80, "mode": "disabled"},
			{"service": "a", "mode": "disabled"},
		],
		"requestAuthentication": [{"name": "j1", "issuer": "i"}, {"name": "j2", "issuer": "k"}, {"name": "j3", "issuer": "i"}, {"name": "j4", "issuer": "i"}],
	}}}
	msgs := {f.msg | some f in rules.gen001.findings} with input as d
	msgs == {
		"mtlsOverrides[0] and mtlsOverrides[2] both set the mode of \"a\" port 0",
		"mtlsOverrides[0] and mtlsOverrides[4] both set the mode of \"a\" port 0",
		"mtlsOverrides[2] and mtlsOverrides[4] both set the mode of \"a\" port 0",
		"JWT rules \"j1\" and \"j3\" both apply to every service for issuer \"i\"",
		"JWT rules \"j1\" and \"j4\" both apply to every service for issuer \"i\"",
		"JWT rules \"j3\" and \"j4\" both apply to every service for issuer \"i\"",
	}
}

test_gen001_ok if {
	d := {"spec": {"services": [{"name": "a"}], "security": {
		"mtlsOverrides": [{"service": "a", "mode": "strict"}, {"service": "a", "port": 80, "mode": "permissive"}],
		"requestAuthentication": [{"name": "j1", "issuer": "i"}, {"name": "j2", "issuer": "i", "services": ["a"]}],
	}}}
	count(rules.gen001.findings) == 0 with input as d
}

test_gen002_fires if {
	d := {
		"metadata": {"name": "x", "annotations": {"trellis.dev/ignore": "TRF-012\nSEC-004: ok\n"}},
		"spec": {"services": [{"name": "a", "annotations": {"trellis.dev/ignore": "whatever"}}]},
	}
	paths(rules.gen002.findings) == {"metadata.annotations", "spec.services[0].annotations"} with input as d
}

test_gen002_ok if {
	d := {"metadata": {"name": "x", "annotations": {"trellis.dev/ignore": "TRF-012: clients set deadlines\n# comment\nSEC-004: ok"}}, "spec": {}}
	count(rules.gen002.findings) == 0 with input as d
}

test_gen003_fires if {
	d := {"spec": {"extensions": [
		{"name": "a", "source": "oci://r/x:latest", "phase": "authz", "failurePolicy": "fail-open"},
		{"name": "b", "source": "http://x/y.wasm"},
		{"name": "c", "source": "oci://r/x"},
	]}}
	paths(rules.gen003.findings) == {"spec.extensions[0].failurePolicy", "spec.extensions[0].source", "spec.extensions[1].source", "spec.extensions[2].source"} with input as d
}

test_gen003_ok if {
	d := {"spec": {"extensions": [
		{"name": "a", "source": "oci://r:5000/x:1.2.0", "phase": "stats", "failurePolicy": "fail-open"},
		{"name": "b", "source": "https://x/y.wasm", "phase": "authz", "failurePolicy": "fail-closed"},
	]}}
	count(rules.gen003.findings) == 0 with input as d
}

test_gen004_fires if {
	d := {"metadata": {"name": "x", "annotations": {"trellis.dev/ignore": "TEL-001: tracing elsewhere\nTRF-012: fine"}}, "spec": {}}
	paths(rules.gen004.findings) == {"metadata.annotations"} with input as d with data.trellis.catalogue as {"TRF-012": true}
}

test_gen004_ok if {
	d := {"metadata": {"name": "x", "annotations": {"trellis.dev/ignore": "TRF-012: fine"}}, "spec": {"services": [{"name": "a", "annotations": {"trellis.dev/ignore": "SEC-005: ok"}}]}}
	count(rules.gen004.findings) == 0 with input as d with data.trellis.catalogue as {"TRF-012": true, "SEC-005": true}
}
