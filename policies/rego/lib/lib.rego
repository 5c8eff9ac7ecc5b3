# Helpers shared by the built-in rules: lookups over the design computed once per evaluation.
package trellis.lib

# services maps a service name to the service (names are unique in a valid design).
services := {s.name: s | some s in input.spec.services}

# externals maps an external service name to the external service.
externals := {e.name: e | some e in input.spec.externalServices}

# security is the security block, {} when absent.
security := object.get(input.spec, "security", {})

# access is the list of access rules.
access := object.get(security, "access", [])

# mtls is the mesh-wide mTLS mode (default strict).
mtls := object.get(security, "mtls", "strict")

# default_policy is the default authorization action (default allow).
default_policy := object.get(security, "defaultPolicy", "allow")

# overrides maps a service name to its whole-service mTLS override mode: the first one when a
# design has several (GEN-001 reports the conflict; the other rules must still evaluate).
overrides := {svc: modes[0] |
	some p in whole_overrides
	svc := p[0]
	modes := [q[1] | some q in whole_overrides; q[0] == svc]
}

# whole_overrides lists [service, mode] of the whole-service mTLS overrides, in design order.
whole_overrides := [[o.service, o.mode] | some o in object.get(security, "mtlsOverrides", []); object.get(o, "port", 0) == 0]

l7_protocols := {"http", "http2", "grpc"}

# declared holds for a service or external service of the design.
declared(name) if services[name]

declared(name) if externals[name]

# protocol is the protocol of a service or external service (default http).
protocol(name) := object.get(services[name], "protocol", "http")

protocol(name) := object.get(externals[name], "protocol", "http") if not services[name]

# is_l7 holds for services speaking http, http2 or grpc.
is_l7(name) if protocol(name) in l7_protocols

# service_mtls is the mTLS mode a service's whole-service override or the mesh gives it.
service_mtls(name) := overrides[name]

service_mtls(name) := mtls if not overrides[name]

# route_name is a route's name, or its default "route-<index>".
route_name(r, j) := object.get(r, "name", sprintf("route-%d", [j]))

# backend_service is a backend's service (default: the traffic policy's service).
backend_service(b, t) := object.get(b, "service", t.service)

# ns converts a duration string to nanoseconds.
ns(d) := time.parse_duration_ns(d)

# annotated enumerates [path, annotations] of every object that may carry annotations.
annotated contains ["metadata", a] if a := input.metadata.annotations

annotated contains [sprintf("spec.services[%d]", [i]), s.annotations] if some i, s in input.spec.services

annotated contains [sprintf("spec.externalServices[%d]", [i]), s.annotations] if some i, s in input.spec.externalServices

annotated contains [sprintf("spec.traffic[%d]", [i]), t.annotations] if some i, t in input.spec.traffic

annotated contains [sprintf("spec.security.access[%d]", [i]), a.annotations] if some i, a in access

# objects lists a mesh's generated objects.
objects(mesh) := object.get(object.get(object.get(input, "meshes", {}), mesh, {}), "objects", [])

# objects_of lists a mesh's generated objects of one kind. The engine indexes objects by kind
# (input.meshes.<mesh>.kinds); documents without the index (Rego unit tests) are filtered here.
objects_of(mesh, kind) := input.meshes[mesh].kinds[kind]

objects_of(mesh, kind) := [o | some o in objects(mesh); o.kind == kind] if not input.meshes[mesh].kinds

# ref names a generated object in findings: a Kubernetes-shaped object by kind and metadata, a
# plain Consul config entry without that envelope by its Kind, Name and Namespace.
ref(o) := {"kind": o.kind, "name": o.metadata.name, "namespace": object.get(o.metadata, "namespace", "")} if o.metadata.name

ref(o) := {"kind": object.get(o, "Kind", ""), "name": object.get(o, "Name", ""), "namespace": object.get(o, "Namespace", "")} if not o.metadata.name

# consul_entries lists the plain Consul config entries of one Kind ("service-splitter") among the
# consul objects: the adapter's config-entry form (trellis translate --consul-format
# config-entry: Kind, Name and the entry's fields at the top level, inside a kind/metadata
# envelope) and entries without any envelope. consul-k8s custom resources are not included
# (rules read those through objects_of with their CRD kind).
consul_entries(kind) := [o | some o in objects("consul"); o.Kind == kind]

# consul_protocols maps a service name to its lower-cased ServiceDefaults protocol, from custom
# resources and, for names no custom resource declares, from plain config entries.
consul_protocols := object.union(
	{o.Name: lower(object.get(o, "Protocol", "tcp")) | some o in consul_entries("service-defaults")},
	{o.metadata.name: lower(object.get(o.spec, "protocol", "tcp")) | some o in objects_of("consul", "ServiceDefaults"); o.spec},
)

# server_service is the service a Linkerd Server selects: the design service of the Server's
# namespace whose selector its podSelector.matchLabels include, else its app label, "" when unknown.
# Candidates come from services_by_label, so naming the service of each of many findings does not
# scan every service.
server_service(o) := name if {
	labels := object.get(object.get(o.spec, "podSelector", {}), "matchLabels", {})
	ns := object.get(o.metadata, "namespace", "")
	names := sort({n |
		some k, v in labels
		some n in services_by_label[label_key(ns, k, v)]
		selects(labels, object.get(services[n], "selector", {}))
	})
	count(names) > 0
	name := names[0]
} else := object.get(object.get(object.get(o.spec, "podSelector", {}), "matchLabels", {}), "app", "")

# selector_labels lists [label_key(namespace, label, value), service] for every label of every
# service's selector.
selector_labels := [[label_key(object.get(s, "namespace", ""), k, v), s.name] |
	some s in object.get(input.spec, "services", [])
	some k, v in object.get(s, "selector", {})
]

# services_by_label maps a label_key to the names of the services whose selector has that label
# in that namespace. OPA indexes the inner comprehension on the outer key (comprehension
# indexing), so this is built in one pass, not one pass per key.
services_by_label := {key: names |
	some p in selector_labels
	key := p[0]
	names := {q[1] | some q in selector_labels; q[0] == key}
}

# label_key joins a namespace, a label name and a value into one lookup key.
label_key(ns, k, v) := concat("\u0000", [ns, k, v])

# selects holds when a non-empty selector's every label is among labels.
selects(labels, selector) if {
	count(selector) > 0
	every k, v in selector {
		labels[k] == v
	}
}
