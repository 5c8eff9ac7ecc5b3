package models

import (
	"slices"

	"gorm.io/gorm"
)

// Window selects one page of an ordered list by keyset: the rows after After (exclusive), before
// Before (exclusive), at most Limit of them, taken from the start of that range or, with
// FromEnd, from its end (Relay's first/after and last/before). Pages are always returned in the
// list's order.
type Window[K comparable] struct {
	// After, when set, excludes rows up to and including this key.
	After *K
	// Before, when set, excludes rows from this key on.
	Before *K
	// Limit is the page size (1–1000; other values mean 50).
	Limit int
	// FromEnd takes the last Limit rows of the range instead of the first.
	FromEnd bool
}

// page runs a keyset query on q ordered by col (ascending when asc) and reports whether more
// rows exist beyond the page in the direction of travel.
func page[K comparable, T any](q *gorm.DB, col string, asc bool, w Window[K], out *[]T) (bool, error) {
	limit := w.Limit
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	gt, lt := ">", "<"
	if !asc {
		gt, lt = "<", ">"
	}
	if w.After != nil {
		q = q.Where(col+" "+gt+" ?", *w.After)
	}
	if w.Before != nil {
		q = q.Where(col+" "+lt+" ?", *w.Before)
	}
	forward := asc != w.FromEnd
	dir := " ASC"
	if !forward {
		dir = " DESC"
	}
	if err := q.Order(col + dir).Limit(limit + 1).Find(out).Error; err != nil {
		return false, err
	}
	more := len(*out) > limit
	if more {
		*out = (*out)[:limit]
	}
	if w.FromEnd {
		slices.Reverse(*out)
	}
	return more, nil
}
