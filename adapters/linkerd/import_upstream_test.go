package linkerd_test

import (
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters/adaptertest"
)

// An AuthorizationPolicy for a Server another chart installs (Flagger's
// kustomize/linkerd/authorizationpolicy.yaml grants its service account linkerd-viz's
// prometheus-admin Server) names the missing Server and what to add.
func TestImportPolicyOfAServerNotInTheInput(t *testing.T) {
	objs, err := adaptertest.ParseObjects([]byte(`
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {namespace: linkerd-viz, name: prometheus-admin-flagger}
spec:
  targetRef: {group: policy.linkerd.io, kind: Server, name: prometheus-admin}
  requiredAuthenticationRefs:
  - {kind: ServiceAccount, name: flagger, namespace: flagger-system}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {namespace: linkerd-viz, name: route-policy}
spec:
  targetRef: {group: policy.linkerd.io, kind: HTTPRoute, name: metrics}
  requiredAuthenticationRefs:
  - {kind: ServiceAccount, name: flagger, namespace: flagger-system}
`))
	if err != nil {
		t.Fatal(err)
	}
	d, ws := importObjects(t, objs)
	if d.Spec.Security != nil && len(d.Spec.Security.Access) > 0 {
		t.Errorf("access rules without their Server: %+v", d.Spec.Security.Access)
	}
	var said []string
	for _, w := range ws {
		said = append(said, w.String())
	}
	joined := strings.Join(said, "\n")
	for _, want := range []string{
		"AuthorizationPolicy/linkerd-viz/prometheus-admin-flagger: target Server linkerd-viz/prometheus-admin is not among the objects: not imported (the design needs the Server's pods and port: add the Server",
		`AuthorizationPolicy/linkerd-viz/route-policy: target HTTPRoute "metrics" is not among the objects`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
}
