package consul_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/consul"
	"github.com/trellis-mesh/trellis/spec"
)

func importEntries(t *testing.T, objs ...map[string]any) (*spec.Design, []adapters.Warning) {
	t.Helper()
	var us []*unstructured.Unstructured
	for _, o := range objs {
		us = append(us, &unstructured.Unstructured{Object: o})
	}
	d, ws, err := (&consul.Adapter{}).Import(context.Background(), us, adapters.ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	d.Default()
	if vs := d.Validate(); len(vs) > 0 {
		t.Fatalf("imported design does not validate: %v", vs)
	}
	return d, ws
}

// Config entries as the Consul docs and HCL files spell them (snake_case, lower-case kind and
// name) import like the CamelCase API form.
func TestImportSnakeCaseConfigEntries(t *testing.T) {
	snake, _ := importEntries(t,
		map[string]any{"kind": "service-defaults", "name": "cart", "protocol": "http"},
		map[string]any{"kind": "service-resolver", "name": "cart", "default_subset": "stable",
			"subsets": map[string]any{
				"stable": map[string]any{"filter": "Service.Meta.track == stable"},
				"edge":   map[string]any{"filter": "Service.Meta.track == edge"},
			}},
		map[string]any{"kind": "service-splitter", "name": "cart", "splits": []any{
			map[string]any{"weight": int64(75), "service_subset": "stable"},
			map[string]any{"weight": int64(25), "service_subset": "edge"},
		}},
	)
	camel, _ := importEntries(t,
		map[string]any{"Kind": "service-defaults", "Name": "cart", "Protocol": "http"},
		map[string]any{"Kind": "service-resolver", "Name": "cart", "DefaultSubset": "stable",
			"Subsets": map[string]any{
				"stable": map[string]any{"Filter": "Service.Meta.track == stable"},
				"edge":   map[string]any{"Filter": "Service.Meta.track == edge"},
			}},
		map[string]any{"Kind": "service-splitter", "Name": "cart", "Splits": []any{
			map[string]any{"Weight": int64(75), "ServiceSubset": "stable"},
			map[string]any{"Weight": int64(25), "ServiceSubset": "edge"},
		}},
	)
	for label, d := range map[string]*spec.Design{"snake_case": snake, "CamelCase": camel} {
		if len(d.Spec.Traffic) != 1 || len(d.Spec.Traffic[0].Routes) != 1 {
			t.Fatalf("%s: traffic = %+v, want one policy with one route", label, d.Spec.Traffic)
		}
		bs := d.Spec.Traffic[0].Routes[0].Backends
		if len(bs) != 2 || bs[0].Version != "stable" || bs[0].Weight != 75 || bs[1].Version != "edge" || bs[1].Weight != 25 {
			t.Errorf("%s: backends = %+v, want stable 75 / edge 25", label, bs)
		}
	}
}

// A router sending a path to another service, with no entry for that service and no
// service-defaults for the routed one (both live in proxy-defaults or elsewhere): the design
// declares both, as L7 services, and says so.
func TestImportRouterToUndeclaredService(t *testing.T) {
	d, ws := importEntries(t, map[string]any{
		"apiVersion": consul.CRDAPIVersion, "kind": "ServiceRouter",
		"metadata": map[string]any{"name": "storefront"},
		"spec": map[string]any{"routes": []any{map[string]any{
			"match":       map[string]any{"http": map[string]any{"pathPrefix": "/checkout"}},
			"destination": map[string]any{"service": "checkout", "requestTimeout": "3s"},
		}}},
	})
	protos := map[string]spec.Protocol{}
	for _, s := range d.Spec.Services {
		protos[s.Name] = s.Protocol
	}
	if protos["storefront"] != spec.ProtocolHTTP || protos["checkout"] != spec.ProtocolHTTP {
		t.Errorf("services = %v, want storefront and checkout declared as http", protos)
	}
	r := d.Spec.Traffic[0].Routes[0]
	if len(r.Backends) != 1 || r.Backends[0].Service != "checkout" || r.Match[0].Path == nil || r.Match[0].Path.Prefix != "/checkout" {
		t.Errorf("route = %+v, want /checkout to checkout", r)
	}
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	all := strings.Join(said, "\n")
	for _, want := range []string{`no service-defaults for "storefront"`, `"checkout" is only named as a destination`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

// The global proxy-defaults protocol is the protocol of every service without service-defaults
// (tutorials set protocol = "http" there once), so it is imported as such, not reported as lost.
func TestImportProxyDefaultsProtocolAppliesToServices(t *testing.T) {
	d, ws := importEntries(t,
		map[string]any{"kind": "proxy-defaults", "name": "global", "config": map[string]any{"protocol": "http"}},
		map[string]any{"kind": "service-defaults", "name": "ledger"},
		map[string]any{"kind": "service-resolver", "name": "ledger", "connect_timeout": "3s"},
		map[string]any{"kind": "service-intentions", "name": "ledger", "sources": []any{
			map[string]any{"name": "teller", "action": "allow"},
		}},
	)
	for _, s := range d.Spec.Services {
		if s.Protocol != spec.ProtocolHTTP {
			t.Errorf("service %s has protocol %q, want http from proxy-defaults", s.Name, s.Protocol)
		}
	}
	for _, w := range ws {
		if strings.Contains(w.String(), `"protocol" is not imported`) {
			t.Errorf("the proxy-defaults protocol is reported as lost: %s", w)
		}
	}
}

// Intentions with HTTP permissions only exist for L7 services; without service-defaults the
// destination is taken as http so the imported conditions stay valid.
func TestImportL7IntentionsWithoutServiceDefaults(t *testing.T) {
	d, ws := importEntries(t, map[string]any{
		"Kind": "service-intentions", "Name": "invoices",
		"Sources": []any{
			map[string]any{"Name": "portal", "Permissions": []any{
				map[string]any{"Action": "allow", "HTTP": map[string]any{"PathExact": "/invoices", "Methods": []any{"GET"}}},
			}},
		},
	})
	if len(d.Spec.Services) != 1 || d.Spec.Services[0].Protocol != spec.ProtocolHTTP {
		t.Fatalf("services = %+v, want invoices as http", d.Spec.Services)
	}
	// Consul's default allow admits portal's other requests and every other caller: the design
	// says so with a second allow rule for any caller.
	if d.Spec.Security == nil || len(d.Spec.Security.Access) != 2 || len(d.Spec.Security.Access[0].When) != 1 ||
		d.Spec.Security.Access[0].When[0].Methods[0] != "GET" ||
		d.Spec.Security.Access[1].Sources[0].Service != "*" || len(d.Spec.Security.Access[1].When) != 0 {
		t.Errorf("access = %+v, want portal allowed GET /invoices and any caller allowed", d.Spec.Security)
	}
	found := false
	for _, w := range ws {
		found = found || strings.Contains(w.String(), `no service-defaults for "invoices"`)
	}
	if !found {
		t.Errorf("the inferred protocol is not reported: %v", ws)
	}
}

// `consul config read` output carries server bookkeeping (CreateIndex, ModifyIndex) and, on
// recent versions, Partition and Namespace "default": none of it is a lost setting.
func TestImportConfigReadOutputIsQuiet(t *testing.T) {
	_, ws := importEntries(t,
		map[string]any{"Kind": "service-defaults", "Name": "tickets", "Protocol": "http",
			"Partition": "default", "Namespace": "default", "CreateIndex": int64(41), "ModifyIndex": int64(57)},
		map[string]any{"Kind": "service-resolver", "Name": "tickets", "ConnectTimeout": "4s",
			"Partition": "default", "Namespace": "default", "CreateIndex": int64(42), "ModifyIndex": int64(42)},
	)
	for _, w := range ws {
		s := w.String()
		for _, noise := range []string{"createIndex", "modifyIndex", "partition", "namespace"} {
			if strings.Contains(s, noise) {
				t.Errorf("bookkeeping reported as lost: %s", s)
			}
		}
	}
	d, ws := importEntries(t, map[string]any{"Kind": "service-defaults", "Name": "tickets", "Protocol": "http", "Namespace": "support", "Partition": "eu"})
	if d.Spec.Services[0].Namespace != "support" {
		t.Errorf("namespace = %q, want the Consul namespace support", d.Spec.Services[0].Namespace)
	}
	found := false
	for _, w := range ws {
		found = found || strings.Contains(w.String(), `admin partition "eu"`)
	}
	if !found {
		t.Errorf("a non-default partition is not reported: %v", ws)
	}
}
