package models

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// Notification channels. On PostgreSQL every channel is scoped to the store's schema
// (current_schema()), so that several Trellis installations, or tests, can share one database.
const (
	// ChannelDesigns carries design change events between replicas.
	ChannelDesigns = "trellis_designs"
	// ChannelOperations carries snapshots of long-running operations between replicas.
	ChannelOperations = "trellis_operations"
	// channelTokens carries the names of revoked tokens: every listening replica drops its
	// authentication cache at once.
	channelTokens = "trellis_tokens"
)

// MaxPayload is the longest notification payload Notify sends: PostgreSQL's limit (8000 bytes)
// minus a margin.
const MaxPayload = 7900

// Notifies reports whether the database carries notifications between processes (PostgreSQL).
// On SQLite there is one process per database file and Notify and Listen do nothing.
func (s *Store) Notifies() bool { return s.dialect == DialectPostgres }

// Notify sends payload on channel to every process listening on this database (PostgreSQL
// NOTIFY, delivered at commit of the surrounding transaction, if any); it does nothing on SQLite.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	return s.notify(s.db.WithContext(ctx), channel, payload)
}

// notify sends a notification with tx (see Notify).
func (s *Store) notify(tx *gorm.DB, channel, payload string) error {
	if s.dialect != DialectPostgres {
		return nil
	}
	if len(payload) > MaxPayload {
		return fmt.Errorf("notifying %s: payload of %d bytes exceeds the %d-byte limit", channel, len(payload), MaxPayload)
	}
	if err := tx.Exec("SELECT pg_notify(? || '@' || current_schema(), ?)", channel, payload).Error; err != nil {
		return fmt.Errorf("notifying %s: %w", channel, err)
	}
	return nil
}

// ListenOptions configures Listen.
type ListenOptions struct {
	// Handlers maps channel names (such as ChannelDesigns) to the function receiving each
	// notification's payload. Handlers run one at a time, on the listening goroutine.
	Handlers map[string]func(payload string)
	// Lost, when set, is called after the listening connection was re-established: notifications
	// sent meanwhile were missed.
	Lost func()
	// Logger receives connection failures. Default slog.Default().
	Logger *slog.Logger
}

// Listen receives notifications (PostgreSQL LISTEN) on a dedicated connection of the pool until
// ctx ends, reconnecting with backoff after failures. It returns once the first LISTEN is in
// place (notifications sent after that are received), or with the error of the first attempt.
// Revoked tokens are always listened to: this store's authentication cache is dropped when any
// process deletes a token. On SQLite Listen does nothing.
func (s *Store) Listen(ctx context.Context, o ListenOptions) error {
	if s.dialect != DialectPostgres {
		return nil
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	handlers := map[string]func(string){channelTokens: func(string) { s.authCache.Clear() }}
	for ch, h := range o.Handlers {
		handlers[ch] = h
	}
	ready := make(chan error, 1)
	go func() {
		backoff := 100 * time.Millisecond
		listened := false
		for {
			err := s.listenOnce(ctx, handlers, func() {
				if !listened {
					listened = true
					ready <- nil
				} else if o.Lost != nil {
					// Reconnected: notifications sent while disconnected are gone.
					o.Lost()
				}
				backoff = 100 * time.Millisecond
			})
			if !listened {
				ready <- fmt.Errorf("listening for notifications: %w", err)
				return
			}
			if ctx.Err() != nil {
				return
			}
			o.Logger.Warn("listening for database notifications failed; reconnecting",
				slog.String("error", err.Error()), slog.Duration("backoff", backoff))
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
		}
	}()
	return <-ready
}

// listenOnce takes a connection from the pool, LISTENs on every channel, calls listening and
// dispatches notifications until ctx ends or the connection fails. The connection is discarded
// afterwards (its LISTEN state must not leak into the pool).
func (s *Store) listenOnce(ctx context.Context, handlers map[string]func(string), listening func()) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var loopErr error
	_ = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			loopErr = fmt.Errorf("unexpected PostgreSQL driver connection %T", dc)
			return driver.ErrBadConn
		}
		loopErr = dispatch(ctx, sc.Conn(), handlers, listening)
		return driver.ErrBadConn // never reuse a listening connection
	})
	return loopErr
}

// dispatch LISTENs on pc and hands notifications to handlers until ctx ends or pc fails.
func dispatch(ctx context.Context, pc *pgx.Conn, handlers map[string]func(string), listening func()) error {
	var schema string
	if err := pc.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("reading the current schema: %w", err)
	}
	byChannel := make(map[string]func(string), len(handlers))
	for ch, h := range handlers {
		full := ch + "@" + schema
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{full}.Sanitize()); err != nil {
			return fmt.Errorf("LISTEN %s: %w", full, err)
		}
		byChannel[full] = h
	}
	listening()
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("waiting for notifications: %w", err)
		}
		if h := byChannel[n.Channel]; h != nil {
			h(n.Payload)
		}
	}
}
