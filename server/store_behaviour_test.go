package server_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/trellis-mesh/trellis/models"
)

// countStatements counts every SQL statement the store runs from now on.
func countStatements(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	inc := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	for i, err := range []error{
		cb.Query().After("gorm:query").Register("test:count_query", inc),
		cb.Row().After("gorm:row").Register("test:count_row", inc),
		cb.Raw().After("gorm:raw").Register("test:count_raw", inc),
		cb.Create().After("gorm:create").Register("test:count_create", inc),
		cb.Update().After("gorm:update").Register("test:count_update", inc),
		cb.Delete().After("gorm:delete").Register("test:count_delete", inc),
	} {
		if err != nil {
			t.Fatalf("registering callback %d: %v", i, err)
		}
	}
	return &n
}

// TestListQueriesAreBatched proves the dataloaders: listing designs with each one's head
// revision (and the revision's design and parent) costs the same number of statements for 3 and
// for 30 designs.
func TestListQueriesAreBatched(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		n := countStatements(t, e.srv.Store().DB())
		q := `{ designs(first: 100) { edges { node { name head { number author parent { number } design { name } } } } } }`
		measure := func() int64 {
			e.must(t, e.admin, `{ me { name } }`, nil, nil) // the token's last-use write happens here, not below
			before := n.Load()
			var out struct {
				Designs struct {
					Edges []struct {
						Node struct {
							Head struct {
								Number int
								Parent *struct{ Number int }
								Design struct{ Name string }
							}
						}
					}
				}
			}
			e.must(t, e.admin, q, nil, &out)
			for _, ed := range out.Designs.Edges {
				if ed.Node.Head.Number != 2 || ed.Node.Head.Parent == nil || ed.Node.Head.Parent.Number != 1 || ed.Node.Head.Design.Name == "" {
					t.Fatalf("bad node %+v", ed.Node)
				}
			}
			return n.Load() - before
		}
		add := func(from, to int) {
			for i := from; i < to; i++ {
				name := fmt.Sprintf("d%02d", i)
				e.save(t, e.admin, name, 10, 0)
				e.save(t, e.admin, name, 20, 1)
			}
		}
		// The loaders batch the keys that arrive within one tick: on a loaded machine a batch can
		// split in two, so each count is the fewest of three runs (an N+1 query would still cost
		// 30 statements or more in every run).
		fewest := func() int64 {
			m := measure()
			for range 2 {
				m = min(m, measure())
			}
			return m
		}
		add(0, 3)
		small := fewest()
		add(3, 30)
		large := fewest()
		// 1 token lookup + 1 list + 1 head batch + 1 design batch + 1 parent batch.
		if large != small || large > 5 {
			t.Fatalf("statements: %d for 3 designs, %d for 30 (want equal and ≤ 5)", small, large)
		}
		t.Logf("%s: %d statements for 3 designs, %d for 30", b.name, small, large)
	})
}

// TestConcurrentSaves has 50 clients save the same design at once, each expecting the revision
// it read: every accepted save gets a unique consecutive number, every rejected one CONFLICT.
func TestConcurrentSaves(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		e.save(t, e.admin, "shop", 99, 0)
		const clients = 50
		type outcome struct {
			client, number int
			code           string
		}
		results := make([]outcome, clients)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.post(e.admin, `{ design(name: "shop") { headRevision } }`, nil)
				if err != nil {
					results[i] = outcome{client: i, code: err.Error()}
					return
				}
				var head struct {
					Design struct{ HeadRevision int }
				}
				_ = jsonUnmarshal(r.Data, &head)
				<-start
				r, err = e.post(e.admin, saveMutation, saveVars("shop", designYAML("shop", i+1), head.Design.HeadRevision, fmt.Sprintf("client %d", i)))
				switch {
				case err != nil:
					results[i] = outcome{client: i, code: err.Error()}
				case len(r.Errors) > 0:
					results[i] = outcome{client: i, code: r.code()}
				default:
					var d saveData
					_ = jsonUnmarshal(r.Data, &d)
					results[i] = outcome{client: i, number: d.SaveDesign.Revision.Number}
				}
			}()
		}
		close(start)
		wg.Wait()
		var accepted []outcome
		for _, o := range results {
			switch {
			case o.code == "" && o.number > 0:
				accepted = append(accepted, o)
			case o.code == "CONFLICT":
			default:
				t.Fatalf("client %d: unexpected outcome %+v", o.client, o)
			}
		}
		if len(accepted) == 0 {
			t.Fatal("no save was accepted")
		}
		sort.Slice(accepted, func(i, j int) bool { return accepted[i].number < accepted[j].number })
		for i, o := range accepted {
			if o.number != i+2 {
				t.Fatalf("accepted revisions are not consecutive from 2: %+v", accepted)
			}
		}
		// The history holds exactly the accepted revisions, in order, each with its client's message.
		revs, _, err := e.srv.Store().ListRevisions(context.Background(), mustDesign(t, e).ID, models.Window[int]{Limit: 100, FromEnd: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) != len(accepted)+1 {
			t.Fatalf("%d revisions stored, %d accepted", len(revs), len(accepted))
		}
		for i, o := range accepted {
			r := revs[len(revs)-2-i]
			if r.Number != o.number || r.Message != fmt.Sprintf("client %d", o.client) || r.ParentID == nil {
				t.Fatalf("revision %d: %+v, want client %d", o.number, r, o.client)
			}
		}
		t.Logf("%s: %d accepted, %d conflicts", b.name, len(accepted), clients-len(accepted))
	})
}

func mustDesign(t *testing.T, e *env) *models.Design {
	t.Helper()
	d, err := e.srv.Store().GetDesign(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRestartKeepsEverything closes the server and opens a new one on the same SQLite file.
func TestRestartKeepsEverything(t *testing.T) {
	home := t.TempDir()
	e := startAt(t, home, "")
	admin := e.admin
	editor := e.token(t, "ed", models.RoleEditor)
	e.save(t, editor, "shop", 10, 0)
	e.save(t, editor, "shop", 20, 1)
	var before struct {
		Design struct {
			Head struct{ SHA256, Content string }
		}
	}
	e.must(t, admin, `{ design(name: "shop") { head { sha256 content } } }`, nil, &before)
	e.stop()

	e2 := startAt(t, home, "")
	if e2.admin != admin {
		t.Fatal("the admin token changed on restart")
	}
	var after struct {
		Design struct {
			HeadRevision int
			Head         struct{ SHA256, Content string }
		}
		Events struct{ Edges []any }
	}
	e2.must(t, editor, `{ design(name: "shop") { headRevision head { sha256 content } } events(first: 50) { edges { cursor } } }`, nil, &after)
	if after.Design.HeadRevision != 2 || after.Design.Head != before.Design.Head || len(after.Events.Edges) != 4 {
		t.Fatalf("after restart: %+v", after)
	}
	// Optimistic concurrency continues from the stored head.
	if r := e2.do(t, editor, saveMutation, saveVars("shop", designYAML("shop", 30), 1, "")); r.code() != "CONFLICT" {
		t.Fatalf("stale save after restart: %s", r.raw)
	}
	e2.save(t, editor, "shop", 30, 2)
	ms, err := e2.srv.Store().Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.AppliedAt == nil {
			t.Fatalf("migration %d not applied", m.Version)
		}
	}
}
