package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/models"
)

// pgSchema returns a DSN whose search_path is a fresh schema (dropped at the end), or skips.
func pgSchema(t *testing.T) string {
	t.Helper()
	dsn := freshSchema(t)
	if dsn == "" {
		t.Skip("needs PostgreSQL: set TRELLIS_TEST_POSTGRES_DSN")
	}
	return dsn
}

func openNotifyStore(t *testing.T, database string) *models.Store {
	t.Helper()
	s, err := models.Open(context.Background(), models.Config{Database: database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// receive waits (bounded) for the next payload on ch.
func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10 s")
		return ""
	}
}

func TestNotifyReachesOtherStoresOfTheSchemaOnly(t *testing.T) {
	database := pgSchema(t)
	other := pgSchema(t) // another installation in the same database
	a, b, c := openNotifyStore(t, database), openNotifyStore(t, database), openNotifyStore(t, other)
	if !a.Notifies() {
		t.Fatal("PostgreSQL store does not notify")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 8)
	lost := make(chan struct{}, 8)
	if err := a.Listen(ctx, models.ListenOptions{
		Handlers: map[string]func(string){models.ChannelDesigns: func(p string) { got <- p }},
		Lost:     func() { lost <- struct{}{} },
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(ctx, models.ChannelDesigns, "from another schema"); err != nil {
		t.Fatal(err)
	}
	if err := b.Notify(ctx, models.ChannelDesigns, "hello"); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got); p != "hello" {
		t.Fatalf("received %q, want hello (another schema's notification leaked)", p)
	}
	// Inside a transaction, the notification is sent at commit only.
	tx := b.DB().Begin()
	if err := tx.Exec("SELECT pg_notify(? || '@' || current_schema(), ?)", models.ChannelDesigns, "rolled back").Error; err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if err := b.Notify(ctx, models.ChannelDesigns, strings.Repeat("x", 8000)); err == nil {
		t.Fatal("an 8000-byte payload was accepted")
	}
	// Killing the listening connection: the store reconnects, reports the gap and listens again.
	if err := b.DB().Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid() AND datname = current_database()").Error; err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("no Lost after the listening connection was killed")
	}
	if err := b.Notify(ctx, models.ChannelDesigns, "after reconnect"); err != nil {
		t.Fatal(err)
	}
	if p := receive(t, got); p != "after reconnect" {
		t.Fatalf("received %q after reconnecting", p)
	}
}

func TestNotifyAndListenDoNothingOnSQLite(t *testing.T) {
	s, err := models.Open(context.Background(), models.Config{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Notifies() {
		t.Fatal("SQLite claims to notify")
	}
	ctx := context.Background()
	if err := s.Listen(ctx, models.ListenOptions{Handlers: map[string]func(string){models.ChannelDesigns: func(string) { t.Error("called") }}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(ctx, models.ChannelDesigns, "x"); err != nil {
		t.Fatal(err)
	}
	// Deleting a token works as before.
	if _, _, err := s.CreateToken(ctx, "ci", models.RoleViewer, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteToken(ctx, "ci", "test"); err != nil {
		t.Fatal(err)
	}
}
