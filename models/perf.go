package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PerfResultInput is one performance result to record with RecordPerfResult.
type PerfResultInput struct {
	// Profile is the name of the profile the run used.
	Profile string
	// CreateSpec, when not empty, creates the profile with this spec if none is called Profile
	// (an existing profile is left unchanged).
	CreateSpec string
	// Mesh is the mesh under test ("" for the no-mesh baseline).
	Mesh string
	// Summary is the result's JSON.
	Summary string
	// StartedAt is when the measured phase began.
	StartedAt time.Time
	// Duration is the measured phase's length.
	Duration time.Duration
}

// PerfResultFilter narrows ListPerfResults; empty fields match everything.
type PerfResultFilter struct {
	// Profile matches the profile's name.
	Profile string
	// Mesh matches the mesh; use MeshSet to match the baseline ("").
	Mesh string
	// MeshSet makes Mesh a filter even when it is empty.
	MeshSet bool
}

// SavePerfProfile creates the profile called name, or replaces the spec of the existing one, and
// returns it (created is true for a new profile). The caller validates spec. The audit event is
// written in the same transaction.
func (s *Store) SavePerfProfile(ctx context.Context, name, spec, actor string) (*PerfProfile, bool, error) {
	var p PerfProfile
	created := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := s.lockForUpdate(tx).Where("name = ?", name).Take(&p).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			p = PerfProfile{Name: name, Spec: spec, CreatedAt: time.Now().UTC()}
			if err := tx.Create(&p).Error; err != nil {
				return err
			}
			created = true
		case err != nil:
			return err
		default:
			if err := tx.Model(&PerfProfile{}).Where("id = ?", p.ID).Update("spec", spec).Error; err != nil {
				return err
			}
			p.Spec = spec
		}
		return recordEvent(tx, actor, "perf-profile.save", "perf-profile", name, map[string]any{"created": created})
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// A concurrent creator won; save again as an update.
		return s.SavePerfProfile(ctx, name, spec, actor)
	}
	if err != nil {
		return nil, false, fmt.Errorf("saving performance profile %q: %w", name, err)
	}
	return &p, created, nil
}

// GetPerfProfile returns the profile called name.
func (s *Store) GetPerfProfile(ctx context.Context, name string) (*PerfProfile, error) {
	var p PerfProfile
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{Kind: "performance profile", Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("reading performance profile %q: %w", name, err)
	}
	return &p, nil
}

// ListPerfProfiles returns every profile ordered by name.
func (s *Store) ListPerfProfiles(ctx context.Context) ([]PerfProfile, error) {
	var out []PerfProfile
	if err := s.db.WithContext(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("listing performance profiles: %w", err)
	}
	return out, nil
}

// PerfProfilesByID returns the profiles with the given ids (one statement), keyed by id.
func (s *Store) PerfProfilesByID(ctx context.Context, ids []int64) (map[int64]*PerfProfile, error) {
	var rows []PerfProfile
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("reading performance profiles: %w", err)
	}
	out := make(map[int64]*PerfProfile, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// DeletePerfProfile deletes the profile called name with all its results and returns how many
// results were deleted. The audit event is written in the same transaction.
func (s *Store) DeletePerfProfile(ctx context.Context, name, actor string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p PerfProfile
		err := s.lockForUpdate(tx).Where("name = ?", name).Take(&p).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return &NotFoundError{Kind: "performance profile", Name: name}
		}
		if err != nil {
			return err
		}
		res := tx.Where("profile_id = ?", p.ID).Delete(&PerfResult{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		if err := tx.Delete(&PerfProfile{}, p.ID).Error; err != nil {
			return err
		}
		return recordEvent(tx, actor, "perf-profile.delete", "perf-profile", name, map[string]any{"deletedResults": n})
	})
	var nf *NotFoundError
	if err != nil && !errors.As(err, &nf) {
		return 0, fmt.Errorf("deleting performance profile %q: %w", name, err)
	}
	return n, err
}

// RecordPerfResult stores one result of the profile in.Profile (created from in.CreateSpec when
// missing and CreateSpec is set; a *NotFoundError otherwise) and returns it with its Profile
// filled in. The caller validates the summary. The audit event is written in the same
// transaction.
func (s *Store) RecordPerfResult(ctx context.Context, in PerfResultInput, actor string) (*PerfResult, error) {
	var r PerfResult
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p PerfProfile
		err := tx.Where("name = ?", in.Profile).Take(&p).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound) && in.CreateSpec != "":
			p = PerfProfile{Name: in.Profile, Spec: in.CreateSpec, CreatedAt: time.Now().UTC()}
			if err := tx.Create(&p).Error; err != nil {
				return err
			}
			if err := recordEvent(tx, actor, "perf-profile.save", "perf-profile", p.Name, map[string]any{"created": true}); err != nil {
				return err
			}
		case errors.Is(err, gorm.ErrRecordNotFound):
			return &NotFoundError{Kind: "performance profile", Name: in.Profile}
		case err != nil:
			return err
		}
		r = PerfResult{ProfileID: p.ID, Mesh: in.Mesh, Summary: in.Summary, StartedAt: in.StartedAt.UTC(), Duration: in.Duration}
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		r.Profile = &p
		return recordEvent(tx, actor, "perf-result.record", "perf-profile", p.Name, map[string]any{"result": r.ID, "mesh": in.Mesh})
	})
	var nf *NotFoundError
	if errors.Is(err, gorm.ErrDuplicatedKey) && in.CreateSpec != "" {
		// A concurrent upload created the profile: record against it.
		in.CreateSpec = ""
		return s.RecordPerfResult(ctx, in, actor)
	}
	if err != nil && !errors.As(err, &nf) {
		return nil, fmt.Errorf("recording a result of performance profile %q: %w", in.Profile, err)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GetPerfResult returns the result with id, its Profile filled in.
func (s *Store) GetPerfResult(ctx context.Context, id int64) (*PerfResult, error) {
	var r PerfResult
	err := s.db.WithContext(ctx).Preload("Profile").Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{Kind: "performance result", Name: fmt.Sprint(id)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading performance result %d: %w", id, err)
	}
	return &r, nil
}

// ListPerfResults returns one page of results, newest first (the window's keys are result ids),
// each with its Profile filled in (two statements).
func (s *Store) ListPerfResults(ctx context.Context, f PerfResultFilter, w Window[int64]) ([]PerfResult, bool, error) {
	q := s.db.WithContext(ctx).Model(&PerfResult{}).Preload("Profile")
	if f.Profile != "" {
		q = q.Where("profile_id IN (?)", s.db.Model(&PerfProfile{}).Select("id").Where("name = ?", f.Profile))
	}
	if f.Mesh != "" || f.MeshSet {
		q = q.Where("mesh = ?", f.Mesh)
	}
	var out []PerfResult
	more, err := page(q, "id", false, w, &out)
	if err != nil {
		return nil, false, fmt.Errorf("listing performance results: %w", err)
	}
	return out, more, nil
}
