package appmesh_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec/appmesh"
)

// Walkthroughs written for App Mesh controller v0.x use appmesh.k8s.aws/v1beta1: routes inline
// in the VirtualService, targets by virtualNodeName, dns.hostName, no pod selectors. Their routes
// must not vanish silently.
func TestImportLegacyV1beta1(t *testing.T) {
	docs := []string{`
apiVersion: appmesh.k8s.aws/v1beta1
kind: Mesh
metadata: {name: paint-mesh}
spec: {serviceDiscoveryType: dns}`, `
apiVersion: appmesh.k8s.aws/v1beta1
kind: VirtualNode
metadata: {name: palette-red, namespace: paint}
spec:
  meshName: paint-mesh
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  serviceDiscovery: {dns: {hostName: palette-red.paint.svc.cluster.local}}`, `
apiVersion: appmesh.k8s.aws/v1beta1
kind: VirtualNode
metadata: {name: palette-green, namespace: paint}
spec:
  meshName: paint-mesh
  listeners: [{portMapping: {port: 8080, protocol: http}}]
  serviceDiscovery: {dns: {hostName: palette-green.paint.svc.cluster.local}}`, `
apiVersion: appmesh.k8s.aws/v1beta1
kind: VirtualNode
metadata: {name: easel, namespace: paint}
spec:
  meshName: paint-mesh
  listeners: [{portMapping: {port: 9000, protocol: http}}]
  backends: [{virtualService: {virtualServiceName: palette.paint.svc.cluster.local}}]
  serviceDiscovery: {dns: {hostName: easel.paint.svc.cluster.local}}`, `
apiVersion: appmesh.k8s.aws/v1beta1
kind: VirtualService
metadata: {name: palette.paint.svc.cluster.local, namespace: paint}
spec:
  meshName: paint-mesh
  virtualRouter: {name: palette-router}
  routes:
  - name: palette-route
    http:
      match: {prefix: /}
      action:
        weightedTargets:
        - {virtualNodeName: palette-red, weight: 3}
        - {virtualNodeName: palette-green, weight: 1}`}
	var objs []*unstructured.Unstructured
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	d, ws, err := appmesh.Import(context.Background(), objs, appmesh.Options{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Service != "palette" {
		t.Fatalf("traffic = %+v, want the palette routes", d.Spec.Traffic)
	}
	bs := d.Spec.Traffic[0].Routes[0].Backends
	if len(bs) != 2 || bs[0].Version != "red" || bs[0].Weight != 3 || bs[1].Version != "green" || bs[1].Weight != 1 {
		t.Errorf("backends = %+v, want red 3 / green 1", bs)
	}
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	if all := strings.Join(said, "\n"); !strings.Contains(all, "select pods by annotation") {
		t.Errorf("the assumed version labels are not reported:\n%s", all)
	}
	for _, s := range d.Spec.Services {
		if s.Name == "palette" && (len(s.Versions) != 2 || s.Versions[0].Labels["version"] == "") {
			t.Errorf("palette versions = %+v, want labelled versions", s.Versions)
		}
	}
}
