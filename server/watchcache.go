package server

// The catch-up cache: watchers that have fallen behind the ring share their
// reads of the change log.
//
// Under load many watchers fall behind together, by about as much, because
// they share the CPU and the network. Reading the log each for itself, a
// thousand of them would read, decode and encode every event a thousand
// times. Instead the log is cut into fixed spans of catchUpChunk revisions,
// [k*catchUpChunk+1, (k+1)*catchUpChunk], and the entries of a span, read
// once, are kept in a small cache shared by every watcher. The entries are
// the same kind of immutable *entry values the ring holds, and a span's
// entries form a group (watch.go), so an event and a batch of events are
// encoded for the wire once per span read, however many watchers send it.
//
// Invariants:
//   - A span is cached only when it is complete: its last revision is at
//     most the hub's tail or the store's revision (each a revision every
//     write up to which has committed), and one Changes read of
//     catchUpChunk events from its first revision returns every event in
//     it (a span holds at most catchUpChunk revisions, so at most that many
//     events). A watcher that takes a span may therefore move its next
//     revision past the span's end with no gap, even where revisions have
//     no event.
//   - Only one watcher reads a given span at a time; the others wait for
//     it (bounded by their contexts). A failed read is not cached, and its
//     waiters read the log themselves. When the log has been compacted
//     past a span's first revision, each watcher reads from its own next
//     revision, so whether a watcher gets OUT_OF_RANGE depends on its own
//     position only.
//   - The cache holds at most cacheMaxBytes, counted like the ring, and
//     evicts the least recently used span first.
//
// Caveat: a span read before the log was compacted past it may still be
// served from the cache afterwards. That loses nothing (its events are
// complete and in order); a watcher just gets OUT_OF_RANGE a little later,
// at the first span it has to read from the log.

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/seed9c1868aa/articles"
)

// cacheMaxBytes bounds the memory of the catch-up cache.
const cacheMaxBytes = 64 << 20

// span is a complete run of log events, catchUpChunk revisions wide.
type span struct {
	first, last int64
	// ready is closed once entries and err are set.
	ready   chan struct{}
	entries []*entry
	// after is the revision of the first event after the span, when the
	// read returned one (else 0): no event lies between the span's end
	// and it. Where revisions are sparse (the etcd backend's), a watcher
	// moves there at once rather than through empty spans.
	after int64
	err   error
	size  int
	// elem is the span's place in the LRU list while it is cached.
	elem *list.Element
}

// spanCache is the shared catch-up cache. Its zero value is not usable;
// see newSpanCache.
type spanCache struct {
	mu    sync.Mutex
	spans map[int64]*span // by first revision
	lru   *list.List      // of *span, most recently used at the front
	bytes int
	max   int
	// built counts the shared batch messages made (group.built).
	built *atomic.Int64
}

func newSpanCache(maxBytes int, built *atomic.Int64) *spanCache {
	return &spanCache{spans: make(map[int64]*span), lru: list.New(), max: maxBytes, built: built}
}

// spanOf returns the bounds of the span holding revision rev >= 1.
func spanOf(rev int64) (first, last int64) {
	first = (rev-1)/catchUpChunk*catchUpChunk + 1
	return first, first + catchUpChunk - 1
}

// get returns the span holding revision next, reading it from st unless it
// is cached or being read. It returns nil, nil when the span is not
// complete yet (its last revision is past tail and the store's revision);
// the caller then reads the log itself.
func (c *spanCache) get(ctx context.Context, st Store, next, tail int64) (*span, error) {
	first, last := spanOf(next)
	if last > tail {
		// The hub's tail may lag the store; ask the store itself.
		if rev, err := st.Revision(ctx); err != nil || last > rev {
			return nil, nil
		}
	}
	c.mu.Lock()
	sp, ok := c.spans[first]
	if ok {
		if sp.elem != nil {
			c.lru.MoveToFront(sp.elem)
		}
		c.mu.Unlock()
		select {
		case <-sp.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if sp.err != nil {
			// Another watcher's read failed (its stream may have ended
			// while it read): read the log from next for this one.
			return nil, nil
		}
		return sp, nil
	}
	sp = &span{first: first, last: last, ready: make(chan struct{})}
	c.spans[first] = sp
	c.mu.Unlock()
	c.fill(ctx, st, sp)
	return spanResult(sp)
}

// spanResult is what get returns for a span it has read itself. The log
// may have been compacted past the span's first revision but not past the
// watcher's next one: then the span cannot be complete, and the watcher
// reads the log from next itself, which fails only if next is gone too.
func spanResult(sp *span) (*span, error) {
	var ce *articles.CompactedError
	switch {
	case sp.err == nil:
		return sp, nil
	case errors.As(sp.err, &ce):
		return nil, nil
	}
	return nil, sp.err
}

// fill reads sp from the log, publishes it and caches it, or forgets it if
// the read failed.
func (c *spanCache) fill(ctx context.Context, st Store, sp *span) {
	evs, err := st.Changes(ctx, sp.first, catchUpChunk)
	if err == nil {
		sp.entries = make([]*entry, 0, len(evs))
		for _, ev := range evs {
			if ev.GetRevision() > sp.last {
				sp.after = ev.GetRevision()
				break
			}
			e := eventEntry(ev)
			sp.entries = append(sp.entries, e)
			sp.size += e.size
		}
		newGroup(sp.entries, c.built)
	}
	sp.err = err
	c.mu.Lock()
	if err != nil {
		delete(c.spans, sp.first)
	} else {
		sp.elem = c.lru.PushFront(sp)
		c.bytes += sp.size
		for c.bytes > c.max && c.lru.Len() > 1 {
			old := c.lru.Remove(c.lru.Back()).(*span)
			old.elem = nil
			delete(c.spans, old.first)
			c.bytes -= old.size
		}
	}
	c.mu.Unlock()
	close(sp.ready)
}
