package appmesh_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec/appmesh"
)

// A VirtualRouter listens on the service port and routes to virtual nodes listening on the
// pods' port (Argo Rollouts' examples/appmesh/canary-service.yaml: router 80, nodes 8080): the
// design's target port is the nodes', not the service port. Nodes on different ports say so.
func TestImportRouterTargetPort(t *testing.T) {
	load := func(nodePort2 string) ([]*unstructured.Unstructured, error) {
		var objs []*unstructured.Unstructured
		for _, d := range []string{`
apiVersion: v1
kind: Service
metadata: {name: my-svc, namespace: argo}
spec: {ports: [{port: 80, targetPort: http, name: http}], selector: {app: my-app}}`, `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualService
metadata: {name: my-svc, namespace: argo}
spec: {provider: {virtualRouter: {virtualRouterRef: {name: my-vrouter}}}}`, `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualRouter
metadata: {name: my-vrouter, namespace: argo}
spec:
  listeners: [{portMapping: {port: 80, protocol: http}}]
  routes:
  - name: primary
    httpRoute:
      match: {prefix: /}
      action:
        weightedTargets:
        - {virtualNodeRef: {name: my-vn-canary}, weight: 0}
        - {virtualNodeRef: {name: my-vn-stable}, weight: 100}`, `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: my-vn-canary, namespace: argo}
spec:
  podSelector: {matchLabels: {app: my-app, rollouts-pod-template-hash: canary-tbd}}
  listeners: [{portMapping: {port: 8080, protocol: http}}]`, `
apiVersion: appmesh.k8s.aws/v1beta2
kind: VirtualNode
metadata: {name: my-vn-stable, namespace: argo}
spec:
  podSelector: {matchLabels: {app: my-app, rollouts-pod-template-hash: stable-tbd}}
  listeners: [{portMapping: {port: ` + nodePort2 + `, protocol: http}}]`} {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(d), &m); err != nil {
				return nil, err
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
		return objs, nil
	}
	objs, err := load("8080")
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := appmesh.Import(context.Background(), objs, appmesh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Spec.Services[0]
	if len(s.Ports) != 1 || s.Ports[0].Port != 80 || s.Ports[0].TargetPort != 8080 {
		t.Errorf("ports = %+v, want 80 -> 8080 (the nodes' listener)", s.Ports)
	}
	objs, err = load("9090")
	if err != nil {
		t.Fatal(err)
	}
	d, ws, err := appmesh.Import(context.Background(), objs, appmesh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	if p := d.Spec.Services[0].Ports[0]; p.TargetPort != 80 || !strings.Contains(strings.Join(said, "\n"), `the virtual nodes behind service "my-svc" listen on different ports`) {
		t.Errorf("port = %+v, warnings:\n%s", p, strings.Join(said, "\n"))
	}
}
