package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/spec"
)

func writeInput(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Inputs as other projects ship them, rejected with a clear error naming file, line and the fix.
func TestImportRejectsUnrenderedInputsClearly(t *testing.T) {
	cases := []struct {
		source, name, content string
		want                  []string
	}{
		{"consul", "splitter.hcl", "# canary for the cart service\n\nkind = \"service-splitter\"\nname = \"cart\"\nsplits = [\n  { weight = 90, service_subset = \"v1\" },\n  { weight = 10, service_subset = \"v2\" },\n]\n",
			[]string{"splitter.hcl:3:", "HCL is not supported", "consul config read"}},
		{"consul", "agent.hcl", "config_entries {\n  bootstrap {\n    kind = \"proxy-defaults\"\n    name = \"global\"\n  }\n}\n",
			[]string{"agent.hcl:1:", "HCL is not supported"}},
		{"smi", "split.yaml", "apiVersion: split.smi-spec.io/v1alpha2\nkind: TrafficSplit\nmetadata:\n  name: shop-split\n  namespace: \"$SHOP_NS\"\nspec:\n  service: shop\n  backends:\n  - service: shop-v1\n    weight: 50\n  - service: shop-v2\n    weight: 50\n",
			[]string{"split.yaml:5:", "unrendered template placeholder $SHOP_NS", "envsubst"}},
		{"appmesh", "manifest.yaml.template", "---\napiVersion: appmesh.k8s.aws/v1beta2\nkind: VirtualNode\nmetadata:\n  name: front\n  namespace: ${DEMO_NS}\nspec: {}\n",
			[]string{"manifest.yaml.template:6:", "${DEMO_NS}", "envsubst"}},
		{"istio", "chart.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  hosts: [shop]\n",
			[]string{"chart.yaml:4:", "unrendered template (Helm/Go template braces)", "helm template"}},
		// Argo Rollouts' placeholders are filled by its controller: nothing to render.
		{"linkerd", "analysis.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: ClusterAnalysisTemplate\nmetadata:\n  name: success-rate\nspec:\n  args:\n  - name: service\n  metrics:\n  - name: rate\n    provider:\n      web:\n        url: {{ args.service }}\n",
			[]string{"analysis.yaml:12:", "Argo Rollouts argument placeholder {{ args.service }}", "leave the ClusterAnalysisTemplate out", `quote the placeholder ("{{ args.service }}")`}},
	}
	for _, c := range cases {
		p := writeInput(t, c.name, c.content)
		code, _, errOut := run(t, "import", c.source, "-f", p)
		if code != ExitInvalid {
			t.Errorf("%s: exit %d, want %d (stderr %q)", c.name, code, ExitInvalid, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", c.name, errOut, w)
			}
		}
		if argo := strings.Contains(errOut, "Argo"); argo != strings.Contains(c.name, "analysis") {
			t.Errorf("%s: the hint names Argo Rollouts only for {{args.*}} placeholders: %q", c.name, errOut)
		}
	}
}

// argoFile is a file of Argo Rollouts' own examples, stored under test/realworld.
func argoFile(name string) string {
	return filepath.Join("..", "..", "test", "realworld", "testdata", "upstream", "argo-rollouts", name)
}

// Argo Rollouts' rollout-linkerd example holds an AnalysisTemplate whose {{args.linkerd-enabled}}
// is not YAML: the error names the line and Argo's placeholder, not a Helm template.
func TestImportNamesArgoRolloutsPlaceholders(t *testing.T) {
	code, _, errOut := run(t, "import", "linkerd", "-f", argoFile("rollout-linkerd.yaml"))
	if code != ExitInvalid {
		t.Errorf("exit %d, want %d", code, ExitInvalid)
	}
	for _, want := range []string{"rollout-linkerd.yaml:104: unrendered template", "Argo Rollouts argument placeholder {{args.linkerd-enabled}}",
		"fills {{args.NAME}} itself", "leave the AnalysisTemplate out"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	if strings.Contains(errOut, "helm template") {
		t.Errorf("an Argo placeholder is not a Helm template: %q", errOut)
	}
}

// A Rollout is read for identities only; the import says that its controller moves the traffic
// (the route weights it manages, or the active Service) during a rollout.
func TestImportWarnsThatRolloutsRewriteWeights(t *testing.T) {
	code, _, errOut := run(t, "import", "istio", "-f", argoFile("istio-subset-split.yaml"))
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "warning: istio: Rollout/istio-subset-split: the Argo Rollouts controller rewrites the route weights it manages (trafficRouting: istio VirtualService istio-subset-split-vsvc) at each setWeight step of a rollout: the imported weights are a snapshot"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks the Rollout warning %q:\n%s", want, errOut)
	}
	// Two warnings: the folded subsets and the Rollout. The Service's named targetPort (http)
	// resolves through the Rollout's container port, which the Istio importer is given.
	if !strings.Contains(errOut, "2 warnings") || strings.Contains(errOut, "targetPort http is a container port name no workload") {
		t.Errorf("the summary must count the Rollout warning, and the Rollout must resolve targetPort http: %s", errOut)
	}
	blueGreen := writeInput(t, "bluegreen.yaml", `apiVersion: v1
kind: Service
metadata: {name: shop, namespace: demo}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: shop, namespace: demo}
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      serviceAccountName: shop-sa
      containers: [{name: shop, image: shop:1}]
  strategy:
    blueGreen: {activeService: shop, previewService: shop-preview}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: cart, namespace: demo}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec: {containers: [{name: cart, image: cart:1}]}
  strategy:
    canary:
      steps: [{setWeight: 20}]
`)
	_, errOut = importDesign(t, "istio", "-f", blueGreen)
	for _, want := range []string{
		"info: istio: Rollout/demo/shop: the Argo Rollouts controller switches the active Service's selector",
		"info: istio: Rollout/demo/cart: the Argo Rollouts controller shifts traffic by scaling the canary and stable pods (no trafficRouting)",
		"service shop: identity shop-sa",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func importDesign(t *testing.T, args ...string) (*spec.Design, string) {
	t.Helper()
	code, out, errOut := run(t, append([]string{"import"}, args...)...)
	if code != ExitOK {
		t.Fatalf("import %v: exit %d: %s", args, code, errOut)
	}
	ds, err := spec.LoadBytes("imported.yaml", []byte(out))
	if err != nil {
		t.Fatalf("imported design does not load: %v\n%s", err, out)
	}
	return ds[0], errOut
}

// Consul config entries as `consul config read` prints them (a JSON object with Kind and Name,
// or an array of them) and as the docs spell them (snake_case, one JSON object after another).
func TestImportBareConsulConfigEntries(t *testing.T) {
	camel := writeInput(t, "entries.json", `[
  {"Kind": "service-defaults", "Name": "cart", "Protocol": "http"},
  {"Kind": "service-resolver", "Name": "cart", "DefaultSubset": "v1",
   "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2"}}},
  {"Kind": "service-splitter", "Name": "cart",
   "Splits": [{"Weight": 80, "ServiceSubset": "v1"}, {"Weight": 20, "ServiceSubset": "v2"}]}
]`)
	d, _ := importDesign(t, "consul", "-f", camel)
	bs := d.Spec.Traffic[0].Routes[0].Backends
	if len(bs) != 2 || bs[0].Weight != 80 || bs[1].Weight != 20 || bs[1].Version != "v2" {
		t.Errorf("backends = %+v, want v1 80 / v2 20", bs)
	}
	snake := writeInput(t, "router.json", `{"kind": "service-router", "name": "storefront",
 "routes": [{"match": {"http": {"path_prefix": "/checkout"}}, "destination": {"service": "checkout", "num_retries": 2}}]}
{"kind": "service-defaults", "name": "checkout", "protocol": "http"}`)
	d, errOut := importDesign(t, "consul", "-f", snake)
	r := d.Spec.Traffic[0].Routes[0]
	if r.Backends[0].Service != "checkout" || r.Retries == nil || r.Retries.Attempts != 2 {
		t.Errorf("route = %+v, want /checkout to checkout with 2 retries", r)
	}
	if !strings.Contains(errOut, `no service-defaults for "storefront"`) {
		t.Errorf("the inferred protocol is not reported: %q", errOut)
	}
}

// CRLF line endings, documents holding only comments, Lists and objects of unrelated kinds.
func TestImportToleratesEverydayYAML(t *testing.T) {
	crlf := "# exported from a Windows machine\r\napiVersion: networking.istio.io/v1beta1\r\nkind: VirtualService\r\nmetadata:\r\n  name: ratings\r\nspec:\r\n  hosts: [ratings]\r\n  http:\r\n  - route:\r\n    - destination: {host: ratings}\r\n---\r\n# nothing but a comment\r\n---\r\napiVersion: v1\r\nkind: Service\r\nmetadata:\r\n  name: ratings\r\nspec:\r\n  ports:\r\n  - {name: http, port: 9080}\r\n"
	d, _ := importDesign(t, "istio", "-f", writeInput(t, "crlf.yaml", crlf))
	if len(d.Spec.Services) != 1 || d.Spec.Services[0].Ports[0].Port != 9080 {
		t.Errorf("services = %+v, want ratings on 9080", d.Spec.Services)
	}
	list := `apiVersion: v1
kind: List
items:
- apiVersion: split.smi-spec.io/v1alpha4
  kind: TrafficSplit
  metadata: {name: pay, namespace: shop}
  spec:
    service: pay
    backends:
    - {service: pay-v1, weight: 9}
    - {service: pay-v2, weight: 1}
- apiVersion: cert-manager.io/v1
  kind: Certificate
  metadata: {name: pay-cert, namespace: shop}
  spec: {}
`
	d, _ = importDesign(t, "smi", "-f", writeInput(t, "list.yaml", list))
	if len(d.Spec.Traffic) != 1 || len(d.Spec.Traffic[0].Routes[0].Backends) != 2 {
		t.Errorf("traffic = %+v, want the pay split", d.Spec.Traffic)
	}
	// Input with no object at all is a mistake (the wrong file): it fails clearly rather than
	// printing an empty design.
	if code, out, errOut := run(t, "import", "istio", "-f", writeInput(t, "empty.yaml", "# placeholder\n---\n# more\n")); code != ExitInvalid ||
		!strings.Contains(errOut, "empty.yaml: every document is empty or a comment") {
		t.Errorf("comments only: exit %d, %q %q", code, out, errOut)
	}
}

// A VirtualService applied on its own (the DestinationRule naming its subsets lives in another
// file, as in many samples) imports into a design that still needs work: the design is printed,
// and the exit code and message say what is missing.
func TestImportReportsDesignsThatDoNotValidateYet(t *testing.T) {
	vs := writeInput(t, "vs-only.yaml", `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
  - route:
    - destination: {host: payments, subset: green}
      weight: 90
    - destination: {host: payments, subset: blue}
      weight: 10
`)
	// Subsets whose DestinationRule is in another file become versions (with a warning).
	code, out, errOut := run(t, "import", "istio", "-f", vs)
	if code != ExitOK || !strings.Contains(out, "green") || !strings.Contains(errOut, "defined by no imported DestinationRule") {
		t.Errorf("subsets without a DestinationRule: exit %d\n%s\n%s", code, out, errOut)
	}
	// A per-try timeout longer than the route's timeout is valid Istio but not a valid design:
	// the design is printed anyway and the command fails with the violation and a hint.
	shadow := writeInput(t, "pertry.yaml", `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
  - timeout: 1s
    retries: {attempts: 3, perTryTimeout: 2s}
    route:
    - destination: {host: payments}
`)
	code, out, errOut = run(t, "import", "istio", "-f", shadow)
	if code != ExitInvalid {
		t.Errorf("exit %d, want %d", code, ExitInvalid)
	}
	if !strings.Contains(out, "kind: Design") {
		t.Errorf("the design is not printed: %q", out)
	}
	for _, want := range []string{"does not validate yet", "perTryTimeout 2s is longer than the route's timeout 1s", "hint:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}
