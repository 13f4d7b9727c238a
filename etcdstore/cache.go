package etcdstore

// The read cache. Each server keeps in memory, up to a budget of encoded
// bytes (WithCacheBytes), the articles its watch has delivered and those
// it has read, and answers Get, GetBySlug and BatchGet from them instead
// of reading the articles from etcd. Reads stay linearizable:
//
//   - A read from the cache first learns the cluster's latest write with
//     a linearizable read of the revision marker (a fence), then waits
//     until this server's watch has delivered that revision. Every write
//     acknowledged before the read began is then in the view, and in the
//     cache if its article is.
//   - Concurrent reads share fences, as etcd's leader shares one read
//     index among concurrent reads: a read joins the next fence to start
//     after it arrived, never one already in flight, so one small etcd
//     read serves many.
//   - For every id it holds, the cache is the view's state: the follower
//     applies each watched put and delete, in revision order, before it
//     advances the view, and an article read from etcd goes in only if
//     its read is at least as new as every event the cache has applied,
//     so the events after it still arrive and apply.
//   - An id the cache does not hold is read from etcd, as without the
//     cache (one linearizable Get), and then cached.
//
// Caveats: a cached read still makes a round trip to etcd, a small one
// that concurrent reads share, and waits for this server's watch, which
// under a burst of writes trails the cluster by milliseconds. When the
// view restarts (its watch compacted away), the cache empties. The budget
// counts encoded bytes; the decoded articles take about as much again.

import (
	"container/list"
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// DefaultCacheBytes is the read cache's default budget.
const DefaultCacheBytes = 64 << 20

// WithCacheBytes sets the read cache's budget in encoded article bytes; 0
// turns the cache off, and every read goes to etcd.
func WithCacheBytes(n int) Option {
	return optionFunc(func(c *config) { c.cacheBytes = max(n, 0) })
}

// articleCache holds articles by id, least recently used evicted first.
// Its methods are safe for concurrent use; the articles in it are never
// modified, and get hands out copies.
type articleCache struct {
	budget int

	// mu protects every field below.
	mu   sync.Mutex
	size int
	// rev is the newest view revision whose events have been applied.
	rev int64
	ids map[string]*list.Element // of *cachedArticle
	lru list.List                // most recently used first
}

type cachedArticle struct {
	a    *articlesv1.Article
	size int
}

func newArticleCache(budget int) *articleCache {
	if budget <= 0 {
		return nil
	}
	return &articleCache{budget: budget, ids: make(map[string]*list.Element)}
}

// has reports whether the cache holds id, without marking it used.
func (c *articleCache) has(id string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ids[id]
	return ok
}

// get returns a copy of the article with id, if the cache holds it.
func (c *articleCache) get(id string) (*articlesv1.Article, bool) {
	c.mu.Lock()
	el, ok := c.ids[id]
	if !ok {
		c.mu.Unlock()
		return nil, false
	}
	c.lru.MoveToFront(el)
	a := el.Value.(*cachedArticle).a
	c.mu.Unlock()
	return proto.Clone(a).(*articlesv1.Article), true
}

// apply applies the events of the view's next revisions, in revision
// order, up to rev: an article written replaces an older copy (and is
// cached if new), one deleted leaves; ids names articles whose events
// could not be decoded, which leave too.
func (c *articleCache) apply(evs []*articlesv1.ArticleEvent, dropped []string, rev int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		a := ev.GetArticle()
		switch ev.GetType() {
		case articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_UPDATED:
			c.putLocked(a)
		case articlesv1.ArticleEvent_DELETED:
			c.removeLocked(a.GetId())
		}
	}
	for _, id := range dropped {
		c.removeLocked(id)
	}
	c.rev = max(c.rev, rev)
}

// fill caches a, read from etcd at view revision readRev, unless the
// cache has applied events newer than that read: one of them might be a
// later write of a that is not to be undone.
func (c *articleCache) fill(a *articlesv1.Article, readRev int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if readRev >= c.rev {
		c.putLocked(a)
	}
}

// reset empties the cache at view revision rev.
func (c *articleCache) reset(rev int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.ids)
	c.lru.Init()
	c.size, c.rev = 0, rev
}

// putLocked caches a unless it holds a newer copy, then evicts the least
// recently used articles over the budget. c.mu must be held.
func (c *articleCache) putLocked(a *articlesv1.Article) {
	id := a.GetId()
	if el, ok := c.ids[id]; ok {
		old := el.Value.(*cachedArticle)
		if old.a.GetRevision() > a.GetRevision() {
			return
		}
		c.size -= old.size
		old.a, old.size = a, proto.Size(a)
		c.size += old.size
		c.lru.MoveToFront(el)
	} else {
		ca := &cachedArticle{a: a, size: proto.Size(a)}
		c.ids[id] = c.lru.PushFront(ca)
		c.size += ca.size
	}
	for c.size > c.budget && c.lru.Len() > 0 {
		c.removeLocked(c.lru.Back().Value.(*cachedArticle).a.GetId())
	}
}

// removeLocked drops id. c.mu must be held.
func (c *articleCache) removeLocked(id string) {
	if el, ok := c.ids[id]; ok {
		c.size -= el.Value.(*cachedArticle).size
		c.lru.Remove(el)
		delete(c.ids, id)
	}
}

// fenceTimeout bounds one fence's read of etcd, which callers share and
// none of whose contexts it can take.
const fenceTimeout = 10 * time.Second

// fence shares linearizable reads of the store's revision among concurrent
// callers: each caller gets the result of a read that started after it
// called.
type fence struct {
	// read returns the store's revision and the etcd revision it was read
	// at.
	read func(context.Context) (rev, at int64, err error)

	// mu protects running and next.
	mu sync.Mutex
	// running is set while a read is in flight.
	running bool
	// next is the read the callers that came during the running one wait
	// for; nil if none came.
	next *fenceRead
}

type fenceRead struct {
	done    chan struct{}
	rev, at int64
	err     error
}

// revision returns the store's revision, read linearizably after the call
// began, and the etcd revision it was read at.
func (f *fence) revision(ctx context.Context) (rev, at int64, err error) {
	f.mu.Lock()
	if f.next == nil {
		f.next = &fenceRead{done: make(chan struct{})}
	}
	r := f.next
	if !f.running {
		// No read in flight: this caller makes its own, with its own
		// context, and leaves the reads of callers that come meanwhile to
		// a goroutine, so that no caller waits for reads of others.
		f.running, f.next = true, nil
		f.mu.Unlock()
		f.do(ctx, r)
		f.mu.Lock()
		if f.next != nil {
			go f.loop()
		} else {
			f.running = false
		}
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.rev, r.at, r.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// loop makes the reads callers wait for until none waits.
func (f *fence) loop() {
	for {
		f.mu.Lock()
		r := f.next
		if r == nil {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.next = nil
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), fenceTimeout)
		f.do(ctx, r)
		cancel()
	}
}

func (f *fence) do(ctx context.Context, r *fenceRead) {
	r.rev, r.at, r.err = f.read(ctx)
	close(r.done)
}
