package realworld

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/internal/cli"
	"github.com/trellis-mesh/trellis/spec"
)

// upstreamCase is one configuration published by another project (testdata/upstream; SOURCES.md
// names each file's repository, path, commit and licence), imported as a new user would.
type upstreamCase struct {
	name   string
	source string
	inputs []string // files or directories under testdata/upstream
	// args are extra flags of the import (--namespace).
	args []string
	// exit is the expected exit code of the import (ExitOK unless said otherwise).
	exit int
	// warnings must each appear on stderr; absent lists warnings that must not.
	warnings, absent []string
	// check asserts the key facts of the design; it runs again on the round trip unless
	// rtCheck says what survives it.
	check, rtCheck func(t *testing.T, d *spec.Design)
	// roundTrip is the mesh the design is translated back to and imported from again ("" for
	// none): the check must still hold.
	roundTrip string
	// rtWarnings must each appear on the stderr of the round trip's import.
	rtWarnings []string
}

func accessRule(t *testing.T, d *spec.Design, name string) spec.AccessRule {
	t.Helper()
	if d.Spec.Security != nil {
		for _, r := range d.Spec.Security.Access {
			if r.Name == name {
				return r
			}
		}
		// Round trips may rename rules; fall back to the destination named by the rule name.
	}
	t.Fatalf("no access rule %q in %s", name, mustYAML(d.Spec.Security))
	return spec.AccessRule{}
}

func accessTo(d *spec.Design, dest string, action spec.PolicyAction) []spec.AccessRule {
	var out []spec.AccessRule
	if d.Spec.Security == nil {
		return nil
	}
	for _, r := range d.Spec.Security.Access {
		a := r.Action
		if a == "" {
			a = spec.ActionAllow
		}
		if r.Destination == dest && a == action {
			out = append(out, r)
		}
	}
	return out
}

func service(t *testing.T, d *spec.Design, name string) spec.Service {
	t.Helper()
	for _, s := range d.Spec.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no service %q among %v", name, serviceNames(d))
	return spec.Service{}
}

func serviceNames(d *spec.Design) []string {
	var out []string
	for _, s := range d.Spec.Services {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

func sourcesString(ss []spec.Source) string {
	var out []string
	for _, s := range ss {
		switch {
		case s.Service != "":
			out = append(out, "service:"+s.Service)
		case s.Identity != "":
			out = append(out, "identity:"+s.Identity)
		default:
			out = append(out, "namespace:"+s.Namespace)
		}
	}
	return strings.Join(out, ",")
}

func mustYAML(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

// routeTo returns the routes of svc whose first match has the given header (exact).
func routeWithHeader(t *testing.T, d *spec.Design, svc, name, value string) spec.Route {
	t.Helper()
	for _, r := range policy(t, d, svc).Routes {
		if header(r, name) == value {
			return r
		}
	}
	t.Fatalf("no route of %s matches %s: %s in %s", svc, name, value, mustYAML(policy(t, d, svc)))
	return spec.Route{}
}

func lastRoute(t *testing.T, d *spec.Design, svc string) spec.Route {
	t.Helper()
	rs := policy(t, d, svc).Routes
	if len(rs) == 0 {
		t.Fatalf("no route for %s", svc)
	}
	return rs[len(rs)-1]
}

var upstreamCases = []upstreamCase{
	{
		name: "istio bookinfo directory (manifests, mTLS DestinationRules, 80/20 split, ingress gateway)", source: "istio",
		inputs: []string{"istio-bookinfo"},
		warnings: []string{
			"Gateway /bookinfo-gateway: kind not imported: networking.istio.io/v1alpha3 Gateway: ingress and egress gateways are outside the mesh design",
			"VirtualService /bookinfo: spec.gateways: routes bound only to ingress gateways (bookinfo-gateway) are outside the mesh design",
			"imported 21 objects from 4 files (istio): 4 services, 0 external services, 1 traffic policy, 0 access rules; 2 warnings; 10 workload objects read for identities only",
		},
		absent: []string{"kind not imported: apps/v1 Deployment", "kind not imported: v1 ServiceAccount"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", policy(t, d, "reviews").Routes[0]); got != "reviews/v1=80,reviews/v2=20" {
				t.Errorf("reviews split = %s, want v1 80 / v2 20", got)
			}
			if got := serviceNames(d); strings.Join(got, ",") != "details,productpage,ratings,reviews" {
				t.Errorf("services = %v", got)
			}
			for _, n := range []string{"details", "productpage", "ratings", "reviews"} {
				s := service(t, d, n)
				if s.Identity != "bookinfo-"+n {
					t.Errorf("%s identity = %q, want bookinfo-%s (its Deployment's service account)", n, s.Identity, n)
				}
				if len(s.Ports) != 1 || s.Ports[0].Port != 9080 || s.Protocol != spec.ProtocolHTTP {
					t.Errorf("%s ports/protocol = %+v %s, want http 9080", n, s.Ports, s.Protocol)
				}
			}
			if vs := service(t, d, "ratings").Versions; len(vs) != 4 || vs[3].Name != "v2-mysql-vm" {
				t.Errorf("ratings versions = %+v, want the four DestinationRule subsets", vs)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio reviews: jason to v2, everyone else to v3", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio-bookinfo/destination-rule-all-mtls.yaml", "istio/virtual-service-reviews-jason-v2-v3.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", routeWithHeader(t, d, "reviews", "end-user", "jason")); got != "reviews/v2=100" {
				t.Errorf("jason route = %s, want reviews/v2", got)
			}
			if got := split("reviews", lastRoute(t, d, "reviews")); got != "reviews/v3=100" {
				t.Errorf("default route = %s, want reviews/v3", got)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio ratings: HTTP 500 abort for jason", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio-bookinfo/destination-rule-all-mtls.yaml", "istio/virtual-service-ratings-test-abort.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			r := routeWithHeader(t, d, "ratings", "end-user", "jason")
			if r.Fault == nil || r.Fault.Abort == nil || r.Fault.Abort.HTTPStatus != 500 || r.Fault.Abort.Percent != 100 {
				t.Errorf("abort = %s, want 500 for 100%%", mustYAML(r.Fault))
			}
			if lastRoute(t, d, "ratings").Fault != nil {
				t.Errorf("the default route must not abort")
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio ratings: 7s delay for jason", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio-bookinfo/destination-rule-all-mtls.yaml", "istio/virtual-service-ratings-test-delay.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			r := routeWithHeader(t, d, "ratings", "end-user", "jason")
			if r.Fault == nil || r.Fault.Delay == nil || r.Fault.Delay.Fixed.String() != "7s" || r.Fault.Delay.Percent != 100 {
				t.Errorf("delay = %s, want 7s for 100%%", mustYAML(r.Fault))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio authz-http task: allow-nothing plus per-service viewers", source: "istio",
		inputs: []string{"istio/authz-http.yaml", "istio-bookinfo/bookinfo.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			if d.Spec.Security == nil || d.Spec.Security.DefaultPolicy != spec.ActionDeny {
				t.Fatalf("allow-nothing must make the default policy deny: %s", mustYAML(d.Spec.Security))
			}
			want := map[string]string{"details": "service:productpage", "reviews": "service:productpage", "ratings": "service:reviews", "productpage": "namespace:*"}
			for dest, src := range want {
				rs := accessTo(d, dest, spec.ActionAllow)
				if len(rs) != 1 || sourcesString(rs[0].Sources) != src || len(rs[0].When) != 1 || strings.Join(rs[0].When[0].Methods, ",") != "GET" {
					t.Errorf("access to %s = %s, want GET from %s", dest, mustYAML(rs), src)
				}
			}
			if got := service(t, d, "productpage").Identity; got != "bookinfo-productpage" {
				t.Errorf("productpage identity = %q, want bookinfo-productpage (the principal of the policies)", got)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio authz-jwt task: requestPrincipals require the token", source: "istio",
		inputs: []string{"istio/authz-jwt.yaml", "istio/httpbin.yaml"},
		warnings: []string{
			`AuthorizationPolicy foo/require-jwt: spec.rules[0]: from[0].source.requestPrincipals "testing@secure.istio.io/testing@secure.istio.io" (subject "testing@secure.istio.io"): the design requires a valid token of the issuer but cannot restrict its subject or claims; any valid token is accepted (broader than the source)`,
			`AuthorizationPolicy foo/require-jwt: spec.rules[0]: when[0] "request.auth.claims[groups]"`,
		},
		check: func(t *testing.T, d *spec.Design) {
			sec := d.Spec.Security
			if sec == nil || len(sec.RequestAuthentication) != 1 {
				t.Fatalf("JWT rules = %s", mustYAML(sec))
			}
			j := sec.RequestAuthentication[0]
			if j.Issuer != "testing@secure.istio.io" || j.Optional || strings.Join(j.Services, ",") != "httpbin" || !strings.HasSuffix(j.JWKSURI, "/jwks.json") {
				t.Errorf("JWT rule = %+v, want a required token of testing@secure.istio.io on httpbin", j)
			}
			rs := accessTo(d, "httpbin", spec.ActionAllow)
			if len(rs) != 1 || sourcesString(rs[0].Sources) != "namespace:*" {
				t.Errorf("access to httpbin = %s, want allow from any (token holder)", mustYAML(rs))
			}
			if d.Metadata.Namespace != "foo" || service(t, d, "httpbin").Namespace != "foo" {
				t.Errorf("httpbin.yaml (applied with -n foo) must land in foo: %s / %+v", d.Metadata.Namespace, service(t, d, "httpbin"))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio authz-deny task: notValues cannot narrow the deny", source: "istio",
		inputs: []string{"istio/authz-deny.yaml", "istio/httpbin.yaml"},
		warnings: []string{
			`AuthorizationPolicy foo/deny-method-get: spec.rules[0]: the design cannot express when[0]: condition "request.headers[x-token]" with notValues [admin]: the deny applies without that restriction (stricter than the source)`,
		},
		check: func(t *testing.T, d *spec.Design) {
			deny := accessTo(d, "httpbin", spec.ActionDeny)
			if len(deny) != 1 || sourcesString(deny[0].Sources) != "namespace:*" || len(deny[0].When) != 1 || strings.Join(deny[0].When[0].Methods, ",") != "GET" {
				t.Errorf("deny = %s, want GET denied from any caller", mustYAML(deny))
			}
			allow := accessTo(d, "httpbin", spec.ActionAllow)
			if len(allow) != 1 || len(allow[0].When) != 1 || strings.Join(allow[0].When[0].Paths, ",") != "/ip" {
				t.Errorf("allow = %s, want /ip", mustYAML(allow))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio ingress ipBlocks policies stay out of the mesh design", source: "istio",
		inputs: []string{"istio/authz-ingress.yaml", "istio/httpbin.yaml"},
		warnings: []string{
			"AuthorizationPolicy foo/ingress-policy: spec.selector: the policy applies to an ingress or egress gateway, which is outside the mesh design: dropped",
			"AuthorizationPolicy istio-system/ingress-deny: spec.selector: the policy applies to an ingress or egress gateway",
		},
		absent: []string{"istio-ingressgateway\n"},
		check: func(t *testing.T, d *spec.Design) {
			if got := serviceNames(d); strings.Join(got, ",") != "httpbin" {
				t.Errorf("services = %v, want only httpbin (no fabricated gateway service)", got)
			}
			if d.Spec.Security != nil && len(d.Spec.Security.Access) > 0 {
				t.Errorf("gateway policies imported as access rules: %s", mustYAML(d.Spec.Security.Access))
			}
		},
	},
	{
		name: "istio circuit breaking task (deprecated consecutiveErrors)", source: "istio",
		inputs: []string{"istio/httpbin.yaml", "istio/circuit-breaker.yaml"},
		warnings: []string{
			"DestinationRule /httpbin: spec.trafficPolicy.outlierDetection.consecutiveErrors: counts gateway errors (502, 503, 504) only: imported as consecutive5xx 1",
		},
		check: func(t *testing.T, d *spec.Design) {
			r := policy(t, d, "httpbin").Resilience
			if r == nil || r.Connections == nil || r.Connections.Max != 1 || r.Connections.MaxPendingRequests != 1 || r.Connections.MaxRequestsPerConnection != 1 {
				t.Fatalf("connection limits = %s", mustYAML(r))
			}
			od := r.OutlierDetection
			if od == nil || od.Consecutive5xx != 1 || od.Interval.String() != "1s" || od.BaseEjectionTime.String() != "3m0s" || od.MaxEjectionPercent != 100 {
				t.Errorf("outlier detection = %s, want 1 error, 1s, 3m, 100%%", mustYAML(od))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio egress ServiceEntry for googleapis", source: "istio",
		inputs: []string{"istio/egress-rule-google-apis.yaml", "istio/httpbin.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			if len(d.Spec.ExternalServices) != 1 {
				t.Fatalf("external services = %s", mustYAML(d.Spec.ExternalServices))
			}
			e := d.Spec.ExternalServices[0]
			if e.Name != "googleapis" || strings.Join(e.Hosts, ",") != "www.googleapis.com" || len(e.Ports) != 1 || e.Ports[0].Port != 443 || e.Protocol != spec.ProtocolHTTP {
				t.Errorf("external service = %+v", e)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio WasmPlugin on the ingress gateway is not applied mesh-wide", source: "istio",
		inputs:   []string{"istio/wasm-basic-auth.yaml", "istio/httpbin.yaml"},
		warnings: []string{"WasmPlugin istio-system/basic-auth: spec.selector: the plugin runs on an ingress or egress gateway, which is outside the mesh design: dropped"},
		check: func(t *testing.T, d *spec.Design) {
			if len(d.Spec.Extensions) != 0 {
				t.Errorf("extensions = %s, want none (the plugin protects the gateway only)", mustYAML(d.Spec.Extensions))
			}
		},
	},
	{
		name: "linkerd emojivoto: legacy Server + ServerAuthorization on a named port", source: "linkerd",
		inputs: []string{"linkerd/emojivoto.yml", "linkerd/restricting-access.yaml"},
		absent: []string{"named ports are not resolved", "legacy ServerAuthorization is not imported"},
		check: func(t *testing.T, d *spec.Design) {
			rs := accessTo(d, "voting-svc", spec.ActionAllow)
			if len(rs) != 1 {
				t.Fatalf("access to voting-svc = %s", mustYAML(d.Spec.Security))
			}
			src := sourcesString(rs[0].Sources)
			if src != "identity:web" && src != "service:web-svc" {
				t.Errorf("voting-grpc sources = %s, want the web service account", src)
			}
			if len(rs[0].When) != 1 || len(rs[0].When[0].Ports) != 1 || rs[0].When[0].Ports[0] != 8080 {
				t.Errorf("voting-grpc ports = %s, want the grpc port 8080 (named port resolved)", mustYAML(rs[0].When))
			}
			v := service(t, d, "voting-svc")
			if v.Protocol != spec.ProtocolGRPC || v.Identity != "voting" {
				t.Errorf("voting-svc = %+v, want grpc with identity voting", v)
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "linkerd rate limiting task: per-identity limit is reported", source: "linkerd",
		inputs:   []string{"linkerd/emojivoto.yml", "linkerd/rate-limiting.yaml"},
		warnings: []string{"HTTPLocalRateLimitPolicy/emojivoto/web-http: only a total limit maps onto the design: per-identity limits are not imported"},
		check: func(t *testing.T, d *spec.Design) {
			sec := d.Spec.Security
			if sec == nil || len(sec.MTLSOverrides) != 1 || sec.MTLSOverrides[0].Service != "web-svc" || sec.MTLSOverrides[0].Mode != spec.MTLSPermissive {
				t.Errorf("accessPolicy all-unauthenticated = %s, want web-svc permissive", mustYAML(sec))
			}
		},
	},
	{
		name: "linkerd egress task: EgressNetwork routes are named, not silently dropped", source: "linkerd",
		inputs: []string{"linkerd/egress.yaml"},
		warnings: []string{
			"EgressNetwork/egress-test/all-egress-traffic: kind EgressNetwork (policy.linkerd.io/v1alpha1) is not imported",
			"TLSRoute/egress-test/tls-egress: kind TLSRoute (gateway.networking.k8s.io/v1alpha2) is not imported",
			"HTTPRoute/egress-test/httpbin-get: spec.parentRefs: the route's parents (EgressNetwork) are not Services or Servers",
		},
		check: func(t *testing.T, d *spec.Design) {
			if s := service(t, d, "internal-egress"); len(s.Ports) != 1 || s.Ports[0].Port != 80 {
				t.Errorf("internal-egress = %+v", s)
			}
			if len(d.Spec.Traffic) != 0 {
				t.Errorf("egress routes imported as mesh routes: %s", mustYAML(d.Spec.Traffic))
			}
		},
	},
	{
		name: "consul-k8s CRD fixtures (consul.hashicorp.com/v1): intentions, redirect, router, splitter", source: "consul",
		inputs: []string{"consul/crds-oss.yaml"},
		warnings: []string{
			"IngressGateway ingress-gateway (consul.hashicorp.com/v1): consul kind IngressGateway is not imported: gateways are outside the mesh design",
			`ServiceDefaults/defaults.spec.upstreamConfig.overrides[0]: upstream "foo" is not a service of the input`,
			`ServiceDefaults/defaults.spec.upstreamConfig.overrides[0].passiveHealthCheck.enforcing_consecutive_5xx: field "enforcing_consecutive_5xx" has no equivalent in the design`,
		},
		absent: []string{"is not a Consul object"},
		check: func(t *testing.T, d *spec.Design) {
			// Consul's default allow admits every other caller (and svc3's other requests): the
			// design says so with an allow rule for any caller.
			rs := accessTo(d, "svc1", spec.ActionAllow)
			if len(rs) != 3 {
				t.Fatalf("access to svc1 = %s", mustYAML(rs))
			}
			sort.Slice(rs, func(i, j int) bool { return sourcesString(rs[i].Sources) < sourcesString(rs[j].Sources) })
			if sourcesString(rs[0].Sources) != "service:*" || len(rs[0].When) != 0 {
				t.Errorf("default allow = %s, want an L4 allow for any caller", mustYAML(rs[0]))
			}
			rs = rs[1:]
			if sourcesString(rs[0].Sources) != "service:svc2" || len(rs[0].When) != 0 {
				t.Errorf("svc2 intention = %s, want an L4 allow", mustYAML(rs[0]))
			}
			if c := rs[1].When; sourcesString(rs[1].Sources) != "service:svc3" || len(c) != 1 || strings.Join(c[0].Methods, ",") != "GET,PUT" || strings.Join(c[0].Paths, ",") != "/foo" {
				t.Errorf("svc3 intention = %s, want GET,PUT on /foo", mustYAML(rs[1]))
			}
			if got := split("resolver", policy(t, d, "resolver").Routes[0]); got != "bar=100" {
				t.Errorf("resolver redirect = %s, want everything to bar", got)
			}
			r := policy(t, d, "router").Routes[0]
			if len(r.Match) != 1 || r.Match[0].Path == nil || r.Match[0].Path.Prefix != "/foo" {
				t.Errorf("router route = %s, want prefix /foo", mustYAML(r))
			}
			if got := service(t, d, "svc2").Protocol; got != spec.ProtocolTCP {
				t.Errorf("svc2 protocol = %s, want tcp (proxy-defaults protocol)", got)
			}
		},
		// Through Consul: svc3's L7 permissions fold into a plain allow (the explicit allow for
		// any caller, Consul's default allow, admits its other requests too); the intentions,
		// the router and the resolver redirect (tcp: a resolver redirect, not a router) survive.
		rtCheck: func(t *testing.T, d *spec.Design) {
			var srcs []string
			for _, r := range accessTo(d, "svc1", spec.ActionAllow) {
				srcs = append(srcs, sourcesString(r.Sources))
			}
			sort.Strings(srcs)
			if strings.Join(srcs, " ") != "service:* service:svc2 service:svc3" {
				t.Errorf("svc1 allowed from %v, want any caller, svc2 and svc3", srcs)
			}
			r := policy(t, d, "router").Routes[0]
			if len(r.Match) != 1 || r.Match[0].Path == nil || r.Match[0].Path.Prefix != "/foo" {
				t.Errorf("router route = %s, want prefix /foo", mustYAML(r))
			}
			if got := split("resolver", policy(t, d, "resolver").Routes[0]); got != "bar=100" {
				t.Errorf("resolver redirect after the round trip = %s, want everything to bar", got)
			}
		},
		roundTrip: "consul",
	},
	{
		name: "consul JWTProvider alone imports nothing, and says so", source: "consul",
		inputs: []string{"consul/jwt-provider.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{
			`JWTProvider/jwt-provider: JWT provider "jwt-provider" is not required by any intention; it is not imported`,
			"error: nothing could be imported from",
		},
	},
	{
		name: "gateway-api mesh conformance: weighted GRPCRoute", source: "gateway-api",
		inputs: []string{"gateway-api/grpcroute-weight.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("echo", policy(t, d, "echo").Routes[0]); got != "echo-v1=70,echo-v2=30" {
				t.Errorf("split = %s, want 70/30", got)
			}
			if s := service(t, d, "echo"); s.Protocol != spec.ProtocolGRPC {
				t.Errorf("echo protocol = %s, want grpc", s.Protocol)
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "gateway-api mesh conformance: GRPCRoute header modifiers per method", source: "gateway-api",
		inputs: []string{"gateway-api/grpcroute-request-header-modifier.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			var two *spec.Route
			for i, r := range policy(t, d, "echo").Routes {
				if len(r.Match) == 1 && r.Match[0].Path != nil && strings.HasSuffix(r.Match[0].Path.Exact, "/EchoTwo") {
					two = &policy(t, d, "echo").Routes[i]
				}
			}
			if two == nil || two.Headers == nil || two.Headers.Request == nil {
				t.Fatalf("EchoTwo route = %s", mustYAML(policy(t, d, "echo")))
			}
			h := two.Headers.Request
			if len(h.Set) != 2 || len(h.Add) != 2 || len(h.Remove) != 2 || split("echo", *two) != "echo-v2=100" {
				t.Errorf("EchoTwo header ops = %s, want 2 set, 2 add, 2 remove to echo-v2", mustYAML(two))
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "gateway-api mesh conformance: named and unnamed rules", source: "gateway-api",
		inputs: []string{"gateway-api/httproute-named-rule.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			var named *spec.Route
			for i, r := range policy(t, d, "echo").Routes {
				if r.Name == "named-rule" {
					named = &policy(t, d, "echo").Routes[i]
				}
			}
			if named == nil || named.Match[0].Path.Prefix != "/named" || split("echo", *named) != "echo-v1=100" {
				t.Errorf("named rule = %s", mustYAML(policy(t, d, "echo")))
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "gateway-api mesh conformance: redirects are reported once per rule", source: "gateway-api",
		inputs: []string{"gateway-api/httproute-redirect-path.yaml"},
		warnings: []string{
			"HTTPRoute gateway-conformance-mesh/mesh-redirect-path.spec.rules[0].filters[0]: RequestRedirect answers the caller with a redirect; designs cannot express redirects: the rule is dropped",
		},
		absent: []string{"answers 500", "forwarded instead"},
	},
	{
		name: "gateway-api GEP-1619 session persistence example without parentRefs", source: "gateway-api",
		inputs: []string{"gateway-api/gep-1619-split-route.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{"HTTPRoute default/split-route.spec.parentRefs: no parentRefs: the route is attached to nothing and routes no traffic; skipped (add a parentRef of kind Service for a mesh route)"},
	},
	{
		name: "the same GEP-1619 route through the linkerd importer", source: "linkerd",
		inputs: []string{"gateway-api/gep-1619-split-route.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{"HTTPRoute/split-route: spec.parentRefs is empty: the route is attached to nothing"},
	},
	{
		name: "gateway-api ServiceImport parent (GEP-1748) imports nothing, and says why", source: "gateway-api",
		inputs: []string{"gateway-api/httproute-gamma-serviceimport.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{`parent ServiceImport "store" is not a Service: multi-cluster ServiceImports are not design services`},
	},
}

// More sources: Linkerd per-route policy, SMI (Open Service Mesh), App Mesh walkthroughs.
var moreCases = []upstreamCase{
	{
		name: "linkerd per-route policy task on the early Books app (extensions/v1beta1 Deployments)", source: "linkerd",
		inputs:   []string{"linkerd/booksapp.yml", "linkerd/per-route-policy.yaml"},
		absent:   []string{"kind Deployment (extensions/v1beta1) is not imported"},
		warnings: []string{"imported 17 objects from 2 files (linkerd): 3 services, 0 external services, 0 traffic policies, 3 access rules; 0 warnings; 4 workload objects read for identities only"},
		check: func(t *testing.T, d *spec.Design) {
			get := accessRule(t, d, "authors-get-authn")
			if get.Destination != "authors" || sourcesString(get.Sources) != "service:books,service:webapp" {
				t.Errorf("GET rule = %s, want books and webapp to authors", mustYAML(get))
			}
			for _, c := range get.When {
				if strings.Join(c.Methods, ",") != "GET" {
					t.Errorf("GET rule condition %+v allows more than GET", c)
				}
			}
			mod := accessRule(t, d, "authors-modify-authn")
			var methods []string
			for _, c := range mod.When {
				methods = append(methods, c.Methods...)
			}
			if sourcesString(mod.Sources) != "service:webapp" || strings.Join(methods, ",") != "DELETE,PUT,POST" {
				t.Errorf("modify rule = %s, want DELETE, PUT, POST from webapp only", mustYAML(mod))
			}
			probe := accessRule(t, d, "authors-probe-policy")
			if sourcesString(probe.Sources) != "service:*" || probe.When[0].Paths[0] != "/ping" {
				t.Errorf("probe rule = %s, want /ping from any network", mustYAML(probe))
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "SMI: Open Service Mesh bookstore split with its Kubernetes Services", source: "smi",
		inputs: []string{"smi"},
		warnings: []string{
			`TrafficTarget bookstore/bookstore-v2.spec.rules[0]: HTTPRouteGroup "bookstore-service-routes" not found; its requests stay denied`,
		},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("bookstore", policy(t, d, "bookstore").Routes[0]); got != "bookstore-v1=50,bookstore-v2=50" {
				t.Errorf("split = %s, want 50/50", got)
			}
			for _, n := range []string{"bookstore", "bookstore-v2"} {
				if s := service(t, d, n); len(s.Ports) != 1 || s.Ports[0].Port != 14001 {
					t.Errorf("%s ports = %+v, want the Service's 14001 (not the default 80)", n, s.Ports)
				}
			}
			if d.Spec.Security == nil || d.Spec.Security.DefaultPolicy != spec.ActionDeny {
				t.Errorf("SMI access control = %s, want default deny", mustYAML(d.Spec.Security))
			}
		},
		roundTrip: "linkerd",
		rtCheck: func(t *testing.T, d *spec.Design) {
			if got := split("bookstore", policy(t, d, "bookstore").Routes[0]); got != "bookstore-v1=50,bookstore-v2=50" {
				t.Errorf("split = %s, want 50/50", got)
			}
		},
	},
	{
		name: "SMI v1alpha1 quantities (500m, 0m) next to the Books app with legacy workload kinds", source: "smi",
		inputs:   []string{"smi-booksapp"},
		warnings: []string{"imported 14 objects from 1 file (smi): 4 services, 0 external services, 2 traffic policies, 0 access rules; 0 warnings; 7 workload objects read for identities only"},
		absent:   []string{"Deployment", "Job"},
		check: func(t *testing.T, d *spec.Design) {
			a := policy(t, d, "authors").Routes[0].Backends
			if len(a) != 2 || a[0].Weight != a[1].Weight || a[0].Weight == 0 || a[1].Service != "authors-clone" {
				t.Errorf("authors split = %s, want 500m/500m (equal)", split("authors", policy(t, d, "authors").Routes[0]))
			}
			if got := split("webapp", policy(t, d, "webapp").Routes[0]); got != "webapp=1000,webapp-clone=0" {
				t.Errorf("webapp split = %s, want everything on webapp and none on webapp-clone", got)
			}
			if s := service(t, d, "authors-clone"); len(s.Ports) != 1 || s.Ports[0].Port != 7009 {
				t.Errorf("authors-clone ports = %+v, want the Service's 7009", s.Ports)
			}
		},
		roundTrip: "linkerd",
		rtCheck: func(t *testing.T, d *spec.Design) {
			if got := split("webapp", policy(t, d, "webapp").Routes[0]); !strings.HasPrefix(got, "webapp=") || strings.Contains(got, "webapp-clone=") && !strings.HasSuffix(got, "webapp-clone=0") {
				t.Errorf("webapp split through Linkerd = %s, want no traffic to webapp-clone", got)
			}
		},
	},
	{
		name: "App Mesh howto-k8s-http-headers walkthrough rendered with envsubst", source: "appmesh",
		inputs:   []string{"appmesh/manifest.yaml"},
		warnings: []string{`VirtualNode front.spec.backends: App Mesh backends are an egress allow-list of "color"`},
		check: func(t *testing.T, d *spec.Design) {
			want := map[string]string{"blue": "exact", "green": "regex", "red": "prefix", "yellow": "present"}
			rs := policy(t, d, "color").Routes
			if len(rs) != 5 || split("color", rs[4]) != "color/white=100" || len(rs[4].Match) != 0 {
				t.Fatalf("routes = %s, want four header routes then white", mustYAML(rs))
			}
			for i, color := range []string{"blue", "green", "red", "yellow"} {
				h := rs[i].Match[0].Headers["color_header"]
				kind := map[bool]string{h.Exact != "": "exact", h.Regex != "": "regex", h.Prefix != "": "prefix", h.Present: "present"}[true]
				if split("color", rs[i]) != "color/"+color+"=100" || kind != want[color] {
					t.Errorf("route %d = %s, want %s match to %s", i, mustYAML(rs[i]), want[color], color)
				}
			}
			hc := service(t, d, "color").HealthCheck
			if hc == nil || hc.Path != "/ping" || hc.Interval.String() != "5s" || hc.UnhealthyThreshold != 2 {
				t.Errorf("health check = %s, want /ping every 5s", mustYAML(hc))
			}
		},
		roundTrip: "istio",
		rtCheck: func(t *testing.T, d *spec.Design) {
			rs := policy(t, d, "color").Routes
			if len(rs) != 5 || split("color", rs[0]) != "color/blue=100" || split("color", rs[4]) != "color/white=100" {
				t.Errorf("routes through Istio = %s", mustYAML(rs))
			}
		},
	},
	{
		name: "App Mesh walkthrough template without envsubst fails at the placeholder", source: "appmesh",
		inputs: []string{"appmesh/manifest.yaml.template"}, exit: cli.ExitInvalid,
		warnings: []string{"manifest.yaml.template:8: Namespace ${APP_NAMESPACE}: metadata.name: unrendered template placeholder ${APP_NAMESPACE}", "envsubst"},
	},
}

// Istio's authentication task: PeerAuthentications of two namespaces and end-user
// authentication on the ingress gateway.
var authnCases = []upstreamCase{
	{
		name: "istio authn-policy task: gateway JWT stays on the gateway; same-named services of two namespaces", source: "istio",
		inputs: []string{"istio/authn-policy.yaml", "istio/httpbin.yaml"}, exit: cli.ExitInvalid,
		warnings: []string{
			"RequestAuthentication istio-system/jwt-example: spec.selector: the policy applies to an ingress or egress gateway, which is outside the mesh design: dropped",
			"AuthorizationPolicy istio-system/frontend-ingress: spec.selector: the policy applies to an ingress or egress gateway",
			"hint: httpbin is in namespaces bar and foo; a design names each service once: import the objects of one namespace at a time",
		},
		absent: []string{"requestAuthentication"},
	},
}

var telemetryCases = []upstreamCase{
	{
		name: "istio Telemetry access logs and a namespace-isolation Sidecar", source: "istio",
		inputs:   []string{"istio/telemetry-sidecar.yaml", "istio-bookinfo/bookinfo.yaml"},
		warnings: []string{"Sidecar bookinfo/default: kind not imported: networking.istio.io/v1alpha3 Sidecar: it scopes what each proxy is configured with"},
		check: func(t *testing.T, d *spec.Design) {
			if d.Spec.Telemetry == nil || d.Spec.Telemetry.AccessLogs == nil || !d.Spec.Telemetry.AccessLogs.Enabled {
				t.Errorf("telemetry = %s, want access logs on", mustYAML(d.Spec.Telemetry))
			}
		},
		roundTrip: "istio",
	},
}

// Istio's rate limit task: EnvoyFilters in the root namespace.
var rateLimitCases = []upstreamCase{
	{
		name: "istio local rate limit EnvoyFilter in istio-system for productpage in default", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio/local-rate-limit.yaml"}, args: []string{"--namespace", "default"},
		// 4 tokens every 60s is exactly requestsPerMinute: 4: no lossy rounding to whole requests per second.
		absent: []string{"token_bucket", "is imported as"},
		check: func(t *testing.T, d *spec.Design) {
			if got := serviceNames(d); strings.Join(got, ",") != "details,productpage,ratings,reviews" {
				t.Errorf("services = %v: the root-namespace filter must select default/productpage, not create istio-system/productpage", got)
			}
			r := policy(t, d, "productpage").Resilience
			if r == nil || r.RateLimit == nil || *r.RateLimit != (spec.RateLimit{RequestsPerMinute: 4, Burst: 4}) {
				t.Errorf("rate limit = %s, want 4 per minute with a burst of 4", mustYAML(r))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "istio local rate limit set per route (typed_per_filter_config)", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio/local-rate-limit-per-route.yaml"}, args: []string{"--namespace", "default"},
		absent: []string{"token_bucket", "is imported as"},
		check: func(t *testing.T, d *spec.Design) {
			r := policy(t, d, "productpage").Resilience
			if r == nil || r.RateLimit == nil || *r.RateLimit != (spec.RateLimit{RequestsPerMinute: 4, Burst: 4}) {
				t.Errorf("rate limit = %s, want the route's bucket: 4 per minute, burst 4", mustYAML(r))
			}
		},
	},
	{
		name: "istio global rate limit on the ingress gateway is outside the design", source: "istio",
		inputs: []string{"istio-bookinfo/bookinfo.yaml", "istio/global-rate-limit-gateway.yaml"},
		warnings: []string{
			"EnvoyFilter istio-system/filter-ratelimit: spec.workloadSelector: EnvoyFilters of an ingress or egress gateway are outside the mesh design: dropped",
			"EnvoyFilter istio-system/filter-ratelimit-svc: spec.workloadSelector: EnvoyFilters of an ingress or egress gateway",
		},
		absent: []string{"ConfigMap /ratelimit-config", "kind not imported: v1 ConfigMap"},
		check: func(t *testing.T, d *spec.Design) {
			if len(d.Spec.Traffic) != 0 {
				t.Errorf("traffic = %s, want none", mustYAML(d.Spec.Traffic))
			}
		},
	},
}

// Quirks of real files: Helm output, kubectl dumps, editors' encodings, YAML anchors.
var quirkCases = []upstreamCase{
	{
		name: "helm template output of podinfo (no namespaces, # Source comments) with Linkerd's dynamic routing task", source: "linkerd",
		inputs: []string{"podinfo-helm"},
		warnings: []string{
			"imported 6 objects from 4 files (linkerd): 3 services",
			"ServiceProfile/test/backend-a-podinfo.test.svc.cluster.local: 22 route(s) with neither timeout nor retries only name requests for per-route metrics",
		},
		check: func(t *testing.T, d *spec.Design) {
			if got := serviceNames(d); strings.Join(got, ",") != "backend-a-podinfo,backend-b-podinfo,frontend-podinfo" {
				t.Fatalf("services = %v, want the three podinfo releases (not versions of a \"backend-a\" service)", got)
			}
			a := service(t, d, "backend-a-podinfo")
			if a.Selector["app.kubernetes.io/instance"] != "backend-a" || a.Selector["app.kubernetes.io/name"] != "podinfo" || len(a.Versions) != 0 {
				t.Errorf("backend-a-podinfo = %+v, want the chart's selector and no versions", a)
			}
			if got := split("backend-a-podinfo", routeWithHeader(t, d, "backend-a-podinfo", "x-request-id", "alternative")); got != "backend-b-podinfo=1" {
				t.Errorf("header route = %s, want backend-b-podinfo", got)
			}
			b := policy(t, d, "backend-b-podinfo").Routes[0]
			if b.Headers == nil || b.Headers.Request == nil || b.Headers.Request.Add["x-podinfo-backend"] != "b" || b.Match[0].Path.Prefix != "/api" {
				t.Errorf("chart-rendered GAMMA route = %s", mustYAML(b))
			}
			if d.Metadata.Namespace != "test" {
				t.Errorf("namespace = %q, want test (from the route)", d.Metadata.Namespace)
			}
		},
	},
	{
		name: "helm template output alone: the namespace comes from the ServiceProfile name", source: "linkerd",
		inputs: []string{"podinfo-helm/backend-a.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			if got := serviceNames(d); strings.Join(got, ",") != "backend-a-podinfo" || d.Metadata.Namespace != "test" {
				t.Errorf("services = %v in %q, want backend-a-podinfo once, in test", got, d.Metadata.Namespace)
			}
		},
	},
	{
		name: "linkerd retry and timeout annotations on a Service (Linkerd 2.16+)", source: "linkerd",
		inputs: []string{"quirks/emojivoto-annotated-services.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			rs := policy(t, d, "voting-svc").Routes
			if len(rs) != 1 || rs[0].Timeout.String() != "300ms" || rs[0].Retries == nil || rs[0].Retries.Attempts != 3 || strings.Join(rs[0].Retries.On, ",") != "5xx" {
				t.Errorf("voting-svc routes = %s, want every request: 300ms timeout, 3 retries on 5xx", mustYAML(rs))
			}
		},
		roundTrip: "linkerd",
	},
	{
		name: "kubectl get -o yaml List with server metadata, managedFields and status", source: "istio",
		inputs: []string{"quirks/kubectl-get-list.yaml", "istio-bookinfo/bookinfo.yaml"},
		absent: []string{"managedFields", "status", "resourceVersion", "last-applied"},
		check: func(t *testing.T, d *spec.Design) {
			tp := policy(t, d, "reviews")
			if got := split("reviews", tp.Routes[0]); got != "reviews/v1=50,reviews/v3=50" {
				t.Errorf("split = %s, want v1 50 / v3 50", got)
			}
			if tp.Resilience == nil || tp.Resilience.LoadBalancer == nil || tp.Resilience.LoadBalancer.Algorithm != spec.LBRandom {
				t.Errorf("load balancer = %s, want random", mustYAML(tp.Resilience))
			}
			if d.Metadata.Namespace != "bookinfo" || service(t, d, "reviews").Namespace != "bookinfo" || service(t, d, "reviews").Identity != "bookinfo-reviews" {
				t.Errorf("the manifest applied next to the dump must land in bookinfo: %s / %+v", d.Metadata.Namespace, service(t, d, "reviews"))
			}
		},
		roundTrip: "istio",
	},
	{
		name: "CRLF line endings and a byte order mark", source: "istio",
		inputs:   []string{"quirks/crlf-bom.yaml", "istio-bookinfo/bookinfo.yaml"},
		warnings: []string{`VirtualService /reviews: spec.http[0].route[0].destination.subset: subset "v2" of reviews is defined by no imported DestinationRule: assumed to select version=v2`},
		check: func(t *testing.T, d *spec.Design) {
			if got := split("reviews", routeWithHeader(t, d, "reviews", "end-user", "jason")); got != "reviews/v2=100" {
				t.Errorf("jason route = %s", got)
			}
			if got := split("reviews", lastRoute(t, d, "reviews")); got != "reviews/v1=100" {
				t.Errorf("default route = %s", got)
			}
		},
		roundTrip: "istio",
	},
	{
		name: "YAML anchors and merge keys within one document", source: "istio",
		inputs: []string{"quirks/anchors.yaml", "istio-bookinfo/bookinfo.yaml"},
		check: func(t *testing.T, d *spec.Design) {
			r := policy(t, d, "ratings").Resilience
			if r == nil || r.Connections == nil || r.Connections.MaxPendingRequests != 10 || r.OutlierDetection == nil || r.OutlierDetection.Consecutive5xx != 3 {
				t.Errorf("ratings resilience = %s, want the merged policy (10 pending) plus 3 errors", mustYAML(r))
			}
			if vs := service(t, d, "ratings").Versions; len(vs) != 2 || vs[1].Name != "v2" {
				t.Errorf("ratings versions = %+v, want the anchored subsets", vs)
			}
		},
		roundTrip: "istio",
	},
}

func TestUpstreamConfigurations(t *testing.T) {
	var all []upstreamCase
	for _, cs := range [][]upstreamCase{upstreamCases, moreCases, authnCases, telemetryCases, rateLimitCases, quirkCases, thirdRoundCases} {
		all = append(all, cs...)
	}
	for _, c := range all {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"import", c.source}
			for _, in := range c.inputs {
				args = append(args, "-f", filepath.Join("testdata", "upstream", in))
			}
			code, out, errOut := trellis(append(args, c.args...)...)
			want := c.exit
			if want == 0 {
				want = cli.ExitOK
			}
			if code != want {
				t.Fatalf("import exit %d, want %d:\n%s", code, want, errOut)
			}
			for _, w := range c.warnings {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			for _, a := range c.absent {
				if strings.Contains(errOut, a) {
					t.Errorf("stderr has %q:\n%s", a, errOut)
				}
			}
			if want != cli.ExitOK || c.check == nil {
				return
			}
			ds, err := spec.LoadBytes("imported.yaml", []byte(out))
			if err != nil {
				t.Fatalf("imported design does not validate: %v\n%s", err, out)
			}
			c.check(t, ds[0])
			designFile := filepath.Join(t.TempDir(), "design.yaml")
			if err := os.WriteFile(designFile, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, mesh := range []string{"istio", "linkerd", "consul", "native"} {
				if code, _, merr := trellis("translate", "--mesh", mesh, "-f", designFile); code != cli.ExitOK {
					t.Errorf("translate --mesh %s: exit %d: %s", mesh, code, merr)
				}
			}
			if c.roundTrip == "" {
				return
			}
			// Round trip: translate back to the mesh and import that again, with the
			// Kubernetes Services and workloads of the input (as a cluster would hold them).
			code, mout, merr := trellis("translate", "--mesh", c.roundTrip, "-f", designFile)
			if code != cli.ExitOK {
				t.Fatalf("translate --mesh %s: exit %d: %s", c.roundTrip, code, merr)
			}
			dir := t.TempDir()
			meshFile := filepath.Join(dir, "translated.yaml")
			kubeFile := filepath.Join(dir, "kubernetes.yaml")
			if err := os.WriteFile(meshFile, []byte(mout), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(kubeFile, kubernetesObjects(t, c.inputs), 0o644); err != nil {
				t.Fatal(err)
			}
			rargs := []string{"import", c.roundTrip, "-f", meshFile}
			if st, _ := os.Stat(kubeFile); st.Size() > 0 {
				rargs = append(rargs, "-f", kubeFile)
			}
			code, rout, rerr := trellis(rargs...)
			if code != cli.ExitOK {
				t.Fatalf("re-import from %s: exit %d:\n%s", c.roundTrip, code, rerr)
			}
			for _, w := range c.rtWarnings {
				if !strings.Contains(rerr, w) {
					t.Errorf("re-import stderr lacks %q:\n%s", w, rerr)
				}
			}
			rds, err := spec.LoadBytes("round-trip.yaml", []byte(rout))
			if err != nil {
				t.Fatalf("round-trip design does not validate: %v\n%s", err, rout)
			}
			check := c.check
			if c.rtCheck != nil {
				check = c.rtCheck
			}
			t.Run("round trip via "+c.roundTrip, func(t *testing.T) { check(t, rds[0]) })
		})
	}
}

// kubernetesObjects returns the plain Kubernetes objects (Services, workloads, service accounts,
// namespaces) of the inputs as one multi-document YAML.
func kubernetesObjects(t *testing.T, inputs []string) []byte {
	t.Helper()
	var files []string
	for _, in := range inputs {
		p := filepath.Join("testdata", "upstream", in)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(p, "*.y*ml"))
			files = append(files, m...)
		} else {
			files = append(files, p)
		}
	}
	var out bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n---") {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if yaml.Unmarshal([]byte(doc), &head) != nil {
				continue
			}
			switch {
			case head.APIVersion == "v1" && (head.Kind == "Service" || head.Kind == "ServiceAccount" || head.Kind == "Namespace"),
				head.APIVersion == "apps/v1" && head.Kind == "Deployment":
				out.WriteString("---\n" + strings.TrimPrefix(doc, "\n") + "\n")
			}
		}
	}
	return out.Bytes()
}

// An anchor used in another document than the one defining it is a YAML error: the message
// names the file and line and says why.
func TestAnchorAcrossDocumentsFailsClearly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "split-anchors.yaml")
	data := "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets: &subsets\n  - {name: v1, labels: {version: v1}}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings}\nspec:\n  host: ratings\n  subsets: *subsets\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := trellis("import", "istio", "-f", p)
	if code != cli.ExitInvalid || !strings.Contains(errOut, "split-anchors.yaml:14:") || !strings.Contains(errOut, "anchors do not cross --- document separators") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// `trellis import` on a directory of mixed files (manifests, mesh objects, a README) as a new
// user runs it: one progress line per file, a closing summary, and -o json output.
func TestImportDirectoryUX(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"bookinfo.yaml", "destination-rule-all-mtls.yaml", "virtual-service-reviews-80-20.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "upstream", "istio-bookinfo", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# not YAML: skipped\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := trellis("import", "istio", "-f", dir, "-o", "json")
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"read " + filepath.Join(dir, "bookinfo.yaml") + ": 14 objects (Deployment ×6, Service ×4, ServiceAccount ×4)",
		"read " + filepath.Join(dir, "destination-rule-all-mtls.yaml") + ": 4 objects (DestinationRule ×4)",
		"imported 19 objects from 3 files (istio): 4 services, 0 external services, 1 traffic policy, 0 access rules; 0 warnings; 10 workload objects read for identities only",
		"note: service reviews: identity bookinfo-reviews",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "README") {
		t.Errorf("README.md was read: %s", errOut)
	}
	ds, err := spec.LoadBytes("imported.json", []byte(out))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("-o json output is not a JSON design: %v\n%s", err, out)
	}
	if got := split("reviews", policy(t, ds[0], "reviews").Routes[0]); got != "reviews/v1=80,reviews/v2=20" {
		t.Errorf("split = %s", got)
	}
	// A directory without any YAML or JSON file is a usage error that says so.
	empty := t.TempDir()
	if code, _, errOut := trellis("import", "istio", "-f", empty); code != cli.ExitUsage || !strings.Contains(errOut, "holds no .yaml, .yml or .json file") {
		t.Errorf("empty directory: exit %d: %s", code, errOut)
	}
}
