// Package realworld runs `trellis import` over inputs shaped like the mesh configurations other
// projects publish (Istio samples, Linkerd docs, Consul tutorials, SMI and GAMMA examples, App
// Mesh walkthroughs), then validates and translates the imported designs for every mesh.
// The inputs directly under testdata are written for these tests, modelled on the variants seen
// in those projects (mixed API versions, CamelCase and snake_case Consul entries, Lists, CRLF,
// templates). The inputs under testdata/upstream are the projects' own published
// configurations (see testdata/upstream/SOURCES.md for origins and licences); upstream_test.go
// imports them and round-trips them through their mesh.
package realworld

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/internal/cli"
	"github.com/trellis-mesh/trellis/spec"
)

func trellis(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// split is a route's backends as "service[/version]=weight", the policy's own service spelled out.
func split(svc string, r spec.Route) string {
	var parts []string
	for _, b := range r.Backends {
		s := b.Service
		if s == "" {
			s = svc
		}
		if b.Version != "" {
			s += "/" + b.Version
		}
		parts = append(parts, fmt.Sprintf("%s=%d", s, b.Weight))
	}
	return strings.Join(parts, ",")
}

func policy(t *testing.T, d *spec.Design, svc string) spec.TrafficPolicy {
	t.Helper()
	for _, tp := range d.Spec.Traffic {
		if tp.Service == svc {
			return tp
		}
	}
	t.Fatalf("no traffic policy for %q in %+v", svc, d.Spec.Traffic)
	return spec.TrafficPolicy{}
}

func header(r spec.Route, name string) string {
	for _, m := range r.Match {
		if h, ok := m.Headers[name]; ok {
			return h.Exact
		}
	}
	return ""
}

func TestImportValidateTranslate(t *testing.T) {
	cases := []struct {
		source, file string
		check        func(t *testing.T, d *spec.Design)
	}{
		{"istio", "istio-mixed-versions.yaml", func(t *testing.T, d *spec.Design) {
			tp := policy(t, d, "catalog")
			if len(tp.Routes) != 2 || header(tp.Routes[0], "x-tester") != "qa" || split("catalog", tp.Routes[0]) != "catalog/beta=100" {
				t.Errorf("header route lost: %+v", tp.Routes)
			}
			if got := split("catalog", tp.Routes[len(tp.Routes)-1]); got != "catalog/stable=85,catalog/beta=15" {
				t.Errorf("weighted route = %s, want stable 85 / beta 15", got)
			}
			if d.Spec.Security == nil || d.Spec.Security.MTLS != spec.MTLSStrict {
				t.Errorf("strict mTLS lost: %+v", d.Spec.Security)
			}
		}},
		{"linkerd", "linkerd-routes.yaml", func(t *testing.T, d *spec.Design) {
			q := policy(t, d, "quotes")
			if len(q.Routes) != 2 || header(q.Routes[0], "x-preview") != "on" || split("quotes", q.Routes[0]) != "quotes-next=1" {
				t.Errorf("policy.linkerd.io v1beta2 header route lost: %+v", q.Routes)
			}
			if got := split("ledger", policy(t, d, "ledger").Routes[0]); got != "ledger=95,ledger-canary=5" {
				t.Errorf("gateway.networking.k8s.io split = %s", got)
			}
		}},
		{"consul", "consul-entries-camel.json", func(t *testing.T, d *spec.Design) {
			if got := split("billing", policy(t, d, "billing").Routes[0]); got != "billing/blue=70,billing/green=30" {
				t.Errorf("splitter = %s", got)
			}
		}},
		{"consul", "consul-entries-snake.json", func(t *testing.T, d *spec.Design) {
			r := policy(t, d, "gateway-api").Routes[0]
			if got := split("gateway-api", r); !strings.HasPrefix(got, "reports=") || strings.Contains(got, ",") {
				t.Errorf("router destination = %s, want reports", got)
			}
			if len(r.Match) != 1 || r.Match[0].Path == nil || r.Match[0].Path.Prefix != "/reports" || r.Match[0].Method != "GET" {
				t.Errorf("router match = %+v, want GET /reports", r.Match)
			}
			if r.Timeout.String() != "8s" {
				t.Errorf("request_timeout lost: %v", r.Timeout)
			}
		}},
		{"consul", "consul-crds.yaml", func(t *testing.T, d *spec.Design) {
			r := policy(t, d, "search").Routes[0]
			if header(r, "x-beta") != "1" || !strings.HasPrefix(split("search", r), "search-beta=") {
				t.Errorf("header route = %+v", r)
			}
		}},
		{"smi", "smi-versions.yaml", func(t *testing.T, d *spec.Design) {
			want := map[string]string{
				"inventory": "inventory-v1=60,inventory-v2=40",
				"pricing":   "pricing=900,pricing-canary=100",
				"labels":    "labels-a=1,labels-b=1",
			}
			for svc, w := range want {
				if got := split(svc, policy(t, d, svc).Routes[0]); got != w {
					t.Errorf("%s split = %s, want %s", svc, got, w)
				}
			}
		}},
		{"gateway-api", "gamma.yaml", func(t *testing.T, d *spec.Design) {
			tp := policy(t, d, "profile")
			if len(tp.Routes) != 2 || tp.Routes[0].Match[0].Path == nil || tp.Routes[0].Match[0].Path.Prefix != "/v2" {
				t.Errorf("path route lost: %+v", tp.Routes)
			}
			if got := split("profile", tp.Routes[1]); got != "profile-v1=3,profile-v2=1" {
				t.Errorf("split = %s", got)
			}
		}},
		{"appmesh", "appmesh.yaml", func(t *testing.T, d *spec.Design) {
			tp := policy(t, d, "tracker")
			if len(tp.Routes) != 2 || header(tp.Routes[0], "x-fleet-beta") != "yes" || split("tracker", tp.Routes[0]) != "tracker/v2=100" {
				t.Errorf("header route lost: %+v", tp.Routes)
			}
			if got := split("tracker", tp.Routes[1]); got != "tracker/v1=9,tracker/v2=1" {
				t.Errorf("split = %s", got)
			}
		}},
		{"appmesh", "appmesh-v1beta1.yaml", func(t *testing.T, d *spec.Design) {
			if got := split("pears", policy(t, d, "pears").Routes[0]); got != "pears/bartlett=4,pears/bosc=1" {
				t.Errorf("v1beta1 inline routes = %s, want bartlett 4 / bosc 1", got)
			}
		}},
		{"gateway-api", "gamma-tcp.yaml", func(t *testing.T, d *spec.Design) {
			if got := split("queue", policy(t, d, "queue").Routes[0]); got != "queue-a=2,queue-b=1" {
				t.Errorf("TCPRoute split = %s", got)
			}
			r := policy(t, d, "scheduler").Routes[0]
			if r.Rewrite == nil || r.Rewrite.FullPath != "/healthz/live" {
				t.Errorf("exact-path prefix rewrite = %+v, want full path /healthz/live", r.Rewrite)
			}
		}},
		{"consul", "consul-proxy-defaults.json", func(t *testing.T, d *spec.Design) {
			if got := split("mailer", policy(t, d, "mailer").Routes[0]); got != "mailer-smtp=95,mailer-ses=5" {
				t.Errorf("splitter = %s", got)
			}
			for _, s := range d.Spec.Services {
				if s.Protocol != spec.ProtocolHTTP {
					t.Errorf("service %s protocol %q, want http (proxy-defaults)", s.Name, s.Protocol)
				}
			}
			if d.Spec.Security == nil || len(d.Spec.Security.Access) == 0 || d.Spec.Security.Access[0].When[0].Paths[0] != "/send" {
				t.Errorf("L7 intention lost: %+v", d.Spec.Security)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			code, out, errOut := trellis("import", c.source, "-f", filepath.Join("testdata", c.file))
			if code != cli.ExitOK {
				t.Fatalf("import exit %d: %s", code, errOut)
			}
			ds, err := spec.LoadBytes(c.file+".design.yaml", []byte(out))
			if err != nil {
				t.Fatalf("imported design does not validate: %v\n%s\nwarnings:\n%s", err, out, errOut)
			}
			c.check(t, ds[0])
			designFile := filepath.Join(t.TempDir(), "design.yaml")
			if err := os.WriteFile(designFile, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, vout, verr := trellis("validate", designFile); code != cli.ExitOK {
				t.Errorf("validate exit %d: %s%s", code, vout, verr)
			}
			for _, mesh := range []string{"istio", "linkerd", "consul", "native"} {
				code, mout, merr := trellis("translate", "--mesh", mesh, "-f", designFile)
				if code != cli.ExitOK || strings.TrimSpace(mout) == "" {
					t.Errorf("translate --mesh %s: exit %d, %d bytes: %s", mesh, code, len(mout), merr)
				}
			}
		})
	}
}

// Inputs that are valid for their mesh but not yet usable as they are: the error says where
// and what to do.
func TestUnusableInputsFailClearly(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		source, name, content string
		want                  []string
	}{
		{"consul", "resolver.hcl", "Kind = \"service-resolver\"\nName = \"billing\"\nDefaultSubset = \"blue\"\n",
			[]string{"resolver.hcl:1:", "HCL is not supported", "JSON"}},
		{"appmesh", "walkthrough.yaml.template", "apiVersion: appmesh.k8s.aws/v1beta2\nkind: Mesh\nmetadata:\n  name: ${MESH_NAME}\nspec: {}\n",
			[]string{"walkthrough.yaml.template:4:", "${MESH_NAME}", "envsubst"}},
		{"linkerd", "profile-fragment.yaml", "spec:\n  routes:\n  - name: GET /books\n    timeout: 300ms\n",
			[]string{"profile-fragment.yaml:1:", "apiVersion and kind are required"}},
		{"istio", "tabs.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n\tname: reviews\n",
			[]string{"tabs.yaml:4:", "YAML indents with spaces: this line starts with a tab"}},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := trellis("import", c.source, "-f", p)
		if code != cli.ExitInvalid {
			t.Errorf("%s: exit %d, want %d", c.name, code, cli.ExitInvalid)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", c.name, errOut, w)
			}
		}
	}
}
