package models_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trellis-mesh/trellis/models"
)

// cacheDesign returns a valid design named name whose content depends on w.
func cacheDesign(name string, w int) []byte {
	return fmt.Appendf(nil, `apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: %s, namespace: shop}
spec:
  services:
    - name: web
      ports: [{port: 8080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
  traffic:
    - service: web
      routes:
        - name: default
          backends:
            - {version: v1, weight: %d}
            - {version: v2, weight: %d}
`, name, w, 100-w)
}

// databases returns, per backend, a fresh database URL that several stores may open (two
// stores on one URL stand for two replicas).
func databases(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"sqlite": filepath.Join(t.TempDir(), "trellis.db")}
	if dsn := freshSchema(t); dsn != "" {
		out["postgres"] = dsn
	}
	return out
}

func openAt(t *testing.T, database string, v models.HeadValidation) *models.Store {
	t.Helper()
	s, err := models.Open(context.Background(), models.Config{Database: database, HeadValidation: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// wantHead asserts that DesignHead returns revision number of name, equal field by field to
// what gorm reads from the database.
func wantHead(t *testing.T, s *models.Store, name string, number int) {
	t.Helper()
	ctx := context.Background()
	d, head, err := s.DesignHead(ctx, name)
	if err != nil {
		t.Fatalf("DesignHead(%s): %v", name, err)
	}
	if d.HeadRevision != number || head.Number != number || head.DesignID != d.ID {
		t.Fatalf("DesignHead(%s) = design head %d, revision %d (design %d of %d); want %d", name, d.HeadRevision, head.Number, head.DesignID, d.ID, number)
	}
	gd, err := s.GetDesign(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var gr models.DesignRevision
	if err := s.DB().Where("design_id = ? AND number = ?", gd.ID, number).Take(&gr).Error; err != nil {
		t.Fatal(err)
	}
	if d.ID != gd.ID || d.Name != gd.Name || !d.CreatedAt.Equal(gd.CreatedAt) || !d.UpdatedAt.Equal(gd.UpdatedAt) {
		t.Errorf("DesignHead(%s) design = %+v; the database holds %+v", name, *d, *gd)
	}
	samePtr := (head.ParentID == nil) == (gr.ParentID == nil) && (head.ParentID == nil || *head.ParentID == *gr.ParentID)
	if head.ID != gr.ID || head.Content != gr.Content || head.SHA256 != gr.SHA256 || head.Author != gr.Author ||
		head.Message != gr.Message || !head.CreatedAt.Equal(gr.CreatedAt) || !samePtr {
		t.Errorf("DesignHead(%s) revision = %+v; the database holds %+v", name, *head, gr)
	}
}

func wantMissing(t *testing.T, s *models.Store, name string) {
	t.Helper()
	_, _, err := s.DesignHead(context.Background(), name)
	if !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("DesignHead(%s) after delete: err = %v; want not found", name, err)
	}
}

// TestDesignHeadFollowsWrites: a save or delete that returned is seen by the next read, in every
// validation mode, on both backends.
func TestDesignHeadFollowsWrites(t *testing.T) {
	ctx := context.Background()
	for backend, db := range databases(t) {
		for _, v := range []models.HeadValidation{models.HeadTrust, models.HeadVerify, models.HeadNoCache} {
			t.Run(backend+"/"+string(v), func(t *testing.T) {
				s := openAt(t, db, v)
				name := "follow-" + string(v)
				wantMissing(t, s, name) // caches the absence
				if _, err := s.SaveDesign(ctx, name, cacheDesign(name, 10), 0, models.RevisionInfo{Author: "a", Message: "one"}); err != nil {
					t.Fatal(err)
				}
				wantHead(t, s, name, 1)
				wantHead(t, s, name, 1) // from the cache
				if _, err := s.SaveDesign(ctx, name, cacheDesign(name, 20), 1, models.RevisionInfo{Author: "b", Message: "two"}); err != nil {
					t.Fatal(err)
				}
				wantHead(t, s, name, 2)
				if r, err := s.Revision(ctx, name, 0); err != nil || r.Number != 2 {
					t.Fatalf("Revision(%s, 0) = %v, %v; want the head, 2", name, r, err)
				}
				// Unchanged content writes nothing and keeps the head.
				if res, err := s.SaveDesign(ctx, name, cacheDesign(name, 20), 2, models.RevisionInfo{Author: "c"}); err != nil || res.Created {
					t.Fatalf("saving unchanged content: %v, %v", res, err)
				}
				wantHead(t, s, name, 2)
				// A conflict changes nothing.
				if _, err := s.SaveDesign(ctx, name, cacheDesign(name, 30), 1, models.RevisionInfo{}); !errors.Is(err, models.ErrConflict) {
					t.Fatalf("stale save: err = %v; want a conflict", err)
				}
				wantHead(t, s, name, 2)
				if err := s.DeleteDesign(ctx, name, 2, "a"); err != nil {
					t.Fatal(err)
				}
				wantMissing(t, s, name)
				// Created again: a new design, revision 1 with the new content.
				if _, err := s.SaveDesign(ctx, name, cacheDesign(name, 40), 0, models.RevisionInfo{Author: "d"}); err != nil {
					t.Fatal(err)
				}
				wantHead(t, s, name, 1)
				_, head, _ := s.DesignHead(ctx, name)
				if head.Author != "d" {
					t.Fatalf("head after re-creation authored by %q; want d", head.Author)
				}
			})
		}
	}
}

// TestDesignHeadOtherReplica: with HeadVerify a store sees saves and deletions made by another
// store on the same database (another replica, or another process on the SQLite file),
// including a design deleted and created again (SQLite may reuse its id).
func TestDesignHeadOtherReplica(t *testing.T) {
	ctx := context.Background()
	for backend, db := range databases(t) {
		t.Run(backend, func(t *testing.T) {
			a := openAt(t, db, models.HeadVerify)
			b := openAt(t, db, models.HeadVerify)
			name := "replicated"
			if _, err := a.SaveDesign(ctx, name, cacheDesign(name, 10), 0, models.RevisionInfo{Author: "a"}); err != nil {
				t.Fatal(err)
			}
			wantHead(t, a, name, 1)
			wantHead(t, b, name, 1)
			if _, err := b.SaveDesign(ctx, name, cacheDesign(name, 20), 1, models.RevisionInfo{Author: "b"}); err != nil {
				t.Fatal(err)
			}
			wantHead(t, a, name, 2)
			if err := b.DeleteDesign(ctx, name, 0, "b"); err != nil {
				t.Fatal(err)
			}
			wantMissing(t, a, name)
			if _, err := a.SaveDesign(ctx, name, cacheDesign(name, 30), 0, models.RevisionInfo{Author: "a"}); err != nil {
				t.Fatal(err)
			}
			wantHead(t, b, name, 1)
			if err := a.DeleteDesign(ctx, name, 0, "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := a.SaveDesign(ctx, name, cacheDesign(name, 40), 0, models.RevisionInfo{Author: "a2"}); err != nil {
				t.Fatal(err)
			}
			wantHead(t, b, name, 1)
			if _, head, _ := b.DesignHead(ctx, name); head.Author != "a2" {
				t.Fatalf("b reads the head authored by %q after a re-created the design; want a2", head.Author)
			}
		})
	}
}

// TestDesignHeadConcurrent: while writers save (and conflict on) one design and another is
// deleted and re-created, every reader sees heads that never go backwards, and never one older
// than a save that had returned before the read started.
func TestDesignHeadConcurrent(t *testing.T) {
	ctx := context.Background()
	for backend, db := range databases(t) {
		t.Run(backend, func(t *testing.T) {
			s := openAt(t, db, "")
			const name, writers, readers, saves = "busy", 4, 8, 15
			if _, err := s.SaveDesign(ctx, name, cacheDesign(name, 1), 0, models.RevisionInfo{Author: "w"}); err != nil {
				t.Fatal(err)
			}
			var committed atomic.Int64 // highest revision whose save returned
			committed.Store(1)
			var done atomic.Bool
			var wg, rg sync.WaitGroup
			errc := make(chan error, writers+readers+1)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i, conflicts := 0, 0; i < saves; {
						_, head, err := s.DesignHead(ctx, name)
						if err != nil {
							errc <- err
							return
						}
						res, err := s.SaveDesign(ctx, name, cacheDesign(name, (w*saves+i)%97+2), head.Number, models.RevisionInfo{Author: "w"})
						if errors.Is(err, models.ErrConflict) {
							// Each conflict means another writer won; a stale head would conflict forever.
							if conflicts++; conflicts > writers*saves {
								errc <- fmt.Errorf("writer %d: %d conflicts in a row; DesignHead keeps returning a stale head: %w", w, conflicts, err)
								return
							}
							continue
						}
						if err != nil {
							errc <- err
							return
						}
						i, conflicts = i+1, 0
						for n := int64(res.Revision.Number); ; {
							c := committed.Load()
							if c >= n || committed.CompareAndSwap(c, n) {
								break
							}
						}
					}
				}()
			}
			// Another design is deleted and re-created meanwhile: its reads alternate between
			// not found and revision 1, and the busy design is unaffected.
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					if _, err := s.SaveDesign(ctx, "churn", cacheDesign("churn", i+1), 0, models.RevisionInfo{}); err != nil {
						errc <- err
						return
					}
					if err := s.DeleteDesign(ctx, "churn", 1, "w"); err != nil {
						errc <- err
						return
					}
					if _, _, err := s.DesignHead(ctx, "churn"); !errors.Is(err, models.ErrNotFound) {
						errc <- fmt.Errorf("churn after delete: %v; want not found", err)
						return
					}
				}
			}()
			for range readers {
				rg.Add(1)
				go func() {
					defer rg.Done()
					last := 0
					for !done.Load() {
						floor := int(committed.Load())
						d, head, err := s.DesignHead(ctx, name)
						if err != nil {
							errc <- err
							return
						}
						switch {
						case head.Number < last:
							errc <- fmt.Errorf("head went back from %d to %d", last, head.Number)
							return
						case head.Number < floor:
							errc <- fmt.Errorf("read head %d after the save of %d had returned", head.Number, floor)
							return
						case d.HeadRevision != head.Number:
							errc <- fmt.Errorf("design says head %d but the revision is %d", d.HeadRevision, head.Number)
							return
						}
						last = head.Number
					}
				}()
			}
			wg.Wait()
			done.Store(true)
			rg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
			wantHead(t, s, name, 1+writers*saves)
		})
	}
}

// TestSaveDesignCheckFindings: findings computed by RevisionInfo.Check are stored with the new
// revision, and nothing is stored for a save that conflicts or changes nothing.
func TestSaveDesignCheckFindings(t *testing.T) {
	ctx := context.Background()
	for backend, db := range databases(t) {
		t.Run(backend, func(t *testing.T) {
			s := openAt(t, db, "")
			var checked []string
			check := func(_ context.Context, canonical []byte) []models.Finding {
				checked = append(checked, string(canonical))
				return []models.Finding{{RuleID: "r1", Severity: "warning", Path: "spec", Message: fmt.Sprintf("check %d", len(checked))}}
			}
			res, err := s.SaveDesign(ctx, "checked", cacheDesign("checked", 10), 0, models.RevisionInfo{Author: "a", Check: check})
			if err != nil {
				t.Fatal(err)
			}
			if len(checked) != 1 || checked[0] != res.Revision.Content {
				t.Fatalf("Check saw %q; want the canonical content %q", checked, res.Revision.Content)
			}
			if _, err := s.SaveDesign(ctx, "checked", cacheDesign("checked", 20), 0, models.RevisionInfo{Check: check}); !errors.Is(err, models.ErrConflict) {
				t.Fatalf("stale save: %v; want a conflict", err)
			}
			if _, err := s.SaveDesign(ctx, "checked", cacheDesign("checked", 10), 1, models.RevisionInfo{Check: check}); err != nil {
				t.Fatal(err)
			}
			fs, err := s.FindingsByRevision(ctx, []int64{res.Revision.ID})
			if err != nil {
				t.Fatal(err)
			}
			got := fs[res.Revision.ID]
			if len(got) != 1 || got[0].Message != "check 1" || got[0].RevisionID != res.Revision.ID {
				t.Fatalf("stored findings %+v; want exactly the first check's", got)
			}
		})
	}
}
