package etcdstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Writes. Each is one etcd transaction whose compares hold exactly when
// the reads it was built from are still current (the article's mod
// revision, the slug claim absent); when they fail, another writer got
// there first and the write is read again and retried, at most
// writeRetries times, or answered (ErrAlreadyExists, ErrConflict) when the
// failure is final. Two servers racing on one slug or one etag therefore
// cannot both win: etcd serialises the transactions and the second one's
// compare fails.

// txnOverhead is what a transaction costs beyond its keys and values, for
// the size check: compares, else-reads and framing, generously.
const txnOverhead = 4096

// write is one transaction being built.
type write struct {
	cmps []clientv3.Cmp
	ops  []clientv3.Op
	els  []clientv3.Op
	size int
}

func (w *write) put(k string, v []byte, opts ...clientv3.OpOption) {
	w.ops = append(w.ops, clientv3.OpPut(k, string(v), opts...))
	w.size += len(k) + len(v)
}

func (w *write) del(k string) {
	w.ops = append(w.ops, clientv3.OpDelete(k))
	w.size += len(k)
}

// commit checks w's size and runs it, reporting whether its compares held
// and the transaction's revision.
func (s *Store) commit(ctx context.Context, w *write) (*clientv3.TxnResponse, error) {
	if w.size+txnOverhead > s.cfg.maxRequestBytes {
		return nil, fmt.Errorf("%w: the article takes %d bytes with its slug claim; the cluster accepts writes of at most %d", articles.ErrTooLarge, w.size, s.cfg.maxRequestBytes-txnOverhead)
	}
	resp, err := s.cli.Txn(ctx).If(w.cmps...).Then(w.ops...).Else(w.els...).Commit()
	if errors.Is(err, rpctypes.ErrRequestTooLarge) {
		return nil, fmt.Errorf("%w: the cluster refused the write as too large", articles.ErrTooLarge)
	}
	if err != nil {
		return nil, etcdErr(ctx, "write", err)
	}
	return resp, nil
}

// putArticle adds to w the puts of a, written alone (slot 0), and, from
// old, the slug claim's move and the revision marker. old is nil for a
// create.
func (s *Store) putArticle(w *write, old, a *articlesv1.Article) error {
	v, err := encodeArticle(a, 0)
	if err != nil {
		return fmt.Errorf("etcdstore: encode article: %w", err)
	}
	w.put(s.articleKey(a.GetId()), v)
	if old.GetSlug() != a.GetSlug() {
		if old != nil {
			w.del(s.slugKey(old.GetSlug()))
		}
		w.put(s.slugKey(a.GetSlug()), []byte(a.GetId()))
	}
	w.put(s.prefix+revisionPart, nil)
	return nil
}

// requestHash returns the digest of what a create asked for.
func requestHash(a *articlesv1.Article) ([]byte, error) { return articles.RequestHash(a) }

// requestLease returns the lease to put request ids under.
func (s *Store) requestLease(ctx context.Context) (clientv3.LeaseID, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.lease != 0 && time.Since(s.leaseTime) < s.cfg.requestIDTTL/20 {
		return s.lease, nil
	}
	resp, err := s.cli.Grant(ctx, int64(s.cfg.requestIDTTL/time.Second))
	if err != nil {
		return 0, etcdErr(ctx, "grant lease", err)
	}
	s.lease, s.leaseTime = resp.ID, time.Now()
	return s.lease, nil
}

// dropLease forgets lease, which the cluster no longer knows.
func (s *Store) dropLease(lease clientv3.LeaseID) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.lease == lease {
		s.lease = 0
	}
}

// newArticle returns the article to create from in.
func (s *Store) newArticle(in *articlesv1.Article) (*articlesv1.Article, error) {
	t := time.Now()
	id, err := s.newID(t)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: make id: %w", err)
	}
	a := proto.Clone(in).(*articlesv1.Article)
	a.Id = id
	a.CreateTime = timestamppb.New(t)
	a.UpdateTime = a.CreateTime
	a.Revision, a.Etag = 0, ""
	return a, nil
}

// stamped sets a's revision and etag to those of store revision rev.
func stamped(a *articlesv1.Article, rev int64) *articlesv1.Article {
	a.Revision = rev
	a.Etag = etagOf(rev)
	return a
}

// Create stores a new article and returns it as stored. With a non-empty
// requestID, a repeated call with the same requestID and the same article
// (within the request id TTL) returns the article it created, as it is
// now, and changes nothing.
// Returns articles.ErrAlreadyExists if the slug is taken,
// articles.ErrRequestIDReused if requestID was used with a different
// article, articles.ErrNotFound if requestID created an article since
// deleted, and articles.ErrTooLarge if the article exceeds etcd's request
// size limit.
func (s *Store) Create(ctx context.Context, in *articlesv1.Article, requestID string) (*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if in.GetSlug() == "" {
		return nil, errors.New("etcdstore: create: article has no slug")
	}
	var hash []byte
	if requestID != "" {
		var err error
		if hash, err = requestHash(in); err != nil {
			return nil, err
		}
	}
	a, err := s.newArticle(in)
	if err != nil {
		return nil, err
	}
	r, err := s.newCreateReq(a, requestID, hash, false)
	if err != nil {
		return nil, err
	}
	res := s.submit(ctx, r)
	switch {
	case res.request != nil:
		return s.repeated(ctx, requestID, res.request, hash)
	case res.err != nil:
		return nil, res.err
	}
	return stamped(a, res.rev), nil
}

// repeated answers a create whose request id is already recorded as v.
func (s *Store) repeated(ctx context.Context, requestID string, v, hash []byte) (*articlesv1.Article, error) {
	if len(v) < sha256.Size {
		return nil, fmt.Errorf("etcdstore: corrupt request id record %q", requestID)
	}
	n := len(v) - sha256.Size
	id := string(v[:n])
	if !bytes.Equal(v[n:], hash) {
		return nil, fmt.Errorf("%w: request_id %q", articles.ErrRequestIDReused, requestID)
	}
	a, err := s.Get(ctx, id)
	if errors.Is(err, articles.ErrNotFound) {
		return nil, fmt.Errorf("%w: id %q, created by request_id %q, has been deleted", articles.ErrNotFound, id, requestID)
	}
	return a, err
}

// current reads the article with the given id and its mod revision.
func (s *Store) current(ctx context.Context, id string) (*articlesv1.Article, int64, error) {
	resp, err := s.cli.Get(ctx, s.articleKey(id))
	if err != nil {
		return nil, 0, etcdErr(ctx, "get", err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("%w: id %q", articles.ErrNotFound, id)
	}
	a, err := decodeArticle(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
	return a, resp.Kvs[0].ModRevision, err
}

// writeBase returns the article a write of id starts from, with its etcd
// mod revision, and whether it came from the read cache. A first attempt
// (tryCache) takes the cache's copy when there is one, without a round
// trip: the write's compare on the mod revision refuses a copy the watch
// has not brought up to date, and the next attempt reads etcd. A copy's
// etag may be stale too, so a mismatch with the caller's etag, or a
// failed compare, is final only for a base read from etcd.
func (s *Store) writeBase(ctx context.Context, id string, tryCache bool) (*articlesv1.Article, int64, bool, error) {
	if tryCache && s.cache != nil {
		if a, ok := s.cache.get(id); ok {
			return a, etcdRevision(a.GetRevision()), true, nil
		}
	}
	a, mod, err := s.current(ctx, id)
	return a, mod, false, err
}

// Update applies mutate to a copy of the stored article with the given id
// and stores the result, in a transaction that holds only if the article
// is unchanged since it was read (from the read cache first, see
// writeBase). When etag is not empty it must be the stored article's
// etag. mutate may run more than once (once per attempt), so it must be
// free of side effects.
// Returns articles.ErrNotFound, articles.ErrConflict,
// articles.ErrAlreadyExists (the new slug is taken) or articles.ErrTooLarge.
func (s *Store) Update(ctx context.Context, id, etag string, mutate func(*articlesv1.Article) error) (*articlesv1.Article, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	for attempt := range writeRetries {
		old, mod, cached, err := s.writeBase(ctx, id, attempt == 0)
		if err != nil {
			return nil, err
		}
		if etag != "" && etag != old.GetEtag() {
			if cached {
				continue
			}
			return nil, fmt.Errorf("%w: id %q has etag %q, not %q", articles.ErrConflict, id, old.GetEtag(), etag)
		}
		a := proto.Clone(old).(*articlesv1.Article)
		if err := mutate(a); err != nil {
			if cached {
				continue // perhaps only the stale copy fails it
			}
			return nil, err
		}
		a.Id = old.GetId()
		a.CreateTime = old.GetCreateTime()
		a.UpdateTime = now()
		if a.GetSlug() == "" {
			return nil, errors.New("etcdstore: update: article has no slug")
		}
		done, out, err := s.replace(ctx, old, mod, a)
		switch {
		case err == nil && done:
			return out, nil
		case cached:
			continue // start again from etcd
		case err != nil:
			return nil, err
		}
		if etag != "" {
			// The article changed since it was read: the etag is stale.
			return nil, fmt.Errorf("%w: id %q was changed concurrently", articles.ErrConflict, id)
		}
	}
	return nil, fmt.Errorf("etcdstore: update: gave up after %d attempts under concurrent writes", writeRetries)
}

// replace writes a over old, read at mod revision mod. It reports false
// (and no error) when the article changed in between.
func (s *Store) replace(ctx context.Context, old *articlesv1.Article, mod int64, a *articlesv1.Article) (bool, *articlesv1.Article, error) {
	w := &write{}
	w.cmps = append(w.cmps, clientv3.Compare(clientv3.ModRevision(s.articleKey(old.GetId())), "=", mod))
	w.els = append(w.els, clientv3.OpGet(s.articleKey(old.GetId()), clientv3.WithKeysOnly()))
	newSlug := a.GetSlug() != old.GetSlug()
	if newSlug {
		sk := s.slugKey(a.GetSlug())
		w.cmps = append(w.cmps, clientv3.Compare(clientv3.CreateRevision(sk), "=", 0))
		w.els = append(w.els, clientv3.OpGet(sk))
	}
	if err := s.putArticle(w, old, a); err != nil {
		return false, nil, err
	}
	resp, err := s.commit(ctx, w)
	if err != nil {
		return false, nil, err
	}
	if resp.Succeeded {
		return true, stamped(a, storeRevision(resp.Header.Revision, 0)), nil
	}
	art := resp.Responses[0].GetResponseRange().GetKvs()
	if len(art) == 0 {
		return false, nil, fmt.Errorf("%w: id %q", articles.ErrNotFound, old.GetId())
	}
	if art[0].ModRevision == mod && newSlug {
		if claim := resp.Responses[1].GetResponseRange().GetKvs(); len(claim) > 0 {
			return false, nil, fmt.Errorf("%w: slug %q", articles.ErrAlreadyExists, a.GetSlug())
		}
	}
	return false, nil, nil
}

// Delete removes the article with the given id, in a transaction that
// holds only if the article is unchanged since it was read (from the read
// cache first, see writeBase). When etag is not empty it must be the
// stored article's etag.
// Returns articles.ErrNotFound or articles.ErrConflict.
func (s *Store) Delete(ctx context.Context, id, etag string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	for attempt := range writeRetries {
		old, mod, cached, err := s.writeBase(ctx, id, attempt == 0)
		if err != nil {
			return err
		}
		if etag != "" && etag != old.GetEtag() {
			if cached {
				continue
			}
			return fmt.Errorf("%w: id %q has etag %q, not %q", articles.ErrConflict, id, old.GetEtag(), etag)
		}
		w := &write{}
		ak := s.articleKey(id)
		w.cmps = append(w.cmps, clientv3.Compare(clientv3.ModRevision(ak), "=", mod))
		w.del(ak)
		w.del(s.slugKey(old.GetSlug()))
		w.put(s.prefix+revisionPart, nil)
		resp, err := s.commit(ctx, w)
		switch {
		case err == nil && resp.Succeeded:
			return nil
		case cached:
			continue // start again from etcd
		case err != nil:
			return err
		}
		if etag != "" {
			return fmt.Errorf("%w: id %q was changed concurrently", articles.ErrConflict, id)
		}
	}
	return fmt.Errorf("etcdstore: delete: gave up after %d attempts under concurrent writes", writeRetries)
}

// importWorkers is how many slugs of one import are written at once:
// enough waiting creates to fill every create group in flight.
const importWorkers = 256

// Import upserts batch by slug: a new slug is created, an existing one has
// its settable fields replaced, or is counted unchanged when they are
// equal. Every article has its own store revision and event, acknowledged
// by the cluster before Import returns: new slugs are created in the
// store's create groups (batch.go), many to a transaction; updates are
// one transaction each. Up to importWorkers distinct slugs are written
// concurrently, the articles of one slug in batch order. An error part
// way leaves the articles acknowledged before it written. An article that keeps losing races, or is too large, is
// reported as a failure by its position in batch.
func (s *Store) Import(ctx context.Context, batch []*articlesv1.Article) (*articles.ImportResult, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	resp := &articles.ImportResult{}
	var mu sync.Mutex // protects resp and firstErr
	var firstErr error
	fail := func(i int, reason string) {
		resp.Failures = append(resp.Failures, articles.ImportFailure{Index: i, Reason: reason})
	}
	// The positions of each slug, in batch order; slugs in first-seen order.
	bySlug := map[string][]int{}
	var slugs []string
	for i, in := range batch {
		switch {
		case in == nil:
			fail(i, "article is missing")
		case in.GetSlug() == "":
			fail(i, "article has no slug")
		default:
			if _, ok := bySlug[in.GetSlug()]; !ok {
				slugs = append(slugs, in.GetSlug())
			}
			bySlug[in.GetSlug()] = append(bySlug[in.GetSlug()], i)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(importWorkers, len(slugs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slug := range work {
				for _, i := range bySlug[slug] {
					outcome, err := s.upsert(ctx, batch[i])
					mu.Lock()
					switch {
					case errors.Is(err, articles.ErrTooLarge):
						fail(i, err.Error())
					case err != nil:
						if firstErr == nil {
							firstErr = err
						}
						cancel()
					case outcome == created:
						resp.Created++
					case outcome == updated:
						resp.Updated++
					case outcome == unchanged:
						resp.Unchanged++
					default:
						fail(i, fmt.Sprintf("slug %q kept changing under concurrent writes; try again", slug))
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for _, slug := range slugs {
		select {
		case work <- slug:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(resp.Failures, func(a, b articles.ImportFailure) int { return cmp.Compare(a.Index, b.Index) })
	return resp, nil
}

type upsertOutcome int

const (
	gaveUp upsertOutcome = iota
	created
	updated
	unchanged
)

// upsert writes in by slug. It first tries the create, whose failure
// returns the slug's claim in the same round trip, so a new slug costs one
// transaction and an existing one a read more.
func (s *Store) upsert(ctx context.Context, in *articlesv1.Article) (upsertOutcome, error) {
	for range writeRetries {
		if err := ctx.Err(); err != nil {
			return gaveUp, err
		}
		a, err := s.newArticle(in)
		if err != nil {
			return gaveUp, err
		}
		r, err := s.newCreateReq(a, "", nil, true)
		if err != nil {
			return gaveUp, err
		}
		res := s.submit(ctx, r)
		if res.err == nil {
			return created, nil
		}
		if errors.Is(res.err, errGaveUp) {
			continue
		}
		if !errors.Is(res.err, errSlugTaken) {
			return gaveUp, res.err
		}
		id := string(res.claim)
		ar, err := s.cli.Get(ctx, s.articleKey(id), clientv3.WithRev(res.claimAt))
		if err != nil {
			return gaveUp, etcdErr(ctx, "import", err)
		}
		if len(ar.Kvs) == 0 {
			return gaveUp, fmt.Errorf("etcdstore: slug %q names missing article %q", in.GetSlug(), id)
		}
		mod := ar.Kvs[0].ModRevision
		old, err := decodeArticle(ar.Kvs[0].Value, mod)
		if err != nil {
			return gaveUp, err
		}
		if proto.Equal(articles.Settable(old), articles.Settable(in)) {
			return unchanged, nil
		}
		a = proto.Clone(in).(*articlesv1.Article)
		a.Id = old.GetId()
		a.CreateTime = old.GetCreateTime()
		a.UpdateTime = now()
		done, _, err := s.replace(ctx, old, mod, a)
		if errors.Is(err, articles.ErrNotFound) {
			continue // deleted meanwhile: the slug may be free now
		}
		if err != nil {
			return gaveUp, err
		}
		if done {
			return updated, nil
		}
	}
	return gaveUp, nil
}
