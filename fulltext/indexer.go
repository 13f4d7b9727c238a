package fulltext

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"go.etcd.io/bbolt"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The indexer: one goroutine per Engine that brings the index up to the
// feed.
//
// It reads the events after the applied revision (Changes, at most
// changesPage per call), keeps the last event of each article, analyses
// the articles on worker goroutines and builds the batch's segment
// (segment.go) outside any transaction, then applies the batch in one
// transaction of the engine's file that also stores the new applied
// revision. While it builds and commits one batch, a second goroutine
// reads and analyses the next. Between batches it does one step of a
// merge of segments (held back while it is behind). A batch ends at a
// number of events or at indexBatchBytes of article text, whichever
// comes first; the number adapts (between indexBatchMin and
// indexBatchMax) so that one transaction takes about indexTxTarget.
//
// After a batch of fewer than lingerBatch events it lingers (up to linger)
// for more events before the next, unless a search is waiting for the
// index, so that a stream of writes makes batches of hundreds: every
// batch is a transaction and a segment, and every segment is rewritten
// by the merges of each tier it passes through, so larger first segments
// skip the smaller tiers' merges. When idle it waits for the feed's
// next revision, and checkpoints the file (engine.go) once cfg.checkpoint
// has passed since the last one.

const (
	// indexBatchMin, indexBatchMax and indexBatchStart bound the events
	// one indexing transaction applies, and are the first bound.
	indexBatchMin, indexBatchMax, indexBatchStart = 100, 5000, 2000
	// indexTxTarget is how long an indexing transaction should take.
	indexTxTarget = 1500 * time.Millisecond
	// indexBatchBytes bounds the article text one transaction applies, so
	// that huge articles make shorter batches.
	indexBatchBytes = 16 << 20
	// changesPage bounds the events one Changes call asks for.
	changesPage = 1000
	// indexRetry is how long the indexer waits after a failure (a full
	// disk, an unreachable backend) before it tries again.
	indexRetry = time.Second
	// failuresBeforeRebuild is how many consecutive failures of the
	// index's own transactions make the indexer rebuild the index.
	failuresBeforeRebuild = 3
	// linger is how long after a batch of fewer than lingerBatch events
	// the indexer waits for more events before the next, unless a search
	// waits for the index: under a stream of writes, batches then hold
	// hundreds of writes rather than the few that came while the last was
	// applied, and make fewer, larger segments to merge. A search that
	// waits for the index cuts it short, so it delays only what is not
	// yet asked for.
	linger = 200 * time.Millisecond
	// lingerBatch is the batch size from which the indexer does not
	// linger: the size from which a batch's segment skips the two lowest
	// merge tiers (see tier).
	lingerBatch = mergeTierBase * mergeFactor * mergeFactor
)

// errRebuild is returned by prepareBatch when the feed no longer holds
// the events after the applied revision.
var errRebuild = errors.New("fulltext: the change log no longer holds the events after the index's revision")

// run is the indexer goroutine; rebuild tells whether Open left a rebuild
// due.
func (e *Engine) run(rebuild bool) {
	defer e.wg.Done()
	ctx := e.ctx
	defer func() {
		if err := e.checkpoint(); err != nil {
			e.log.Error("fulltext: final checkpoint failed", "err", err)
		}
	}()
	limit := indexBatchStart
	failures := 0
	behind := false
	var small time.Time          // when the last small batch was committed
	var next chan *preparedBatch // the batch being prepared, if any
	drain := func() {
		if next != nil {
			<-next
			next = nil
		}
	}
	defer drain()
	fail := func(what string, err error, ours bool) {
		if ctx.Err() != nil {
			return
		}
		e.log.Error("fulltext: "+what+" failed; retrying", "err", err)
		if ours {
			if failures++; failures >= failuresBeforeRebuild {
				failures = 0
				rebuild = true
			}
		}
		sleep(ctx, indexRetry)
	}
	for ctx.Err() == nil {
		if e.requestRebuild.Swap(false) {
			rebuild = true
		}
		if e.paused.Load() {
			select {
			case <-ctx.Done():
			case <-e.nudge:
			}
			continue
		}
		if rebuild {
			drain()
			if err := e.rebuild(ctx); err != nil {
				fail("rebuilding the index", err, false)
				continue
			}
			rebuild, failures = false, 0
			continue
		}
		// A step of a merge first: each is one bounded transaction. Merges
		// wait while the indexer is behind, unless segments pile up;
		// past maxSegments batches wait for merges instead.
		worked, segs, err := e.mergeStep(false, behind)
		if err != nil {
			fail("merging segments", err, true)
			continue
		}
		if worked && (!behind || segs >= maxSegments) {
			continue
		}
		if !small.IsZero() && next == nil {
			e.linger(ctx, small)
			small = time.Time{}
		}
		from := e.applied.value()
		var pb *preparedBatch
		if next != nil {
			pb = <-next
			next = nil
			if pb.err != nil || pb.from != from {
				pb = nil // prepared for a state that did not come
			}
		}
		if pb == nil {
			pb = e.prepareBatch(ctx, from, limit)
		}
		if errors.Is(pb.err, errRebuild) {
			e.log.Warn("fulltext: the index fell behind the change log; rebuilding", "applied", from)
			rebuild = true
			continue
		}
		if pb.err != nil {
			fail("reading the change log", pb.err, false)
			continue
		}
		behind = pb.more
		if pb.last == from {
			behind = false
			e.idle(ctx, from)
			continue
		}
		if pb.more {
			ch := make(chan *preparedBatch, 1)
			f, lim := pb.last, limit
			go func() { ch <- e.prepareBatch(ctx, f, lim) }()
			next = ch
		}
		took, err := e.commitBatch(pb)
		if err != nil {
			drain()
			fail("indexing", err, true)
			continue
		}
		failures = 0
		if pb.count < lingerBatch && !pb.more {
			small = time.Now()
		}
		if pb.count > 0 && took > 0 {
			// Scale the batch towards the target duration, at most
			// doubling at a time.
			n := int(float64(pb.count) * float64(indexTxTarget) / float64(took))
			limit = max(indexBatchMin, min(indexBatchMax, n, 2*limit))
		}
		if since, _ := e.sinceCheckpoint(); since >= e.cfg.checkpoint {
			if err := e.checkpoint(); err != nil {
				e.log.Error("fulltext: checkpoint failed", "err", err)
			}
		}
	}
}

// linger waits until linger has passed since the small batch committed at
// since, a search waits for the index, or ctx ends.
func (e *Engine) linger(ctx context.Context, since time.Time) {
	d := linger - time.Since(since)
	if d <= 0 || e.waiting.Load() > 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-e.hurry:
	case <-e.nudge:
	}
}

// idle waits for the feed to pass revision rev, a nudge or the end of ctx,
// checkpointing the file when one is due meanwhile.
func (e *Engine) idle(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if since, dirty := e.sinceCheckpoint(); dirty {
		due := e.cfg.checkpoint - since
		if due <= 0 {
			if err := e.checkpoint(); err != nil {
				e.log.Error("fulltext: checkpoint failed", "err", err)
			}
		} else {
			wctx, cancel = context.WithTimeout(ctx, due)
			defer cancel()
		}
	}
	woke := make(chan error, 1)
	go func() { woke <- e.feed.WaitRevision(wctx, rev+1) }()
	select {
	case err := <-woke:
		if err != nil && wctx.Err() == nil {
			// The backend is closing or failing: do not spin.
			sleep(ctx, indexRetry)
		}
	case <-e.nudge:
		cancel()
		<-woke
	}
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// preparedBatch is the next batch of events for the index, read and
// analysed outside any transaction.
type preparedBatch struct {
	from, last int64 // it applies the events (from, last]
	count      int   // events read
	more       bool  // the feed may hold events after last
	items      []indexItem
	err        error
}

// prepareBatch reads the events after revision from, at most limit of
// them or indexBatchBytes of text, keeps each article's last, and
// analyses them. When the feed's events run out, last is the feed's
// revision read before them (revisions without events of their own are
// then applied too).
func (e *Engine) prepareBatch(ctx context.Context, from int64, limit int) *preparedBatch {
	pb := &preparedBatch{from: from, last: from}
	head, err := e.feed.Revision(ctx)
	if err != nil {
		pb.err = err
		return pb
	}
	var (
		byID = map[string]int{}
		evs  []*articlesv1.ArticleEvent
		size int
	)
	for pb.count < limit && size < indexBatchBytes {
		page, err := e.feed.Changes(ctx, pb.last+1, min(changesPage, limit-pb.count))
		if errors.Is(err, articles.ErrCompacted) {
			pb.err = errRebuild
			return pb
		}
		if err != nil {
			pb.err = err
			return pb
		}
		for _, ev := range page {
			id := ev.GetArticle().GetId()
			if i, ok := byID[id]; ok {
				evs[i] = ev // the last event wins
			} else {
				byID[id] = len(evs)
				evs = append(evs, ev)
			}
			pb.last = max(pb.last, ev.GetRevision())
			pb.count++
			size += len(ev.GetArticle().GetTitle()) + len(ev.GetArticle().GetBody())
		}
		if len(page) == 0 || pb.last >= head {
			break
		}
	}
	pb.more = pb.last < head
	if !pb.more {
		pb.last = max(pb.last, head)
	}
	if len(evs) == 0 {
		return pb
	}
	// While writes keep coming, leave them a processor.
	workers := runtime.GOMAXPROCS(0)
	if workers > 1 && pb.more {
		workers--
	}
	article := func(i int) (*articlesv1.Article, error) {
		if evs[i].GetType() == articlesv1.ArticleEvent_DELETED {
			return nil, nil
		}
		return evs[i].GetArticle(), nil
	}
	wait, done := analyzeAll(len(evs), article, workers)
	pb.items = make([]indexItem, len(evs))
	for i, ev := range evs {
		a, an, _ := wait(i)
		pb.items[i] = indexItem{id: ev.GetArticle().GetId(), a: a, an: an}
	}
	done()
	return pb
}

// commitBatch applies pb in one transaction, and returns how long that
// took. It builds pb's segment first, outside the transaction.
func (e *Engine) commitBatch(pb *preparedBatch) (time.Duration, error) {
	var seq uint64
	err := e.bolt.View(func(tx *bbolt.Tx) error {
		if root := tx.Bucket(bucketSearchIndex); root != nil {
			if docs := root.Bucket(searchIndexDocs); docs != nil {
				seq = docs.Sequence()
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := e.markDirty(); err != nil {
		return 0, err
	}
	var pre *prebuiltSegment
	if len(pb.items) > 0 {
		pre = prebuildSegment(pb.items, seq)
	}
	began := time.Now()
	err = e.update(func(tx *bbolt.Tx) error {
		if len(pb.items) > 0 {
			if err := indexItems(tx, pb.items, pre); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaApplied, encodeUint(uint64(pb.last)))
	})
	took := time.Since(began)
	if err != nil {
		return took, err
	}
	e.applied.set(pb.last)
	return took, nil
}

// update runs fn in a write transaction of the engine's file, turning a
// panic (bbolt's, on a damaged page) into an error.
func (e *Engine) update(fn func(tx *bbolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fulltext: index transaction panicked: %v", r)
		}
	}()
	return e.bolt.Update(fn)
}

// mergeStep does one step of a segment merge in its own write
// transaction, if one is in progress or due (all: merge every segment
// into one; behind: only if there are maxSegmentsBehind segments or
// more), and reports whether it did, and how many segments there were.
func (e *Engine) mergeStep(all, behind bool) (bool, int, error) {
	// Most calls find nothing to do: find out in a read transaction.
	var (
		due  bool
		segs int
	)
	err := e.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		due, segs, err = mergeDue(tx, all, behind)
		return err
	})
	if err != nil || !due {
		return false, segs, err
	}
	if err := e.markDirty(); err != nil {
		return false, segs, err
	}
	var worked bool
	err = e.update(func(tx *bbolt.Tx) error {
		var err error
		worked, err = mergeStep(tx, all)
		return err
	})
	return worked, segs, err
}

// errPageFull stops a rebuild's listing at a batch's bound.
var errPageFull = errors.New("page full")

// rebuild discards the index and indexes every article the feed lists,
// in batches of at most reindexBatch articles or reindexBatchBytes of
// text, each one transaction and one segment. It first reads the feed's
// revision: every article unchanged since is listed as it is then, and
// the events after it, applied by the indexer afterwards, bring the
// others up to date. The applied revision is 0 until the last batch,
// so searches wait; a crash mid-rebuild leaves the "rebuild" key, and
// the next Open starts over.
func (e *Engine) rebuild(ctx context.Context) error {
	began := time.Now()
	from, err := e.feed.Revision(ctx)
	if err != nil {
		return err
	}
	e.applied.set(rebuilding)
	// Counted once searches wait, so Rebuild's caller cannot see the
	// count move while the applied revision is still the old one.
	e.rebuilds.Add(1)
	if err := e.markDirty(); err != nil {
		return err
	}
	err = e.update(func(tx *bbolt.Tx) error {
		if err := clearSearchIndex(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(metaApplied, encodeUint(0)); err != nil {
			return err
		}
		return meta.Put(metaRebuild, encodeUint(uint64(from)))
	})
	if err != nil {
		return err
	}
	// Logged once the file says so: a crash from here on resumes the rebuild.
	e.log.Info("fulltext: rebuilding the index", "from_revision", from)
	order := articles.OrderCreateTime
	var (
		after articles.Cursor
		total int
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			arts []*articlesv1.Article
			size int
		)
		err := e.feed.List(ctx, articles.Query{Order: order}, after, reindexBatch, func(a *articlesv1.Article) error {
			arts = append(arts, a)
			size += len(a.GetTitle()) + len(a.GetBody())
			if size >= reindexBatchBytes {
				return errPageFull
			}
			return nil
		})
		if err != nil && !errors.Is(err, errPageFull) {
			return fmt.Errorf("list the articles: %w", err)
		}
		done := err == nil && len(arts) < reindexBatch
		if len(arts) > 0 {
			after = order.CursorOf(arts[len(arts)-1])
		}
		wait, finish := analyzeAll(len(arts), func(i int) (*articlesv1.Article, error) { return arts[i], nil }, runtime.GOMAXPROCS(0))
		items := make([]indexItem, len(arts))
		for i, a := range arts {
			_, an, _ := wait(i)
			items[i] = indexItem{id: a.GetId(), a: a, an: an}
		}
		finish()
		total += len(arts)
		err = e.update(func(tx *bbolt.Tx) error {
			if err := indexItems(tx, items, nil); err != nil {
				return err
			}
			if !done {
				return nil
			}
			meta := tx.Bucket(bucketMeta)
			if err := meta.Delete(metaRebuild); err != nil {
				return err
			}
			return meta.Put(metaApplied, encodeUint(uint64(from)))
		})
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	if err := e.checkpoint(); err != nil {
		return err
	}
	e.applied.set(from)
	e.log.Info("fulltext: index rebuilt", "articles", total, "revision", from, "took", time.Since(began).Round(time.Millisecond))
	return nil
}
