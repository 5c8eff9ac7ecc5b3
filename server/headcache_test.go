package server_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

const headQuery = `query($n: String!) { design(name: $n) { name headRevision head { number sha256 author content } } }`

type headData struct {
	Design *struct {
		Name         string `json:"name"`
		HeadRevision int    `json:"headRevision"`
		Head         struct {
			Number  int    `json:"number"`
			SHA256  string `json:"sha256"`
			Author  string `json:"author"`
			Content string `json:"content"`
		} `json:"head"`
	} `json:"design"`
}

// readHead returns the design query's answer (Design nil when the design does not exist).
func (e *env) readHead(token, name string) (headData, error) {
	r, err := e.post(token, headQuery, map[string]any{"n": name})
	if err != nil {
		return headData{}, err
	}
	if len(r.Errors) > 0 {
		return headData{}, fmt.Errorf("design(%s): %s", name, r.raw)
	}
	var d headData
	if err := jsonUnmarshal(r.Data, &d); err != nil {
		return headData{}, err
	}
	if d.Design != nil && d.Design.HeadRevision != d.Design.Head.Number {
		return d, fmt.Errorf("design(%s): headRevision %d but head.number %d", name, d.Design.HeadRevision, d.Design.Head.Number)
	}
	return d, nil
}

// TestDesignQueryNeverStale: the design query (served from the head cache) returns the new head
// as soon as saveDesign returned, and nothing once deleteDesign returned.
func TestDesignQueryNeverStale(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		const name = "fresh"
		if d, err := e.readHead(e.admin, name); err != nil || d.Design != nil {
			t.Fatalf("before the first save: %+v, %v; want null", d.Design, err)
		}
		for n := 1; n <= 5; n++ {
			saved := e.save(t, e.admin, name, n*10, n-1).SaveDesign.Revision
			d, err := e.readHead(e.admin, name)
			if err != nil {
				t.Fatal(err)
			}
			if d.Design == nil || d.Design.Head.Number != n || d.Design.Head.SHA256 != saved.SHA256 || d.Design.Head.Content != saved.Content {
				t.Fatalf("after saving revision %d (sha %s) the design query returned %+v", n, saved.SHA256, d.Design)
			}
		}
		e.must(t, e.admin, `mutation { deleteDesign(name: "fresh", expectedRevision: 5) { deleted } }`, nil, nil)
		if d, err := e.readHead(e.admin, name); err != nil || d.Design != nil {
			t.Fatalf("after deleteDesign: %+v, %v; want null", d.Design, err)
		}
		if r := e.do(t, e.admin, `{ diff(design: "fresh", from: 1) { unified } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("diff of a deleted design: %s; want NOT_FOUND", r.raw)
		}
		saved := e.save(t, e.admin, name, 77, 0).SaveDesign.Revision
		if d, err := e.readHead(e.admin, name); err != nil || d.Design == nil || d.Design.Head.Number != 1 || d.Design.Head.SHA256 != saved.SHA256 {
			t.Fatalf("after re-creating the design: %+v, %v; want revision 1 (sha %s)", d.Design, err, saved.SHA256)
		}
	})
}

// TestDesignQueryConcurrentSaves: while clients save one design concurrently, readers of the
// design query never see the head go back, nor one older than a save that had returned before
// their request was sent.
func TestDesignQueryConcurrentSaves(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		const name, writers, readers, saves = "contended", 4, 6, 8
		e.save(t, e.admin, name, 1, 0)
		var committed atomic.Int64
		committed.Store(1)
		var done atomic.Bool
		var wg, rg sync.WaitGroup
		errc := make(chan error, writers+readers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				head := 1
				for i, conflicts := 0, 0; i < saves; {
					r, err := e.post(e.admin, saveMutation, saveVars(name, designYAML(name, (w*saves+i)%97+2), head, "concurrent"))
					if err != nil {
						errc <- err
						return
					}
					if r.code() == "CONFLICT" {
						// Re-read the head through the cached query: a stale answer would
						// conflict forever.
						if conflicts++; conflicts > writers*saves {
							errc <- errors.New("a writer conflicted on every head the design query returned")
							return
						}
						d, err := e.readHead(e.admin, name)
						if err != nil {
							errc <- err
							return
						}
						head = d.Design.Head.Number
						continue
					}
					var s saveData
					if len(r.Errors) > 0 || jsonUnmarshal(r.Data, &s) != nil {
						errc <- fmt.Errorf("save failed: %s", r.raw)
						return
					}
					i, conflicts, head = i+1, 0, s.SaveDesign.Revision.Number
					for n := int64(head); ; {
						c := committed.Load()
						if c >= n || committed.CompareAndSwap(c, n) {
							break
						}
					}
				}
			}()
		}
		for range readers {
			rg.Add(1)
			go func() {
				defer rg.Done()
				last := 0
				for !done.Load() {
					floor := int(committed.Load())
					d, err := e.readHead(e.admin, name)
					if err != nil {
						errc <- err
						return
					}
					switch n := d.Design.Head.Number; {
					case n < last:
						errc <- fmt.Errorf("the head went back from %d to %d", last, n)
						return
					case n < floor:
						errc <- fmt.Errorf("read head %d after the save of %d had returned", n, floor)
						return
					}
					last = d.Design.Head.Number
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
		if d, err := e.readHead(e.admin, name); err != nil || d.Design.Head.Number != 1+writers*saves {
			t.Fatalf("final head: %+v, %v; want %d", d.Design, err, 1+writers*saves)
		}
	})
}

// TestDesignQueryAcrossReplicas: two servers on one PostgreSQL database; each one's design query
// follows the other's saves and deletions at once (cached heads are verified).
func TestDesignQueryAcrossReplicas(t *testing.T) {
	for _, b := range backends(t) {
		if b.name != "postgres" {
			continue // one server per SQLite file
		}
		t.Run(b.name, func(t *testing.T) {
			db := b.database(t)
			a := startAt(t, t.TempDir(), db)
			c := startAt(t, t.TempDir(), db)
			const name = "shared"
			a.save(t, a.admin, name, 10, 0)
			for n := 2; n <= 4; n++ {
				if d, err := c.readHead(a.admin, name); err != nil || d.Design == nil || d.Design.Head.Number != n-1 {
					t.Fatalf("replica c before save %d: %+v, %v", n, d.Design, err)
				}
				a.save(t, a.admin, name, n*10, n-1)
				if d, err := c.readHead(a.admin, name); err != nil || d.Design == nil || d.Design.Head.Number != n {
					t.Fatalf("replica c after a saved revision %d: %+v, %v", n, d.Design, err)
				}
			}
			c.must(t, a.admin, `mutation { deleteDesign(name: "shared") { deleted } }`, nil, nil)
			if d, err := a.readHead(a.admin, name); err != nil || d.Design != nil {
				t.Fatalf("replica a after c deleted: %+v, %v; want null", d.Design, err)
			}
		})
	}
}
