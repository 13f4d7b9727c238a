package etcdstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// maxChanges bounds one Changes call when the caller asks for no limit.
const maxChanges = 1000

// Changes returns up to limit events (limit <= 0 or above 1000: up to 1000)
// with revision >= from, in revision order. They are etcd's history of the
// article keys, read with a watch from the etcd revision of from (WithPrevKV, so a
// delete carries the article's last content) that is ended as soon as it
// has delivered limit events or reached the revision of the last write.
// Recent events (the live feed's) come from the copy the local view's
// watch keeps, without a watch of their own.
//
// Store revisions follow etcd's, shared by the whole cluster: writes of
// other prefixes (other stores, other programs) take revisions too, so
// ours have gaps. No event is ever missing: every article write of this
// store has its own store revision (etcd's, shifted, plus its slot) with
// exactly one article event. The server's feed follows the events' own
// revisions and never expects them to be consecutive.
//
// Returns a *articles.CompactedError, naming the first store revision of
// etcd's compaction revision as the oldest available, if etcd has
// compacted the history at from.
func (s *Store) Changes(ctx context.Context, from int64, limit int) ([]*articlesv1.ArticleEvent, error) {
	if limit <= 0 || limit > maxChanges {
		limit = maxChanges
	}
	from = max(from, 1)
	last, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if from > last {
		return nil, nil
	}
	// The live feed asks for the newest events: serve them from those the
	// view's watch delivered, once it has caught up with last (moments),
	// rather than open a watch per call.
	if etcdRevision(last)-etcdRevision(from) < recentEvents && s.retained(ctx, from) {
		if s.WaitRevision(ctx, last) == nil {
			if evs, ok := s.view.recentFrom(from, last, limit); ok {
				return evs, nil
			}
		}
		if err := s.check(ctx); err != nil {
			return nil, err
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := s.cli.Watch(clientv3.WithRequireLeader(wctx), s.prefix+articlePart,
		clientv3.WithPrefix(), clientv3.WithRev(max(etcdRevision(from), 1)), clientv3.WithPrevKV())
	var out []*articlesv1.ArticleEvent
	for {
		var wr clientv3.WatchResponse
		var ok bool
		select {
		case wr, ok = <-wch:
		case <-s.quit:
			return nil, articles.ErrClosed
		}
		if !ok {
			if err := s.check(ctx); err != nil {
				return nil, err
			}
			return nil, errors.New("etcdstore: changes: watch closed")
		}
		if wr.CompactRevision != 0 {
			return nil, &articles.CompactedError{Requested: from, Oldest: storeRevision(wr.CompactRevision, 0)}
		}
		if err := wr.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return nil, &articles.CompactedError{Requested: from, Oldest: storeRevision(wr.CompactRevision, 0)}
			}
			return nil, etcdErr(ctx, "changes", err)
		}
		evs := make([]*articlesv1.ArticleEvent, 0, len(wr.Events))
		for _, ev := range wr.Events {
			e, err := s.event(ev)
			if err != nil {
				return nil, err
			}
			evs = append(evs, e)
		}
		slices.SortStableFunc(evs, func(a, b *articlesv1.ArticleEvent) int { return cmp.Compare(a.GetRevision(), b.GetRevision()) })
		for _, e := range evs {
			if e.GetRevision() < from {
				continue // an earlier slot of from's transaction
			}
			out = append(out, e)
			if len(out) >= limit || e.GetRevision() >= last {
				return out, nil
			}
		}
	}
}

// retained reports whether etcd still has history at from (from must not
// be after the cluster's revision), so that whether a revision is
// compacted is etcd's answer on every server, whatever the local copy
// holds.
func (s *Store) retained(ctx context.Context, from int64) bool {
	_, err := s.cli.Get(ctx, s.prefix+revisionPart, clientv3.WithRev(max(etcdRevision(from), 1)), clientv3.WithCountOnly())
	return err == nil
}

// event converts an etcd event on an article key.
func (s *Store) event(ev *clientv3.Event) (*articlesv1.ArticleEvent, error) {
	if ev.Type == mvccpb.DELETE {
		// A delete is written alone: slot 0.
		rev := storeRevision(ev.Kv.ModRevision, 0)
		e := &articlesv1.ArticleEvent{Type: articlesv1.ArticleEvent_DELETED, Revision: rev}
		id := strings.TrimPrefix(string(ev.Kv.Key), s.prefix+articlePart)
		if ev.PrevKv != nil {
			a, err := decodeArticle(ev.PrevKv.Value, ev.PrevKv.ModRevision)
			if err != nil {
				return nil, err
			}
			// The server trims a delete to id, slug and revision and
			// matches filters against the rest; revision is the delete's,
			// as in the bbolt store's log.
			a.Revision = rev
			e.Article = a
		} else {
			e.Article = &articlesv1.Article{Id: id, Revision: rev}
		}
		return e, nil
	}
	a, err := decodeArticle(ev.Kv.Value, ev.Kv.ModRevision)
	if err != nil {
		return nil, err
	}
	typ := articlesv1.ArticleEvent_UPDATED
	if ev.IsCreate() {
		typ = articlesv1.ArticleEvent_CREATED
	}
	return &articlesv1.ArticleEvent{Type: typ, Revision: a.GetRevision(), Article: a}, nil
}
