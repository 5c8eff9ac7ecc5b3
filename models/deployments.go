package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Deployment statuses.
const (
	// DeploymentRunning is a deployment that has not finished.
	DeploymentRunning = "running"
	// DeploymentSucceeded is a deployment whose every object was applied.
	DeploymentSucceeded = "succeeded"
	// DeploymentFailed is a deployment that was refused or failed part way.
	DeploymentFailed = "failed"
)

// AppliedObject is one change a deployment made (or, in a dry run, would make).
type AppliedObject struct {
	// Object is "<kind>.<group>/<namespace>/<name>".
	Object string `json:"object"`
	// Action is created, configured, unchanged or pruned.
	Action string `json:"action"`
}

// DeploymentRecord is a Deployment with the names its references point to.
type DeploymentRecord struct {
	Deployment
	// DesignName is the deployed design's name.
	DesignName string
	// RevisionNumber is the deployed revision's number.
	RevisionNumber int
	// ClusterName is the target cluster's name.
	ClusterName string
}

// AppliedObjects decodes Applied.
func (d *Deployment) AppliedObjects() []AppliedObject {
	var out []AppliedObject
	if d.Applied != "" {
		_ = json.Unmarshal([]byte(d.Applied), &out)
	}
	return out
}

// EnsureCluster returns the cluster record called name (reached through the kubeconfig context
// of the same name), creating it on first use.
func (s *Store) EnsureCluster(ctx context.Context, name string) (*Cluster, error) {
	db := s.db.WithContext(ctx)
	var c Cluster
	err := db.Where("name = ?", name).Take(&c).Error
	if err == nil {
		return &c, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("reading cluster %q: %w", name, err)
	}
	now := time.Now().UTC()
	c = Cluster{Name: name, Context: name, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(&c).Error; err != nil {
		// A concurrent deployment may have created it.
		if err2 := db.Where("name = ?", name).Take(&c).Error; err2 == nil {
			return &c, nil
		}
		return nil, fmt.Errorf("creating cluster %q: %w", name, err)
	}
	return &c, nil
}

// StartDeployment records a running deployment of rev to cluster and its audit event, in one
// transaction. It fills d's ID.
func (s *Store) StartDeployment(ctx context.Context, d *Deployment, designName string, revision int, cluster string) error {
	d.Status = DeploymentRunning
	if d.Applied == "" {
		d.Applied = "[]"
	}
	d.CreatedAt = time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(d).Error; err != nil {
			return err
		}
		return recordEvent(tx, d.Actor, "deployment.start", "design", designName, map[string]any{
			"deployment": d.ID, "revision": revision, "mesh": d.Mesh, "cluster": cluster, "dryRun": d.DryRun, "prune": d.Prune,
		})
	})
	if err != nil {
		return fmt.Errorf("recording the deployment of design %q: %w", designName, err)
	}
	return nil
}

// FinishDeployment stores a deployment's outcome (status, applied objects, error) and its audit
// event, in one transaction.
func (s *Store) FinishDeployment(ctx context.Context, id int64, designName, status string, applied []AppliedObject, errMsg string) error {
	if applied == nil {
		applied = []AppliedObject{}
	}
	b, err := json.Marshal(applied)
	if err != nil {
		return fmt.Errorf("encoding applied objects: %w", err)
	}
	now := time.Now().UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		upd := tx.Model(&Deployment{}).Where("id = ?", id).
			Updates(map[string]any{"status": status, "applied": string(b), "error": errMsg, "finished_at": now})
		if upd.Error != nil {
			return upd.Error
		}
		if upd.RowsAffected == 0 {
			// The design was deleted meanwhile (its deployments with it).
			return &NotFoundError{Kind: "deployment", Name: fmt.Sprint(id)}
		}
		details := map[string]any{"deployment": id, "status": status, "objects": len(applied)}
		if errMsg != "" {
			details["error"] = errMsg
		}
		return recordEvent(tx, "trellis", "deployment."+status, "design", designName, details)
	})
	var nf *NotFoundError
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("recording the outcome of deployment %d: %w", id, err)
	}
	return err
}

// ListDeployments returns the named design's deployments, newest first, at most limit (1–1000;
// other values mean 50).
func (s *Store) ListDeployments(ctx context.Context, designName string, limit int) ([]DeploymentRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	var out []DeploymentRecord
	err := s.db.WithContext(ctx).Model(&Deployment{}).
		Select("deployments.*, designs.name AS design_name, design_revisions.number AS revision_number, clusters.name AS cluster_name").
		Joins("JOIN designs ON designs.id = deployments.design_id").
		Joins("JOIN design_revisions ON design_revisions.id = deployments.revision_id").
		Joins("JOIN clusters ON clusters.id = deployments.cluster_id").
		Where("designs.name = ?", designName).
		Order("deployments.id DESC").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("listing deployments of design %q: %w", designName, err)
	}
	return out, nil
}

// ReplaceFindings stores fs as the findings of a revision, replacing earlier ones.
func (s *Store) ReplaceFindings(ctx context.Context, revisionID int64, fs []Finding) error {
	now := time.Now().UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("revision_id = ?", revisionID).Delete(&Finding{}).Error; err != nil {
			return err
		}
		if len(fs) == 0 {
			return nil
		}
		for i := range fs {
			fs[i].ID, fs[i].RevisionID, fs[i].CreatedAt = 0, revisionID, now
		}
		return tx.CreateInBatches(fs, 200).Error
	})
	if err != nil {
		return fmt.Errorf("storing findings of revision %d: %w", revisionID, err)
	}
	return nil
}

// FindingsByRevision returns the stored findings of the given revisions (one statement), keyed by
// revision id, in insertion order.
func (s *Store) FindingsByRevision(ctx context.Context, revisionIDs []int64) (map[int64][]Finding, error) {
	var rows []Finding
	if err := s.db.WithContext(ctx).Where("revision_id IN ?", revisionIDs).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("reading findings: %w", err)
	}
	out := make(map[int64][]Finding, len(revisionIDs))
	for _, f := range rows {
		out[f.RevisionID] = append(out[f.RevisionID], f)
	}
	return out, nil
}

// SetDeploymentOperation records the operation that runs a deployment.
func (s *Store) SetDeploymentOperation(ctx context.Context, id int64, operationID string) error {
	if err := s.db.WithContext(ctx).Model(&Deployment{}).Where("id = ?", id).Update("operation_id", operationID).Error; err != nil {
		return fmt.Errorf("recording the operation of deployment %d: %w", id, err)
	}
	return nil
}
