package models

import (
	"context"
	"fmt"
)

// EventFilter narrows an audit-log listing; empty fields match everything.
type EventFilter struct {
	// Actor matches the event's actor.
	Actor string
	// ObjectKind matches the object's kind.
	ObjectKind string
	// ObjectName matches the object's name.
	ObjectName string
}

// RecordEvent writes one audit event for an action that changes nothing else in the store (for
// example a translation started through the API).
func (s *Store) RecordEvent(ctx context.Context, actor, action, kind, name string, details map[string]any) error {
	return recordEvent(s.db.WithContext(ctx), actor, action, kind, name, details)
}

// ListEvents returns one page of audit events, newest first (the window's keys are event ids).
func (s *Store) ListEvents(ctx context.Context, f EventFilter, w Window[int64]) ([]Event, bool, error) {
	q := s.db.WithContext(ctx).Model(&Event{})
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.ObjectKind != "" {
		q = q.Where("object_kind = ?", f.ObjectKind)
	}
	if f.ObjectName != "" {
		q = q.Where("object_name = ?", f.ObjectName)
	}
	var out []Event
	more, err := page(q, "id", false, w, &out)
	if err != nil {
		return nil, false, fmt.Errorf("listing events: %w", err)
	}
	return out, more, nil
}
