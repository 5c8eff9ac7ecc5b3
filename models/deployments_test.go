package models_test

import (
	"context"
	"testing"

	"github.com/trellis-mesh/trellis/models"
)

const smallDesign = `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: web
      ports: [{port: 8080}]
`

func TestDeploymentsAndFindings(t *testing.T) {
	ctx := context.Background()
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			res, err := s.SaveDesign(ctx, "shop", []byte(smallDesign), 0, models.RevisionInfo{Author: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			c1, err := s.EnsureCluster(ctx, "kind-a")
			if err != nil {
				t.Fatal(err)
			}
			c2, err := s.EnsureCluster(ctx, "kind-a")
			if err != nil || c2.ID != c1.ID {
				t.Fatalf("EnsureCluster twice: %v %v %v", c1.ID, c2, err)
			}
			dep := &models.Deployment{DesignID: res.Revision.DesignID, RevisionID: res.Revision.ID, ClusterID: c1.ID, Mesh: "istio", Actor: "bob", DryRun: true}
			if err := s.StartDeployment(ctx, dep, "shop", 1, "kind-a"); err != nil {
				t.Fatal(err)
			}
			if err := s.SetDeploymentOperation(ctx, dep.ID, "op1"); err != nil {
				t.Fatal(err)
			}
			applied := []models.AppliedObject{{Object: "VirtualService shop/web", Action: "created"}}
			if err := s.FinishDeployment(ctx, dep.ID, "shop", models.DeploymentSucceeded, applied, ""); err != nil {
				t.Fatal(err)
			}
			list, err := s.ListDeployments(ctx, "shop", 0)
			if err != nil || len(list) != 1 {
				t.Fatalf("ListDeployments = %+v, %v", list, err)
			}
			d := list[0]
			if d.DesignName != "shop" || d.RevisionNumber != 1 || d.ClusterName != "kind-a" || d.Status != models.DeploymentSucceeded ||
				!d.DryRun || d.OperationID != "op1" || d.FinishedAt == nil || len(d.AppliedObjects()) != 1 || d.AppliedObjects()[0] != applied[0] {
				t.Fatalf("deployment = %+v", d)
			}

			fs := []models.Finding{{RuleID: "SEC-001", Severity: "error", Path: "spec.security.mtls", Message: "m", Line: 3, Column: 5}}
			if err := s.ReplaceFindings(ctx, res.Revision.ID, fs); err != nil {
				t.Fatal(err)
			}
			if err := s.ReplaceFindings(ctx, res.Revision.ID, fs); err != nil {
				t.Fatal(err)
			}
			got, err := s.FindingsByRevision(ctx, []int64{res.Revision.ID})
			if err != nil || len(got[res.Revision.ID]) != 1 || got[res.Revision.ID][0].Line != 3 {
				t.Fatalf("findings = %+v, %v", got, err)
			}
			// Deleting the design deletes its deployments and findings.
			if err := s.DeleteDesign(ctx, "shop", 0, "bob"); err != nil {
				t.Fatal(err)
			}
			if list, _ := s.ListDeployments(ctx, "shop", 0); len(list) != 0 {
				t.Fatalf("deployments after delete: %+v", list)
			}
			if err := s.FinishDeployment(ctx, dep.ID, "shop", models.DeploymentFailed, nil, "x"); err == nil {
				t.Fatal("finishing a deleted deployment succeeded")
			}
		})
	}
}

func TestMigrationSevenAddsColumns(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := models.Open(ctx, models.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	// Turn the database back into one migrated up to step 6.
	m := s.DB().Migrator()
	for _, c := range []string{"DryRun", "Prune", "OperationID"} {
		if err := m.DropColumn(&models.Deployment{}, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"Object", "Line", "Column", "SuppressReason"} {
		if err := m.DropColumn(&models.Finding{}, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB().Exec("DELETE FROM schema_migrations WHERE version = 7").Error; err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = models.Open(ctx, models.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []string{"DryRun", "Prune", "OperationID"} {
		if !s.DB().Migrator().HasColumn(&models.Deployment{}, c) {
			t.Errorf("deployments.%s missing after migration 7", c)
		}
	}
	for _, c := range []string{"Object", "Line", "Column", "SuppressReason"} {
		if !s.DB().Migrator().HasColumn(&models.Finding{}, c) {
			t.Errorf("findings.%s missing after migration 7", c)
		}
	}
	ms, err := s.Migrations(ctx)
	if err != nil || ms[len(ms)-1].Version != 7 || ms[len(ms)-1].AppliedAt == nil {
		t.Fatalf("migrations = %+v, %v", ms, err)
	}
}
