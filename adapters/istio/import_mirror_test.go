package istio_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
)

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func loadDesign(t *testing.T, src string) *spec.Design {
	t.Helper()
	ds, err := spec.LoadBytes("design.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return ds[0]
}

// mirrorOf returns the mirror of the first route of the traffic policy of service.
func mirrorOf(t *testing.T, d *spec.Design, service string) *spec.Mirror {
	t.Helper()
	for _, tp := range d.Spec.Traffic {
		if tp.Service == service && len(tp.Routes) > 0 {
			return tp.Routes[0].Mirror
		}
	}
	t.Fatalf("no route for %s in %+v", service, d.Spec.Traffic)
	return nil
}

// The deprecated integer mirrorPercent (still in published samples, such as older versions of
// Istio's mirroring task) is the mirror's percent, as mirrorPercentage.value is; when both are
// set, mirrorPercentage wins, as in Istio's route generation. A 0% mirror copies nothing: it is
// dropped with a warning, and so is a percentage without the mirror it applies to.
func TestImportMirrorPercent(t *testing.T) {
	const base = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route: [{destination: {host: httpbin, subset: v1}, weight: 100}]
    mirror: {host: httpbin, subset: v2}
`
	for _, c := range []struct {
		name, extra string
		want        float64 // 0: no mirror
		warning     string
	}{
		{name: "mirrorPercent", extra: "    mirrorPercent: 25\n", want: 25},
		{name: "mirrorPercentage", extra: "    mirrorPercentage: {value: 12.5}\n", want: 12.5},
		{name: "tiny mirrorPercentage", extra: "    mirrorPercentage: {value: 0.0001}\n", want: 0.0001},
		{name: "both: mirrorPercentage wins", extra: "    mirrorPercent: 50\n    mirrorPercentage: {value: 5}\n", want: 5},
		{name: "neither: every request", want: 100},
		{name: "mirrorPercent 0", extra: "    mirrorPercent: 0\n",
			warning: "VirtualService /httpbin: spec.http[0].mirrorPercent: mirroring 0% of requests copies none (Istio configures no mirror): the mirror is dropped"},
		{name: "mirrorPercentage 0", extra: "    mirrorPercentage: {value: 0}\n",
			warning: "VirtualService /httpbin: spec.http[0].mirrorPercentage.value: mirroring 0% of requests copies none"},
		{name: "above 100", extra: "    mirrorPercent: 150\n", want: 100,
			warning: "VirtualService /httpbin: spec.http[0].mirrorPercent: 150% is above 100 (Istio rejects it): imported as 100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, ws := importIstio(t, base+c.extra)
			m := mirrorOf(t, d, "httpbin")
			switch {
			case c.want == 0 && m != nil:
				t.Errorf("mirror = %+v, want none", m)
			case c.want != 0 && (m == nil || m.Percent != c.want || m.Version != "v2" || m.Service != "httpbin"):
				t.Errorf("mirror = %+v, want httpbin v2 at %g%%", m, c.want)
			}
			if c.warning != "" && !strings.Contains(ws, c.warning) {
				t.Errorf("warnings lack %q:\n%s", c.warning, ws)
			}
			if c.warning == "" && strings.Contains(ws, "mirror") {
				t.Errorf("unexpected mirror warning:\n%s", ws)
			}
		})
	}
	// A percentage without the mirror it applies to is reported, not silently dropped.
	_, ws := importIstio(t, strings.Replace(base, "    mirror: {host: httpbin, subset: v2}\n", "    mirrorPercent: 30\n", 1))
	if !strings.Contains(ws, "spec.http[0].mirrorPercent: it applies to the mirror field, which the rule does not set: dropped") {
		t.Errorf("warnings:\n%s", ws)
	}
}

// import(translate(d)) keeps a mirror's percent, whole or not: the translation writes the
// design's float as mirrors[].percentage.value and the importer reads it back exactly.
func TestMirrorPercentRoundTrip(t *testing.T) {
	for _, pct := range []float64{25, 12.5, 0.5, 100} {
		d := loadDesign(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: m, namespace: shop}
spec:
  services:
  - {name: httpbin, protocol: http, ports: [{port: 8000}], versions: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
  traffic:
  - service: httpbin
    routes:
    - name: default
      backends: [{version: v1}]
      mirror: {version: v2, percent: `+formatFloat(pct)+`}
`)
		a := istio.New()
		out, _, err := a.Translate(context.Background(), d, adapters.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, ws, err := a.Import(context.Background(), append(out.Objects, kubeServices(d)...), adapters.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if m := mirrorOf(t, got, "httpbin"); m == nil || m.Percent != pct || m.Version != "v2" {
			t.Errorf("percent %g: mirror after the round trip = %+v", pct, m)
		}
		for _, w := range ws {
			if w.Feature == adapters.FeatureMirror {
				t.Errorf("percent %g: warning %s", pct, w)
			}
		}
	}
}

// A mirror's host is declared as a service, like a route destination's, and a destination port
// becomes a port of a service no Kubernetes Service of the input declares (the GRPCRoute mirror
// conformance test, translated to Istio without its Services); a Kubernetes Service's ports
// are kept as they are.
func TestImportDeclaresMirrorHostsAndRoutePorts(t *testing.T) {
	d, ws := importIstio(t, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: mesh}
spec:
  hosts: [echo.mesh.svc.cluster.local]
  http:
  - match: [{headers: {x-mirror-only: {exact: "true"}}}]
    mirrors:
    - destination: {host: echo-v2.mesh.svc.cluster.local, port: {number: 7070}}
      percentage: {value: 100}
    route:
    - destination: {host: echo-v1.mesh.svc.cluster.local, port: {number: 7070}}
  - match: [{headers: {x-other: {exact: "true"}}}]
    route:
    - destination: {host: echo-v1.mesh.svc.cluster.local, port: {number: 7071}}
    - destination: {host: kept.mesh.svc.cluster.local, port: {number: 9999}}
---
apiVersion: v1
kind: Service
metadata: {name: kept, namespace: mesh}
spec:
  selector: {app: kept}
  ports: [{name: http, port: 9999}]
`)
	want := map[string]string{"echo-v1": "7070,7071", "echo-v2": "7070", "echo": "80", "kept": "9999"}
	for _, s := range d.Spec.Services {
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, formatFloat(float64(p.Port)))
		}
		if got := strings.Join(ports, ","); got != want[s.Name] {
			t.Errorf("%s ports = %s, want %s", s.Name, got, want[s.Name])
		}
		if s.Protocol != spec.ProtocolHTTP {
			t.Errorf("%s protocol = %s, want http (the default a route-only service gets)", s.Name, s.Protocol)
		}
		delete(want, s.Name)
	}
	if len(want) > 0 {
		t.Errorf("services not declared: %v", want)
	}
	if m := mirrorOf(t, d, "echo"); m == nil || m.Service != "echo-v2" || m.Percent != 100 {
		t.Errorf("mirror = %+v", m)
	}
	if ws != "" {
		t.Errorf("warnings:\n%s", ws)
	}
	// A TCP route's destination port is a port of the (TCP) service too, and so is a mirror
	// of a VirtualService bound to an ingress gateway only, whose routes are skipped.
	d, _ = importIstio(t, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - route: [{destination: {host: db, port: {number: 5432}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: [shop.example.com]
  gateways: [ingress]
  http:
  - route: [{destination: {host: web, port: {number: 8080}}}]
    mirror: {host: shadow, port: {number: 8081}}
`)
	for name, port := range map[string]int32{"db": 5432, "web": 8080, "shadow": 8081} {
		found := false
		for _, s := range d.Spec.Services {
			if s.Name == name {
				found = true
				if len(s.Ports) != 1 || s.Ports[0].Port != port {
					t.Errorf("%s ports = %+v, want %d", name, s.Ports, port)
				}
				if name == "db" && s.Protocol != spec.ProtocolTCP {
					t.Errorf("db protocol = %s, want tcp", s.Protocol)
				}
			}
		}
		if !found {
			t.Errorf("service %s not declared", name)
		}
	}
}

// A Kubernetes Service's named targetPort (Argo Rollouts' examples use targetPort: http) takes
// the number of the container port of that name in the workloads the Service selects; when no
// workload of the input declares it, the service port is used and a warning says so.
func TestImportNamedTargetPort(t *testing.T) {
	const svc = `
apiVersion: v1
kind: Service
metadata: {name: my-svc, namespace: argo}
spec:
  selector: {app: my-app}
  ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]
`
	d, ws := importIstio(t, svc)
	if p := d.Spec.Services[0].Ports[0]; p.TargetPort != 80 {
		t.Errorf("target port = %d, want the service port 80", p.TargetPort)
	}
	if want := "Service argo/my-svc: spec.ports[0].targetPort: targetPort http is a container port name no workload of the input declares: the design uses the service port 80; include the workload or set targetPort"; !strings.Contains(ws, want) {
		t.Errorf("warnings lack %q:\n%s", want, ws)
	}
	// A workload of another app or namespace does not count; the selected Rollout does.
	d, ws = importIstio(t, svc+`
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: argo}
spec:
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: other, labels: {app: my-app}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 9191}]}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: my-app, namespace: argo}
spec:
  template:
    metadata: {labels: {app: my-app, track: any}}
    spec: {containers: [{name: app, ports: [{name: metrics, containerPort: 9100}, {name: http, containerPort: 8080}]}]}
`)
	if p := d.Spec.Services[0].Ports[0]; p.TargetPort != 8080 || p.Port != 80 {
		t.Errorf("port = %+v, want 80 -> 8080 (the Rollout's container port http)", p)
	}
	if strings.Contains(ws, "targetPort") || strings.Contains(ws, "kind not imported") {
		t.Errorf("warnings:\n%s", ws)
	}
	// Selected workloads that give the name different numbers: the first (in sorted order) is
	// used, and the warning lists them.
	d, ws = importIstio(t, svc+`
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: a, namespace: argo}
spec:
  template:
    metadata: {labels: {app: my-app, version: a}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: b, namespace: argo}
spec:
  template:
    metadata: {labels: {app: my-app, version: b}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}
`)
	if p := d.Spec.Services[0].Ports[0]; p.TargetPort != 8080 {
		t.Errorf("port = %+v, want 80 -> 8080 (Deployment a's)", p)
	}
	if want := "spec.ports[0].targetPort: targetPort http names different container ports in the workloads the Service selects (8080 (Deployment argo/a), 9090 (StatefulSet argo/b)): a design port has one target, so it is imported as 8080"; !strings.Contains(ws, want) {
		t.Errorf("warnings lack %q:\n%s", want, ws)
	}
}
