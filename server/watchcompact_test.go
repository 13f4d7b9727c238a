package server_test

// TestWatchResumeRacingCompaction: issue 3's "compaction racing a resuming
// watcher". Watchers resume from revisions at the edge of a small retained
// history while writers push the log past it; each must get either every
// event from its start revision, in order, or OUT_OF_RANGE naming an oldest
// revision it had not reached: never a gap and never a silent skip.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// Bounds of TestWatchResumeRacingCompaction.
const (
	rcHistory  = 50  // revisions the log keeps
	rcWriters  = 2   // concurrent writers
	rcWrites   = 160 // writes per writer; every one succeeds
	rcWatchers = 30  // resuming watchers started while the writers run
)

// rcWrite is what a writer knows of one acknowledged write.
type rcWrite struct {
	typ   articlesv1.ArticleEvent_Type
	id    string
	title string // for creates and updates
}

// rcResult is what one resuming watcher saw.
type rcResult struct {
	start      int64
	events     []*articlesv1.ArticleEvent // non-PROGRESS events, as received
	outOfRange int64                      // the oldest revision OUT_OF_RANGE named, or 0
	err        error                      // anything else that went wrong
}

// rcWriter writes creates, updates and deletes of its own articles and
// records each acknowledged write: creates and updates by the revision
// they return, deletes (which return no revision) by id.
func rcWriter(ctx context.Context, c articlesv1.ArticleServiceClient, w int, rng *rand.Rand, acks *atomic.Int64,
	mu *sync.Mutex, byRev map[int64]rcWrite, deleted map[string]bool) error {
	var live []string
	for i := range rcWrites {
		title := fmt.Sprintf("racing w%d n%d", w, i)
		switch p := rng.IntN(100); {
		case len(live) == 0 || p < 40:
			a, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: article(title)})
			if err != nil {
				return fmt.Errorf("create %q: %w", title, err)
			}
			live = append(live, a.GetId())
			mu.Lock()
			byRev[a.GetRevision()] = rcWrite{articlesv1.ArticleEvent_CREATED, a.GetId(), title}
			mu.Unlock()
		case p < 80:
			id := live[rng.IntN(len(live))]
			a, err := c.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{
				Article:    &articlesv1.Article{Id: id, Title: title},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			})
			if err != nil {
				return fmt.Errorf("update %s: %w", id, err)
			}
			mu.Lock()
			byRev[a.GetRevision()] = rcWrite{articlesv1.ArticleEvent_UPDATED, id, title}
			mu.Unlock()
		default:
			k := rng.IntN(len(live))
			id := live[k]
			if _, err := c.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: id}); err != nil {
				return fmt.Errorf("delete %s: %w", id, err)
			}
			live = append(live[:k], live[k+1:]...)
			mu.Lock()
			deleted[id] = true
			mu.Unlock()
		}
		acks.Add(1)
	}
	return nil
}

// rcWatch watches from start until it has received the event at revision
// last or the stream fails. It never calls t.Fatal, since it runs in its
// own goroutine: problems go into the result.
func rcWatch(ctx context.Context, c articlesv1.ArticleServiceClient, start, last int64) rcResult {
	res := rcResult{start: start}
	s, err := c.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{StartRevision: start})
	next := start // the revision this watcher needs next
	opened := false
	for err == nil && next <= last {
		var ev *articlesv1.ArticleEvent
		if ev, err = s.Recv(); err != nil {
			break
		}
		switch {
		case !opened:
			opened = true
			if ev.GetType() != articlesv1.ArticleEvent_PROGRESS || ev.GetRevision() != start-1 {
				res.err = fmt.Errorf("opening message %v, want PROGRESS at %d", ev, start-1)
				return res
			}
		case ev.GetType() == articlesv1.ArticleEvent_PROGRESS:
			// A bookmark promises everything up to its revision was sent.
			if ev.GetRevision() >= next {
				res.err = fmt.Errorf("PROGRESS at %d while revision %d was never sent: a silent skip", ev.GetRevision(), next)
				return res
			}
		case ev.GetRevision() != next:
			res.err = fmt.Errorf("event at revision %d, want %d (gap, duplicate or disorder)", ev.GetRevision(), next)
			return res
		default:
			res.events = append(res.events, ev)
			next++
		}
	}
	if err == nil {
		return res
	}
	st := status.Convert(err)
	if st.Code() != codes.OutOfRange {
		res.err = fmt.Errorf("stream ended after %d events: %v", len(res.events), err)
		return res
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			res.outOfRange, _ = strconv.ParseInt(info.GetMetadata()["oldest_revision"], 10, 64)
		}
	}
	// The oldest revision must be past what the watcher still needed;
	// anything else would mean the log held it and the server gave up.
	if res.outOfRange <= next {
		res.err = fmt.Errorf("OUT_OF_RANGE %v names oldest revision %d, but revision %d was needed", st.Message(), res.outOfRange, next)
	}
	return res
}

func TestWatchResumeRacingCompaction(t *testing.T) {
	t.Parallel()
	bboltOnly(t, "consecutive revisions from 1; compaction by history length")
	db := openStoreWith(t, store.WithHistory(rcHistory))
	// A small ring, so that resuming watchers read the log (where
	// compaction bites) rather than the ring.
	e := newEnv(t, db, server.WithWatchBuffer(8))
	// A ceiling for a loaded CI machine (the whole run takes seconds), not
	// an expectation; testCtx's 20s is tight for this many calls under -race.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const last int64 = rcWriters * rcWrites // revisions are dense: the last write's

	var (
		mu      sync.Mutex
		byRev   = map[int64]rcWrite{}
		deleted = map[string]bool{}
		acks    atomic.Int64
		wg      sync.WaitGroup
	)
	for w := range rcWriters {
		wg.Go(func() {
			if err := rcWriter(ctx, e.client, w, rand.New(rand.NewPCG(uint64(w), 7)), &acks, &mu, byRev, deleted); err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		})
	}

	// Start watchers as the log grows, each from a revision near the edge
	// of the retained history (just inside or just outside), or from the
	// current revision.
	offsets := []int64{-12, -5, -2, -1, 0, 1, 2, 5, 12, rcHistory}
	results := make([]rcResult, rcWatchers)
	var watchers sync.WaitGroup
	waitUntil := time.Now().Add(time.Minute) // for all launches together
	for i := range rcWatchers {
		threshold := int64(i+1) * last / (rcWatchers + 1)
		for n := 0; acks.Load() < threshold && n < 60_000 && time.Now().Before(waitUntil); n++ {
			time.Sleep(time.Millisecond)
		}
		cur, err := db.Revision(ctx)
		if err != nil {
			t.Fatalf("Revision: %v", err)
		}
		start := min(max(cur-rcHistory+offsets[i%len(offsets)], 1), cur)
		watchers.Go(func() { results[i] = rcWatch(ctx, e.client, start, last) })
	}
	wg.Wait()
	watchers.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Two outcomes that do not depend on timing: once compaction has
	// passed a revision, resuming there is OUT_OF_RANGE; the most recent
	// history revisions are always served.
	gone := last - rcHistory - 5
	waitCompactedPast(t, db, gone)
	results = append(results,
		rcWatch(ctx, e.client, gone, last),
		rcWatch(ctx, e.client, last-rcHistory+1, last))
	if r := results[len(results)-2]; r.outOfRange == 0 {
		t.Errorf("watch from compacted revision %d: %d events, err %v; want OUT_OF_RANGE", gone, len(r.events), r.err)
	}
	if r := results[len(results)-1]; r.outOfRange != 0 || len(r.events) != rcHistory {
		t.Errorf("watch from retained revision %d: %d events, OUT_OF_RANGE %d, err %v; want all %d",
			r.start, len(r.events), r.outOfRange, r.err, rcHistory)
	}

	// Check every event against the writers' acknowledgements. A delete's
	// revision is not returned, so a revision without a create or update is
	// a delete of an acknowledged id, at the same revision for every
	// watcher that saw it.
	if int64(len(byRev)+len(deleted)) != last {
		t.Fatalf("%d creates and updates and %d deletes acknowledged, want %d writes", len(byRev), len(deleted), last)
	}
	deleteRev := map[string]int64{}
	complete, cut := 0, 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("watcher %d from %d: %v", i, r.start, r.err)
			continue
		}
		for _, ev := range r.events {
			rev, a := ev.GetRevision(), ev.GetArticle()
			if w, ok := byRev[rev]; ok {
				if ev.GetType() != w.typ || a.GetId() != w.id || a.GetTitle() != w.title || a.GetRevision() != rev {
					t.Errorf("watcher %d: event %v at revision %d, want %v %s %q", i, ev, rev, w.typ, w.id, w.title)
				}
				continue
			}
			if ev.GetType() != articlesv1.ArticleEvent_DELETED || !deleted[a.GetId()] {
				t.Errorf("watcher %d: event %v at revision %d matches no acknowledged write", i, ev, rev)
				continue
			}
			if r, ok := deleteRev[a.GetId()]; ok && r != rev {
				t.Errorf("watcher %d: delete of %s at revision %d, another watcher saw it at %d", i, a.GetId(), rev, r)
			}
			deleteRev[a.GetId()] = rev
		}
		if r.outOfRange != 0 {
			cut++
		} else {
			complete++
			if want := last - r.start + 1; int64(len(r.events)) != want {
				t.Errorf("watcher %d from %d ended with %d events, want %d", i, r.start, len(r.events), want)
			}
		}
	}
	t.Logf("%d watchers got every event from their start, %d got OUT_OF_RANGE", complete, cut)
}
