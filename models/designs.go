package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/spec"
)

// ErrNotFound is matched (errors.Is) by every "no such object" error of the store.
var ErrNotFound = errors.New("not found")

// ErrConflict is matched (errors.Is) by every *ConflictError.
var ErrConflict = errors.New("conflict")

// NotFoundError says which object does not exist.
type NotFoundError struct {
	// Kind is the object's kind ("design", "revision", "token").
	Kind string
	// Name identifies the object.
	Name string
}

// Error says what is missing.
func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Name) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError reports an optimistic-concurrency conflict: the caller's expected head revision is
// not the design's head (someone saved in between, or the caller must pass the current head).
type ConflictError struct {
	// Name is the design's name.
	Name string
	// Expected is the head revision the caller expected.
	Expected int
	// Head is the design's actual head revision (0 when the design does not exist).
	Head int
}

// Error explains the conflict and how to resolve it.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("design %q: expected head revision %d but the head is %d; hint: reload the design, reapply your change and save with expectedRevision %d",
		e.Name, e.Expected, e.Head, e.Head)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// RevisionInfo describes who saves a revision and why.
type RevisionInfo struct {
	// Author is the actor saving (a token's name, or "trellis").
	Author string
	// Message describes the change.
	Message string
	// Check, when set, computes the findings of a new revision from its canonical content. It
	// runs before the write transaction (also for saves that then conflict or change nothing),
	// and the findings are stored in the transaction that writes the revision.
	Check func(ctx context.Context, canonical []byte) []Finding
}

// SaveResult is the outcome of SaveDesign.
type SaveResult struct {
	// Revision is the new head revision (or the unchanged head when Created is false).
	Revision *DesignRevision
	// Created is false when the content equals the head's content: no revision was written.
	Created bool
}

// CanonicalDesign parses, defaults and validates content, which must hold exactly one design
// named name (when name is not empty), and returns the design with its canonical YAML (defaults
// applied, keys sorted). Invalid content yields a *spec.ValidationError.
func CanonicalDesign(name string, content []byte) (*spec.Design, []byte, error) {
	source := name
	if source == "" {
		source = "design"
	}
	designs, err := spec.LoadBytes(source, content)
	if err != nil {
		var ve *spec.ValidationError
		if errors.As(err, &ve) {
			return nil, nil, ve
		}
		return nil, nil, &spec.ValidationError{Violations: []spec.Violation{{
			Message:  err.Error(),
			Expected: "one YAML or JSON document of kind Design (apiVersion " + spec.APIVersion + ")",
			Hint:     "check the syntax and the field names",
		}}}
	}
	if len(designs) != 1 {
		return nil, nil, &spec.ValidationError{Violations: []spec.Violation{{
			Message:  fmt.Sprintf("content holds %d designs", len(designs)),
			Expected: "exactly one design",
			Hint:     "save each design separately",
		}}}
	}
	d := designs[0]
	if name != "" && d.Metadata.Name != name {
		return nil, nil, &spec.ValidationError{Violations: []spec.Violation{{
			Path:     "metadata.name",
			Message:  fmt.Sprintf("the design is named %q but is saved as %q", d.Metadata.Name, name),
			Expected: fmt.Sprintf("%q", name),
			Hint:     "save under the name in metadata.name, or rename the design",
		}}}
	}
	if d.Metadata.Name == "" {
		return nil, nil, &spec.ValidationError{Violations: []spec.Violation{{
			Path:     "metadata.name",
			Message:  "the design has no name",
			Expected: "a DNS-1123 label",
			Hint:     "set metadata.name",
		}}}
	}
	canonical, err := yaml.Marshal(d)
	if err != nil {
		return nil, nil, fmt.Errorf("rendering design %q canonically: %w", d.Metadata.Name, err)
	}
	return d, canonical, nil
}

// SaveDesign validates content and saves it as the next revision of the design called name
// (name may be empty: metadata.name is used). expected must be the current head revision
// (0 for a new design); otherwise a *ConflictError is returned and nothing is written. Content
// equal to the head's content writes nothing (SaveResult.Created is false). The revision and its
// audit event are written in one transaction.
func (s *Store) SaveDesign(ctx context.Context, name string, content []byte, expected int, info RevisionInfo) (*SaveResult, error) {
	d, canonical, err := CanonicalDesign(name, content)
	if err != nil {
		return nil, err
	}
	name = d.Metadata.Name
	sum := sha256.Sum256(canonical)
	digest := hex.EncodeToString(sum[:])
	var findings []Finding
	if info.Check != nil {
		findings = info.Check(ctx, canonical)
	}
	var res SaveResult
	var saved Design
	// The name's write lock orders this process's cache updates like the commits.
	unlock := s.heads.lock(name)
	defer unlock()
	defer s.lockWrites()()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Microseconds: what PostgreSQL keeps, so the saved records equal the ones read back.
		now := time.Now().UTC().Truncate(time.Microsecond)
		var design Design
		err := s.lockForUpdate(tx).Where("name = ?", name).Take(&design).Error
		rev := DesignRevision{Content: string(canonical), SHA256: digest, Author: info.Author, Message: info.Message, CreatedAt: now}
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			if expected != 0 {
				return &ConflictError{Name: name, Expected: expected, Head: 0}
			}
			design = Design{Name: name, HeadRevision: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(&design).Error; err != nil {
				return err
			}
			rev.DesignID, rev.Number = design.ID, 1
		case err != nil:
			return err
		default:
			if design.HeadRevision != expected {
				return &ConflictError{Name: name, Expected: expected, Head: design.HeadRevision}
			}
			var head DesignRevision
			if err := tx.Where("design_id = ? AND number = ?", design.ID, design.HeadRevision).Take(&head).Error; err != nil {
				return fmt.Errorf("reading head revision: %w", err)
			}
			if head.SHA256 == digest {
				res.Revision = &head
				return nil
			}
			upd := tx.Model(&Design{}).Where("id = ? AND head_revision = ?", design.ID, expected).
				Updates(map[string]any{"head_revision": expected + 1, "updated_at": now})
			if upd.Error != nil {
				return upd.Error
			}
			if upd.RowsAffected != 1 {
				return &ConflictError{Name: name, Expected: expected, Head: -1}
			}
			rev.DesignID, rev.Number, rev.ParentID = design.ID, expected+1, &head.ID
			design.HeadRevision, design.UpdatedAt = expected+1, now
		}
		if err := tx.Create(&rev).Error; err != nil {
			return err
		}
		if len(findings) > 0 {
			for i := range findings {
				findings[i].ID, findings[i].RevisionID, findings[i].CreatedAt = 0, rev.ID, now
			}
			if err := tx.CreateInBatches(findings, 200).Error; err != nil {
				return fmt.Errorf("storing findings: %w", err)
			}
		}
		res.Revision, res.Created, saved = &rev, true, design
		return recordEvent(tx, info.Author, "design.save", "design", name, map[string]any{
			"revision": rev.Number, "sha256": digest, "message": info.Message,
		})
	})
	if err != nil {
		err = s.conflictOr(ctx, name, expected, err)
		if !errors.Is(err, ErrConflict) {
			s.heads.forget() // the commit may or may not have happened
		}
		return nil, err
	}
	if res.Created {
		r := *res.Revision
		s.heads.write(name, &saved, &r)
	}
	return &res, nil
}

// conflictOr turns a unique-key violation (a concurrent writer won) into a *ConflictError with
// the design's current head, and fills in an unknown head.
func (s *Store) conflictOr(ctx context.Context, name string, expected int, err error) error {
	var ce *ConflictError
	switch {
	case errors.As(err, &ce):
		if ce.Head < 0 {
			ce.Head = s.headOf(ctx, name)
		}
		return ce
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return &ConflictError{Name: name, Expected: expected, Head: s.headOf(ctx, name)}
	}
	return fmt.Errorf("saving design %q: %w", name, err)
}

// headOf returns the head revision of the named design (0 when missing or unreadable).
func (s *Store) headOf(ctx context.Context, name string) int {
	var d Design
	if err := s.db.WithContext(ctx).Where("name = ?", name).Take(&d).Error; err != nil {
		return 0
	}
	return d.HeadRevision
}

// lockForUpdate adds SELECT … FOR UPDATE on PostgreSQL (SQLite's immediate transactions already
// hold the write lock).
func (s *Store) lockForUpdate(tx *gorm.DB) *gorm.DB {
	if s.dialect == DialectPostgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// DeleteDesign deletes the named design with every revision, finding and deployment record. When
// expected is not 0 it must be the head revision (else *ConflictError). The audit event is
// written in the same transaction.
func (s *Store) DeleteDesign(ctx context.Context, name string, expected int, actor string) error {
	unlock := s.heads.lock(name)
	defer unlock()
	defer s.lockWrites()()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var design Design
		err := s.lockForUpdate(tx).Where("name = ?", name).Take(&design).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return &NotFoundError{Kind: "design", Name: name}
		}
		if err != nil {
			return err
		}
		if expected != 0 && design.HeadRevision != expected {
			return &ConflictError{Name: name, Expected: expected, Head: design.HeadRevision}
		}
		revs := tx.Model(&DesignRevision{}).Select("id").Where("design_id = ?", design.ID)
		if err := tx.Where("revision_id IN (?)", revs).Delete(&Finding{}).Error; err != nil {
			return err
		}
		if err := tx.Where("design_id = ?", design.ID).Delete(&Deployment{}).Error; err != nil {
			return err
		}
		// One statement: the parent foreign key cascades within it.
		if err := tx.Where("design_id = ?", design.ID).Delete(&DesignRevision{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&Design{}, design.ID).Error; err != nil {
			return err
		}
		return recordEvent(tx, actor, "design.delete", "design", name, map[string]any{"headRevision": design.HeadRevision})
	})
	if err == nil {
		s.heads.write(name, nil, nil)
	}
	var nf *NotFoundError
	var ce *ConflictError
	if err != nil && !errors.As(err, &nf) && !errors.As(err, &ce) {
		s.heads.forget() // the commit may or may not have happened
		return fmt.Errorf("deleting design %q: %w", name, err)
	}
	return err
}

// GetDesign returns the named design.
func (s *Store) GetDesign(ctx context.Context, name string) (*Design, error) {
	var d Design
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{Kind: "design", Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("reading design %q: %w", name, err)
	}
	return &d, nil
}

// Revision returns revision number of the named design; number 0 means the head.
func (s *Store) Revision(ctx context.Context, name string, number int) (*DesignRevision, error) {
	if number == 0 {
		_, head, err := s.DesignHead(ctx, name)
		return head, err
	}
	d, err := s.GetDesign(ctx, name)
	if err != nil {
		return nil, err
	}
	if number == 0 {
		number = d.HeadRevision
	}
	var r DesignRevision
	err = s.db.WithContext(ctx).Where("design_id = ? AND number = ?", d.ID, number).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{Kind: "revision", Name: fmt.Sprintf("%s@%d", name, number)}
	}
	if err != nil {
		return nil, fmt.Errorf("reading revision %d of design %q: %w", number, name, err)
	}
	return &r, nil
}

// ListDesigns returns one page of designs ordered by name.
func (s *Store) ListDesigns(ctx context.Context, w Window[string]) ([]Design, bool, error) {
	var out []Design
	more, err := page(s.db.WithContext(ctx).Model(&Design{}), "name", true, w, &out)
	if err != nil {
		return nil, false, fmt.Errorf("listing designs: %w", err)
	}
	return out, more, nil
}

// CountDesigns returns the number of designs.
func (s *Store) CountDesigns(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Design{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("counting designs: %w", err)
	}
	return n, nil
}

// ListRevisions returns one page of the design's revisions, newest first (the window's keys are
// revision numbers).
func (s *Store) ListRevisions(ctx context.Context, designID int64, w Window[int]) ([]DesignRevision, bool, error) {
	var out []DesignRevision
	more, err := page(s.db.WithContext(ctx).Model(&DesignRevision{}).Where("design_id = ?", designID), "number", false, w, &out)
	if err != nil {
		return nil, false, fmt.Errorf("listing revisions: %w", err)
	}
	return out, more, nil
}

// DesignsByID returns the designs with the given ids (one statement), keyed by id.
func (s *Store) DesignsByID(ctx context.Context, ids []int64) (map[int64]*Design, error) {
	var rows []Design
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("reading designs: %w", err)
	}
	out := make(map[int64]*Design, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// RevisionsByID returns the revisions with the given ids (one statement), keyed by id.
func (s *Store) RevisionsByID(ctx context.Context, ids []int64) (map[int64]*DesignRevision, error) {
	var rows []DesignRevision
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("reading revisions: %w", err)
	}
	out := make(map[int64]*DesignRevision, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// HeadRevisions returns the head revision of each design id (one statement), keyed by design id.
func (s *Store) HeadRevisions(ctx context.Context, designIDs []int64) (map[int64]*DesignRevision, error) {
	var rows []DesignRevision
	err := s.db.WithContext(ctx).Model(&DesignRevision{}).
		Joins("JOIN designs ON designs.id = design_revisions.design_id AND designs.head_revision = design_revisions.number").
		Where("design_revisions.design_id IN ?", designIDs).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("reading head revisions: %w", err)
	}
	out := make(map[int64]*DesignRevision, len(rows))
	for i := range rows {
		out[rows[i].DesignID] = &rows[i]
	}
	return out, nil
}

// recordEvent writes an audit event with tx.
func recordEvent(tx *gorm.DB, actor, action, kind, name string, details map[string]any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encoding audit details: %w", err)
	}
	if actor == "" {
		actor = "anonymous"
	}
	ev := Event{Actor: actor, Action: action, ObjectKind: kind, ObjectName: name, Details: string(b), Time: time.Now().UTC()}
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("writing audit event: %w", err)
	}
	return nil
}

// AllHeadRevisions returns the head revision of every design (one statement), ordered by design
// id. The embedded control plane serves these.
func (s *Store) AllHeadRevisions(ctx context.Context) ([]DesignRevision, error) {
	var rows []DesignRevision
	err := s.db.WithContext(ctx).Model(&DesignRevision{}).
		Joins("JOIN designs ON designs.id = design_revisions.design_id AND designs.head_revision = design_revisions.number").
		Order("design_revisions.design_id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("reading head revisions: %w", err)
	}
	return rows, nil
}
