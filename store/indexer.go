package store

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// The indexer: one goroutine per DB that brings the full-text index up to
// the change log (see the comment at the top of search.go).
//
// It wakes on every commit, reads the events after the indexed revision in
// short read transactions (at most indexReadChunk events each), keeps the
// last event of each article (reading only its id), decodes and analyses
// the articles on worker goroutines (each reading its event again in a
// read transaction of its own), builds the batch's segment (segment.go)
// for the docnums it expects, all outside any write transaction, and then
// applies the batch in one write transaction of its own that also stores
// the new indexed revision (meta "indexed"). While it builds and commits
// one batch, a second goroutine reads and analyses the next. A batch read
// while writes came leaves them a processor: its last worker (the spare)
// analyses only once writes have paused for indexQuietFor, or while an
// indexing transaction holds them back, so that a long import keeps most
// of its rate and the index catches up on every processor after it. Between batches it does one step of the index's
// maintenance: the rebuild after an upgrade, or a merge of segments (held
// back while the indexer is behind). A batch ends at a number of events or at
// indexBatchBytes of event payload, whichever comes first. The number
// adapts (between indexBatchMin and indexBatchMax) so that one indexing
// transaction, and so the longest a writer waits on search work, takes
// about indexTxTarget: bigger batches make bigger segments, and so fewer
// merges, but hold the write lock longer.

const (
	// indexBatchMin, indexBatchMax and indexBatchStart bound the events
	// one indexing transaction applies, and are the first bound.
	indexBatchMin, indexBatchMax, indexBatchStart = 100, 5000, 2000
	// indexTxTarget is how long an indexing transaction should take.
	indexTxTarget = 1500 * time.Millisecond
	// indexBatchBytes bounds the event bytes one indexing transaction
	// applies, so that huge articles make shorter batches.
	indexBatchBytes = 16 << 20
	// indexReadChunk bounds the events one read transaction of the
	// indexer reads.
	indexReadChunk = 500
	// indexQuietFor is how long the store must go without a commit for
	// the indexer's spare analysis worker to start.
	indexQuietFor = 50 * time.Millisecond
	// indexRetry is how long the indexer waits after a failed batch (a
	// full disk, say) before it tries again.
	indexRetry = time.Second
)

// indexerLoop is the indexer goroutine. While it builds and commits one
// batch, a second goroutine prepares the next (reads and analyses it), so
// that analysis, the costly part, overlaps the rest.
func (db *DB) indexerLoop() {
	defer db.wg.Done()
	limit := indexBatchStart
	var next chan *preparedBatch // the batch being prepared, if any
	defer func() {
		if next != nil {
			<-next // the preparing goroutine ends with its batch
		}
	}()
	for {
		rev, revCh := db.rev.load()
		active := !db.indexPaused.Load() && !skipSearchIndex.Load()
		if active {
			// Index maintenance first: a due rebuild, then a step of a
			// merge. Each is one bounded transaction, and then the loop
			// applies the next batch, so neither holds the index back
			// for long. Merges wait until the index has caught up,
			// unless segments pile up; past maxSegments (a long merge of
			// big segments while batches keep coming), batches wait for
			// merges instead, so that searches never read too many.
			worked, err := db.rebuildStep()
			urgent := false
			if err == nil && !worked {
				var segs int
				worked, segs, err = db.mergeStep(false, db.indexedRevision() < rev)
				urgent = segs >= maxSegments
			}
			if err != nil {
				db.log.Error("store: search index maintenance failed; retrying", "err", err)
				select {
				case <-db.quit:
					return
				case <-time.After(indexRetry):
				}
				continue
			}
			if worked && (urgent || db.indexedRevision() >= rev) {
				select {
				case <-db.quit:
					return
				default:
				}
				continue
			}
		}
		if db.indexedRevision() < rev && active {
			var pb *preparedBatch
			if next != nil {
				pb = <-next
				next = nil
				if pb.err != nil || pb.from != db.indexedRevision() {
					pb = nil // prepared for a state that did not come
				}
			}
			if pb == nil {
				pb = db.prepareBatch(db.indexedRevision(), limit)
			}
			err := pb.err
			if err == nil && pb.count > 0 {
				if pb.last < db.rev.value() {
					ch := make(chan *preparedBatch, 1)
					from, lim := pb.last, limit
					go func() { ch <- db.prepareBatch(from, lim) }()
					next = ch
				}
				var took time.Duration
				took, err = db.commitIndexBatch(pb)
				if took > 0 {
					// Scale the batch towards the target duration, at
					// most doubling at a time.
					n := int(float64(pb.count) * float64(indexTxTarget) / float64(took))
					limit = max(indexBatchMin, min(indexBatchMax, n, 2*limit))
				}
			}
			if err != nil {
				db.log.Error("store: search indexing failed; retrying", "err", err)
				select {
				case <-db.quit:
					return
				case <-time.After(indexRetry):
				}
			}
			select {
			case <-db.quit:
				return
			default:
			}
			continue
		}
		select {
		case <-db.quit:
			return
		case <-revCh:
		case <-db.indexNudge:
		}
	}
}

// indexedRevision returns the revision the search index reflects.
func (db *DB) indexedRevision() int64 {
	return db.indexed.value()
}

// setIndexed raises the indexed revision to rev and wakes its waiters. It
// never lowers it.
func (db *DB) setIndexed(rev int64) {
	if db.indexed.advance(rev) {
		db.maybeCompact(db.rev.value()) // compaction may have waited for the indexer
	}
}

// waitIndexed blocks until the index reflects revision rev, ctx is done
// (returning ctx.Err()) or the store is closed (articles.ErrClosed).
func (db *DB) waitIndexed(ctx context.Context, rev int64) error {
	if err := db.readable(ctx); err != nil {
		return err
	}
	return db.indexed.wait(ctx, rev, db.quit)
}

// pendingEvent is the last event of one article within a batch: its
// revision, which the analysis workers read and decode.
type pendingEvent struct {
	id  string
	rev int64
}

// preparedBatch is the next batch of events for the index, read and
// analysed outside any write transaction.
type preparedBatch struct {
	from, last int64 // it applies the events (from, last]
	count      int   // events read
	items      []indexItem
	err        error
}

// prepareBatch reads the events after revision from, at most limit of them
// or indexBatchBytes, and decodes and analyses them. It reads only the
// article id of each event, in short read transactions: the analysis
// workers read the last event of each article again, each in a read
// transaction of its own, and decode it there, which spares copying it.
// (The compactor keeps every event after the indexed revision.)
func (db *DB) prepareBatch(from int64, limit int) *preparedBatch {
	revAtStart := db.rev.value()
	pb := &preparedBatch{from: from, last: from}
	var (
		byID = map[string]int{}
		evs  []pendingEvent
		size int
	)
	for pb.count < limit && size < indexBatchBytes {
		n := 0
		err := db.bolt.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucketEvents).Cursor()
			for k, v := c.Seek(encodeUint(uint64(pb.last + 1))); k != nil && n < indexReadChunk && pb.count < limit && size < indexBatchBytes; k, v = c.Next() {
				r, ok := decodeUint(k)
				if !ok {
					return fmt.Errorf("corrupt event key %x", k)
				}
				if int64(r) != pb.last+1 {
					return fmt.Errorf("change log has no event %d (found %d): run reindex", pb.last+1, r)
				}
				id, err := peekEvent(v)
				if err != nil {
					return fmt.Errorf("corrupt event %d: %w", r, err)
				}
				pe := pendingEvent{id: id, rev: int64(r)}
				if i, ok := byID[pe.id]; ok {
					evs[i] = pe // the last event wins
				} else {
					byID[pe.id] = len(evs)
					evs = append(evs, pe)
				}
				pb.last = int64(r)
				n++
				pb.count++
				size += len(v)
			}
			return nil
		})
		if err != nil {
			pb.err = err
			return pb
		}
		if n == 0 {
			break
		}
	}
	if pb.count == 0 {
		return pb
	}
	decode := func(i int) (*articlesv1.Article, error) {
		e := new(articlesv1.ArticleEvent)
		rev := evs[i].rev
		err := db.bolt.View(func(tx *bbolt.Tx) error {
			v := tx.Bucket(bucketEvents).Get(encodeUint(uint64(rev)))
			if v == nil {
				return fmt.Errorf("change log has no event %d: run reindex", rev)
			}
			if err := proto.Unmarshal(v, e); err != nil { // copies what it keeps
				return fmt.Errorf("corrupt event %d: %w", rev, err)
			}
			return nil
		})
		if err != nil || e.GetType() == articlesv1.ArticleEvent_DELETED {
			return nil, err
		}
		return e.GetArticle(), nil
	}
	// While writes keep coming, leave them a processor: the index then
	// catches up once they pause, rather than slowing them down. The
	// last worker then analyses only while the store is quiet.
	workers := runtime.GOMAXPROCS(0)
	var quiet func(stop <-chan struct{}) <-chan struct{}
	if workers > 1 && db.rev.value() != revAtStart {
		workers--
		quiet = db.writesQuiet
	}
	wait, done := analyzeAll(len(evs), decode, workers, quiet)
	pb.items = make([]indexItem, len(evs))
	for i, pe := range evs {
		a, an, err := wait(i)
		if err != nil && pb.err == nil {
			pb.err = err
		}
		pb.items[i] = indexItem{id: pe.id, a: a, an: an}
	}
	done()
	return pb
}

// writesQuiet blocks until writers leave a processor free, and returns a
// channel that is closed when they may take it again; or returns nil once
// stop or db.quit is closed. (The indexer's spare analysis worker waits
// on it.) Writers leave a processor free when no write has committed for
// indexQuietFor (the channel is then closed at the next commit), and
// while an indexing transaction runs, since bbolt has one writer at a
// time (the channel is closed when it ends).
func (db *DB) writesQuiet(stop <-chan struct{}) <-chan struct{} {
	t := time.NewTimer(indexQuietFor)
	defer t.Stop()
	// Each round ends with a commit or the start of an indexing
	// transaction, or returns.
	for {
		_, next := db.rev.load()
		running, begins := db.indexTx.state()
		if running != nil {
			return running
		}
		t.Reset(indexQuietFor)
		select {
		case <-next:
		case <-begins:
		case <-t.C:
			return next
		case <-stop:
			return nil
		case <-db.quit:
			return nil
		}
	}
}

// txSignal tells when a kind of write transaction runs.
type txSignal struct {
	mu      sync.Mutex
	begins  chan struct{} // closed when the next one begins
	running chan struct{} // while one runs, closed when it ends; else nil
}

// begin marks the start of a transaction; end must follow.
func (s *txSignal) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.begins != nil {
		close(s.begins)
		s.begins = nil
	}
	s.running = make(chan struct{})
}

// end marks the end of the transaction begin started.
func (s *txSignal) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.running)
	s.running = nil
}

// state returns, while a transaction runs, a channel closed when it ends;
// otherwise a nil running and a channel closed when the next begins.
func (s *txSignal) state() (running, begins <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return s.running, nil
	}
	if s.begins == nil {
		s.begins = make(chan struct{})
	}
	return nil, s.begins
}

// commitIndexBatch applies pb in one write transaction, and returns how
// long that took. It builds pb's segment first, outside the transaction,
// for the docnums the batch will get unless something else (Reindex, the
// rebuild) takes some meanwhile: the analysis of the next batch then
// overlaps both.
func (db *DB) commitIndexBatch(pb *preparedBatch) (time.Duration, error) {
	var seq uint64
	err := db.bolt.View(func(tx *bbolt.Tx) error {
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
	pre := prebuildSegment(pb.items, seq)
	last := pb.last
	began := time.Now()
	signalled := false
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		// Writers wait from here until the commit ends.
		db.indexTx.begin()
		signalled = true
		stored, err := metaUint(tx, metaIndexed)
		if err != nil {
			return err
		}
		if int64(stored) != pb.from {
			// Reindex moved the indexed revision meanwhile: start over
			// from there.
			last = int64(stored)
			return nil
		}
		if err := indexItems(tx, pb.items, pre); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(metaIndexed, encodeUint(uint64(last)))
	})
	if signalled {
		db.indexTx.end()
	}
	took := time.Since(began)
	if err != nil {
		return took, db.writeError(err)
	}
	db.setIndexed(last)
	return took, nil
}

// mergeStep does one step of a segment merge in its own write
// transaction, if one is in progress or due (all: merge every segment into
// one; behind: only if there are maxSegmentsBehind segments or more), and
// reports whether it did, and how many segments there were.
func (db *DB) mergeStep(all, behind bool) (bool, int, error) {
	// Most calls find nothing to do: find out in a read transaction, as
	// committing even an empty write costs an fsync.
	var (
		due  bool
		segs int
	)
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		due, segs, err = mergeDue(tx, all, behind)
		return err
	})
	if err != nil || !due {
		return false, segs, err
	}
	var worked bool
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		var err error
		worked, err = mergeStep(tx, all)
		return err
	})
	if err != nil {
		return false, segs, db.writeError(err)
	}
	return worked, segs, nil
}
