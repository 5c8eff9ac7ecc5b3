package models_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/spec"
)

// openStores opens a fresh SQLite store and, when TRELLIS_TEST_POSTGRES_DSN is set, a store in a
// fresh PostgreSQL schema (required with TRELLIS_REQUIRE_INTEGRATION=1).
func openStores(t *testing.T) map[string]*models.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*models.Store{}
	s, err := models.Open(ctx, models.Config{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	out["sqlite"] = s
	dsn := freshSchema(t)
	if dsn == "" {
		return out
	}
	pg, err := models.Open(ctx, models.Config{Database: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	out["postgres"] = pg
	return out
}

const design = `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop}
spec:
  services:
    - name: web
      ports: [{port: 8080}]
`

func TestStore(t *testing.T) {
	for name, s := range openStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ms, err := s.Migrations(ctx)
			if err != nil || len(ms) < 6 {
				t.Fatalf("migrations: %v %v", ms, err)
			}
			for i, m := range ms {
				if m.Version != i+1 || m.AppliedAt == nil || m.Name == "" {
					t.Fatalf("migration %+v", m)
				}
			}
			// Invalid content: a validation error, nothing written.
			_, err = s.SaveDesign(ctx, "shop", []byte("apiVersion: x\nkind: Design\nmetadata: {name: shop}\nspec: {bogus: 1}\n"), 0, models.RevisionInfo{Author: "t"})
			var ve *spec.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("invalid save: %v", err)
			}
			if _, err := s.GetDesign(ctx, "shop"); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("invalid save wrote a design: %v", err)
			}
			// First save must expect 0; later saves the head.
			if _, err := s.SaveDesign(ctx, "shop", []byte(design), 1, models.RevisionInfo{Author: "t"}); !errors.Is(err, models.ErrConflict) {
				t.Fatalf("first save expecting 1: %v", err)
			}
			r1, err := s.SaveDesign(ctx, "", []byte(design), 0, models.RevisionInfo{Author: "t", Message: "one"})
			if err != nil || r1.Revision.Number != 1 || !r1.Created {
				t.Fatalf("first save: %+v %v", r1, err)
			}
			changed := strings.Replace(design, "8080", "9090", 1)
			_, err = s.SaveDesign(ctx, "shop", []byte(changed), 0, models.RevisionInfo{Author: "t"})
			var ce *models.ConflictError
			if !errors.As(err, &ce) || ce.Head != 1 || ce.Expected != 0 {
				t.Fatalf("stale save: %v", err)
			}
			r2, err := s.SaveDesign(ctx, "shop", []byte(changed), 1, models.RevisionInfo{Author: "t"})
			if err != nil || r2.Revision.Number != 2 || *r2.Revision.ParentID != r1.Revision.ID {
				t.Fatalf("second save: %+v %v", r2, err)
			}
			heads, err := s.HeadRevisions(ctx, []int64{r1.Revision.DesignID})
			if err != nil || heads[r1.Revision.DesignID].Number != 2 {
				t.Fatalf("heads: %v %v", heads, err)
			}
			// Tokens: only the hash is stored; unknown tokens are rejected.
			tok, rec, err := s.CreateToken(ctx, "ci", models.RoleEditor, "t")
			if err != nil || rec.Hash != models.HashToken(tok) || strings.Contains(rec.Hash, tok) {
				t.Fatalf("token: %v", err)
			}
			got, err := s.Authenticate(ctx, tok)
			if err != nil || got.Name != "ci" || got.LastUsedAt == nil {
				t.Fatalf("authenticate: %+v %v", got, err)
			}
			if _, err := s.Authenticate(ctx, tok[:len(tok)-1]+"x"); !errors.Is(err, models.ErrUnauthenticated) {
				t.Fatalf("bad token: %v", err)
			}
			if _, _, err := s.CreateToken(ctx, "ci", models.RoleViewer, "t"); err == nil {
				t.Fatal("duplicate token name accepted")
			}
			if err := s.DeleteDesign(ctx, "shop", 2, "t"); err != nil {
				t.Fatal(err)
			}
			evs, _, err := s.ListEvents(ctx, models.EventFilter{ObjectKind: "design"}, models.Window[int64]{Limit: 10})
			if err != nil || len(evs) != 3 || evs[0].Action != "design.delete" {
				t.Fatalf("events: %+v %v", evs, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := models.Open(ctx, models.Config{}); err == nil {
		t.Fatal("no home and no database accepted")
	}
	_, err := models.Open(ctx, models.Config{Database: "mysql://user:secret@host/db"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unsupported database: %v", err)
	}
	for _, r := range []string{"viewer", "Editor", "ADMIN"} {
		if _, err := models.ParseRole(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := models.ParseRole("root"); err == nil {
		t.Fatal("unknown role accepted")
	}
	if !models.RoleAdmin.Allows(models.RoleEditor) || models.RoleViewer.Allows(models.RoleEditor) || models.Role("").Allows(models.RoleViewer) {
		t.Fatal("role ordering")
	}
}

// freshSchema returns a DSN of the test PostgreSQL whose search_path is a new schema, dropped
// when the test ends (after the stores opened later are closed); "" without
// TRELLIS_TEST_POSTGRES_DSN, which fails the test under TRELLIS_REQUIRE_INTEGRATION=1.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("TRELLIS_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("TRELLIS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("TRELLIS_TEST_POSTGRES_DSN is not set but TRELLIS_REQUIRE_INTEGRATION=1")
		}
		return ""
	}
	admin, err := models.Open(context.Background(), models.Config{Database: dsn})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.DB().Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.DB().Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = admin.Close()
	})
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
