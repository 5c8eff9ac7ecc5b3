package adaptertest

import (
	"context"
	"strings"
	"testing"
)

func TestSchemaSetAcceptsValidAndRejectsBrokenObjects(t *testing.T) {
	objs, err := ParseObjects([]byte(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 100
    timeout: 2s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: "ninety"
    bogusField: true
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: bookinfo}
spec:
  mtls: {mode: SOMETIMES}
---
apiVersion: example.com/v1
kind: Unknown
metadata: {name: x}
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := LoadSchemas(CRDDir("istio"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if errs := set.Validate(ctx, objs[0]); len(errs) != 0 {
		t.Errorf("valid VirtualService rejected: %v", errs)
	}
	broken := set.Validate(ctx, objs[1]).ToAggregate()
	if broken == nil || !strings.Contains(broken.Error(), "bogusField") || !strings.Contains(broken.Error(), "weight") {
		t.Errorf("broken VirtualService: want errors on bogusField and weight, got %v", broken)
	}
	pa := set.Validate(ctx, objs[2]).ToAggregate()
	if pa == nil || !strings.Contains(pa.Error(), "spec.mtls.mode") {
		t.Errorf("bad PeerAuthentication mode: want an error on spec.mtls.mode, got %v", pa)
	}
	if errs := set.Validate(ctx, objs[3]); len(errs) == 0 {
		t.Errorf("unknown kind accepted")
	}
}

func TestEveryCRDFolderLoads(t *testing.T) {
	for _, dir := range []string{"istio", "linkerd", "consul", "gateway-api", "appmesh"} {
		if _, err := LoadSchemas(CRDDir(dir)); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}

func TestDiffYAMLComparesAsData(t *testing.T) {
	a := []byte("b: 1\na: [x, w]\n---\nc: {d: 1.0}\n")
	b := []byte("a:\n- x\n- w\nb: 1\n---\n# comment\nc:\n  d: 1\n")
	if d := DiffYAML(a, b); d != "" {
		t.Errorf("equal documents reported different:\n%s", d)
	}
	c := []byte("a: [x, z]\nb: 1\n---\nc: {d: 1}\n")
	d := DiffYAML(a, c)
	if !strings.Contains(d, "-- w") || !strings.Contains(d, "+- z") {
		t.Errorf("diff does not show the change:\n%s", d)
	}
}
