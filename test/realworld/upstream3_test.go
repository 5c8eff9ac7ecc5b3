package realworld

import (
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/internal/cli"
	"github.com/trellis-mesh/trellis/spec"
)

func versionNames(s spec.Service) string {
	var out []string
	for _, v := range s.Versions {
		out = append(out, v.Name)
	}
	return strings.Join(out, ",")
}

func externalService(t *testing.T, d *spec.Design, name string) spec.ExternalService {
	t.Helper()
	for _, e := range d.Spec.ExternalServices {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no external service %q in %s", name, mustYAML(d.Spec.ExternalServices))
	return spec.ExternalService{}
}

// Third round: Istio's helloworld, tcp-echo, ext-authz and traffic-management tasks, Argo
// Rollouts' Istio and SMI examples, HashiCups' intentions (consul-k8s demo chart), Linkerd's
// fault-injection task, Flagger's Linkerd policy and the GRPCRoute mirror conformance test.
var thirdRoundCases = []upstreamCase{
	{
		name: "istio helloworld: two versioned Deployments behind one Service", source: "istio",
		inputs: []string{"istio/helloworld.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			s := service(t, d, "helloworld")
			if s.Protocol != spec.ProtocolHTTP || len(s.Ports) != 1 || s.Ports[0].Port != 5000 || len(s.Versions) != 0 {
				t.Errorf("helloworld = %+v, want http on 5000 and no versions (no DestinationRule defines subsets)", s)
			}
			if len(d.Spec.Traffic) != 0 {
				t.Errorf("traffic = %s, want none", mustYAML(d.Spec.Traffic))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio virtual-service-all-v1 with destination-rule-all (request routing task)", source: "istio",
		inputs:   []string{"istio-bookinfo/bookinfo.yaml", "istio/destination-rule-all.yaml", "istio/virtual-service-all-v1.yaml"},
		warnings: []string{"imported 22 objects from 3 files (istio): 4 services, 0 external services, 4 traffic policies, 0 access rules; 0 warnings"},
		check: func(t *testing.T, d *spec.Design) {
			for _, n := range []string{"details", "productpage", "ratings", "reviews"} {
				if got := split(n, policy(t, d, n).Routes[0]); got != n+"/v1=100" {
					t.Errorf("%s routes to %s, want v1 only", n, got)
				}
			}
			want := map[string]string{"productpage": "v1", "reviews": "v1,v2,v3", "ratings": "v1,v2,v2-mysql,v2-mysql-vm", "details": "v1,v2"}
			for n, vs := range want {
				if got := versionNames(service(t, d, n)); got != vs {
					t.Errorf("%s versions = %s, want %s", n, got, vs)
				}
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio request timeouts task: 0.5s on reviews v2, 2s delay on ratings, over all-v1", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio/destination-rule-all.yaml", "istio/virtual-service-all-v1.yaml", "istio/request-timeouts.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			rv := policy(t, d, "reviews").Routes
			if len(rv) != 1 || split("reviews", rv[0]) != "reviews/v2=100" || rv[0].Timeout.String() != "500ms" {
				t.Errorf("reviews = %s, want v2 with a 500ms timeout (the task's VirtualService replaces all-v1's)", mustYAML(rv))
			}
			rt := policy(t, d, "ratings").Routes
			if len(rt) != 1 || rt[0].Fault == nil || rt[0].Fault.Delay == nil || rt[0].Fault.Delay.Fixed.String() != "2s" || rt[0].Fault.Delay.Percent != 100 {
				t.Errorf("ratings = %s, want a 2s delay on every request", mustYAML(rt))
			}
			if got := split("productpage", policy(t, d, "productpage").Routes[0]); got != "productpage/v1=100" {
				t.Errorf("productpage = %s", got)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio fault-injection-details-v1: the rule after a catch-all abort is unreachable", source: "istio",
		inputs:   []string{"istio-bookinfo/bookinfo.yaml", "istio/fault-injection-details-v1.yaml"},
		warnings: []string{"VirtualService /details: spec.http[0]: the rule has no match, so it takes every request and Istio never uses the 1 rule(s) after it (spec.http[1]): they are dropped"},
		check: func(t *testing.T, d *spec.Design) {
			rs := policy(t, d, "details").Routes
			if len(rs) != 1 || rs[0].Fault == nil || rs[0].Fault.Abort == nil || rs[0].Fault.Abort.HTTPStatus != 555 || rs[0].Fault.Abort.Percent != 100 || split("details", rs[0]) != "details/v1=100" {
				t.Errorf("details routes = %s, want every request to v1 aborted with 555", mustYAML(rs))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio tcp-echo: a two-port TCP service; the 80/20 shift is bound to the ingress gateway", source: "istio",
		inputs:   []string{"istio/tcp-echo-services.yaml", "istio/tcp-echo-20-v2.yaml"},
		warnings: []string{"VirtualService /tcp-echo: spec.gateways: routes bound only to ingress gateways (tcp-echo-gateway) are outside the mesh design"},
		check: func(t *testing.T, d *spec.Design) {
			s := service(t, d, "tcp-echo")
			if s.Protocol != spec.ProtocolTCP || len(s.Ports) != 2 || s.Ports[0].Port != 9000 || s.Ports[1].Port != 9001 || s.Ports[1].Name != "tcp-other" {
				t.Errorf("tcp-echo = %+v, want tcp on 9000 and 9001", s)
			}
			if len(d.Spec.Traffic) != 0 {
				t.Errorf("gateway routes imported as mesh routes: %s", mustYAML(d.Spec.Traffic))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio ext-authz sample: http and grpc ports on one Service", source: "istio",
		inputs:   []string{"istio/ext-authz.yaml"},
		warnings: []string{"Service /ext-authz: spec.ports[1]: port 9000 (grpc) is grpc, another port is http: a design service has one protocol, so it is imported as http"},
		check: func(t *testing.T, d *spec.Design) {
			s := service(t, d, "ext-authz")
			if s.Protocol != spec.ProtocolHTTP || len(s.Ports) != 2 || s.Ports[1].Port != 9000 {
				t.Errorf("ext-authz = %+v, want http with ports 8000 and 9000", s)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio mirroring task: v1 serves, v2 gets a copy of every request", source: "istio",
		inputs: []string{"istio/mirroring.yaml"},
		// The task's VirtualService sets the deprecated integer mirrorPercent: 100.
		warnings: []string{"imported 6 objects from 1 file (istio): 1 service, 0 external services, 1 traffic policy, 0 access rules; 0 warnings"},
		absent:   []string{"mirrorPercent"},
		check: func(t *testing.T, d *spec.Design) {
			rs := policy(t, d, "httpbin").Routes
			if len(rs) != 1 || split("httpbin", rs[0]) != "httpbin/v1=100" {
				t.Fatalf("httpbin routes = %s", mustYAML(rs))
			}
			if m := rs[0].Mirror; m == nil || m.Version != "v2" || m.Percent != 100 {
				t.Errorf("mirror = %s, want v2 at 100%%", mustYAML(m))
			}
			if s := service(t, d, "httpbin"); len(s.Ports) != 1 || s.Ports[0].Port != 8000 || s.Ports[0].TargetPort != 80 || versionNames(s) != "v1,v2" {
				t.Errorf("httpbin = %+v, want 8000 -> 80 with v1 and v2", s)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio egress task: ServiceEntries for httpbin.org and www.google.com, 3s timeout", source: "istio",
		inputs: []string{"istio/egress-control.yaml", "istio/httpbin.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			h := externalService(t, d, "httpbin-ext")
			if strings.Join(h.Hosts, ",") != "httpbin.org" || h.Protocol != spec.ProtocolHTTP || h.Ports[0].Port != 80 {
				t.Errorf("httpbin-ext = %+v", h)
			}
			g := externalService(t, d, "google")
			if g.Protocol != spec.ProtocolTCP || g.TLS == nil || g.TLS.Mode != spec.ExternalTLSPassthrough || g.Ports[0].Port != 443 {
				t.Errorf("google = %+v, want TLS passthrough on 443", g)
			}
			if rs := policy(t, d, "httpbin-ext").Routes; len(rs) != 1 || rs[0].Timeout.String() != "3s" {
				t.Errorf("httpbin-ext routes = %s, want a 3s timeout", mustYAML(rs))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio egress task, Gateway API variant: ServiceEntry parent and Hostname backend", source: "gateway-api",
		inputs: []string{"istio/egress-control-httproute.yaml"},
		absent: []string{"north-south", "not a Gateway API object", "hostnames are ignored"},
		check: func(t *testing.T, d *spec.Design) {
			if len(d.Spec.Services) != 0 {
				t.Errorf("services = %v, want none", serviceNames(d))
			}
			h := externalService(t, d, "httpbin-ext")
			if strings.Join(h.Hosts, ",") != "httpbin.org" || h.Ports[0].Port != 80 {
				t.Errorf("httpbin-ext = %+v", h)
			}
			rs := policy(t, d, "httpbin-ext").Routes
			if len(rs) != 1 || rs[0].Timeout.String() != "3s" || split("httpbin-ext", rs[0]) != "httpbin-ext=100" {
				t.Errorf("httpbin-ext routes = %s, want a 3s timeout to httpbin.org", mustYAML(rs))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio Gateway API bookinfo route-reviews-90-10 without the per-version Services", source: "gateway-api",
		inputs: []string{"istio/route-reviews-90-10.yaml", "istio-bookinfo/bookinfo.yaml"},
		warnings: []string{
			`service reviews-v1: no Kubernetes Service "reviews-v1" among the objects: its pods are assumed to carry app: reviews-v1, which may select none`,
			`service reviews-v2: no Kubernetes Service "reviews-v2" among the objects`,
		},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", policy(t, d, "reviews").Routes[0]); got != "reviews-v1=90,reviews-v2=10" {
				t.Errorf("split = %s, want 90/10", got)
			}
		},
	},
	{
		name: "istio Gateway API bookinfo route-reviews-90-10 with bookinfo-versions.yaml", source: "gateway-api",
		inputs: []string{"istio/route-reviews-90-10.yaml", "istio-bookinfo/bookinfo.yaml", "istio/bookinfo-versions.yaml"},
		absent: []string{"no Kubernetes Service"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", policy(t, d, "reviews").Routes[0]); got != "reviews-v1=90,reviews-v2=10" {
				t.Errorf("split = %s, want 90/10", got)
			}
			for _, v := range []string{"v1", "v2"} {
				s := service(t, d, "reviews-"+v)
				if s.Selector["app"] != "reviews" || s.Selector["version"] != v || s.Identity != "bookinfo-reviews" {
					t.Errorf("reviews-%s = %+v, want the per-version Service's selector and the reviews service account", v, s)
				}
			}
		},
		// Through Linkerd the per-version Services come back as versions of reviews.
		roundTrip: "linkerd",
		rtCheck: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", policy(t, d, "reviews").Routes[0]); got != "reviews/v1=90,reviews/v2=10" {
				t.Errorf("split through Linkerd = %s, want v1 90 / v2 10", got)
			}
		},
	},
	{
		name: "the same Istio Gateway API route through the linkerd importer, with and without bookinfo-versions.yaml", source: "linkerd",
		inputs:   []string{"istio/route-reviews-90-10.yaml", "istio-bookinfo/bookinfo.yaml"},
		warnings: []string{`service reviews-v1: a route sends traffic to "reviews-v1", which has no Kubernetes Service among the objects`},
		check: func(t *testing.T, d *spec.Design) {
			if s := service(t, d, "reviews-v1"); len(s.Ports) != 1 || s.Ports[0].Port != 9080 {
				t.Errorf("reviews-v1 = %+v, want the route's port 9080 (not the default 80)", s)
			}
		},
	},
	{
		name: "istio Gateway API route-reviews-90-10 with bookinfo-versions.yaml through the linkerd importer", source: "linkerd",
		inputs: []string{"istio/route-reviews-90-10.yaml", "istio-bookinfo/bookinfo.yaml", "istio/bookinfo-versions.yaml"},
		absent: []string{"no Kubernetes Service"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", policy(t, d, "reviews").Routes[0]); got != "reviews/v1=90,reviews/v2=10" {
				t.Errorf("split = %s, want the per-version Services as versions v1 90 / v2 10", got)
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "argo rollouts istio-subset-split: canary and stable subsets select the same pods", source: "istio",
		inputs:   []string{"argo-rollouts/istio-subset-split.yaml"},
		warnings: []string{`DestinationRule (host istio-subset-split): spec.subsets: subsets "stable" and "canary" select the same pods (app=istio-subset-split)`},
		// The Service's targetPort is the name http, which the Rollout declares as 80: `trellis
		// import istio` gives the importer the workloads too, so the name resolves and nothing
		// warns about it.
		absent: []string{"kind not imported: argoproj.io/v1alpha1 Rollout", "targetPort http is a container port name no workload"},
		check: func(t *testing.T, d *spec.Design) {
			s := service(t, d, "istio-subset-split")
			if versionNames(s) != "stable" || len(s.Ports) != 1 || s.Ports[0].TargetPort != 80 {
				t.Errorf("service = %+v, want one version and targetPort 80 (the Rollout's named port http)", s)
			}
			rs := policy(t, d, "istio-subset-split").Routes
			if len(rs) != 1 || rs[0].Name != "primary" || split("istio-subset-split", rs[0]) != "istio-subset-split/stable=100" {
				t.Errorf("routes = %s, want primary: everything to stable", mustYAML(rs))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "argo rollouts App Mesh canary: router on 80, virtual nodes on 8080", source: "appmesh",
		inputs:   []string{"argo-rollouts/appmesh-canary-service.yaml"},
		warnings: []string{`VirtualNode wrk-tester.spec.backends: App Mesh backends are an egress allow-list of "my-svc"`},
		check: func(t *testing.T, d *spec.Design) {
			s := service(t, d, "my-svc")
			if len(s.Ports) != 1 || s.Ports[0].Port != 80 || s.Ports[0].TargetPort != 8080 {
				t.Errorf("my-svc ports = %+v, want 80 -> 8080 (the virtual nodes' listener)", s.Ports)
			}
			if versionNames(s) != "my-vn-canary,my-vn-stable" || s.Versions[0].Labels["rollouts-pod-template-hash"] != "canary-tbd" {
				t.Errorf("versions = %+v", s.Versions)
			}
			if got := split("my-svc", policy(t, d, "my-svc").Routes[0]); got != "my-svc/my-vn-canary=0,my-svc/my-vn-stable=100" {
				t.Errorf("split = %s, want all on stable", got)
			}
		},
		// Through Istio the target port comes back from the Kubernetes Service alone, whose
		// targetPort is the name "http" of a container port no workload of the file declares
		// (the pods are the Rollout's, in another file of the example): the split survives,
		// the target port becomes the service port, and the re-import says so.
		roundTrip: "istio",
		rtWarnings: []string{"Service argo-examples/my-svc: spec.ports[0].targetPort: targetPort http is a container port name no workload of the input declares: " +
			"the design uses the service port 80; include the workload or set targetPort"},
		rtCheck: func(t *testing.T, d *spec.Design) {
			if got := split("my-svc", policy(t, d, "my-svc").Routes[0]); got != "my-svc/my-vn-canary=0,my-svc/my-vn-stable=100" {
				t.Errorf("split through Istio = %s", got)
			}
			if s := service(t, d, "my-svc"); len(s.Ports) != 1 || s.Ports[0].Port != 80 || s.Ports[0].TargetPort != 80 {
				t.Errorf("my-svc ports through Istio = %+v, want 80 -> 80 (the warned fallback)", s.Ports)
			}
		},
	},
	{
		name: "argo rollouts rollout-linkerd: AnalysisTemplate arguments are not YAML", source: "linkerd",
		inputs: []string{"argo-rollouts/rollout-linkerd.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{"rollout-linkerd.yaml:104: unrendered template"},
	},
	{
		name: "consul HashiCups intentions: the deny-all intention is the default deny", source: "consul",
		inputs:   []string{"consul-hashicups/intentions.yaml"},
		warnings: []string{"imported 7 objects from 1 file (consul): 6 services, 0 external services, 0 traffic policies, 6 access rules; 0 warnings"},
		absent:   []string{"default allow", `"*-deny`},
		check: func(t *testing.T, d *spec.Design) {
			sec := d.Spec.Security
			if sec == nil || sec.DefaultPolicy != spec.ActionDeny {
				t.Fatalf("security = %s, want default deny", mustYAML(sec))
			}
			want := map[string]string{"public-api": "identity:nginx", "frontend": "identity:nginx", "products-api": "service:public-api",
				"payments": "service:public-api", "postgres": "service:products-api", "consul-telemetry-collector": "service:*"}
			for dest, src := range want {
				rs := accessTo(d, dest, spec.ActionAllow)
				if len(rs) != 1 || sourcesString(rs[0].Sources) != src {
					t.Errorf("access to %s = %s, want %s only", dest, mustYAML(rs), src)
				}
			}
			if len(accessTo(d, "*", spec.ActionDeny)) != 0 {
				t.Errorf("a rule for a service named \"*\": %s", mustYAML(sec.Access))
			}
		},
		roundTrip: "consul",
	},
	{
		name: "consul HashiCups public-api chart template: Kubernetes Service, ServiceDefaults, intention", source: "consul",
		inputs: []string{"consul-hashicups/public-api.yaml"},
		absent: []string{"not a Consul object", "unrendered template"},
		check: func(t *testing.T, d *spec.Design) {
			s := service(t, d, "public-api")
			if s.Protocol != spec.ProtocolHTTP || len(s.Ports) != 1 || s.Ports[0].Port != 8080 || s.Identity != "public-api" {
				t.Errorf("public-api = %+v, want http on 8080 (the Kubernetes Service) as public-api", s)
			}
			if rs := accessTo(d, "product-api", spec.ActionAllow); len(rs) == 0 || sourcesString(rs[0].Sources) != "service:public-api" {
				t.Errorf("access to product-api = %s", mustYAML(rs))
			}
		},
		roundTrip: "consul",
	},
	{
		name: "linkerd fault injection task: 10% of books requests to an error injector", source: "linkerd",
		inputs: []string{"linkerd/booksapp.yml", "linkerd/fault-injection.yaml"},
		absent: []string{"is not imported", "not imported:"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("books", policy(t, d, "books").Routes[0]); got != "books=90,error-injector=10" {
				t.Errorf("books split = %s, want 90/10", got)
			}
			if s := service(t, d, "error-injector"); len(s.Ports) != 1 || s.Ports[0].Port != 8080 || s.Namespace != "booksapp" {
				t.Errorf("error-injector = %+v, want 8080 in booksapp", s)
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "gateway-api mesh conformance: GRPCRoute request mirror", source: "gateway-api",
		inputs: []string{"gateway-api/grpcroute-request-mirror.yaml"},
		check:  grpcMirrorCheck,
		// Linkerd rejects request mirroring (the translation warns): the routes and header
		// operations survive, the mirror does not. The next case goes through Istio.
		roundTrip: "linkerd",
		rtCheck: func(t *testing.T, d *spec.Design) {
			rs := policy(t, d, "echo").Routes
			if len(rs) != 2 || split("echo", rs[0]) != "echo-v1=100" || split("echo", rs[1]) != "echo-v1=100" {
				t.Fatalf("routes through Linkerd = %s", mustYAML(rs))
			}
			if h := rs[1].Headers; h == nil || h.Request == nil || len(h.Request.Add) != 2 {
				t.Errorf("header ops through Linkerd = %s", mustYAML(rs[1].Headers))
			}
			if s := service(t, d, "echo"); s.Protocol != spec.ProtocolGRPC {
				t.Errorf("echo protocol through Linkerd = %s", s.Protocol)
			}
		},
	},
	{
		name: "gateway-api mesh conformance: GRPCRoute request mirror, round trip through Istio", source: "gateway-api",
		inputs: []string{"gateway-api/grpcroute-request-mirror.yaml"},
		check:  grpcMirrorCheck,
		// The VirtualService keeps the routes, the mirror and the header operations; the
		// importer declares the mirror's host as a service and gives echo-v1 the routes' port
		// 7070. The file has no Kubernetes Service, and Istio objects carry no protocol:
		// the services come back as http (echo and echo-v2 on the default port 80, as the
		// translation names no port for them).
		roundTrip: "istio",
		rtCheck: func(t *testing.T, d *spec.Design) {
			rs := policy(t, d, "echo").Routes
			if len(rs) != 2 {
				t.Fatalf("routes through Istio = %s", mustYAML(rs))
			}
			for _, r := range rs {
				if r.Mirror == nil || r.Mirror.Service != "echo-v2" || r.Mirror.Percent != 100 || split("echo", r) != "echo-v1=100" {
					t.Errorf("route %s through Istio = %s, want echo-v1 mirrored to echo-v2", r.Name, mustYAML(r))
				}
			}
			if h := rs[1].Headers; h == nil || h.Request == nil || len(h.Request.Set) != 1 || len(h.Request.Add) != 2 || len(h.Request.Remove) != 1 {
				t.Errorf("header ops through Istio = %s", mustYAML(rs[1].Headers))
			}
			if s := service(t, d, "echo-v1"); len(s.Ports) != 1 || s.Ports[0].Port != 7070 {
				t.Errorf("echo-v1 ports through Istio = %+v, want 7070 (the routes' port)", s.Ports)
			}
			if s := service(t, d, "echo-v2"); s.Namespace != "gateway-conformance-mesh" {
				t.Errorf("echo-v2 through Istio = %+v, want it declared in gateway-conformance-mesh", s)
			}
		},
	},
	{
		name: "linkerd2 trafficsplit test: ServiceProfile dstOverrides with quantity weights (500m, 0m)", source: "linkerd",
		inputs:   []string{"linkerd2/traffic-split-leaf-weights.yaml", "linkerd2/trafficsplit-applications-at-diff-ports.yaml"},
		warnings: []string{"imported 7 objects from 2 files (linkerd): 3 services, 0 external services, 1 traffic policy, 0 access rules; 0 warnings"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("backend-svc", policy(t, d, "backend-svc").Routes[0]); got != "backend-svc=500,failing-svc=0" {
				t.Errorf("split = %s, want everything on backend-svc (500m) and none on failing-svc (0m)", got)
			}
			if d.Metadata.Namespace != "linkerd-trafficsplit-test-sp" {
				t.Errorf("namespace = %q, want the ServiceProfile's", d.Metadata.Namespace)
			}
			if s := service(t, d, "failing-svc"); len(s.Ports) != 1 || s.Ports[0].Port != 8081 {
				t.Errorf("failing-svc = %+v, want its own port 8081 (the authority's)", s)
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "linkerd2 policy test: emojivoto AuthorizationPolicies, one with a list-valued targetRef", source: "linkerd",
		inputs: []string{"linkerd2/emoji-policy-authorization-policy.yaml", "linkerd/emojivoto.yml"},
		warnings: []string{
			"AuthorizationPolicy/emojivoto/web-public: spec.targetRef is a list, not an object (expected group, kind and name; the AuthorizationPolicy CRD rejects this policy",
			`Server/emojivoto/web-http: no imported AuthorizationPolicy or ServerAuthorization admits anyone to this Server, whose accessPolicy is deny: Linkerd refuses every request to its port of web-svc; imported as deny rule "web-http-unauthorized"`,
		},
		check: func(t *testing.T, d *spec.Design) {
			if rs := accessTo(d, "emoji-svc", spec.ActionAllow); len(rs) != 1 || sourcesString(rs[0].Sources) != "namespace:linkerd-stat-authz-test" {
				t.Errorf("access to emoji-svc = %s, want any identity of linkerd-stat-authz-test", mustYAML(rs))
			}
			if rs := accessTo(d, "voting-svc", spec.ActionAllow); len(rs) != 1 || rs[0].Sources[0].Identity != "web" || rs[0].Sources[0].Namespace != "linkerd-stat-authz-test" {
				t.Errorf("access to voting-svc = %s, want web of linkerd-stat-authz-test", mustYAML(rs))
			}
			if rs := accessTo(d, "web-svc", spec.ActionDeny); len(rs) != 1 || sourcesString(rs[0].Sources) != "service:*" {
				t.Errorf("access to web-svc = %s, want denied to every caller (its only policy is malformed)", mustYAML(d.Spec.Security))
			}
		},
		// Linkerd expresses the deny-all rule as the Server with accessPolicy deny and no
		// authorization, which imports back as the same rule; the allow rules survive.
		roundTrip: "linkerd",
		rtCheck: func(t *testing.T, d *spec.Design) {
			if rs := accessTo(d, "voting-svc", spec.ActionAllow); len(rs) != 1 || rs[0].Sources[0].Identity != "web" {
				t.Errorf("access to voting-svc through Linkerd = %s", mustYAML(rs))
			}
			if rs := accessTo(d, "web-svc", spec.ActionDeny); len(rs) != 1 || sourcesString(rs[0].Sources) != "service:*" {
				t.Errorf("access to web-svc through Linkerd = %s, want denied to every caller", mustYAML(rs))
			}
			if rs := accessTo(d, "emoji-svc", spec.ActionAllow); len(rs) != 1 || sourcesString(rs[0].Sources) != "namespace:linkerd-stat-authz-test" {
				t.Errorf("access to emoji-svc through Linkerd = %s", mustYAML(rs))
			}
		},
	},
	{
		name: "flagger's linkerd-viz AuthorizationPolicy without the Server it targets", source: "linkerd",
		inputs: []string{"flagger/linkerd-authorizationpolicy.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{
			"AuthorizationPolicy/linkerd-viz/prometheus-admin-flagger: target Server linkerd-viz/prometheus-admin is not among the objects: not imported (the design needs the Server's pods and port: add the Server",
			"error: nothing could be imported",
		},
	},
}

// grpcMirrorCheck asserts the import of the GRPCRoute request mirror conformance test.
func grpcMirrorCheck(t *testing.T, d *spec.Design) {
	for _, n := range []string{"echo", "echo-v1", "echo-v2"} {
		if s := service(t, d, n); s.Protocol != spec.ProtocolGRPC {
			t.Errorf("%s protocol = %s, want grpc (the mirror target too)", n, s.Protocol)
		}
	}
	rs := policy(t, d, "echo").Routes
	if len(rs) != 2 {
		t.Fatalf("routes = %s", mustYAML(rs))
	}
	for _, r := range rs {
		if r.Mirror == nil || r.Mirror.Service != "echo-v2" || split("echo", r) != "echo-v1=100" {
			t.Errorf("route %s = %s, want echo-v1 mirrored to echo-v2", r.Name, mustYAML(r))
		}
	}
	if h := rs[1].Headers; h == nil || h.Request == nil || len(h.Request.Set) != 1 || len(h.Request.Add) != 2 || len(h.Request.Remove) != 1 {
		t.Errorf("header ops = %s", mustYAML(rs[1].Headers))
	}
}
