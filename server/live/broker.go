// Package live delivers in-process updates to subscribers: a generic broker for events (design
// changes) and a registry of long-running operations that report progress.
package live

import (
	"context"
	"sync"
	"sync/atomic"
)

// Broker fans published values out to subscribers. A subscriber that does not keep up loses
// values (never blocks publishers); Dropped counts them.
type Broker[T any] struct {
	mu      sync.Mutex
	next    int
	subs    map[int]chan T
	dropped atomic.Int64
}

// Subscribe returns a channel receiving every value published until ctx ends; then the channel
// is closed. buf is the channel's buffer (minimum 1).
func (b *Broker[T]) Subscribe(ctx context.Context, buf int) <-chan T {
	if buf < 1 {
		buf = 1
	}
	ch := make(chan T, buf)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[int]chan T{}
	}
	id := b.next
	b.next++
	b.subs[id] = ch
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, id)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

// Publish delivers v to every subscriber without blocking.
func (b *Broker[T]) Publish(v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- v:
		default:
			b.dropped.Add(1)
		}
	}
}

// Subscribers returns the number of current subscribers.
func (b *Broker[T]) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped returns how many values slow subscribers lost.
func (b *Broker[T]) Dropped() int64 { return b.dropped.Load() }
