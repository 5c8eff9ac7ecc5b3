package trellis.rules.traffic_test

import data.trellis.rules

svc(name) := {"name": name, "protocol": "http", "ports": [{"port": 80, "name": "http"}], "versions": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}]}

design(traffic) := {"metadata": {"name": "t"}, "spec": {"services": [svc("a"), svc("b"), object.union(svc("db"), {"protocol": "tcp"})], "traffic": traffic}}

route(r) := design([{"service": "a", "routes": [object.union({"name": "r"}, r)], "resilience": {"outlierDetection": {"consecutive5xx": 5}}}])

paths(findings) := {f.path | some f in findings}

test_trf001_fires_zero_sum if {
	fs := rules.trf001.findings with input as route({"backends": [{"version": "v1", "weight": 0}, {"version": "v2", "weight": 0}]})
	paths(fs) == {"spec.traffic[0].routes[0].backends"}
}

test_trf001_fires_imprecise if {
	fs := rules.trf001.findings with input as route({"backends": [{"version": "v1", "weight": 1}, {"version": "v2", "weight": 2}]})
	paths(fs) == {"spec.traffic[0].routes[0].backends[0].weight", "spec.traffic[0].routes[0].backends[1].weight"}
}

test_trf001_ok if {
	count(rules.trf001.findings) == 0 with input as route({"backends": [{"version": "v1", "weight": 90}, {"version": "v2", "weight": 10}]})
	count(rules.trf001.findings) == 0 with input as route({"backends": [{"version": "v1", "weight": 1}, {"version": "v2", "weight": 3}]})
}

test_trf002_fires if {
	fs := rules.trf002.findings with input as route({"backends": [{"version": "v1", "weight": 50}, {"service": "a", "version": "v1", "weight": 50}]})
	paths(fs) == {"spec.traffic[0].routes[0].backends[1]"}
}

test_trf002_ok if {
	count(rules.trf002.findings) == 0 with input as route({"backends": [{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}]})
}

test_trf003_fires if {
	paths(rules.trf003.findings) == {"spec.traffic[0].routes[0].backends[0].weight"} with input as route({"backends": [{"version": "v1", "weight": 50}]})
}

test_trf003_ok if {
	count(rules.trf003.findings) == 0 with input as route({"backends": [{"version": "v1", "weight": 100}]})
	count(rules.trf003.findings) == 0 with input as route({"backends": [{"version": "v1", "weight": 50}, {"version": "v2", "weight": 50}]})
}

test_trf004_fires if {
	fs := rules.trf004.findings with input as route({"backends": [{"version": "v9", "weight": 100}], "mirror": {"service": "b", "version": "v7"}})
	paths(fs) == {"spec.traffic[0].routes[0].backends[0].version", "spec.traffic[0].routes[0].mirror.version"}
}

test_trf004_ok if {
	count(rules.trf004.findings) == 0 with input as route({"backends": [{"version": "v1", "weight": 100}], "mirror": {"service": "b", "version": "v2"}})
}

test_trf005_fires if {
	d := design([{"service": "ghost", "routes": [{"name": "r", "backends": [{"service": "nowhere"}], "mirror": {"service": "void"}}]}])
	paths(rules.trf005.findings) == {"spec.traffic[0].service", "spec.traffic[0].routes[0].backends[0].service", "spec.traffic[0].routes[0].mirror.service"} with input as d
}

test_trf005_ok if {
	count(rules.trf005.findings) == 0 with input as route({"backends": [{"service": "b"}], "mirror": {"service": "a"}})
}

test_trf006_fires if {
	d := design([{"service": "a"}, {"service": "b"}, {"service": "a"}])
	paths(rules.trf006.findings) == {"spec.traffic[2]"} with input as d
}

test_trf006_ok if {
	count(rules.trf006.findings) == 0 with input as design([{"service": "a"}, {"service": "b"}])
}

test_trf007_fires if {
	s := {"name": "x", "versions": [{"name": "v1", "labels": {"v": "1"}}, {"name": "v1", "labels": {"v": "2"}}, {"name": "v3", "labels": {"v": "1"}}, {"name": "v4"}]}
	paths(rules.trf007.findings) == {"spec.services[0].versions[1].name", "spec.services[0].versions[2].labels", "spec.services[0].versions[3].labels"} with input as {"spec": {"services": [s]}}
}

test_trf007_ok if {
	count(rules.trf007.findings) == 0 with input as design([])
}

test_trf008_fires if {
	d := design([{"service": "a", "routes": [
		{"name": "m", "match": [{"method": "GET"}]},
		{"name": "dup", "match": [{"method": "GET"}]},
		{"name": "all"},
		{"name": "late", "match": [{"method": "POST"}]},
	]}])
	paths(rules.trf008.findings) == {"spec.traffic[0].routes[1].match[0]", "spec.traffic[0].routes[3]"} with input as d
}

test_trf008_ok if {
	d := design([{"service": "a", "routes": [{"name": "m", "match": [{"method": "GET"}]}, {"name": "all"}]}])
	count(rules.trf008.findings) == 0 with input as d
}

test_trf009_fires if {
	d := design([{"service": "db", "routes": [{"name": "r", "timeout": "1s", "match": [{"method": "GET"}]}]}])
	paths(rules.trf009.findings) == {"spec.traffic[0].routes[0].timeout", "spec.traffic[0].routes[0].match"} with input as d
}

test_trf009_ok if {
	d := design([{"service": "db", "routes": [{"name": "r", "backends": [{"weight": 100}]}]}])
	count(rules.trf009.findings) == 0 with input as d
	count(rules.trf009.findings) == 0 with input as route({"timeout": "1s"})
}

test_trf010_fires if {
	fs := rules.trf010.findings with input as route({"timeout": "1s", "fault": {"abort": {"httpStatus": 503}, "delay": {"fixed": "2s", "percent": 10}}})
	paths(fs) == {"spec.traffic[0].routes[0].fault.abort", "spec.traffic[0].routes[0].fault.delay.fixed"}
}

test_trf010_ok if {
	count(rules.trf010.findings) == 0 with input as route({"timeout": "1s", "fault": {"abort": {"httpStatus": 503, "percent": 5}, "delay": {"fixed": "100ms"}}})
}

test_trf011_fires if {
	r := {"match": [
		{"path": {"exact": "api"}},
		{"path": {"regex": "(["}},
		{"method": "get"},
		{"headers": {"x": {"regex": "*"}}},
	], "rewrite": {"prefix": "/"}}
	paths(rules.trf011.findings) == {
		"spec.traffic[0].routes[0].match[0].path.exact",
		"spec.traffic[0].routes[0].match[1].path.regex",
		"spec.traffic[0].routes[0].match[2].method",
		"spec.traffic[0].routes[0].match[3].headers.x.regex",
		"spec.traffic[0].routes[0].rewrite.prefix",
	} with input as route(r)
}

test_trf011_ok if {
	r := {"match": [{"path": {"prefix": "/api"}, "method": "GET", "headers": {"x": {"regex": "a.*"}}}], "rewrite": {"prefix": "/"}}
	count(rules.trf011.findings) == 0 with input as route(r)
}

test_trf012_fires if {
	paths(rules.trf012.findings) == {"spec.traffic[0].routes[0].timeout"} with input as route({})
}

test_trf012_ok if {
	count(rules.trf012.findings) == 0 with input as route({"timeout": "2s"})
	count(rules.trf012.findings) == 0 with input as design([{"service": "db", "routes": [{"name": "r"}]}])
}

test_trf013_fires if {
	r := {"timeout": "1s", "retries": {"attempts": 2, "perTryTimeout": "2s", "backoff": {"baseInterval": "100ms", "maxInterval": "10ms"}}}
	paths(rules.trf013.findings) == {"spec.traffic[0].routes[0].retries.perTryTimeout", "spec.traffic[0].routes[0].retries.backoff.maxInterval"} with input as route(r)
}

test_trf013_ok if {
	r := {"timeout": "2s", "retries": {"attempts": 2, "perTryTimeout": "500ms", "backoff": {"baseInterval": "10ms", "maxInterval": "100ms"}}}
	count(rules.trf013.findings) == 0 with input as route(r)
}

test_trf014_fires if {
	r := {"retries": {"attempts": 8, "on": ["5xx", "sometimes", "503"]}}
	paths(rules.trf014.findings) == {"spec.traffic[0].routes[0].retries.attempts", "spec.traffic[0].routes[0].retries.on[1]", "spec.traffic[0].routes[0].retries.perTryTimeout"} with input as route(r)
}

test_trf014_ok if {
	count(rules.trf014.findings) == 0 with input as route({"retries": {"attempts": 3, "perTryTimeout": "1s", "on": ["5xx", "503"]}})
}

test_trf015_fires if {
	d := design([{"service": "a", "routes": [{"name": "r", "retries": {"attempts": 2}}]}])
	paths(rules.trf015.findings) == {"spec.traffic[0].resilience.outlierDetection"} with input as d
}

test_trf015_ok if {
	count(rules.trf015.findings) == 0 with input as route({"retries": {"attempts": 2}})
}
