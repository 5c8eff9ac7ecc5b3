package istio_test

import (
	"context"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
)

func importIstio(t *testing.T, yaml string) (*spec.Design, string) {
	t.Helper()
	objs, err := adaptertest.ParseObjects([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d, ws, err := istio.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vs := d.Validate(); len(vs) > 0 {
		t.Fatalf("imported design is invalid: %v", vs)
	}
	var joined strings.Builder
	for _, w := range ws {
		joined.WriteString(w.String() + "\n")
	}
	return d, joined.String()
}

// A VirtualService rule without a match takes every request: Istio never uses the rules after
// it (istio/istio samples/bookinfo/networking/fault-injection-details-v1.yaml). They are
// dropped with a warning naming them, and the design stays valid.
func TestImportDropsRulesAfterACatchAll(t *testing.T) {
	d, ws := importIstio(t, `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - fault: {abort: {httpStatus: 555, percentage: {value: 100.0}}}
    route: [{destination: {host: details, subset: v1}}]
  - route: [{destination: {host: details, subset: v1}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: details}
spec:
  host: details
  subsets: [{name: v1, labels: {version: v1}}]
`)
	if len(d.Spec.Traffic) != 1 || len(d.Spec.Traffic[0].Routes) != 1 {
		t.Fatalf("routes = %+v, want the aborting catch-all only", d.Spec.Traffic)
	}
	r := d.Spec.Traffic[0].Routes[0]
	if r.Fault == nil || r.Fault.Abort == nil || r.Fault.Abort.HTTPStatus != 555 {
		t.Errorf("the catch-all lost its abort: %+v", r)
	}
	if !strings.Contains(ws, "VirtualService /details: spec.http[0]: the rule has no match, so it takes every request and Istio never uses the 1 rule(s) after it (spec.http[1]): they are dropped") {
		t.Errorf("warnings:\n%s", ws)
	}
	// TCP routes follow the HTTP rules: a catch-all HTTP rule does not shadow them (the
	// design holds both kinds in one route list, which it then rejects; that is not this
	// check's concern).
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mixed}
spec:
  hosts: [mixed]
  http:
  - route: [{destination: {host: mixed}}]
  - match: [{uri: {prefix: /never}}]
    route: [{destination: {host: mixed}}]
  tcp:
  - route: [{destination: {host: mixed, port: {number: 5432}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	md, mws, err := istio.New().Import(context.Background(), objs, adapters.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, w := range mws {
		said = append(said, w.String())
	}
	if rs := md.Spec.Traffic[0].Routes; len(rs) != 2 || len(rs[0].Match) != 0 || rs[1].Backends[0].Port != 5432 || !strings.Contains(strings.Join(said, "\n"), "never uses the 1 rule(s) after it (spec.http[1])") {
		t.Errorf("routes = %+v, want the catch-all and the tcp route\n%s", rs, said)
	}
	// A VirtualService of another host keeps its own routes.
	d, ws = importIstio(t, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`)
	if len(d.Spec.Traffic[0].Routes) != 2 || strings.Contains(ws, "no match") {
		t.Errorf("a catch-all in last position must stay: %+v\n%s", d.Spec.Traffic, ws)
	}
}

// Subsets with the same labels (Argo Rollouts' examples/istio/istio-subset-split.yaml: canary and
// stable both select app=istio-subset-split until the controller adds the pod-template hash)
// fold into one version; the routes' weights add up.
func TestImportMergesSubsetsOfTheSamePods(t *testing.T) {
	d, ws := importIstio(t, `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: split-vsvc}
spec:
  hosts: [split]
  http:
  - name: primary
    route:
    - {destination: {host: split, subset: stable}, weight: 90}
    - {destination: {host: split, subset: canary}, weight: 10}
    mirror: {host: split, subset: canary}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: split-destrule}
spec:
  host: split
  subsets:
  - {name: stable, labels: {app: split}}
  - {name: canary, labels: {app: split}}
`)
	s := d.Spec.Services[0]
	if len(s.Versions) != 1 || s.Versions[0].Name != "stable" {
		t.Errorf("versions = %+v, want stable only", s.Versions)
	}
	r := d.Spec.Traffic[0].Routes[0]
	if len(r.Backends) != 1 || r.Backends[0].Version != "stable" || r.Backends[0].Weight != 100 {
		t.Errorf("backends = %+v, want stable with 90+10", r.Backends)
	}
	if r.Mirror != nil && r.Mirror.Version != "stable" {
		t.Errorf("mirror = %+v, want the kept version", r.Mirror)
	}
	if !strings.Contains(ws, `DestinationRule (host split): spec.subsets: subsets "stable" and "canary" select the same pods (app=split)`) {
		t.Errorf("warnings:\n%s", ws)
	}
}

// A Service with ports of two protocols (istio/istio samples/extauthz/ext-authz.yaml: http 8000
// and grpc 9000) says which protocol the design keeps.
func TestImportWarnsAboutMixedProtocolPorts(t *testing.T) {
	d, ws := importIstio(t, `
apiVersion: v1
kind: Service
metadata: {name: ext-authz}
spec:
  ports:
  - {name: http, port: 8000, targetPort: 8000}
  - {name: grpc, port: 9000, targetPort: 9000}
  selector: {app: ext-authz}
`)
	if s := d.Spec.Services[0]; s.Protocol != spec.ProtocolHTTP || len(s.Ports) != 2 {
		t.Errorf("service = %+v", s)
	}
	if !strings.Contains(ws, "Service /ext-authz: spec.ports[1]: port 9000 (grpc) is grpc, another port is http: a design service has one protocol") {
		t.Errorf("warnings:\n%s", ws)
	}
	// Ports of one protocol (tcp-echo: tcp and tcp-other) say nothing.
	_, ws = importIstio(t, `
apiVersion: v1
kind: Service
metadata: {name: tcp-echo}
spec:
  ports: [{name: tcp, port: 9000}, {name: tcp-other, port: 9001}]
  selector: {app: tcp-echo}
`)
	if ws != "" {
		t.Errorf("warnings for one protocol:\n%s", ws)
	}
}
