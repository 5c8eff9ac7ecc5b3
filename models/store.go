package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names a supported database.
type Dialect string

// The supported databases.
const (
	// DialectSQLite is the default: one file, pure-Go driver.
	DialectSQLite Dialect = "sqlite"
	// DialectPostgres is PostgreSQL.
	DialectPostgres Dialect = "postgres"
)

// DatabaseFile is the SQLite file name inside the Trellis home directory.
const DatabaseFile = "trellis.db"

// Config says where the store keeps its data.
type Config struct {
	// Home is the Trellis home directory; the SQLite file lives there. Required when Database is
	// empty.
	Home string
	// Database is "" (SQLite at Home/trellis.db), "sqlite:PATH", a path ending in .db, or a
	// PostgreSQL URL ("postgres://user@host:5432/db?sslmode=disable").
	Database string
	// Logger receives gorm's logs. Default: discarded (statements may carry secrets' hashes).
	Logger logger.Interface
	// HeadValidation says how DesignHead trusts its cache of design heads. Default: HeadTrust on
	// SQLite (one writing process per file), HeadVerify on PostgreSQL (several replicas).
	HeadValidation HeadValidation
}

// Store reads and writes Trellis's records. It is safe for concurrent use.
type Store struct {
	db        *gorm.DB
	dialect   Dialect
	authCache sync.Map // token hash -> authEntry

	writeMu        sync.Mutex // SQLite: design writes queue here rather than in SQLite's busy handler
	heads          *headCache
	headValidation HeadValidation
	stmts          headStatements
}

// Open connects to the configured database, applies pending migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	dialector, dialect, err := dialectorFor(cfg)
	if err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = logger.Discard
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 lg,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction: true,
		TranslateError:         true,
	})
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", dialect, err)
	}
	if dialect == DialectSQLite {
		sqlDB.SetMaxOpenConns(8)
		sqlDB.SetMaxIdleConns(8)
	} else {
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(32)
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dialect: dialect, heads: newHeadCache(), headValidation: cfg.HeadValidation}
	switch s.headValidation {
	case "":
		s.headValidation = headValidationFor(dialect)
	case HeadTrust, HeadVerify, HeadNoCache:
	default:
		_ = sqlDB.Close()
		return nil, fmt.Errorf("opening store: unknown head validation %q: expected %q, %q or %q", cfg.HeadValidation, HeadTrust, HeadVerify, HeadNoCache)
	}
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// dialectorFor picks the driver and DSN for cfg.
func dialectorFor(cfg Config) (gorm.Dialector, Dialect, error) {
	db := strings.TrimSpace(cfg.Database)
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return postgres.Open(db), DialectPostgres, nil
	case db == "":
		if cfg.Home == "" {
			return nil, "", errors.New("opening store: neither a database URL nor a home directory is set; hint: pass --home or --database")
		}
		return sqliteAt(filepath.Join(cfg.Home, DatabaseFile))
	case strings.HasPrefix(db, "sqlite:"):
		return sqliteAt(strings.TrimPrefix(strings.TrimPrefix(db, "sqlite:"), "//"))
	case strings.HasSuffix(db, ".db"):
		return sqliteAt(db)
	default:
		return nil, "", fmt.Errorf("opening store: unsupported database %q: expected postgres://…, sqlite:PATH or a path ending in .db", redactURL(db))
	}
}

// sqliteAt returns the SQLite dialector for the file at path, creating its directory: WAL
// journal, a busy timeout, foreign keys on and immediate write transactions (so concurrent
// writers queue instead of failing on lock upgrades).
func sqliteAt(path string) (gorm.Dialector, Dialect, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("creating database directory: %w", err)
	}
	// The database holds token hashes and audit records: readable by the owner only.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("creating database file: %w", err)
	}
	_ = f.Close()
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	return sqlite.Open(dsn), DialectSQLite, nil
}

// redactURL removes a password from a database URL for messages.
func redactURL(s string) string {
	if at := strings.Index(s, "@"); at > 0 {
		if scheme := strings.Index(s, "://"); scheme > 0 && scheme < at {
			return s[:scheme+3] + "…" + s[at:]
		}
	}
	return s
}

// lockWrites serialises this process's design writes on SQLite and returns the unlock (a no-op
// elsewhere). SQLite allows one writer at a time; its busy handler retries a locked database
// after sleeps of growing length, so concurrent writers would leave the lock idle between
// them, while a mutex hands it over at once.
func (s *Store) lockWrites() func() {
	if s.dialect != DialectSQLite {
		return func() {}
	}
	s.writeMu.Lock()
	return s.writeMu.Unlock
}

// Dialect returns the database in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the underlying gorm handle, for tests and for packages that add their own records.
func (s *Store) DB() *gorm.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("pinging %s database: %w", s.dialect, err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging %s database: %w", s.dialect, err)
	}
	return nil
}

// Close releases the database connections.
func (s *Store) Close() error {
	s.stmts.once.Do(func() { s.stmts.err = errors.New("the store is closed") })
	if s.stmts.version != nil {
		_ = s.stmts.version.Close()
	}
	if s.stmts.full != nil {
		_ = s.stmts.full.Close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
