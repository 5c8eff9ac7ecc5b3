package live

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestRememberRemoteOperations(t *testing.T) {
	o := NewOperations()
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := o.Events.Subscribe(ctx, 16)
	var mu sync.Mutex
	var relayed []Operation
	o.Events.SetRelay(func(op Operation) { mu.Lock(); relayed = append(relayed, op); mu.Unlock() })

	now := time.Now().UTC()
	o.Remember(Operation{ID: "r1", Kind: "deploy", Status: Running, Progress: 0.5, StartedAt: now})
	if op, ok := o.Get("r1"); !ok || op.Progress != 0.5 {
		t.Fatalf("remote operation not listed: %+v %v", op, ok)
	}
	done := now.Add(time.Second)
	o.Remember(Operation{ID: "r1", Kind: "deploy", Status: Succeeded, Progress: 1, StartedAt: now, FinishedAt: &done})
	// A late progress snapshot does not turn it back to running.
	o.Remember(Operation{ID: "r1", Kind: "deploy", Status: Running, Progress: 0.9, StartedAt: now})
	if op, _ := o.Get("r1"); op.Status != Succeeded {
		t.Fatalf("status %s after a late snapshot", op.Status)
	}
	// A snapshot of a local operation is ignored.
	local := o.Start("translate-all", "design/x", "ed", func(context.Context, Reporter) (map[string]any, error) { return nil, nil })
	o.Remember(Operation{ID: local.ID, Kind: "forged", Status: Failed})
	if op, _ := o.Get(local.ID); op.Kind != "translate-all" {
		t.Fatalf("a remote snapshot replaced a local operation: %+v", op)
	}
	if len(o.List()) != 2 {
		t.Fatalf("List() = %+v", o.List())
	}
	// Remote snapshots reach subscribers but are never relayed again.
	seen := 0
	for len(events) > 0 {
		if op := <-events; op.ID == "r1" {
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("subscribers saw %d snapshots of r1, want 2", seen)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, op := range relayed {
		if op.ID == "r1" {
			t.Fatalf("a remote snapshot was relayed: %+v", op)
		}
	}
	// Remote operations not heard of for the retention period are pruned.
	o.mu.Lock()
	o.remote["r1"] = time.Now().Add(-2 * o.Retention)
	o.mu.Unlock()
	if _, ok := func() (Operation, bool) { o.List(); return o.Get("r1") }(); ok {
		t.Fatal("a stale remote operation was kept")
	}
}
