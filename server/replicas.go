package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/server/live"
)

// designNotice is the payload of a design-change notification between replicas.
type designNotice struct {
	// Origin identifies the replica that published the change (it ignores its own notices).
	Origin string `json:"origin"`
	// Change is the event as the origin's subscribers saw it.
	Change model.DesignChange `json:"change"`
}

// startReplication makes several replicas on one PostgreSQL database behave as one: every
// design change published here is sent with NOTIFY right after its transaction committed, and
// every replica LISTENs and delivers the other replicas' changes to its own designChanged
// subscribers and broker observers (caches) exactly like local ones. Token deletions by any
// process drop every replica's authentication cache (see models.Store.Listen). On SQLite
// (one process per database) it does nothing. The returned function stops listening.
func (s *Server) startReplication(ctx context.Context) (stop func(), err error) {
	if !s.store.Notifies() {
		return func() {}, nil
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	origin := hex.EncodeToString(b)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	err = s.store.Listen(lctx, models.ListenOptions{
		Handlers: map[string]func(string){models.ChannelDesigns: func(payload string) {
			var n designNotice
			if err := json.Unmarshal([]byte(payload), &n); err != nil {
				s.log.Warn("ignoring a malformed design notification", slog.String("error", err.Error()))
				return
			}
			if n.Origin != origin {
				s.designs.Deliver(n.Change)
			}
		}},
		Lost: func() {
			s.log.Warn("design notifications from other replicas may have been missed while reconnecting")
			s.designs.LostRemote()
		},
		Logger: s.log.With(slog.String("component", "replication")),
	})
	if err != nil {
		cancel()
		return nil, err
	}
	s.designs.SetRelay(func(c model.DesignChange) {
		payload, err := json.Marshal(designNotice{Origin: origin, Change: c})
		if err != nil {
			s.log.Error("encoding a design notification", slog.String("error", err.Error()))
			return
		}
		nctx, ncancel := context.WithTimeout(lctx, 5*time.Second)
		defer ncancel()
		if err := s.store.Notify(nctx, models.ChannelDesigns, string(payload)); err != nil {
			s.log.Warn("other replicas will not see a design change", slog.String("design", c.Name), slog.String("error", err.Error()))
		}
	})
	return func() {
		s.designs.SetRelay(nil)
		cancel()
	}, nil
}

// DesignChanges returns the broker of design changes: what designChanged subscribers receive,
// local and (on PostgreSQL) other replicas' changes alike. Components that cache design data
// register an observer (live.Broker.AddObserver) to invalidate on every change and on Lost.
func (s *Server) DesignChanges() *live.Broker[model.DesignChange] { return s.designs }
