package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Status is the state of an operation.
type Status string

// The operation states.
const (
	// Running means the operation has not finished.
	Running Status = "RUNNING"
	// Succeeded means it finished without error.
	Succeeded Status = "SUCCEEDED"
	// Failed means it finished with an error.
	Failed Status = "FAILED"
)

// Operation is a snapshot of a long-running operation.
type Operation struct {
	// ID identifies the operation.
	ID string
	// Kind says what it does ("translate-all", "deploy", "mesh-install", "perf-run").
	Kind string
	// Target is what it works on ("design/bookinfo").
	Target string
	// Actor started it.
	Actor string
	// Status is running, succeeded or failed.
	Status Status
	// Progress goes from 0 to 1.
	Progress float64
	// Message describes the current step.
	Message string
	// Error is set when the operation failed.
	Error string
	// Result is operation-specific.
	Result map[string]any
	// StartedAt is when it started.
	StartedAt time.Time
	// FinishedAt is when it ended (nil while running).
	FinishedAt *time.Time
}

// Reporter lets a running operation report progress.
type Reporter interface {
	// Report sets the progress (0–1, clamped) and the current step's description.
	Report(progress float64, message string)
}

// Operations runs long operations in the background, keeps their state for Retention after they
// finish, and publishes every change on Events.
type Operations struct {
	// Events receives a snapshot after every change of any operation.
	Events Broker[Operation]
	// Retention is how long finished operations stay listed. Default one hour.
	Retention time.Duration

	mu     sync.Mutex
	ops    map[string]*Operation
	remote map[string]time.Time // ids of other replicas' operations -> last snapshot received
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewOperations returns an empty registry; Close cancels the operations still running.
func NewOperations() *Operations {
	ctx, cancel := context.WithCancel(context.Background())
	return &Operations{ops: map[string]*Operation{}, remote: map[string]time.Time{}, ctx: ctx, cancel: cancel, Retention: time.Hour}
}

// Start runs fn in the background as a new operation and returns its first snapshot. fn's
// context ends when the registry closes.
func (o *Operations) Start(kind, target, actor string, fn func(ctx context.Context, r Reporter) (map[string]any, error)) Operation {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	op := &Operation{ID: hex.EncodeToString(b), Kind: kind, Target: target, Actor: actor, Status: Running,
		Message: "started", StartedAt: time.Now().UTC()}
	o.mu.Lock()
	o.prune()
	o.ops[op.ID] = op
	snap := *op
	o.mu.Unlock()
	o.Events.Publish(snap)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		var result map[string]any
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("operation %s panicked: %v", kind, p)
				}
			}()
			result, err = fn(o.ctx, reporter{o, op.ID})
		}()
		now := time.Now().UTC()
		o.update(op.ID, func(op *Operation) {
			op.FinishedAt = &now
			op.Result = result
			if err != nil {
				op.Status, op.Error, op.Message = Failed, err.Error(), "failed"
				return
			}
			op.Status, op.Progress, op.Message = Succeeded, 1, "done"
		})
	}()
	return snap
}

type reporter struct {
	o  *Operations
	id string
}

func (r reporter) Report(progress float64, message string) {
	progress = min(max(progress, 0), 1)
	r.o.update(r.id, func(op *Operation) { op.Progress, op.Message = progress, message })
}

func (o *Operations) update(id string, f func(*Operation)) {
	o.mu.Lock()
	op, ok := o.ops[id]
	if !ok {
		o.mu.Unlock()
		return
	}
	f(op)
	snap := *op
	o.mu.Unlock()
	o.Events.Publish(snap)
}

// prune drops operations finished longer than Retention ago, and other replicas' operations
// not heard of for Retention (their replica may have stopped); o.mu is held.
func (o *Operations) prune() {
	cut := time.Now().Add(-o.Retention)
	for id, op := range o.ops {
		seen, remote := o.remote[id]
		if (op.FinishedAt != nil && op.FinishedAt.Before(cut)) || (remote && seen.Before(cut)) {
			delete(o.ops, id)
			delete(o.remote, id)
		}
	}
}

// Remember records a snapshot of an operation running on another replica (received through the
// database's notifications): Get and List report it, and Events delivers it to subscribers and
// observers as a remote value. A snapshot of an operation of this replica is ignored.
func (o *Operations) Remember(op Operation) {
	o.mu.Lock()
	if cur, ok := o.ops[op.ID]; ok {
		if _, remote := o.remote[op.ID]; !remote {
			o.mu.Unlock()
			return
		}
		if cur.FinishedAt != nil && op.FinishedAt == nil {
			// A late progress snapshot must not turn a finished operation back to running.
			o.mu.Unlock()
			return
		}
	} else {
		o.prune()
	}
	snap := op
	o.ops[op.ID] = &snap
	o.remote[op.ID] = time.Now()
	o.mu.Unlock()
	o.Events.Deliver(op)
}

// Get returns a snapshot of the operation with id.
func (o *Operations) Get(id string) (Operation, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	op, ok := o.ops[id]
	if !ok {
		return Operation{}, false
	}
	return *op, true
}

// List returns snapshots of every kept operation, newest first.
func (o *Operations) List() []Operation {
	o.mu.Lock()
	o.prune()
	out := make([]Operation, 0, len(o.ops))
	for _, op := range o.ops {
		out = append(out, *op)
	}
	o.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Close cancels running operations and waits for them to finish.
func (o *Operations) Close() {
	o.cancel()
	o.wg.Wait()
}
