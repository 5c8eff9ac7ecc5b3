package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Role is what a token may do.
type Role string

// The roles, from least to most powerful.
const (
	// RoleViewer may read everything and run previews (validate, translate, check).
	RoleViewer Role = "viewer"
	// RoleEditor may also save and delete designs and start operations.
	RoleEditor Role = "editor"
	// RoleAdmin may also manage tokens.
	RoleAdmin Role = "admin"
)

// ParseRole returns the role called s.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleViewer, RoleEditor, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: expected viewer, editor or admin", s)
}

// rank orders the roles.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleEditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r includes the permissions of required.
func (r Role) Allows(required Role) bool { return r.rank() >= required.rank() && r.rank() > 0 }

// TokenPrefix starts every Trellis API token, so that secret scanners can recognise them.
const TokenPrefix = "trellis_"

// AdminTokenName is the name of the token created on first start.
const AdminTokenName = "admin"

// ErrUnauthenticated is returned by Authenticate for an unknown or malformed token.
var ErrUnauthenticated = errors.New("unknown or malformed API token")

// HashToken returns the hex sha256 of a token: the only form the store keeps.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newToken returns a fresh token: the prefix and 32 random bytes in hex.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return TokenPrefix + hex.EncodeToString(b), nil
}

// CreateToken creates a token called name with role and returns the token itself (shown once,
// never stored) and its record. actor is recorded in the audit log.
func (s *Store) CreateToken(ctx context.Context, name string, role Role, actor string) (string, *APIToken, error) {
	if strings.TrimSpace(name) == "" {
		return "", nil, errors.New("creating token: empty name; hint: pass --name")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", nil, fmt.Errorf("creating token %q: %w", name, err)
	}
	token, err := newToken()
	if err != nil {
		return "", nil, err
	}
	rec := APIToken{Name: name, Hash: HashToken(token), Role: role, CreatedAt: time.Now().UTC()}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&rec).Error; err != nil {
			return err
		}
		return recordEvent(tx, actor, "token.create", "token", name, map[string]any{"role": role})
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return "", nil, fmt.Errorf("creating token %q: a token with this name exists; hint: pick another name or delete it first", name)
	}
	if err != nil {
		return "", nil, fmt.Errorf("creating token %q: %w", name, err)
	}
	return token, &rec, nil
}

// EnsureAdminToken creates the admin token when the store has no token at all and returns it
// (created true). Otherwise it returns "" and false.
func (s *Store) EnsureAdminToken(ctx context.Context) (string, bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&APIToken{}).Count(&n).Error; err != nil {
		return "", false, fmt.Errorf("counting tokens: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	token, _, err := s.CreateToken(ctx, AdminTokenName, RoleAdmin, "trellis")
	if err != nil {
		// A concurrent first start may have created it.
		if s.db.WithContext(ctx).Model(&APIToken{}).Count(&n).Error == nil && n > 0 {
			return "", false, nil
		}
		return "", false, err
	}
	return token, true, nil
}

// authCacheTTL is how long Authenticate trusts a token it has looked up. Deleting a token
// through this store clears the cache at once; on PostgreSQL a deletion by another process (the
// CLI, another replica) clears the caches of every process running Listen at commit; otherwise
// (SQLite) it takes effect within this time.
const authCacheTTL = 5 * time.Second

// authEntry is a cached token lookup.
type authEntry struct {
	rec     APIToken
	expires time.Time
}

// Authenticate returns the record of token and notes its use (at most once a minute). Lookups
// are cached for a few seconds, so a busy client costs no statement per request.
func (s *Store) Authenticate(ctx context.Context, token string) (*APIToken, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) != len(TokenPrefix)+64 {
		return nil, ErrUnauthenticated
	}
	hash := HashToken(token)
	if v, ok := s.authCache.Load(hash); ok {
		if e := v.(authEntry); time.Now().Before(e.expires) {
			rec := e.rec
			return &rec, nil
		}
		s.authCache.Delete(hash)
	}
	var rec APIToken
	err := s.db.WithContext(ctx).Where("hash = ?", hash).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticating: %w", err)
	}
	now := time.Now().UTC()
	if rec.LastUsedAt == nil || now.Sub(*rec.LastUsedAt) > time.Minute {
		// Best effort: a failed bookkeeping write must not fail the request.
		if s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", rec.ID).Update("last_used_at", now).Error == nil {
			rec.LastUsedAt = &now
		}
	}
	s.authCache.Store(hash, authEntry{rec: rec, expires: now.Add(authCacheTTL)})
	return &rec, nil
}

// ListTokens returns every token record (never the tokens themselves), ordered by name.
func (s *Store) ListTokens(ctx context.Context) ([]APIToken, error) {
	var out []APIToken
	if err := s.db.WithContext(ctx).Order("name").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteToken revokes the token called name.
func (s *Store) DeleteToken(ctx context.Context, name, actor string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("name = ?", name).Delete(&APIToken{})
		if res.Error != nil {
			return fmt.Errorf("deleting token %q: %w", name, res.Error)
		}
		if res.RowsAffected == 0 {
			return &NotFoundError{Kind: "token", Name: name}
		}
		s.authCache.Clear()
		// Other processes listening on PostgreSQL drop their caches at commit (see Listen).
		if err := s.notify(tx, channelTokens, name); err != nil {
			return err
		}
		return recordEvent(tx, actor, "token.delete", "token", name, nil)
	})
}
