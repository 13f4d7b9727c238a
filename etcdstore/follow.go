package etcdstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The local view. Every server follows the article keys with a watch from
// the revision it read at Open, and keeps the revision that watch has
// reached (WaitRevision waits for it) and the newest events it delivered
// (Changes serves the live feed from them without a watch of its own).
// When the watch is compacted away (the server was cut off for longer
// than the cluster keeps history) the view starts again from the
// cluster's current revision, without events.

// localView is what the watch has delivered.
type localView struct {
	// mu protects every field below.
	mu  sync.RWMutex
	rev int64
	// wake is closed and replaced whenever rev advances.
	wake chan struct{}
	// recent are the newest change events the watch delivered, oldest
	// first: every event with floor < revision <= rev.
	recent []*articlesv1.ArticleEvent
	floor  int64
}

// recentEvents bounds localView.recent.
const recentEvents = 1024

func newLocalView() *localView { return &localView{wake: make(chan struct{})} }

// revision returns the view's revision and a channel closed when it next
// advances.
func (v *localView) revision() (int64, <-chan struct{}) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.rev, v.wake
}

// advanceLocked moves rev forward and wakes waiters. v.mu must be held.
func (v *localView) advanceLocked(rev int64) {
	if rev > v.rev {
		v.rev = rev
		close(v.wake)
		v.wake = make(chan struct{})
	}
}

// startView reads the cluster's revision, builds the list index there and
// restarts the view there, without events (those before it are not
// known), and returns it.
func (s *Store) startView(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(ctx, s.prefix+revisionPart)
	if err != nil {
		return 0, etcdErr(ctx, "read the revision", err)
	}
	rev := resp.Header.Revision
	index, err := s.buildIndex(ctx, rev)
	if err != nil {
		return 0, err
	}
	// The view holds every write up to etcd revision rev: every slot of it.
	srev := storeRevision(rev, maxSlots-1)
	v := s.view
	v.mu.Lock()
	defer v.mu.Unlock()
	v.recent, v.floor = nil, max(srev, v.rev)
	s.index.replace(index)
	s.cache.reset(srev)
	v.advanceLocked(srev)
	return rev, nil
}

// follow feeds the view from the watch on the article keys, from after
// revision rev, until the store closes. It reconnects after errors and
// restarts the view when its revision has been compacted.
func (s *Store) follow(rev int64) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.quit
		cancel()
	}()
	pause := time.Duration(0)
	for ctx.Err() == nil {
		if h := s.beforeWatch.Swap(nil); h != nil {
			(*h)()
		}
		err := s.followFrom(ctx, &rev)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errCompactedView) {
			if r, lerr := s.startView(ctx); lerr == nil {
				rev = r
				pause = 0
				continue
			}
		}
		pause = min(max(2*pause, 50*time.Millisecond), 2*time.Second)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

var errCompactedView = errors.New("etcdstore: view revision compacted")

// followFrom applies watch events after *rev to the view, advancing *rev,
// until the watch ends.
func (s *Store) followFrom(ctx context.Context, rev *int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.watchCancel.Store(&cancel)
	// RequireLeader: a member cut off from the cluster ends the watch, and
	// the retry finds a member that is not.
	wch := s.cli.Watch(clientv3.WithRequireLeader(wctx), s.prefix+articlePart,
		clientv3.WithPrefix(), clientv3.WithRev(*rev+1), clientv3.WithPrevKV())
	for wr := range wch {
		if wr.CompactRevision != 0 {
			return errCompactedView
		}
		if err := wr.Err(); err != nil {
			return err
		}
		// A response holds every event of each of its etcd revisions;
		// one revision's events are sorted by slot.
		evs := make([]*articlesv1.ArticleEvent, 0, len(wr.Events))
		var dropped []string // ids whose events did not decode
		top := int64(0)
		for _, ev := range wr.Events {
			if ev.Kv.ModRevision <= *rev {
				continue // a resumed watch may repeat what was applied
			}
			top = max(top, storeRevision(ev.Kv.ModRevision, 0))
			e, err := s.event(ev)
			if err != nil {
				// A corrupt value: Get and Changes report it.
				dropped = append(dropped, strings.TrimPrefix(string(ev.Kv.Key), s.prefix+articlePart))
				continue
			}
			evs = append(evs, e)
		}
		slices.SortStableFunc(evs, func(a, b *articlesv1.ArticleEvent) int { return cmp.Compare(a.GetRevision(), b.GetRevision()) })
		for _, ev := range wr.Events {
			*rev = max(*rev, ev.Kv.ModRevision)
		}
		for _, e := range evs {
			top = max(top, e.GetRevision())
		}
		// The list index and the cache first: a read that sees the view
		// advanced finds them there too.
		s.index.apply(evs, dropped, *rev)
		s.cache.apply(evs, dropped, top)
		v := s.view
		v.mu.Lock()
		for _, e := range evs {
			v.recent = append(v.recent, e)
			if n := len(v.recent); n > recentEvents {
				v.floor = v.recent[n-recentEvents-1].GetRevision()
				v.recent = slices.Delete(v.recent, 0, n-recentEvents)
			}
		}
		v.advanceLocked(top)
		v.mu.Unlock()
	}
	return errors.New("etcdstore: watch closed")
}

// recentFrom returns the events with revision >= from that the view
// holds, at most limit, copied for the caller, and whether the view can
// answer: it must have reached last and hold every event from from on.
func (v *localView) recentFrom(from, last int64, limit int) ([]*articlesv1.ArticleEvent, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.rev < last || from <= v.floor {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(v.recent, from, func(e *articlesv1.ArticleEvent, rev int64) int {
		return cmp.Compare(e.GetRevision(), rev)
	})
	var out []*articlesv1.ArticleEvent
	for _, e := range v.recent[i:] {
		if len(out) >= limit {
			break
		}
		out = append(out, proto.Clone(e).(*articlesv1.ArticleEvent))
	}
	return out, true
}
