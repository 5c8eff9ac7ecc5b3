package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// HeadValidation says how DesignHead trusts its in-process cache of design heads.
type HeadValidation string

// The ways DesignHead validates cached heads.
const (
	// HeadTrust serves cached heads without asking the database. It is correct when this process
	// is the only one saving and deleting designs in the database (the default for SQLite: only
	// `trellis serve` writes designs; the CLI never does).
	HeadTrust HeadValidation = "trust"
	// HeadVerify checks every cached head with one small indexed query (the design's id, head
	// revision number and update time) and reads the head again when another process changed it.
	// It is correct with several replicas on one database (the default for PostgreSQL). The update
	// time tells a design deleted and created again apart even where ids are reused (SQLite).
	HeadVerify HeadValidation = "verify"
	// HeadNoCache reads every head from the database.
	HeadNoCache HeadValidation = "off"
)

// maxCachedHeads bounds the cache; past it the cache is emptied (it refills on demand).
const maxCachedHeads = 10000

// headEntry is one cached design with its head revision; design nil records that the design
// does not exist. seq orders entries against writes (see headCache).
type headEntry struct {
	design *Design
	head   *DesignRevision
	seq    uint64
}

// headCache is the store's read-through cache of design heads, keyed by design name.
//
// Writers (SaveDesign, DeleteDesign) update an entry after their transaction commits, while
// holding the design name's write lock, so the entries of one name follow commit order, each
// with a new sequence number. A reader that misses remembers the sequence number before it
// reads the database and stores what it read only when no write to that name was recorded
// since (an entry newer than its snapshot, or an emptying of the cache after its snapshot,
// means its read may predate a commit). So once SaveDesign or DeleteDesign returns, no reader
// in this process sees an older head.
type headCache struct {
	mu    sync.RWMutex
	seq   uint64 // last sequence number handed out
	floor uint64 // sequence number of the last emptying of m
	m     map[string]headEntry

	seed  maphash.Seed
	locks [64]sync.Mutex // write locks, striped by name
}

func newHeadCache() *headCache {
	return &headCache{m: map[string]headEntry{}, seed: maphash.MakeSeed()}
}

// lock takes the write lock of name and returns its unlock.
func (c *headCache) lock(name string) func() {
	l := &c.locks[maphash.String(c.seed, name)%uint64(len(c.locks))]
	l.Lock()
	return l.Unlock
}

func (c *headCache) get(name string) (headEntry, bool) {
	c.mu.RLock()
	e, ok := c.m[name]
	c.mu.RUnlock()
	return e, ok
}

// snapshot returns the sequence number a reader compares against when it fills the cache.
func (c *headCache) snapshot() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
}

// fill stores what a reader read after snapshot g, unless a write to name (or an emptying)
// happened since g.
func (c *headCache) fill(name string, e headEntry, g uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.floor > g {
		return
	}
	if old, ok := c.m[name]; ok && old.seq > g {
		return
	}
	c.makeRoom(name)
	e.seq = g
	c.m[name] = e
}

// write records a committed change of name (design nil: deleted). The caller holds lock(name).
func (c *headCache) write(name string, d *Design, head *DesignRevision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.makeRoom(name)
	c.m[name] = headEntry{design: d, head: head, seq: c.seq}
}

// forget empties the cache, for a write whose outcome is unknown (its commit failed).
func (c *headCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = map[string]headEntry{}
	c.seq++
	c.floor = c.seq
}

// makeRoom empties the cache when adding name would exceed maxCachedHeads. Called with mu held.
func (c *headCache) makeRoom(name string) {
	if _, ok := c.m[name]; ok || len(c.m) < maxCachedHeads {
		return
	}
	c.m = map[string]headEntry{}
	c.seq++
	c.floor = c.seq
}

// headValidationFor returns the default validation of a dialect.
func headValidationFor(d Dialect) HeadValidation {
	if d == DialectPostgres {
		return HeadVerify
	}
	return HeadTrust
}

// headStatements are the prepared statements of DesignHead (prepared once, outside gorm: a
// cached read must cost little more than the HTTP request).
type headStatements struct {
	once    sync.Once
	err     error
	version *sql.Stmt // id, head_revision, updated_at of a design by name
	full    *sql.Stmt // the design joined with its head revision, by name
}

const (
	designVersionSQL = `SELECT id, head_revision, updated_at FROM designs WHERE name = %s`
	designHeadSQL    = `SELECT d.id, d.name, d.head_revision, d.created_at, d.updated_at,
 r.id, r.design_id, r.number, r.parent_id, r.content, r.sha256, r.author, r.message, r.created_at
 FROM designs d JOIN design_revisions r ON r.design_id = d.id AND r.number = d.head_revision
 WHERE d.name = %s`
)

func (s *Store) headStmts(ctx context.Context) (*headStatements, error) {
	st := &s.stmts
	st.once.Do(func() {
		sqlDB, err := s.db.DB()
		if err != nil {
			st.err = err
			return
		}
		ph := "?"
		if s.dialect == DialectPostgres {
			ph = "$1"
		}
		// The statements outlive the request that prepares them.
		pctx := context.WithoutCancel(ctx)
		if st.version, err = sqlDB.PrepareContext(pctx, fmt.Sprintf(designVersionSQL, ph)); err != nil {
			st.err = fmt.Errorf("preparing the design version query: %w", err)
			return
		}
		if st.full, err = sqlDB.PrepareContext(pctx, fmt.Sprintf(designHeadSQL, ph)); err != nil {
			st.err = fmt.Errorf("preparing the design head query: %w", err)
		}
	})
	return st, st.err
}

// DesignHead returns the named design with its head revision (a *NotFoundError when the design
// does not exist). Heads are served from an in-process cache that this store's saves and
// deletes keep current (see HeadValidation for other writers); a miss costs one query. The
// returned records are the caller's own copies.
func (s *Store) DesignHead(ctx context.Context, name string) (*Design, *DesignRevision, error) {
	if s.headValidation == HeadNoCache {
		return s.readHead(ctx, name)
	}
	if e, ok := s.heads.get(name); ok {
		switch {
		case s.headValidation == HeadTrust:
			return e.copies(name)
		case e.design != nil:
			v, found, err := s.designVersion(ctx, name)
			if err != nil {
				return nil, nil, err
			}
			if !found {
				return nil, nil, &NotFoundError{Kind: "design", Name: name}
			}
			if v.ID == e.design.ID && v.HeadRevision == e.design.HeadRevision && v.UpdatedAt.Equal(e.design.UpdatedAt) {
				return e.copies(name)
			}
		}
	}
	g := s.heads.snapshot()
	d, rev, err := s.readHead(ctx, name)
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		s.heads.fill(name, headEntry{}, g)
	case err == nil:
		cd, cr := *d, *rev
		s.heads.fill(name, headEntry{design: &cd, head: &cr}, g)
	}
	return d, rev, err
}

// copies returns copies of the entry's records, or a *NotFoundError for a missing design.
func (e headEntry) copies(name string) (*Design, *DesignRevision, error) {
	if e.design == nil {
		return nil, nil, &NotFoundError{Kind: "design", Name: name}
	}
	d, r := *e.design, *e.head
	return &d, &r, nil
}

// designVersion returns the id, head revision number and update time of the named design.
func (s *Store) designVersion(ctx context.Context, name string) (Design, bool, error) {
	st, err := s.headStmts(ctx)
	if err != nil {
		return Design{}, false, err
	}
	var d Design
	var updated timeScan
	err = st.version.QueryRowContext(ctx, name).Scan(&d.ID, &d.HeadRevision, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Design{}, false, nil
	}
	if err != nil {
		return Design{}, false, fmt.Errorf("reading the head revision number of design %q: %w", name, err)
	}
	d.UpdatedAt = updated.t
	return d, true, nil
}

// readHead reads the named design with its head revision in one query.
func (s *Store) readHead(ctx context.Context, name string) (*Design, *DesignRevision, error) {
	st, err := s.headStmts(ctx)
	if err != nil {
		return nil, nil, err
	}
	var d Design
	var r DesignRevision
	var parent sql.NullInt64
	var dc, du, rc timeScan
	err = st.full.QueryRowContext(ctx, name).Scan(&d.ID, &d.Name, &d.HeadRevision, &dc, &du,
		&r.ID, &r.DesignID, &r.Number, &parent, &r.Content, &r.SHA256, &r.Author, &r.Message, &rc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, &NotFoundError{Kind: "design", Name: name}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading design %q with its head revision: %w", name, err)
	}
	d.CreatedAt, d.UpdatedAt, r.CreatedAt = dc.t, du.t, rc.t
	if parent.Valid {
		p := parent.Int64
		r.ParentID = &p
	}
	return &d, &r, nil
}

// timeScan scans a timestamp the way gorm stores it: a time.Time from PostgreSQL, and from
// SQLite a time.Time or the text gorm wrote.
type timeScan struct{ t time.Time }

// sqliteTimeLayouts are the text forms of timestamps in SQLite files.
var sqliteTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	time.RFC3339Nano,
}

// Scan implements sql.Scanner.
func (ts *timeScan) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		ts.t = x.UTC()
		return nil
	case string:
		return ts.parse(x)
	case []byte:
		return ts.parse(string(x))
	case nil:
		ts.t = time.Time{}
		return nil
	}
	return fmt.Errorf("scanning a timestamp: unsupported type %T", v)
}

func (ts *timeScan) parse(s string) error {
	for _, layout := range sqliteTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			ts.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("scanning a timestamp: unrecognised text %q", s)
}
