package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/kube"
	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/policies"
	"github.com/trellis-mesh/trellis/server/auth"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/server/live"
	"github.com/trellis-mesh/trellis/spec"
)

// reachTimeout bounds the version request that tells whether a cluster is reachable.
const reachTimeout = 3 * time.Second

// loadingRules returns kubectl's kubeconfig loading rules for the server's kubeconfig.
func (r *Resolver) loadingRules() *clientcmd.ClientConfigLoadingRules {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if r.Kubeconfig != "" {
		rules.ExplicitPath = r.Kubeconfig
	}
	return rules
}

// listClusters returns the kubeconfig's contexts with their reachability (checked in parallel).
func (r *Resolver) listClusters(ctx context.Context) ([]*model.Cluster, error) {
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(r.loadingRules(), &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return nil, newError(ctx, CodeClusterUnavailable, fmt.Sprintf("loading the server's kubeconfig: %v; hint: start the server with --kubeconfig or KUBECONFIG", err), nil)
	}
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*model.Cluster, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		c := &model.Cluster{Name: n, Current: n == raw.CurrentContext}
		if cl, ok := raw.Clusters[raw.Contexts[n].Cluster]; ok {
			c.Server = cl.Server
		}
		out[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.ping(ctx, n); err != nil {
				c.Error = optString(err.Error())
				return
			}
			c.Reachable = true
		}()
	}
	wg.Wait()
	return out, nil
}

// ping asks a cluster for its version.
func (r *Resolver) ping(ctx context.Context, name string) error {
	cfg, err := r.restConfig(ctx, name)
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = reachTimeout
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := dc.ServerVersion(); err != nil {
		return fmt.Errorf("asking %s for its version: %w", name, err)
	}
	return nil
}

// restConfig returns the client configuration of the named context (NOT_FOUND when the
// kubeconfig has no such context).
func (r *Resolver) restConfig(ctx context.Context, name string) (*rest.Config, error) {
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(r.loadingRules(), &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return nil, newError(ctx, CodeClusterUnavailable, fmt.Sprintf("loading the server's kubeconfig: %v; hint: start the server with --kubeconfig or KUBECONFIG", err), nil)
	}
	if _, ok := raw.Contexts[name]; !ok {
		known := make([]string, 0, len(raw.Contexts))
		for n := range raw.Contexts {
			known = append(known, n)
		}
		sort.Strings(known)
		return nil, newError(ctx, CodeNotFound, fmt.Sprintf("cluster %q is not a context of the server's kubeconfig; hint: see the clusters query", name), map[string]any{"clusters": known})
	}
	cfg, _, err := kube.Config(r.Kubeconfig, name)
	if err != nil {
		return nil, newError(ctx, CodeClusterUnavailable, err.Error(), nil)
	}
	return cfg, nil
}

// kubeClient returns a client for the named cluster.
func (r *Resolver) kubeClient(ctx context.Context, name string) (*kube.Client, error) {
	cfg, err := r.restConfig(ctx, name)
	if err != nil {
		return nil, err
	}
	c, err := kube.New(cfg)
	if err != nil {
		return nil, newError(ctx, CodeClusterUnavailable, err.Error(), nil)
	}
	return c, nil
}

// blockingFindings returns the unsuppressed error findings of a policy check.
func blockingFindings(fs []policies.Finding) []policies.Finding {
	var out []policies.Finding
	for _, f := range fs {
		if f.Severity == policies.SeverityError && !f.Suppressed {
			out = append(out, f)
		}
	}
	return out
}

// findingsExt renders findings for extensions.findings.
func findingsExt(fs []policies.Finding) []map[string]any {
	out := make([]map[string]any, len(fs))
	for i, f := range fs {
		m := map[string]any{"rule": f.Rule, "severity": string(f.Severity), "title": f.Title, "message": f.Message, "path": f.Path, "remedy": f.Remedy}
		if f.Mesh != "" {
			m["mesh"] = f.Mesh
		}
		if f.Object != "" {
			m["object"] = f.Object
		}
		out[i] = m
	}
	return out
}

// deployRequest is a validated deploy mutation.
type deployRequest struct {
	rev     *models.DesignRevision
	design  *spec.Design
	out     *adapters.Output
	mesh    string
	cluster string
	dryRun  bool
	prune   bool
	force   bool
	actor   string
}

// deploy checks the policy gate, records the deployment and starts the operation applying it.
func (r *Resolver) deploy(ctx context.Context, req deployRequest, client *kube.Client) (*model.Operation, error) {
	name := req.design.Metadata.Name
	if !req.dryRun {
		engine, err := r.Policies(ctx)
		if err != nil {
			return nil, r.toGraphQLError(ctx, err)
		}
		fs, err := engine.Check(ctx, policies.Target{Design: req.design, Meshes: map[string]*adapters.Output{req.mesh: req.out}}, nil)
		if err != nil {
			return nil, r.toGraphQLError(ctx, err)
		}
		if blocking := blockingFindings(fs); len(blocking) > 0 {
			details := map[string]any{"revision": req.rev.Number, "mesh": req.mesh, "cluster": req.cluster, "findings": len(blocking), "forced": req.force}
			action := "deployment.refused"
			if req.force {
				action = "deployment.forced"
			}
			if err := r.Store.RecordEvent(ctx, req.actor, action, "design", name, details); err != nil {
				return nil, r.toGraphQLError(ctx, err)
			}
			if !req.force {
				return nil, newError(ctx, CodePolicyFailed,
					fmt.Sprintf("the policy check found %d unsuppressed error(s) in design %q for %s; hint: fix them, suppress them with a reason, or (admin) deploy with force: true", len(blocking), name, req.mesh),
					map[string]any{"findings": findingsExt(blocking)})
			}
		}
	}
	cl, err := r.Store.EnsureCluster(ctx, req.cluster)
	if err != nil {
		return nil, r.toGraphQLError(ctx, err)
	}
	dep := &models.Deployment{DesignID: req.rev.DesignID, RevisionID: req.rev.ID, ClusterID: cl.ID, Mesh: req.mesh,
		DryRun: req.dryRun, Prune: req.prune, Actor: req.actor}
	if err := r.Store.StartDeployment(ctx, dep, name, req.rev.Number, req.cluster); err != nil {
		return nil, r.toGraphQLError(ctx, err)
	}
	target := fmt.Sprintf("design/%s@%d → %s/%s", name, req.rev.Number, req.mesh, req.cluster)
	op := r.Operations.Start("deploy", target, req.actor, func(ctx context.Context, rep live.Reporter) (map[string]any, error) {
		return r.runDeployment(ctx, rep, req, client, dep.ID)
	})
	if err := r.Store.SetDeploymentOperation(ctx, dep.ID, op.ID); err != nil {
		r.logger().WarnContext(ctx, "recording a deployment's operation", slog.String("error", err.Error()))
	}
	return operationOf(op), nil
}

// runDeployment applies the objects (reporting one progress event per object) and records the
// outcome.
func (r *Resolver) runDeployment(ctx context.Context, rep live.Reporter, req deployRequest, client *kube.Client, id int64) (map[string]any, error) {
	name := req.design.Metadata.Name
	total := len(req.out.Objects)
	verb := "applying"
	if req.dryRun {
		verb = "dry-run applying"
	}
	rep.Report(0, fmt.Sprintf("%s %d object(s) to %s", verb, total, req.cluster))
	results, err := client.Apply(ctx, req.out.Objects, kube.ApplyOptions{
		DryRun: req.dryRun, Prune: req.prune, Design: name,
		Progress: func(done, total int, res kube.Result) {
			rep.Report(float64(done)/float64(max(total, 1)), res.Object+" "+string(res.Action))
		},
	})
	var ae *kube.ApplyError
	if errors.As(err, &ae) && len(results) == 0 {
		results = ae.Applied
	}
	applied := make([]models.AppliedObject, len(results))
	for i, res := range results {
		applied[i] = models.AppliedObject{Object: res.Object, Action: string(res.Action)}
	}
	status, msg := models.DeploymentSucceeded, ""
	if err != nil {
		status, msg = models.DeploymentFailed, err.Error()
	}
	// Record the outcome even when the server is shutting down.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ferr := r.Store.FinishDeployment(fctx, id, name, status, applied, msg); ferr != nil && !errors.Is(ferr, models.ErrNotFound) {
		r.logger().ErrorContext(fctx, "recording a deployment's outcome", slog.Int64("deployment", id), slog.String("error", ferr.Error()))
	}
	result := map[string]any{"deployment": strconv.FormatInt(id, 10), "objects": len(applied), "dryRun": req.dryRun}
	return result, err
}

// isAdmin reports whether the caller is an admin.
func isAdmin(ctx context.Context) bool {
	a, ok := auth.FromContext(ctx)
	return ok && a.Role.Allows(models.RoleAdmin)
}

// deploymentOf converts a stored deployment.
func deploymentOf(d *models.DeploymentRecord) *model.Deployment {
	out := &model.Deployment{
		ID: strconv.FormatInt(d.ID, 10), Design: d.DesignName, Revision: d.RevisionNumber, Mesh: d.Mesh, Cluster: d.ClusterName,
		DryRun: d.DryRun, Prune: d.Prune, Error: optString(d.Error), Actor: d.Actor, CreatedAt: d.CreatedAt,
		FinishedAt: d.FinishedAt, OperationID: optString(d.OperationID), Applied: []*model.AppliedObject{},
	}
	switch d.Status {
	case models.DeploymentSucceeded:
		out.Status = model.DeploymentStatusSucceeded
	case models.DeploymentFailed:
		out.Status = model.DeploymentStatusFailed
	default:
		out.Status = model.DeploymentStatusRunning
	}
	for _, a := range d.AppliedObjects() {
		out.Applied = append(out.Applied, &model.AppliedObject{Object: a.Object, Action: a.Action})
	}
	return out
}

// RecordFindings runs the policy check on the design of rev (design rules only) and stores the
// findings as the revision's.
func (r *Resolver) RecordFindings(ctx context.Context, rev *models.DesignRevision) error {
	rows, err := r.findings(ctx, []byte(rev.Content))
	if err != nil {
		return fmt.Errorf("revision %d: %w", rev.Number, err)
	}
	return r.Store.ReplaceFindings(ctx, rev.ID, rows)
}

// CheckOnSave is the models.RevisionInfo Check of saves: the findings of the design rules on
// the canonical content, stored with the new revision in its transaction. A failing check is
// logged and stores no findings (the save goes on).
func (r *Resolver) CheckOnSave(ctx context.Context, canonical []byte) []models.Finding {
	rows, err := r.findings(ctx, canonical)
	if err != nil {
		r.logger().WarnContext(ctx, "computing the findings of a saved revision", slog.String("error", err.Error()))
		return nil
	}
	return rows
}

// findings runs the design rules on canonical design content. Positions refer to that content.
func (r *Resolver) findings(ctx context.Context, canonical []byte) ([]models.Finding, error) {
	// Parsed only: the content is canonical already (CanonicalDesign would render it again).
	ds, err := spec.LoadBytes("design", canonical)
	if err != nil {
		return nil, fmt.Errorf("parsing the design: %w", err)
	}
	if len(ds) != 1 {
		return nil, fmt.Errorf("parsing the design: %d designs; expected one", len(ds))
	}
	d := ds[0]
	engine, err := r.Policies(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := engine.Check(ctx, policies.Target{Design: d}, nil)
	if err != nil {
		return nil, fmt.Errorf("checking design %q: %w", d.Metadata.Name, err)
	}
	rows := make([]models.Finding, len(fs))
	for i, f := range fs {
		rows[i] = models.Finding{Mesh: f.Mesh, RuleID: f.Rule, Severity: string(f.Severity), Path: f.Path, Message: f.Message,
			Object: f.Object, Line: f.Line, Column: f.Column, Suppressed: f.Suppressed, SuppressReason: f.SuppressReason}
	}
	return rows, nil
}

// findingOf converts a stored finding, taking the title and remedy from the rule catalogue.
func findingOf(f models.Finding, design string, engine *policies.Engine) *policies.Finding {
	out := &policies.Finding{Rule: f.RuleID, Severity: policies.Severity(f.Severity), Message: f.Message, Design: design,
		Path: f.Path, Object: f.Object, Line: f.Line, Column: f.Column, Mesh: f.Mesh, Suppressed: f.Suppressed, SuppressReason: f.SuppressReason}
	if engine != nil {
		if rule, ok := engine.Rule(f.RuleID); ok {
			out.Title, out.Remedy = rule.Title, rule.Remedy
		}
	}
	if out.Title == "" {
		out.Title = f.RuleID
	}
	return out
}
