package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/server/live"
)

// postgresBackend returns the PostgreSQL backend or skips the test.
func postgresBackend(t *testing.T) backend {
	t.Helper()
	for _, b := range backends(t) {
		if b.name == "postgres" {
			return b
		}
	}
	t.Skip("needs PostgreSQL: set TRELLIS_TEST_POSTGRES_DSN (DSN=$(hack/postgres.sh start))")
	return backend{}
}

// designEvent reads the next designChanged event of subscription id as "KIND name revision actor".
func designEvent(t *testing.T, c *wsClient, id string) string {
	t.Helper()
	m := c.mustNext("next")
	if m.ID != id {
		t.Fatalf("event of subscription %q, want %q: %s", m.ID, id, m.Payload)
	}
	var p struct {
		Data struct {
			DesignChanged struct {
				Kind, Name, Actor string
				Revision          int
			}
		}
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	dc := p.Data.DesignChanged
	return strings.Join([]string{dc.Kind, dc.Name, itoa(dc.Revision), dc.Actor}, " ")
}

// recorder is a broker observer that keeps what it saw.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) Observe(c model.DesignChange, remote bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	where := "local"
	if remote {
		where = "remote"
	}
	r.seen = append(r.seen, string(c.Kind)+" "+c.Name+" "+where)
}

func (r *recorder) Lost() {}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

var _ live.Observer[model.DesignChange] = (*recorder)(nil)

func TestReplicasShareDesignChanges(t *testing.T) {
	b := postgresBackend(t)
	database := b.database(t)
	a := startAt(t, t.TempDir(), database)
	r2 := startAt(t, t.TempDir(), database) // the second replica: same database, another process state
	if a.admin == "" || r2.admin != "" {
		t.Fatalf("only the first replica creates the admin token (a %q, b %q)", a.admin, r2.admin)
	}
	alice := a.token(t, "alice", models.RoleEditor)
	bob := a.token(t, "bob", models.RoleEditor)
	obs := &recorder{}
	defer a.srv.DesignChanges().AddObserver(obs)()

	ca := dialWS(t, a, nil)
	ca.init(alice)
	ca.subscribe("a", `subscription { designChanged { kind name revision actor } }`)
	waitSubscribers(t, a, 1)
	cb := dialWS(t, r2, nil)
	cb.init(bob)
	cb.subscribe("b", `subscription { designChanged(name: "shop") { kind name revision actor } }`)
	waitSubscribers(t, r2, 1)

	// A save on replica A reaches A's subscriber once (its own notification is not delivered
	// again) and B's subscriber through PostgreSQL.
	a.save(t, alice, "shop", 10, 0)
	if got := designEvent(t, ca, "a"); got != "SAVED shop 1 alice" {
		t.Fatalf("A saw %q", got)
	}
	if got := designEvent(t, cb, "b"); got != "SAVED shop 1 alice" {
		t.Fatalf("B saw %q", got)
	}
	// Saves and deletions on replica B reach A's subscriber, in order.
	r2.save(t, bob, "shop", 20, 1)
	r2.save(t, bob, "other", 30, 0)
	r2.must(t, bob, `mutation { deleteDesign(name: "other") { deleted } }`, nil, nil)
	for _, want := range []string{"SAVED shop 2 bob", "SAVED other 1 bob", "DELETED other 0 bob"} {
		if got := designEvent(t, ca, "a"); got != want {
			t.Fatalf("A saw %q, want %q", got, want)
		}
	}
	if got := designEvent(t, cb, "b"); got != "SAVED shop 2 bob" {
		t.Fatalf("B saw %q", got)
	}
	// Observers (caches) see remote changes like local ones, marked remote.
	want := "SAVED shop local|SAVED shop remote|SAVED other remote|DELETED other remote"
	if got := strings.Join(obs.get(), "|"); got != want {
		t.Fatalf("A's observer saw %q, want %q", got, want)
	}
	// Replica A reads what B saved.
	var d struct{ Design struct{ HeadRevision int } }
	a.must(t, alice, `{ design(name: "shop") { headRevision } }`, nil, &d)
	if d.Design.HeadRevision != 2 {
		t.Fatalf("A reads head %d", d.Design.HeadRevision)
	}
}

func TestTokenDeletedByAnotherProcessStopsAtOnce(t *testing.T) {
	b := postgresBackend(t)
	database := b.database(t)
	a := startAt(t, t.TempDir(), database)
	tok := a.token(t, "ci", models.RoleViewer)
	a.must(t, tok, `{ me { name } }`, nil, nil) // now in A's authentication cache
	cached := time.Now()

	// The CLI (`trellis token delete`) opens the store directly: another process.
	cli, err := models.Open(context.Background(), models.Config{Database: database})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.DeleteToken(context.Background(), "ci", "cli:test"); err != nil {
		t.Fatal(err)
	}
	// Without the notification the cached token would work for 5 s; it must stop well before.
	for {
		r := a.do(t, tok, `{ me { name } }`, nil)
		if r.status == http.StatusUnauthorized {
			break
		}
		if time.Since(cached) > 4*time.Second {
			t.Fatalf("the deleted token still works on the server: %s", r.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReplicasShareOperationProgress(t *testing.T) {
	b := postgresBackend(t)
	database := b.database(t)
	a := startAt(t, t.TempDir(), database)
	r2 := startAt(t, t.TempDir(), database)
	ed := a.token(t, "ed", models.RoleEditor)
	a.save(t, ed, "shop", 50, 0)

	c := dialWS(t, a, nil)
	c.init(ed)
	c.subscribe("ops", `subscription { operationProgress { operation { id kind status progress actor } } }`)
	deadline := time.Now().Add(5 * time.Second)
	for a.srv.Operations().Events.Subscribers() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// The operation runs on replica B; A's subscriber follows it to the end.
	var st struct{ StartTranslateAll struct{ ID string } }
	r2.must(t, ed, `mutation { startTranslateAll(input: {design: "shop", meshes: ["native", "istio"]}) { id } }`, nil, &st)
	var statuses []string
	for {
		m := c.mustNext("next")
		var p struct {
			Data struct {
				OperationProgress struct {
					Operation struct{ ID, Kind, Status, Actor string }
				}
			}
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		op := p.Data.OperationProgress.Operation
		if op.ID != st.StartTranslateAll.ID || op.Kind != "translate-all" || op.Actor != "ed" {
			t.Fatalf("event of another operation: %+v", op)
		}
		statuses = append(statuses, op.Status)
		if op.Status != "RUNNING" {
			break
		}
	}
	if statuses[0] != "RUNNING" || statuses[len(statuses)-1] != "SUCCEEDED" || len(statuses) < 3 {
		t.Fatalf("A saw %v", statuses)
	}
	// A's operation query answers for B's operation too.
	var got struct {
		Operation *struct {
			Status string
			Result map[string]any
		}
	}
	a.must(t, ed, `query($id: ID!) { operation(id: $id) { status result } }`, map[string]any{"id": st.StartTranslateAll.ID}, &got)
	if got.Operation == nil || got.Operation.Status != "SUCCEEDED" || got.Operation.Result["istio"] == nil {
		t.Fatalf("A's operation(id): %+v", got.Operation)
	}
}
