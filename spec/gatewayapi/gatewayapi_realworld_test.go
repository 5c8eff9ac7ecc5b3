package gatewayapi_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/gatewayapi"
)

func importYAML(t *testing.T, docs ...string) (*spec.Design, string) {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	d, ws, err := gatewayapi.Import(context.Background(), objs, gatewayapi.Options{})
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	if err != nil {
		t.Fatalf("import: %v\n%s", err, strings.Join(said, "\n"))
	}
	return d, strings.Join(said, "\n")
}

// ReplacePrefixMatch on an exact path, or on a rule without matches (which matches the prefix
// "/"), is how routes written for gateways look; the import must not fail on them.
func TestImportPrefixRewriteOnExactPathOrNoMatch(t *testing.T) {
	d, warnings := importYAML(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: status, namespace: ops}
spec:
  parentRefs: [{kind: Service, group: "", name: status, port: 8080}]
  rules:
  - matches: [{path: {type: Exact, value: /ready}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /health/ready}}
    backendRefs: [{name: status, port: 8080}]
  - matches: [{headers: [{name: x-probe, value: deep}]}]
    filters:
    - type: URLRewrite
      urlRewrite: {hostname: probe.internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /deep}}
    backendRefs: [{name: status, port: 8080}]
  - filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    backendRefs: [{name: status, port: 8080}]
`)
	rs := d.Spec.Traffic[0].Routes
	if len(rs) != 3 {
		t.Fatalf("routes = %+v, want 3", rs)
	}
	byMatch := map[string]spec.Route{}
	for _, r := range rs {
		switch {
		case len(r.Match) == 1 && r.Match[0].Path != nil && r.Match[0].Path.Exact == "/ready":
			byMatch["exact"] = r
		case len(r.Match) == 1 && len(r.Match[0].Headers) == 1:
			byMatch["header"] = r
		case len(r.Match) == 1 && r.Match[0].Path != nil && r.Match[0].Path.Prefix == "/":
			byMatch["all"] = r
		}
	}
	if r := byMatch["exact"]; r.Rewrite == nil || r.Rewrite.FullPath != "/health/ready" || r.Rewrite.Prefix != "" {
		t.Errorf("exact path rewrite = %+v, want full path /health/ready", r.Rewrite)
	}
	if r := byMatch["header"]; r.Rewrite == nil || r.Rewrite.Host != "probe.internal" || r.Rewrite.Prefix != "" {
		t.Errorf("header route rewrite = %+v, want only the host kept", r.Rewrite)
	}
	if r := byMatch["all"]; r.Rewrite == nil || r.Rewrite.Prefix != "/v2" {
		t.Errorf("match-less rule = %+v, want prefix / rewritten to /v2", r)
	}
	if !strings.Contains(warnings, "full-path rewrite") || !strings.Contains(warnings, "the path rewrite is dropped") {
		t.Errorf("warnings do not explain the conversions:\n%s", warnings)
	}
}

// A GAMMA TCPRoute (Service parent) splits a tcp service's connections.
func TestImportTCPRouteWithServiceParent(t *testing.T) {
	d, _ := importYAML(t, `
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: cache, namespace: data}
spec:
  parentRefs: [{kind: Service, group: "", name: cache, port: 6379}]
  rules:
  - backendRefs:
    - {name: cache-old, port: 6379, weight: 80}
    - {name: cache-new, port: 6379, weight: 20}
  - backendRefs:
    - {name: cache-unused, port: 6379}
`)
	if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Service != "cache" {
		t.Fatalf("traffic = %+v", d.Spec.Traffic)
	}
	bs := d.Spec.Traffic[0].Routes[0].Backends
	if len(bs) != 2 || bs[0].Service != "cache-old" || bs[0].Weight != 80 || bs[1].Weight != 20 {
		t.Errorf("backends = %+v, want cache-old 80 / cache-new 20", bs)
	}
	for _, s := range d.Spec.Services {
		if s.Name == "cache" && s.Protocol != spec.ProtocolTCP {
			t.Errorf("cache protocol = %q, want tcp", s.Protocol)
		}
		if s.Name == "cache-unused" {
			t.Errorf("the second rule's backend was declared: %+v", d.Spec.Services)
		}
	}
}

// Guide snippets often leave parentRefs out; such a route attaches to nothing and must not
// disappear without a word.
func TestImportRouteWithoutParentRefsIsReported(t *testing.T) {
	d, warnings := importYAML(t, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: orphan}
spec:
  rules:
  - backendRefs: [{name: widgets, port: 8080}]
`)
	if len(d.Spec.Traffic) != 0 {
		t.Errorf("traffic = %+v, want none", d.Spec.Traffic)
	}
	if !strings.Contains(warnings, "no parentRefs") {
		t.Errorf("the skipped route is not reported:\n%s", warnings)
	}
}
