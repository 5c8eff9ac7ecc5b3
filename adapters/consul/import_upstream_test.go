package consul_test

import (
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

func warningText(ws []adapters.Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

func intention(dest string, sources ...map[string]any) map[string]any {
	var srcs []any
	for _, s := range sources {
		srcs = append(srcs, s)
	}
	return map[string]any{"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions",
		"metadata": map[string]any{"name": dest}, "spec": map[string]any{"destination": map[string]any{"name": dest}, "sources": srcs}}
}

// The deny-all intention ("*" to "*", as HashiCups' charts/demo/templates/intentions.yaml and
// Consul's zero-trust docs write it) is the design's default deny: no rule for a "*" service, no
// "default allow" rules for the other destinations.
func TestImportDenyAllIntentionIsTheDefaultDeny(t *testing.T) {
	d, ws := importEntries(t,
		intention("public-api", map[string]any{"name": "nginx", "action": "allow"}),
		intention("postgres", map[string]any{"name": "products-api", "action": "allow"}),
		intention("products-api", map[string]any{"name": "public-api", "action": "allow"}),
		intention("collector", map[string]any{"name": "*", "action": "allow"}),
		intention("*", map[string]any{"name": "*", "action": "deny"}),
	)
	sec := d.Spec.Security
	if sec == nil || sec.DefaultPolicy != spec.ActionDeny {
		t.Fatalf("security = %+v, want default deny", sec)
	}
	var rules []string
	for _, r := range sec.Access {
		if r.Destination == "*" {
			t.Errorf("rule for a service named \"*\": %+v", r)
		}
		src := r.Sources[0].Service + r.Sources[0].Identity
		rules = append(rules, string(r.Action)+" "+src+"->"+r.Destination)
	}
	if got := strings.Join(rules, ", "); got != "allow *->collector, allow products-api->postgres, allow public-api->products-api, allow nginx->public-api" {
		t.Errorf("rules = %s", got)
	}
	if w := warningText(ws); strings.Contains(w, "default allow") {
		t.Errorf("default-allow rules next to a deny-all:\n%s", w)
	}
}

// A named source on the "*" destination applies to every service: one rule per service of the
// input, said in an info note; L7 permissions there are reported and not imported.
func TestImportWildcardDestinationWithNamedSource(t *testing.T) {
	d, ws := importEntries(t,
		map[string]any{"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceDefaults", "metadata": map[string]any{"name": "api"}, "spec": map[string]any{"protocol": "http"}},
		map[string]any{"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceDefaults", "metadata": map[string]any{"name": "db"}, "spec": map[string]any{"protocol": "tcp"}},
		intention("*", map[string]any{"name": "prometheus", "action": "allow"},
			map[string]any{"name": "web", "permissions": []any{map[string]any{"action": "allow", "http": map[string]any{"pathPrefix": "/"}}}}),
	)
	var got []string
	for _, r := range d.Spec.Security.Access {
		if r.Sources[0].Identity == "prometheus" && r.Action == spec.ActionAllow {
			got = append(got, r.Destination)
		}
	}
	if strings.Join(got, ",") != "api,db" {
		t.Errorf("prometheus rules on %v, want api and db: %+v", got, d.Spec.Security.Access)
	}
	w := warningText(ws)
	for _, want := range []string{
		`ServiceIntentions/*.spec.sources[0]: the intention applies to every service (destination "*"): imported as a allow rule on each of the 2 services of the input (api, db)`,
		`ServiceIntentions/*.spec.sources[1].permissions: L7 permissions on the wildcard destination "*" have no design equivalent`,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
}

// consul-k8s registers each Kubernetes Service as a Consul service: its ports and selector are
// the design service's, its protocol stays the service-defaults' (HashiCups public-api.yaml
// ships the Service, a ServiceAccount, ServiceDefaults, a Deployment and an intention).
func TestImportKubernetesServicesGivePorts(t *testing.T) {
	d, ws := importEntries(t,
		map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "public-api"},
			"spec": map[string]any{"type": "ClusterIP", "selector": map[string]any{"app": "public-api"},
				"ports": []any{map[string]any{"port": int64(8080), "targetPort": int64(8080)}}}},
		map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "postgres"},
			"spec": map[string]any{"selector": map[string]any{"service": "postgres"},
				"ports": []any{map[string]any{"name": "pg", "port": int64(5432), "targetPort": "pg"}}}},
		map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "legacy"},
			"spec": map[string]any{"type": "ExternalName", "externalName": "db.example.com"}},
		map[string]any{"apiVersion": "consul.hashicorp.com/v1", "kind": "ServiceDefaults", "metadata": map[string]any{"name": "public-api"}, "spec": map[string]any{"protocol": "http"}},
		intention("public-api", map[string]any{"name": "nginx", "action": "allow"}),
	)
	byName := map[string]spec.Service{}
	for _, s := range d.Spec.Services {
		byName[s.Name] = s
	}
	pa := byName["public-api"]
	if pa.Protocol != spec.ProtocolHTTP || len(pa.Ports) != 1 || pa.Ports[0].Port != 8080 || pa.Ports[0].TargetPort != 8080 {
		t.Errorf("public-api = %+v, want http on 8080", pa)
	}
	pg := byName["postgres"]
	if pg.Protocol != spec.ProtocolTCP || len(pg.Ports) != 1 || pg.Ports[0].Port != 5432 || pg.Ports[0].Name != "pg" || pg.Selector["service"] != "postgres" {
		t.Errorf("postgres = %+v, want tcp on 5432 with its selector", pg)
	}
	if _, ok := byName["legacy"]; ok {
		t.Error("an ExternalName Service became a mesh service")
	}
	w := warningText(ws)
	if strings.Contains(w, "not a Consul object") {
		t.Errorf("Kubernetes Services reported as foreign objects:\n%s", w)
	}
	if !strings.Contains(w, "Service legacy (v1).spec.type: an ExternalName Service is a DNS alias") {
		t.Errorf("warnings:\n%s", w)
	}
}
