package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Creates commit in groups. A create (of Create, or the first attempt of
// an import's new slug) joins the store's queue; up to createPipeline
// transactions are in flight at once, each taking as many queued creates
// as fit within etcd's limits on operations (maxTxnOps) and request size,
// so that concurrent creates share Raft rounds, WAL syncs and requests. A
// caller that finds fewer than createPipeline transactions in flight
// commits itself, with whatever is queued, until the queue is empty: no
// goroutine waits for a timer and a lone create goes out at once.
//
// Each create of a group keeps its own compares (its slug unclaimed, its
// request id unused) and its own slot (store revision). When a compare
// fails, etcd runs the else branch, which reads every compared key, so the
// group learns exactly which creates lost: those answer their callers
// (ErrAlreadyExists, or the repeated request) and the rest are committed
// again, without them.

// createPipeline is how many group transactions may be in flight at once.
const createPipeline = 8

// opBytes is what one operation of a transaction costs beyond its key and
// value, for the size check, generously.
const opBytes = 32

// groupTimeout bounds one group transaction: it commits on behalf of
// several callers, so it runs under none of their contexts.
const groupTimeout = 30 * time.Second

// group is the queue of creates of a Store.
type group struct {
	// mu protects pending and inflight.
	mu       sync.Mutex
	pending  []*createReq
	inflight int // group transactions being committed
}

// createReq is one create waiting in, or committed by, a group.
type createReq struct {
	a         *articlesv1.Article // id and times set; revision set on success
	requestID string
	hash      []byte
	value     []byte // a's stored form, for slot 0
	ops, size int    // operations and bytes it adds to a group
	// upsert marks an import's attempt: a taken slug is reported as
	// errSlugTaken, with the claim, instead of ErrAlreadyExists.
	upsert bool

	done chan createRes // buffered: the committer never blocks on it
}

// createRes is the outcome of a createReq.
type createRes struct {
	err     error
	rev     int64  // the article's store revision, on success
	claim   []byte // the slug's claim (an id) when the slug was taken
	claimAt int64  // the etcd revision the claim was read at
	request []byte // the request id's record when it was used already
}

// errGaveUp is the result of a create that kept being committed again
// because others of its groups lost.
var errGaveUp = fmt.Errorf("etcdstore: create: gave up after %d attempts under concurrent writes", writeRetries)

// errSlugTaken is the result of an upsert attempt on a claimed slug.
var errSlugTaken = errors.New("etcdstore: slug taken")

// newCreateReq prepares the create of a (id and times set). It returns
// articles.ErrTooLarge when a alone exceeds the request size limit.
func (s *Store) newCreateReq(a *articlesv1.Article, requestID string, hash []byte, upsert bool) (*createReq, error) {
	v, err := encodeArticle(a, 0)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: encode article: %w", err)
	}
	r := &createReq{a: a, requestID: requestID, hash: hash, value: v, upsert: upsert, done: make(chan createRes, 1)}
	// The article and the slug claim are put; the claim is compared and,
	// in the else branch, read.
	sk := s.slugKey(a.GetSlug())
	r.ops = 2
	r.size = len(s.articleKey(a.GetId())) + len(v) + 3*len(sk) + len(a.GetId()) + 4*opBytes
	if requestID != "" {
		r.ops++
		r.size += 2*len(s.requestKey(requestID)) + len(a.GetId()) + len(hash) + 3*opBytes
	}
	if r.size+txnOverhead > s.cfg.maxRequestBytes {
		return nil, fmt.Errorf("%w: the article takes %d bytes with its slug claim; the cluster accepts writes of at most %d", articles.ErrTooLarge, r.size, s.cfg.maxRequestBytes-txnOverhead)
	}
	return r, nil
}

// submit queues r, commits groups while the pipeline has room, and waits
// for r's result. A caller whose ctx ends first gets ctx's error; its
// create may still commit, as any write whose caller gave up may.
func (s *Store) submit(ctx context.Context, r *createReq) createRes {
	g := &s.group
	g.mu.Lock()
	g.pending = append(g.pending, r)
	commit := g.inflight < createPipeline
	if commit {
		g.inflight++
	}
	g.mu.Unlock()
	if commit {
		s.commitGroups(context.WithoutCancel(ctx))
	}
	select {
	case res := <-r.done:
		return res
	case <-ctx.Done():
		return createRes{err: ctx.Err()}
	case <-s.quit:
		return createRes{err: articles.ErrClosed}
	}
}

// commitGroups commits groups of queued creates until the queue is empty.
func (s *Store) commitGroups(ctx context.Context) {
	g := &s.group
	for {
		g.mu.Lock()
		batch := s.takeGroup()
		if len(batch) == 0 {
			g.inflight--
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		s.commitGroup(ctx, batch)
	}
}

// takeGroup removes from the queue the creates of the next group: queued
// ones in order while they fit, skipping any whose slug or request id an
// earlier one of the group names (etcd refuses a transaction that names a
// key twice; they go in a later group). s.group.mu must be held.
func (s *Store) takeGroup() []*createReq {
	g := &s.group
	var batch []*createReq
	ops, size := 1, txnOverhead // the revision marker, the framing
	slugs := map[string]bool{}
	requests := map[string]bool{}
	rest := g.pending[:0]
	for i, r := range g.pending {
		fits := ops+r.ops <= s.cfg.maxTxnOps && size+r.size <= s.cfg.maxRequestBytes && len(batch) < maxSlots
		if len(batch) > 0 && !fits {
			rest = append(rest, g.pending[i:]...)
			break
		}
		if slugs[r.a.GetSlug()] || (r.requestID != "" && requests[r.requestID]) {
			rest = append(rest, r)
			continue
		}
		slugs[r.a.GetSlug()] = true
		if r.requestID != "" {
			requests[r.requestID] = true
		}
		batch = append(batch, r)
		ops += r.ops
		size += r.size
	}
	clear(g.pending[len(rest):])
	g.pending = rest
	return batch
}

// commitGroup commits batch in one transaction, again without the creates
// whose compares failed, until it commits or is empty, and answers every
// create of it.
func (s *Store) commitGroup(ctx context.Context, batch []*createReq) {
	ctx, cancel := context.WithTimeout(ctx, groupTimeout)
	defer cancel()
	answer := func(r *createReq, res createRes) { r.done <- res }
	for attempt := 0; len(batch) > 0; attempt++ {
		if attempt == writeRetries {
			for _, r := range batch {
				answer(r, createRes{err: errGaveUp})
			}
			return
		}
		var lease clientv3.LeaseID
		for _, r := range batch {
			if r.requestID != "" {
				var err error
				if lease, err = s.requestLease(ctx); err != nil {
					for _, r := range batch {
						answer(r, createRes{err: err})
					}
					return
				}
				break
			}
		}
		var cmps []clientv3.Cmp
		var ops, els []clientv3.Op
		for slot, r := range batch {
			v := withSlot(r.value, int64(slot))
			sk := s.slugKey(r.a.GetSlug())
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(sk), "=", 0))
			els = append(els, clientv3.OpGet(sk))
			ops = append(ops, clientv3.OpPut(s.articleKey(r.a.GetId()), string(v)), clientv3.OpPut(sk, r.a.GetId()))
			if r.requestID != "" {
				rk := s.requestKey(r.requestID)
				cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(rk), "=", 0))
				els = append(els, clientv3.OpGet(rk))
				ops = append(ops, clientv3.OpPut(rk, r.a.GetId()+string(r.hash), clientv3.WithLease(lease)))
			}
		}
		ops = append(ops, clientv3.OpPut(s.prefix+revisionPart, strconv.Itoa(len(batch)-1)))
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(els...).Commit()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			s.dropLease(lease)
			continue
		case errors.Is(err, rpctypes.ErrRequestTooLarge):
			err = fmt.Errorf("%w: the cluster refused the write as too large", articles.ErrTooLarge)
		case err != nil:
			err = etcdErr(ctx, "create", err)
		}
		if err != nil {
			for _, r := range batch {
				answer(r, createRes{err: err})
			}
			return
		}
		if resp.Succeeded {
			for slot, r := range batch {
				answer(r, createRes{rev: storeRevision(resp.Header.Revision, int64(slot))})
			}
			return
		}
		// The else branch read each create's slug, then its request id.
		var again []*createReq
		i := 0
		for _, r := range batch {
			claim := resp.Responses[i].GetResponseRange().GetKvs()
			i++
			var record []*mvccpb.KeyValue
			if r.requestID != "" {
				record = resp.Responses[i].GetResponseRange().GetKvs()
				i++
			}
			switch {
			case len(record) > 0:
				answer(r, createRes{request: record[0].Value})
			case len(claim) > 0 && r.upsert:
				answer(r, createRes{err: errSlugTaken, claim: claim[0].Value, claimAt: resp.Header.Revision})
			case len(claim) > 0:
				answer(r, createRes{err: fmt.Errorf("%w: slug %q", articles.ErrAlreadyExists, r.a.GetSlug())})
			default:
				again = append(again, r)
			}
		}
		batch = again
	}
}
