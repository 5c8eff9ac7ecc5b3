package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// migration is one ordered, named schema step. Steps are append-only: a released step never
// changes; a schema change is a new step.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// schemaMigration is a row of the schema_migrations table: one applied step.
type schemaMigration struct {
	Version   int       `gorm:"primaryKey;autoIncrement:false"`
	Name      string    `gorm:"size:253;not null"`
	AppliedAt time.Time `gorm:"not null"`
}

// TableName fixes the table name of schemaMigration.
func (schemaMigration) TableName() string { return "schema_migrations" }

// migrations lists every schema step in order.
var migrations = []migration{
	{1, "create designs and revisions", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&Design{}, &DesignRevision{})
	}},
	{2, "create audit events", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&Event{})
	}},
	{3, "create api tokens", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&APIToken{})
	}},
	{4, "create clusters and deployments", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&Cluster{}, &Deployment{})
	}},
	{5, "create findings", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&Finding{})
	}},
	{6, "create performance profiles and results", func(tx *gorm.DB) error {
		return tx.Migrator().CreateTable(&PerfProfile{}, &PerfResult{})
	}},
	{7, "deployment options and finding locations", func(tx *gorm.DB) error {
		// Databases created after this step was written got the columns from steps 4 and 5.
		return addColumns(tx, map[any][]string{
			&Deployment{}: {"DryRun", "Prune", "OperationID"},
			&Finding{}:    {"Object", "Line", "Column", "SuppressReason"},
		})
	}},
}

// addColumns adds the fields' columns to their tables unless they exist.
func addColumns(tx *gorm.DB, cols map[any][]string) error {
	for model, fields := range cols {
		for _, f := range fields {
			if tx.Migrator().HasColumn(model, f) {
				continue
			}
			if err := tx.Migrator().AddColumn(model, f); err != nil {
				return fmt.Errorf("adding column %s: %w", f, err)
			}
		}
	}
	return nil
}

// MigrationStatus is one schema step and whether it has been applied.
type MigrationStatus struct {
	// Version is the step's number.
	Version int
	// Name describes the step.
	Name string
	// AppliedAt is when it ran (nil when pending).
	AppliedAt *time.Time
}

// migrate applies every pending step, each in its own transaction together with its
// schema_migrations row. On PostgreSQL an advisory lock serialises concurrent starters; on SQLite
// the immediate transaction lock does.
func (s *Store) migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if !db.Migrator().HasTable(&schemaMigration{}) {
		// A concurrent starter may win the race; only a still-missing table is an error.
		if err := db.Migrator().CreateTable(&schemaMigration{}); err != nil && !db.Migrator().HasTable(&schemaMigration{}) {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
	}
	for _, m := range migrations {
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == DialectPostgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(7427455)").Error; err != nil {
					return fmt.Errorf("locking schema: %w", err)
				}
			}
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := m.up(tx); err != nil {
				return err
			}
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("applying migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// Migrations reports every known schema step and when it was applied.
func (s *Store) Migrations(ctx context.Context) ([]MigrationStatus, error) {
	var applied []schemaMigration
	if err := s.db.WithContext(ctx).Order("version").Find(&applied).Error; err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	at := map[int]time.Time{}
	for _, a := range applied {
		at[a.Version] = a.AppliedAt
	}
	out := make([]MigrationStatus, len(migrations))
	for i, m := range migrations {
		out[i] = MigrationStatus{Version: m.version, Name: m.name}
		if t, ok := at[m.version]; ok {
			out[i].AppliedAt = &t
		}
	}
	return out, nil
}
