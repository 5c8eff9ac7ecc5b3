package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/internal/kubetest"
	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server"
)

// writeKubeconfig writes a kubeconfig with the context "test" for cfg and a context "down" for an
// API server that does not exist.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.Contexts["down"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "admin"}
	kc.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

const deployMutation = `mutation($d: String!, $m: String!, $c: String!, $dry: Boolean, $force: Boolean) {
  deploy(design: $d, mesh: $m, cluster: $c, dryRun: $dry, prune: true, force: $force) { id kind status }
}`

func deployVars(design string, dry, force bool) map[string]any {
	return map[string]any{"d": design, "m": "istio", "c": "test", "dry": dry, "force": force}
}

type opEvent struct {
	ID, Kind, Status, Message string
	Progress                  float64
	Error                     *string
	Result                    map[string]any
}

// follow reads operationProgress events of operation id until it finishes.
func follow(t *testing.T, c *wsClient, id string) []opEvent {
	t.Helper()
	var evs []opEvent
	for {
		m := c.mustNext("next")
		var p struct {
			Data struct {
				OperationProgress struct{ Operation opEvent }
			}
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		op := p.Data.OperationProgress.Operation
		if op.ID != id {
			continue
		}
		evs = append(evs, op)
		if op.Status != "RUNNING" {
			return evs
		}
	}
}

func TestDeployThroughTheAPI(t *testing.T) {
	cfg := kubetest.Start(t, adaptertest.CRDDir("istio"))
	kc := writeKubeconfig(t, cfg)
	bookinfo, err := os.ReadFile(filepath.Join("..", "examples", "designs", "bookinfo-canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vsGVR := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

	for i, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			e := serveEnv(t, b, server.Config{Kubeconfig: kc})
			editor := e.token(t, "bob", models.RoleEditor)
			viewer := e.token(t, "alice", models.RoleViewer)
			e.must(t, editor, saveMutation, saveVars("bookinfo", string(bookinfo), 0, "canary"), nil)

			// Clusters are the kubeconfig's contexts.
			var cl struct {
				Clusters []struct {
					Name, Server       string
					Reachable, Current bool
					Error              *string
				}
			}
			e.must(t, viewer, `{ clusters { name server reachable current error } }`, nil, &cl)
			if len(cl.Clusters) != 2 || cl.Clusters[0].Name != "down" || cl.Clusters[0].Reachable || cl.Clusters[0].Error == nil ||
				cl.Clusters[1].Name != "test" || !cl.Clusters[1].Reachable || !cl.Clusters[1].Current || cl.Clusters[1].Server != cfg.Host {
				t.Fatalf("clusters = %+v", cl.Clusters)
			}

			// A viewer may not deploy; an unknown cluster is NOT_FOUND.
			if r := e.do(t, viewer, deployMutation, deployVars("bookinfo", false, false)); r.code() != "FORBIDDEN" {
				t.Fatalf("viewer deploy: %s", r.raw)
			}
			if r := e.do(t, editor, `mutation { deploy(design: "bookinfo", mesh: "istio", cluster: "nope") { id } }`, nil); r.code() != "NOT_FOUND" {
				t.Fatalf("unknown cluster: %s", r.raw)
			}

			// Deploy, following the operation over the websocket subscription.
			c := dialWS(t, e, http.Header{"Authorization": {"Bearer " + viewer}})
			c.send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
			c.mustNext("connection_ack")
			c.subscribe("ops", `subscription { operationProgress { operation { id kind status progress message error result } } }`)
			waitFor(t, "the progress subscription", func() bool { return e.srv.Operations().Events.Subscribers() == 1 })
			var dep struct {
				Deploy struct{ ID, Kind, Status string }
			}
			e.must(t, editor, deployMutation, deployVars("bookinfo", false, false), &dep)
			if dep.Deploy.Kind != "deploy" || dep.Deploy.Status != "RUNNING" {
				t.Fatalf("deploy = %+v", dep)
			}
			evs := follow(t, c, dep.Deploy.ID)
			last := evs[len(evs)-1]
			if last.Status != "SUCCEEDED" || last.Progress != 1 {
				t.Fatalf("final event: %+v", last)
			}
			var tr struct{ Translate struct{ ObjectCount int } }
			e.must(t, viewer, `{ translate(design: "bookinfo", mesh: "istio") { objectCount } }`, nil, &tr)
			perObject := 0
			for _, ev := range evs {
				if strings.Contains(ev.Message, " bookinfo/") && (strings.HasSuffix(ev.Message, " created") || strings.HasSuffix(ev.Message, " configured") || strings.HasSuffix(ev.Message, " unchanged")) {
					perObject++
				}
			}
			if perObject != tr.Translate.ObjectCount || perObject < 4 {
				t.Fatalf("want one progress event per applied object, got messages %v", messages(evs))
			}

			// The objects are in the cluster.
			vs, err := dyn.Resource(vsGVR).Namespace("bookinfo").Get(context.Background(), "reviews", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("VirtualService bookinfo/reviews after deploy: %v", err)
			}
			if vs.GetLabels()[adapters.LabelDesign] != "bookinfo" {
				t.Fatalf("labels %v", vs.GetLabels())
			}

			// The deployment is recorded, with an audit event.
			var deps struct {
				Deployments []struct {
					ID, Design, Mesh, Cluster, Status, Actor string
					Revision                                 int
					DryRun                                   bool
					OperationID                              *string
					Applied                                  []struct{ Object, Action string }
				}
			}
			e.must(t, viewer, `{ deployments(design: "bookinfo") { id design revision mesh cluster status dryRun actor operationId applied { object action } } }`, nil, &deps)
			if len(deps.Deployments) != 1 {
				t.Fatalf("deployments = %+v", deps)
			}
			d := deps.Deployments[0]
			if d.Design != "bookinfo" || d.Revision != 1 || d.Mesh != "istio" || d.Cluster != "test" || d.Status != "SUCCEEDED" ||
				d.Actor != "bob" || d.DryRun || d.OperationID == nil || *d.OperationID != dep.Deploy.ID || len(d.Applied) < perObject {
				t.Fatalf("deployment = %+v", d)
			}
			if i == 0 && !containsAction(d.Applied, "VirtualService bookinfo/reviews (networking.istio.io/v1)", "created") {
				t.Fatalf("applied = %+v", d.Applied)
			}
			var evlog struct {
				Events struct {
					Edges []struct {
						Node struct{ Actor, Action string }
					}
				}
			}
			e.must(t, viewer, `{ events(filter: {objectName: "bookinfo"}, first: 5) { edges { node { actor action } } } }`, nil, &evlog)
			var actions []string
			for _, ed := range evlog.Events.Edges {
				actions = append(actions, ed.Node.Actor+" "+ed.Node.Action)
			}
			if strings.Join(actions, "|") != "trellis deployment.succeeded|bob deployment.start|bob design.save" {
				t.Fatalf("audit events: %v", actions)
			}

			// No drift right after the deployment; a manual edit drifts.
			driftQ := `{ drift(design: "bookinfo", mesh: "istio", cluster: "test") { inSync changes { object kind diff } } }`
			var dr struct {
				Drift struct {
					InSync  bool
					Changes []struct {
						Object, Kind string
						Diff         *string
					}
				}
			}
			e.must(t, viewer, driftQ, nil, &dr)
			if !dr.Drift.InSync || len(dr.Drift.Changes) == 0 {
				t.Fatalf("drift after deploy: %+v", dr)
			}
			hosts := []any{"reviews", "edited-by-hand"}
			if err := unstructured.SetNestedSlice(vs.Object, hosts, "spec", "hosts"); err != nil {
				t.Fatal(err)
			}
			if _, err := dyn.Resource(vsGVR).Namespace("bookinfo").Update(context.Background(), vs, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
			e.must(t, viewer, driftQ, nil, &dr)
			drifted := ""
			for _, ch := range dr.Drift.Changes {
				if ch.Kind == "drifted" {
					drifted = ch.Object
					if ch.Diff == nil || !strings.Contains(*ch.Diff, "edited-by-hand") {
						t.Fatalf("drift diff: %+v", ch)
					}
				}
			}
			if dr.Drift.InSync || drifted != "VirtualService bookinfo/reviews (networking.istio.io/v1)" {
				t.Fatalf("drift after a manual edit: %+v", dr)
			}
			// Redeploying repairs it.
			e.must(t, editor, deployMutation, deployVars("bookinfo", false, false), &dep)
			if evs := follow(t, c, dep.Deploy.ID); evs[len(evs)-1].Status != "SUCCEEDED" {
				t.Fatalf("redeploy: %+v", evs[len(evs)-1])
			}
			e.must(t, viewer, driftQ, nil, &dr)
			if !dr.Drift.InSync {
				t.Fatalf("drift after redeploy: %+v", dr)
			}

			// The policy gate: a design with an error finding (SEC-001, permissive mTLS) is refused.
			risky := strings.Replace(string(bookinfo), "mtls: strict", "mtls: permissive", 1)
			if risky == string(bookinfo) {
				t.Fatal("bookinfo-canary no longer sets mtls: strict")
			}
			e.must(t, editor, saveMutation, saveVars("bookinfo", risky, 1, "permissive"), nil)
			r := e.do(t, editor, deployMutation, deployVars("bookinfo", false, false))
			if r.code() != "POLICY_FAILED" || !strings.Contains(r.raw, `"rule":"SEC-001"`) || string(r.Data) != "null" {
				t.Fatalf("deploy with an error finding: %s", r.raw)
			}
			// Editors may not force; a dry run is not gated; an admin may force.
			if r := e.do(t, editor, deployMutation, deployVars("bookinfo", false, true)); r.code() != "FORBIDDEN" {
				t.Fatalf("editor force: %s", r.raw)
			}
			e.must(t, editor, deployMutation, deployVars("bookinfo", true, false), &dep)
			if evs := follow(t, c, dep.Deploy.ID); evs[len(evs)-1].Status != "SUCCEEDED" {
				t.Fatalf("dry run: %+v", evs[len(evs)-1])
			}
			e.must(t, e.admin, deployMutation, deployVars("bookinfo", false, true), &dep)
			if evs := follow(t, c, dep.Deploy.ID); evs[len(evs)-1].Status != "SUCCEEDED" {
				t.Fatalf("forced deploy: %+v", evs[len(evs)-1])
			}
			e.must(t, viewer, `{ deployments(design: "bookinfo") { id design revision mesh cluster status dryRun actor operationId applied { object action } } }`, nil, &deps)
			if len(deps.Deployments) != 4 || deps.Deployments[0].Actor != "admin" || deps.Deployments[0].Revision != 2 ||
				!deps.Deployments[1].DryRun || deps.Deployments[3].Revision != 1 {
				t.Fatalf("deployments after the gate: %+v", deps)
			}

			// The stored findings of each revision.
			var fq struct {
				Design struct {
					Head struct {
						Findings []struct{ Rule, Severity, Title, Remedy string }
					}
					Revision struct {
						Findings []struct{ Rule, Severity string }
					}
				}
			}
			e.must(t, viewer, `{ design(name: "bookinfo") { head { findings { rule severity title remedy } } revision(number: 1) { findings { rule severity } } } }`, nil, &fq)
			found := false
			for _, f := range fq.Design.Head.Findings {
				if f.Rule == "SEC-001" && f.Severity == "error" && f.Title != "" && f.Remedy != "" {
					found = true
				}
			}
			if !found {
				t.Fatalf("head findings = %+v", fq.Design.Head.Findings)
			}
			for _, f := range fq.Design.Revision.Findings {
				if f.Severity == "error" {
					t.Fatalf("revision 1 has an error finding: %+v", f)
				}
			}
		})
	}
}

func messages(evs []opEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Message)
	}
	return out
}

func containsAction(applied []struct{ Object, Action string }, object, action string) bool {
	for _, a := range applied {
		if a.Object == object && a.Action == action {
			return true
		}
	}
	return false
}
