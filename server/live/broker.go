// Package live delivers updates to subscribers: a generic broker for events (design changes),
// optionally relayed between replicas (PostgreSQL LISTEN/NOTIFY), and a registry of long-running
// operations that report progress.
package live

import (
	"context"
	"sync"
	"sync/atomic"
)

// Broker fans published values out to subscribers and observers. A subscriber that does not keep
// up loses values (never blocks publishers); Dropped counts them. Observers are called
// synchronously for every value and never lose one.
//
// Values published in this process (Publish) are also handed to the relay set with SetRelay, so
// that other replicas can Deliver them to their own subscribers and observers: local and remote
// values reach subscribers and observers the same way.
type Broker[T any] struct {
	mu        sync.Mutex
	next      int
	subs      map[int]chan T
	observers map[int]Observer[T]
	relay     func(T)
	dropped   atomic.Int64
}

// Observer is told synchronously about every value a Broker delivers. Caches keyed on the values
// (for example per-process caches of design heads) observe the broker to stay correct when
// several replicas share one database.
type Observer[T any] interface {
	// Observe is called once per value, published locally (remote false) or received from another
	// replica (remote true), before subscribers get it. It must not block for long nor call the
	// broker (the broker's lock is held).
	Observe(v T, remote bool)
	// Lost is called when values from other replicas may have been missed (the connection that
	// receives them was re-established): anything derived from past values must be dropped.
	Lost()
}

// ObserverFuncs adapts two functions to an Observer; nil functions are skipped.
type ObserverFuncs[T any] struct {
	// OnValue is Observer.Observe.
	OnValue func(v T, remote bool)
	// OnLost is Observer.Lost.
	OnLost func()
}

// Observe calls OnValue.
func (f ObserverFuncs[T]) Observe(v T, remote bool) {
	if f.OnValue != nil {
		f.OnValue(v, remote)
	}
}

// Lost calls OnLost.
func (f ObserverFuncs[T]) Lost() {
	if f.OnLost != nil {
		f.OnLost()
	}
}

var _ Observer[int] = ObserverFuncs[int]{}

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

// AddObserver registers o until the returned function is called.
func (b *Broker[T]) AddObserver(o Observer[T]) (remove func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.observers == nil {
		b.observers = map[int]Observer[T]{}
	}
	id := b.next
	b.next++
	b.observers[id] = o
	return func() {
		b.mu.Lock()
		delete(b.observers, id)
		b.mu.Unlock()
	}
}

// SetRelay sets the function that carries locally published values to other replicas (nil: none).
// It is called after local delivery and must not block for long.
func (b *Broker[T]) SetRelay(relay func(T)) {
	b.mu.Lock()
	b.relay = relay
	b.mu.Unlock()
}

// Publish delivers v, published by this process, to every observer and subscriber without
// blocking on subscribers, then hands it to the relay.
func (b *Broker[T]) Publish(v T) {
	relay := b.deliver(v, false)
	if relay != nil {
		relay(v)
	}
}

// Deliver delivers v, received from another replica, to every observer and subscriber (never to
// the relay).
func (b *Broker[T]) Deliver(v T) { b.deliver(v, true) }

// LostRemote tells every observer that values from other replicas may have been missed.
func (b *Broker[T]) LostRemote() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.observers {
		o.Lost()
	}
}

// deliver fans v out and returns the relay.
func (b *Broker[T]) deliver(v T, remote bool) func(T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range b.observers {
		o.Observe(v, remote)
	}
	for _, ch := range b.subs {
		select {
		case ch <- v:
		default:
			b.dropped.Add(1)
		}
	}
	return b.relay
}

// Subscribers returns the number of current subscribers.
func (b *Broker[T]) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped returns how many values slow subscribers lost.
func (b *Broker[T]) Dropped() int64 { return b.dropped.Load() }
