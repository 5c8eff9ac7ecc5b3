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

// operationNotice is the payload of an operation-progress notification between replicas.
type operationNotice struct {
	// Origin identifies the replica running the operation.
	Origin string `json:"origin"`
	// Operation is the snapshot the origin's subscribers saw (Result may be cut, see
	// fitOperation).
	Operation live.Operation `json:"operation"`
}

// operationQueue bounds the operation snapshots waiting to be sent to other replicas; when the
// database is slower than an operation's progress reports, older snapshots are dropped.
const operationQueue = 256

// startReplication makes several replicas on one PostgreSQL database behave as one:
//
//   - every design change published here is sent with NOTIFY right after its transaction
//     committed (synchronously: when the mutation answers, the notification is sent), and
//     every replica LISTENs and delivers the other replicas' changes to its own designChanged
//     subscribers and broker observers (caches) exactly like local ones;
//   - snapshots of long-running operations are sent the same way (in order, from a queue, so
//     that operations never wait for the database): operationProgress subscriptions and the
//     operation/operations queries of every replica see them;
//   - token deletions by any process drop every replica's authentication cache (see
//     models.Store.Listen).
//
// On SQLite (one process per database) it does nothing. The returned function stops it.
func (s *Server) startReplication(ctx context.Context) (stop func(), err error) {
	if !s.store.Notifies() {
		return func() {}, nil
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	origin := hex.EncodeToString(b)
	log := s.log.With(slog.String("component", "replication"))
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	err = s.store.Listen(lctx, models.ListenOptions{
		Handlers: map[string]func(string){
			models.ChannelDesigns: func(payload string) {
				var n designNotice
				if err := json.Unmarshal([]byte(payload), &n); err != nil {
					log.Warn("ignoring a malformed design notification", slog.String("error", err.Error()))
					return
				}
				if n.Origin != origin {
					s.designs.Deliver(n.Change)
				}
			},
			models.ChannelOperations: func(payload string) {
				var n operationNotice
				if err := json.Unmarshal([]byte(payload), &n); err != nil {
					log.Warn("ignoring a malformed operation notification", slog.String("error", err.Error()))
					return
				}
				if n.Origin != origin {
					s.ops.Remember(n.Operation)
				}
			},
		},
		Lost: func() {
			log.Warn("notifications from other replicas may have been missed while reconnecting")
			s.designs.LostRemote()
			s.ops.Events.LostRemote()
		},
		Logger: log,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	notify := func(channel, what string, v any) {
		payload, err := json.Marshal(v)
		if err != nil {
			log.Error("encoding a notification", slog.String("channel", channel), slog.String("error", err.Error()))
			return
		}
		nctx, ncancel := context.WithTimeout(lctx, 5*time.Second)
		defer ncancel()
		if err := s.store.Notify(nctx, channel, string(payload)); err != nil && lctx.Err() == nil {
			log.Warn("other replicas will not see "+what, slog.String("error", err.Error()))
		}
	}
	s.designs.SetRelay(func(c model.DesignChange) {
		notify(models.ChannelDesigns, "a design change of "+c.Name, designNotice{Origin: origin, Change: c})
	})
	queue := make(chan live.Operation, operationQueue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-lctx.Done():
				return
			case op := <-queue:
				notify(models.ChannelOperations, "progress of operation "+op.ID, operationNotice{Origin: origin, Operation: fitOperation(op)})
			}
		}
	}()
	s.ops.Events.SetRelay(func(op live.Operation) {
		select {
		case queue <- op:
		default:
			log.Warn("other replicas miss a progress report: the notification queue is full", slog.String("operation", op.ID))
		}
	})
	return func() {
		s.designs.SetRelay(nil)
		s.ops.Events.SetRelay(nil)
		cancel()
		<-done
	}, nil
}

// fitOperation returns op cut to fit in one notification: long messages are shortened and a
// large result is replaced by a note (the origin replica still serves it in full).
func fitOperation(op live.Operation) live.Operation {
	size := func(o live.Operation) int {
		b, _ := json.Marshal(operationNotice{Origin: "0123456789abcdef", Operation: o})
		return len(b)
	}
	if size(op) <= models.MaxPayload {
		return op
	}
	op.Result = map[string]any{"truncated": "the result is too large to relay; query the replica that ran the operation"}
	for _, f := range []*string{&op.Message, &op.Error, &op.Target} {
		if len(*f) > 1000 {
			*f = (*f)[:1000] + "…"
		}
	}
	return op
}

// DesignChanges returns the broker of design changes: what designChanged subscribers receive,
// local and (on PostgreSQL) other replicas' changes alike. Components that cache design data
// register an observer (live.Broker.AddObserver) to invalidate on every change and on Lost.
func (s *Server) DesignChanges() *live.Broker[model.DesignChange] { return s.designs }
