// Package models holds Trellis's persistent records (gorm) and the Store that reads and writes
// them: designs and their immutable revisions, clusters, deployments, policy findings,
// performance profiles and results, the audit log and API tokens. SQLite (pure Go) is the
// default database; PostgreSQL is supported for scale.
package models

import (
	"time"
)

// Design is a named design; its content lives in immutable DesignRevisions.
type Design struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// Name is the design's unique name (its metadata.name).
	Name string `gorm:"size:253;not null;uniqueIndex"`
	// HeadRevision is the number of the latest revision (1 after the first save).
	HeadRevision int `gorm:"not null"`
	// CreatedAt is when the first revision was saved.
	CreatedAt time.Time `gorm:"not null"`
	// UpdatedAt is when the latest revision was saved.
	UpdatedAt time.Time `gorm:"not null"`
}

// DesignRevision is one immutable version of a design's content.
type DesignRevision struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// DesignID references the design.
	DesignID int64 `gorm:"not null;uniqueIndex:idx_revision_number,priority:1"`
	// Design is the owning design (only used to declare the foreign key; never loaded).
	Design *Design `gorm:"foreignKey:DesignID;constraint:OnDelete:CASCADE" json:"-"`
	// Number counts revisions of one design from 1, without gaps.
	Number int `gorm:"not null;uniqueIndex:idx_revision_number,priority:2"`
	// ParentID references the previous revision (nil for revision 1).
	ParentID *int64 `gorm:"index"`
	// Parent is the previous revision (only used to declare the foreign key; never loaded).
	Parent *DesignRevision `gorm:"foreignKey:ParentID;constraint:OnDelete:CASCADE" json:"-"`
	// Content is the canonical YAML of the design (defaulted, keys sorted).
	Content string `gorm:"type:text;not null"`
	// SHA256 is the hex sha256 of Content.
	SHA256 string `gorm:"size:64;not null"`
	// Author is the actor who saved the revision.
	Author string `gorm:"size:253;not null"`
	// Message describes the change.
	Message string `gorm:"type:text;not null"`
	// CreatedAt is when the revision was saved.
	CreatedAt time.Time `gorm:"not null"`
}

// Cluster is a Kubernetes cluster Trellis knows about.
type Cluster struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// Name is the cluster's unique name.
	Name string `gorm:"size:253;not null;uniqueIndex"`
	// Context is the kubeconfig context used to reach it.
	Context string `gorm:"size:253;not null"`
	// Mesh is the mesh detected in the cluster ("" when none).
	Mesh string `gorm:"size:63;not null"`
	// MeshVersion is the detected mesh version.
	MeshVersion string `gorm:"size:63;not null"`
	// CreatedAt is when the cluster was registered.
	CreatedAt time.Time `gorm:"not null"`
	// UpdatedAt is when the cluster record last changed.
	UpdatedAt time.Time `gorm:"not null"`
}

// Deployment records one application of a design revision to a cluster through a mesh adapter.
type Deployment struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// DesignID references the design.
	DesignID int64 `gorm:"not null;index"`
	// Design is the deployed design (only used to declare the foreign key; never loaded).
	Design *Design `gorm:"foreignKey:DesignID;constraint:OnDelete:CASCADE" json:"-"`
	// RevisionID references the deployed revision.
	RevisionID int64 `gorm:"not null;index"`
	// Revision is the deployed revision (only used to declare the foreign key; never loaded).
	Revision *DesignRevision `gorm:"foreignKey:RevisionID;constraint:OnDelete:CASCADE" json:"-"`
	// ClusterID references the target cluster.
	ClusterID int64 `gorm:"not null;index"`
	// Cluster is the target cluster (only used to declare the foreign key; never loaded).
	Cluster *Cluster `gorm:"foreignKey:ClusterID;constraint:OnDelete:CASCADE" json:"-"`
	// Mesh is the adapter used.
	Mesh string `gorm:"size:63;not null"`
	// Status is pending, running, succeeded, failed or rolled-back.
	Status string `gorm:"size:32;not null"`
	// Applied lists the applied objects (JSON).
	Applied string `gorm:"type:text;not null"`
	// Error is the failure message, if any.
	Error string `gorm:"type:text;not null"`
	// DryRun is true for a server-side dry run (nothing was persisted in the cluster).
	DryRun bool `gorm:"not null;default:false"`
	// Prune is true when objects the design no longer generates were deleted.
	Prune bool `gorm:"not null;default:false"`
	// OperationID is the long-running operation that ran the deployment.
	OperationID string `gorm:"size:64;not null;default:''"`
	// Actor started the deployment.
	Actor string `gorm:"size:253;not null"`
	// CreatedAt is when the deployment started.
	CreatedAt time.Time `gorm:"not null"`
	// FinishedAt is when it ended (nil while running).
	FinishedAt *time.Time
}

// Finding is one policy finding for a design revision (optionally for one mesh's output).
type Finding struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// RevisionID references the checked revision.
	RevisionID int64 `gorm:"not null;index"`
	// Revision is the checked revision (only used to declare the foreign key; never loaded).
	Revision *DesignRevision `gorm:"foreignKey:RevisionID;constraint:OnDelete:CASCADE" json:"-"`
	// Mesh is the adapter whose output was checked ("" for the design itself).
	Mesh string `gorm:"size:63;not null"`
	// RuleID is the policy rule's id.
	RuleID string `gorm:"size:63;not null"`
	// Severity is info, warning or error.
	Severity string `gorm:"size:16;not null"`
	// Path is the field path the finding points at.
	Path string `gorm:"type:text;not null"`
	// Message explains the finding.
	Message string `gorm:"type:text;not null"`
	// Object is the generated object concerned, for mesh rules ("" otherwise).
	Object string `gorm:"type:text;not null;default:''"`
	// Line is the finding's line in the design's canonical YAML (0 when unknown).
	Line int `gorm:"not null;default:0"`
	// Column is the finding's column (0 when unknown).
	Column int `gorm:"not null;default:0"`
	// Suppressed is true when an ignore annotation silenced the finding.
	Suppressed bool `gorm:"not null"`
	// SuppressReason is the ignore annotation's reason.
	SuppressReason string `gorm:"type:text;not null;default:''"`
	// CreatedAt is when the check ran.
	CreatedAt time.Time `gorm:"not null"`
}

// PerfProfile is a named load profile for performance runs.
type PerfProfile struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// Name is the profile's unique name.
	Name string `gorm:"size:253;not null;uniqueIndex"`
	// Spec is the profile definition (YAML).
	Spec string `gorm:"type:text;not null"`
	// CreatedAt is when the profile was created.
	CreatedAt time.Time `gorm:"not null"`
}

// PerfResult is the outcome of one performance run.
type PerfResult struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// ProfileID references the profile.
	ProfileID int64 `gorm:"not null;index"`
	// Profile is the run's profile (only used to declare the foreign key; never loaded).
	Profile *PerfProfile `gorm:"foreignKey:ProfileID;constraint:OnDelete:CASCADE" json:"-"`
	// Mesh is the mesh under test ("" for the no-mesh baseline).
	Mesh string `gorm:"size:63;not null"`
	// Summary is the run's statistics (JSON: qps, percentiles, errors).
	Summary string `gorm:"type:text;not null"`
	// StartedAt is when the run began.
	StartedAt time.Time `gorm:"not null"`
	// Duration is the run's length.
	Duration time.Duration `gorm:"not null"`
}

// Event is one audit-log entry: who did what to which object, when.
type Event struct {
	// ID is the primary key; IDs grow with time.
	ID int64 `gorm:"primaryKey"`
	// Actor is the name of the token (or "trellis" for the server itself).
	Actor string `gorm:"size:253;not null;index"`
	// Action is what happened ("design.save", "design.delete", "token.create", …).
	Action string `gorm:"size:63;not null"`
	// ObjectKind is the kind of object ("design", "token", …).
	ObjectKind string `gorm:"size:63;not null;index:idx_event_object,priority:1"`
	// ObjectName is the object's name.
	ObjectName string `gorm:"size:253;not null;index:idx_event_object,priority:2"`
	// Details is a JSON object with action-specific details.
	Details string `gorm:"type:text;not null"`
	// Time is when it happened.
	Time time.Time `gorm:"not null"`
}

// APIToken is a bearer token; only its sha256 is stored.
type APIToken struct {
	// ID is the primary key.
	ID int64 `gorm:"primaryKey"`
	// Name is the token's unique name; it is the actor recorded in the audit log.
	Name string `gorm:"size:253;not null;uniqueIndex"`
	// Hash is the hex sha256 of the token.
	Hash string `gorm:"size:64;not null;uniqueIndex"`
	// Role is viewer, editor or admin.
	Role Role `gorm:"size:16;not null"`
	// CreatedAt is when the token was created.
	CreatedAt time.Time `gorm:"not null"`
	// LastUsedAt is when the token was last presented (updated at most once a minute).
	LastUsedAt *time.Time
}

// TableName fixes the table name of APIToken.
func (APIToken) TableName() string { return "api_tokens" }
