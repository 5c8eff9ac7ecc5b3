package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/trellis-mesh/trellis/models"
)

// batchTick is how often a loader checks whether keys are still arriving; it fetches once a
// tick adds no key (or after maxTicks), so every item of a list lands in one batch even when
// the resolvers of a long list take a while to be scheduled.
const (
	batchTick = time.Millisecond
	maxTicks  = 10
)

// maxBatch bounds the keys fetched in one statement.
const maxBatch = 500

// loader batches and caches lookups by key for one request, so a list query resolves a field of
// every item with one statement instead of one per item.
type loader[K comparable, V any] struct {
	fetch func(ctx context.Context, keys []K) (map[K]V, error)
	ctx   context.Context

	mu     sync.Mutex
	cur    *batch[K, V]
	cache  map[K]*batch[K, V]
	primed map[K]V // values known without a fetch (see prime)
}

type batch[K comparable, V any] struct {
	keys []K
	once sync.Once
	done chan struct{}
	res  map[K]V
	err  error
}

func newLoader[K comparable, V any](ctx context.Context, fetch func(context.Context, []K) (map[K]V, error)) *loader[K, V] {
	return &loader[K, V]{fetch: fetch, ctx: ctx}
}

// load returns the value for key (ok false when missing), waiting for the batch holding it.
func (l *loader[K, V]) load(ctx context.Context, key K) (V, bool, error) {
	l.mu.Lock()
	if v, ok := l.primed[key]; ok {
		l.mu.Unlock()
		return v, true, nil
	}
	if l.cache == nil {
		l.cache = map[K]*batch[K, V]{}
	}
	b, cached := l.cache[key]
	if !cached && !inList(ctx) {
		// Nothing to batch with: a field of a single object is fetched at once.
		b = &batch[K, V]{keys: []K{key}, done: make(chan struct{})}
		l.cache[key] = b
		l.mu.Unlock()
		l.dispatch(b)
		l.mu.Lock()
		cached = true
	}
	if !cached {
		b = l.cur
		if b == nil {
			b = &batch[K, V]{done: make(chan struct{})}
			l.cur = b
			go l.collect(b)
		}
		b.keys = append(b.keys, key)
		l.cache[key] = b
		if len(b.keys) >= maxBatch {
			go l.dispatch(b)
		}
	}
	l.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	}
	v, ok := b.res[key]
	return v, ok, b.err
}

// prime stores a value already known for key (for example read together with its parent), so
// that load returns it without a fetch. A key already loaded or loading keeps its batch.
func (l *loader[K, V]) prime(key K, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.cache[key]; ok {
		return
	}
	if l.primed == nil {
		l.primed = make(map[K]V, 1)
	}
	l.primed[key] = v
}

// inList reports whether the field being resolved belongs to an element of a list (where its
// siblings will ask for more keys).
func inList(ctx context.Context) bool {
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Index != nil {
			return true
		}
	}
	return false
}

// collect waits until no more keys join batch b, then dispatches it.
func (l *loader[K, V]) collect(b *batch[K, V]) {
	last := -1
	for range maxTicks {
		time.Sleep(batchTick)
		l.mu.Lock()
		n := len(b.keys)
		l.mu.Unlock()
		if n == last {
			break
		}
		last = n
	}
	l.dispatch(b)
}

func (l *loader[K, V]) dispatch(b *batch[K, V]) {
	b.once.Do(func() {
		l.mu.Lock()
		if l.cur == b {
			l.cur = nil
		}
		keys := append([]K(nil), b.keys...)
		l.mu.Unlock()
		b.res, b.err = l.fetch(l.ctx, keys)
		close(b.done)
	})
}

// Loaders are the per-request dataloaders.
type Loaders struct {
	headByDesign *loader[int64, *models.DesignRevision]
	designByID   *loader[int64, *models.Design]
	revisionByID *loader[int64, *models.DesignRevision]
}

type loadersKey struct{}

// NewLoaders returns fresh loaders reading from store with ctx.
func NewLoaders(ctx context.Context, store *models.Store) *Loaders {
	return &Loaders{
		headByDesign: newLoader(ctx, store.HeadRevisions),
		designByID:   newLoader(ctx, store.DesignsByID),
		revisionByID: newLoader(ctx, store.RevisionsByID),
	}
}

// AttachLoaders is a gqlgen response middleware that gives every response (each query, mutation
// and subscription event) fresh loaders, so batches never mix requests and caches never go stale.
func AttachLoaders(store *models.Store) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(context.WithValue(ctx, loadersKey{}, NewLoaders(ctx, store)))
	}
}

// loadersFor returns the request's loaders, or fresh ones (websocket operations, tests).
func (r *Resolver) loadersFor(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return NewLoaders(ctx, r.Store)
}
