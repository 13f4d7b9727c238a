package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// listPage is how many articles one page of a List reads at most, and how
// many one range of the list index's build reads.
const listPage = 1024

// Get returns the article with the given id.
// Returns articles.ErrNotFound if there is none.
func (s *Store) Get(ctx context.Context, id string) (*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.cache.has(id) {
		if a, ok, err := s.cached(ctx, id); ok || err != nil {
			return a, err
		}
	}
	resp, err := s.cli.Get(ctx, s.articleKey(id))
	if err != nil {
		return nil, etcdErr(ctx, "get", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%w: id %q", articles.ErrNotFound, id)
	}
	return s.decodeRead(resp.Kvs[0].Value, resp.Kvs[0].ModRevision, resp.Header.Revision)
}

// decodeRead decodes an article read from etcd at etcd revision readRev
// and caches a copy.
func (s *Store) decodeRead(v []byte, modRev, readRev int64) (*articlesv1.Article, error) {
	a, err := decodeArticle(v, modRev)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.fill(proto.Clone(a).(*articlesv1.Article), storeRevision(readRev, maxSlots-1))
	}
	return a, nil
}

// cached returns the article with id from the cache, after every write
// acknowledged before the call (cache.go). It reports false, and no
// error, when the cache does not hold id after all, or when this server's
// watch does not reach the cluster's revision within viewWait: the caller
// then reads etcd.
func (s *Store) cached(ctx context.Context, id string) (*articlesv1.Article, bool, error) {
	if ok, err := s.fresh(ctx); !ok || err != nil {
		return nil, false, err
	}
	a, ok := s.cache.get(id)
	return a, ok, nil
}

// viewWait bounds how long a cached read waits for this server's watch
// before it reads etcd instead: a watch that lags (a member slow to apply,
// a watch being re-established) slows reads by at most this much.
const viewWait = 250 * time.Millisecond

// fresh waits until the view holds every write acknowledged before the
// call, and reports whether it does (false: not within viewWait).
func (s *Store) fresh(ctx context.Context) (bool, error) {
	rev, _, err := s.fence.revision(ctx)
	if err != nil {
		return false, err
	}
	if cur, _ := s.view.revision(); cur >= rev {
		return true, nil
	}
	wctx, cancel := context.WithTimeout(ctx, viewWait)
	defer cancel()
	if err := s.WaitRevision(wctx, rev); err != nil {
		if ctx.Err() != nil || errors.Is(err, articles.ErrClosed) {
			return false, err
		}
		return false, nil
	}
	return true, nil
}

// GetBySlug returns the article with the given slug.
// Returns articles.ErrNotFound if there is none.
//
// A slug this server has seen before is read in one round trip: one
// transaction reads the slug's claim and the article the slug last named,
// at one revision; when the claim still names it, that is the answer.
// Otherwise (a slug new to this server, or one moved to another article)
// the article the claim names is read at the claim's revision.
func (s *Store) GetBySlug(ctx context.Context, slug string) (*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	sk := s.slugKey(slug)
	ops := []clientv3.Op{clientv3.OpGet(sk)}
	guess, guessed := s.slugs.get(slug)
	if guessed && s.cache.has(guess) {
		// The view is the state of one revision: the article it holds
		// with this slug holds the slug's claim there.
		a, ok, err := s.cached(ctx, guess)
		if err != nil {
			return nil, err
		}
		if ok && a.GetSlug() == slug {
			return a, nil
		}
	}
	if guessed {
		ops = append(ops, clientv3.OpGet(s.articleKey(guess)))
	}
	resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, etcdErr(ctx, "get slug", err)
	}
	claim := resp.Responses[0].GetResponseRange().GetKvs()
	if len(claim) == 0 {
		s.slugs.drop(slug)
		return nil, fmt.Errorf("%w: slug %q", articles.ErrNotFound, slug)
	}
	id := string(claim[0].Value)
	if guessed && id == guess {
		if kvs := resp.Responses[1].GetResponseRange().GetKvs(); len(kvs) > 0 {
			return s.decodeRead(kvs[0].Value, kvs[0].ModRevision, resp.Header.Revision)
		}
	}
	// Claim and article are written together, so they agree at the
	// claim's revision.
	ar, err := s.cli.Get(ctx, s.articleKey(id), clientv3.WithRev(resp.Header.Revision))
	if err != nil {
		return nil, etcdErr(ctx, "get", err)
	}
	if len(ar.Kvs) == 0 {
		return nil, fmt.Errorf("etcdstore: slug %q names missing article %q", slug, id)
	}
	s.slugs.put(slug, id)
	// ar's header names the current revision; its data is of the claim's.
	return s.decodeRead(ar.Kvs[0].Value, ar.Kvs[0].ModRevision, resp.Header.Revision)
}

// GetLocal is Get from what this server has already seen: the cache, or
// etcd's nearest member when it has applied as much as this server's
// view (a serializable read), else a linearizable read. It sees every
// write up to the view's revision, which is what a caller asking for a
// revision floor waits for first (server.LocalReader).
func (s *Store) GetLocal(ctx context.Context, id string) (*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.cache != nil {
		if a, ok := s.cache.get(id); ok {
			return a, nil
		}
	}
	seen, _ := s.view.revision()
	resp, err := s.cli.Get(ctx, s.articleKey(id), clientv3.WithSerializable())
	if err != nil {
		return nil, etcdErr(ctx, "get", err)
	}
	if storeRevision(resp.Header.Revision, maxSlots-1) < seen {
		return s.Get(ctx, id) // the member is behind this server's watch
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%w: id %q", articles.ErrNotFound, id)
	}
	return s.decodeRead(resp.Kvs[0].Value, resp.Kvs[0].ModRevision, resp.Header.Revision)
}

// GetBySlugLocal is GetBySlug from what this server has already seen
// when the cache holds the article the slug last named here, else
// GetBySlug (server.LocalReader).
func (s *Store) GetBySlugLocal(ctx context.Context, slug string) (*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if id, ok := s.slugs.get(slug); ok && s.cache != nil {
		// The cache is the view's state: an article it holds with this
		// slug holds the slug's claim there.
		if a, ok := s.cache.get(id); ok && a.GetSlug() == slug {
			return a, nil
		}
	}
	return s.GetBySlug(ctx, slug)
}

// BatchGetLocal is BatchGet from what this server has already seen when
// the cache holds every id, else BatchGet (server.LocalReader).
func (s *Store) BatchGetLocal(ctx context.Context, ids []string) ([]*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.cache != nil {
		out := make([]*articlesv1.Article, len(ids))
		for i, id := range ids {
			a, ok := s.cache.get(id)
			if !ok {
				return s.BatchGet(ctx, ids)
			}
			out[i] = a
		}
		return out, nil
	}
	return s.BatchGet(ctx, ids)
}

// slugCacheSize bounds the slug cache; it is emptied when full.
const slugCacheSize = 1 << 16

// slugCache remembers which article a slug named when this server last
// read it: a guess that GetBySlug checks against the claim, never an
// answer on its own.
type slugCache struct {
	// mu protects ids.
	mu  sync.Mutex
	ids map[string]string
}

func (c *slugCache) get(slug string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[slug]
	return id, ok
}

func (c *slugCache) put(slug, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil || len(c.ids) >= slugCacheSize {
		c.ids = make(map[string]string)
	}
	c.ids[slug] = id
}

func (c *slugCache) drop(slug string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ids, slug)
}

// getMany reads the given keys at revision rev (0: the current one) in
// transactions of at most the configured maximum of operations, all at one
// revision, and returns the values (nil for a missing key) with their mod
// revisions and the revision read. Once the revision is fixed, the
// transactions run concurrently: a page of a listing costs about two round
// trips, however many transactions it takes.
func (s *Store) getMany(ctx context.Context, keys []string, rev int64) ([][]byte, []int64, int64, error) {
	vals := make([][]byte, len(keys))
	mods := make([]int64, len(keys))
	read := func(start int, rev int64) (int64, error) {
		end := min(start+s.cfg.maxTxnOps, len(keys))
		ops := make([]clientv3.Op, 0, end-start)
		for _, k := range keys[start:end] {
			if rev > 0 {
				ops = append(ops, clientv3.OpGet(k, clientv3.WithRev(rev)))
			} else {
				ops = append(ops, clientv3.OpGet(k))
			}
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return 0, etcdErr(ctx, "read", err)
		}
		for i, r := range resp.Responses {
			if kvs := r.GetResponseRange().GetKvs(); len(kvs) > 0 {
				vals[start+i] = kvs[0].Value
				mods[start+i] = kvs[0].ModRevision
			}
		}
		return resp.Header.Revision, nil
	}
	if len(keys) == 0 {
		return vals, mods, rev, nil
	}
	first := 0
	if rev == 0 {
		var err error
		if rev, err = read(0, 0); err != nil {
			return nil, nil, 0, err
		}
		first = s.cfg.maxTxnOps
	}
	var wg sync.WaitGroup
	errs := make([]error, (len(keys)+s.cfg.maxTxnOps-1)/s.cfg.maxTxnOps)
	for start := first; start < len(keys); start += s.cfg.maxTxnOps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[start/s.cfg.maxTxnOps] = read(start, rev)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, 0, err
		}
	}
	return vals, mods, rev, nil
}

// BatchGet returns the articles with the given ids, in the same order,
// read at one revision. Returns articles.ErrNotFound naming the first
// unknown id.
func (s *Store) BatchGet(ctx context.Context, ids []string) ([]*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if out, ok, err := s.batchCached(ctx, ids); ok || err != nil {
		return out, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.articleKey(id)
	}
	vals, mods, rev, err := s.getMany(ctx, keys, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*articlesv1.Article, len(ids))
	for i, v := range vals {
		if v == nil {
			return nil, fmt.Errorf("%w: id %q", articles.ErrNotFound, ids[i])
		}
		if out[i], err = s.decodeRead(v, mods[i], rev); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batchCached is BatchGet from the cache, when it holds every id; it
// reports false, and no error, when the caller must read etcd.
func (s *Store) batchCached(ctx context.Context, ids []string) ([]*articlesv1.Article, bool, error) {
	for _, id := range ids {
		if !s.cache.has(id) {
			return nil, false, nil
		}
	}
	if ok, err := s.fresh(ctx); !ok || err != nil {
		return nil, false, err
	}
	out := make([]*articlesv1.Article, len(ids))
	for i, id := range ids {
		a, ok := s.cache.get(id)
		if !ok {
			return nil, false, nil
		}
		out[i] = a
	}
	return out, true, nil
}

// List calls fn for each article matching q, in q's order, starting just
// after the position after, until fn returns an error, limit articles have
// been passed (limit <= 0: no limit) or the articles run out.
//
// It first learns the cluster's last write (a linearizable read shared
// with concurrent reads, cache.go) and waits until this server's view has
// applied it, so every write acknowledged before List began, through any
// server, is listed. Then it takes the ids of a page at a time (at most
// listPage) from the list index (listindex.go) and reads those articles
// from etcd at the revision the index reflects, so positions and articles
// agree; fn runs between pages. Like the bbolt store's, a listing is not a
// snapshot: an article that exists for the whole listing is seen exactly
// once, one written during it in its new version or not at all.
//
// With an author, tag or source filter, a page holds only articles with
// all of them (from the index's smallest matching set); the time
// conditions are checked on the articles read (Filter.Match).
func (s *Store) List(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if q.Order < 0 || int(q.Order) >= numberOfOrder {
		return fmt.Errorf("etcdstore: list: unknown order %d", q.Order)
	}
	if err := s.listFence(ctx); err != nil {
		return err
	}
	start := ""
	if !after.IsZero() {
		start = orderKey(q.Order, after.Key, after.ID) + "\x00"
	}
	passed, refences := 0, 0
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		n := listPage
		if limit > 0 && !hasTimeFilter(q.Filter) {
			n = min(limit-passed, listPage)
		}
		ids, last, more, rev := s.index.page(q, start, n)
		if len(ids) == 0 {
			return nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = s.articleKey(id)
		}
		vals, mods, _, err := s.getMany(ctx, keys, rev)
		if errors.Is(err, rpctypes.ErrCompacted) && refences < listRefences {
			// A listing slower than the cluster's compaction, or an index
			// idle since before it: learn a newer revision at which the
			// index is etcd's state, and take the page again.
			refences++
			if err := s.listFence(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		for i, v := range vals {
			if v == nil {
				continue // not possible at the index's revision; skip rather than fail a listing
			}
			a, err := decodeArticle(v, mods[i])
			if err != nil {
				return err
			}
			if !q.Filter.Match(a) {
				continue
			}
			if err := fn(a); err != nil {
				return err
			}
			passed++
			if limit > 0 && passed >= limit {
				return nil
			}
		}
		if !more {
			return nil
		}
		start = last + "\x00"
	}
}

// listRefences bounds how often one List learns a newer revision because
// the one it read at was compacted.
const listRefences = 3

// listFence waits until the list index holds every write acknowledged
// before the call, and tells the index the etcd revision the fence read
// at, at which the index is then etcd's state (listindex.go).
func (s *Store) listFence(ctx context.Context) error {
	rev, at, err := s.fence.revision(ctx)
	if err != nil {
		return err
	}
	if err := s.WaitRevision(ctx, rev); err != nil {
		return err
	}
	s.index.fenced(etcdRevision(rev), at)
	return nil
}
