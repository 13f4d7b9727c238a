package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// listPage is how many index keys one List read returns at most.
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
	rev, err := s.fence.revision(ctx)
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
// It reads the order index in ranges of at most listPage keys, and each
// range's articles at that range's revision, so index and article agree;
// fn runs between reads. Like the bbolt store's, a listing is not a
// snapshot: an article that exists for the whole listing is seen exactly
// once, one written during it in its new version or not at all.
//
// With an author, tag or source filter, the ids of the smallest matching
// filter index are read first (keys only, in ranges), and only those
// articles are loaded as the order index is walked.
func (s *Store) List(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	members, err := s.filterMembers(ctx, q.Filter)
	if err != nil {
		return err
	}
	prefix := s.orderPrefix(q.Order)
	start := prefix
	if !after.IsZero() {
		start = s.orderKey(q.Order, after.Key, after.ID) + "\x00"
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	passed := 0
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		page := int64(listPage)
		if limit > 0 && members == nil && q.Filter.IsZero() {
			page = int64(min(limit-passed, listPage))
		}
		resp, err := s.cli.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(page))
		if err != nil {
			return etcdErr(ctx, "list", err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		var keys []string
		for _, kv := range resp.Kvs {
			id := string(kv.Value)
			if members != nil && !members[id] {
				continue
			}
			keys = append(keys, s.articleKey(id))
		}
		vals, mods, _, err := s.getMany(ctx, keys, resp.Header.Revision)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if v == nil {
				continue // not possible at one revision; skip rather than fail a listing
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
		if !resp.More {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// filterMembers returns the ids of the smallest of f's author, tag and
// source index sets, or nil when f has none of them.
func (s *Store) filterMembers(ctx context.Context, f articles.Filter) (map[string]bool, error) {
	return articles.SmallestSet(ctx, f, func(ctx context.Context, c articles.Condition) (map[string]bool, error) {
		return s.readSet(ctx, s.filterPrefix(filterPart[c.Field], c.Value))
	})
}

// filterPart is the key part of each indexed field's index.
var filterPart = map[articles.IndexedField]string{
	articles.FieldAuthor: authorPart,
	articles.FieldTag:    tagPart,
	articles.FieldSource: sourcePart,
}

// readSet returns the values (ids) of the keys under prefix, read in
// ranges of listPage.
func (s *Store) readSet(ctx context.Context, prefix string) (map[string]bool, error) {
	set := map[string]bool{}
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	for {
		resp, err := s.cli.Get(ctx, start, clientv3.WithRange(end), clientv3.WithLimit(listPage))
		if err != nil {
			return nil, etcdErr(ctx, "filter", err)
		}
		for _, kv := range resp.Kvs {
			set[string(kv.Value)] = true
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return set, nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
