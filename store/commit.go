package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/seed9c1868aa/articles"
	"go.etcd.io/bbolt"
)

// Group commit.
//
// Writers do not open bbolt transactions themselves: they queue an op and
// wait. One committer goroutine takes the first queued op, drains whatever
// else is already queued (at most maxBatch ops), runs them all in one write
// transaction and one fsync, and answers each. It never waits for more ops
// to arrive, so a lone writer pays one fsync and no delay, and concurrent
// writers share fsyncs. That fsync is the write-ahead log's (wal.go): the
// transaction's changes, appended as one record, are synced before bbolt
// commits them without syncing.
//
// Failures stay isolated by a rule every op follows: it checks everything
// (exists? etag? slug free?) before it mutates anything, so an op that
// returns a plain error has left the transaction untouched and the other ops
// of the batch still commit. An error after the op has started mutating is
// returned as a *mutationError; the committer then rolls the whole batch
// back and runs its ops again one transaction each, so only the faulty op
// fails. Ops run in queue order and see the writes of earlier ops of their
// batch.

// maxBatch bounds how many ops share one transaction.
const maxBatch = 256

// op is one queued write.
type op struct {
	ctx context.Context
	// run does the write in b. It must be safe to run again from scratch
	// (after a rolled-back batch), so it resets whatever it reports.
	run  func(b *batch) error
	err  error
	done chan struct{}
}

// batch is the state ops share within one write transaction.
type batch struct {
	tx  *bbolt.Tx
	rev int64 // the last revision taken in this transaction
	// compactedRev caches the meta value compacted (-1: not read yet).
	compactedRev int64
	// rec records every change, for the write-ahead log (wal.go).
	rec *walRecord
}

// compacted returns the newest revision compaction has passed. Compaction
// runs in write transactions of its own, so it cannot change during b.
func (b *batch) compacted() int64 {
	if b.compactedRev < 0 {
		n, _ := decodeUint(b.tx.Bucket(bucketMeta).Get(metaCompacted))
		b.compactedRev = int64(n)
	}
	return b.compactedRev
}

// nextRev takes the next store-wide revision. Call it only once every check
// has passed: a revision taken is a revision written.
func (b *batch) nextRev() int64 {
	b.rev++
	return b.rev
}

// mutationError marks an error that happened after an op began to mutate
// the transaction: the batch must be rolled back.
type mutationError struct{ err error }

func (e *mutationError) Error() string { return e.err.Error() }
func (e *mutationError) Unwrap() error { return e.err }

// mutated wraps a non-nil err as a *mutationError.
func mutated(err error) error {
	if err == nil {
		return nil
	}
	return &mutationError{err: err}
}

// submit queues a write and waits for its result. Once queued, the write is
// waited for even if ctx ends, so that the caller never sees a context error
// for a write that committed; the committer skips ops whose ctx has ended
// before they run.
func (db *DB) submit(ctx context.Context, run func(b *batch) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, run: run, done: make(chan struct{})}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return articles.ErrClosed
	}
	select {
	case db.ops <- o:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	<-o.done
	return o.err
}

// commitLoop is the committer goroutine. Between batches it begins and
// finishes checkpoints of the write-ahead log.
func (db *DB) commitLoop() {
	defer db.wg.Done()
	tick := time.NewTicker(walInterval)
	defer tick.Stop()
	for {
		var first *op
		select {
		case first = <-db.ops:
		case err := <-db.wal.syncedC():
			db.finishCheckpoint(err)
			continue
		case <-tick.C:
			db.maybeCheckpoint()
			continue
		case <-db.quit:
			// Close has made sure nothing more is enqueued; ops already
			// queued were accepted, so commit them.
			for {
				select {
				case o := <-db.ops:
					db.commitBatch(db.collect(o))
				default:
					return
				}
			}
		}
		db.commitBatch(db.collect(first))
		db.maybeCheckpoint()
	}
}

// maybeCheckpoint checkpoints the write-ahead log when one is due: after
// every commit while unpinned (on the committer), and otherwise every
// walInterval or walMaxBytes of log (with the sync in the background). A
// failure is logged; the log goes on growing and a later batch tries
// again (a failed sync fails every write).
func (db *DB) maybeCheckpoint() {
	w := db.wal
	if !w.dirty || w.pending != nil {
		return
	}
	if !w.pinned(db.highWater) {
		if !w.warned {
			w.warned = true
			db.log.Warn("store: the database file is past half its initial mapping: every commit now syncs the file; raise --initial-mmap-size",
				"size", db.highWater, "initial_mmap_size", db.cfg.mmapSize)
		}
		if err := w.checkpoint(db.bolt, false); err != nil {
			db.log.Error("store: write-ahead log checkpoint failed", "err", err)
		}
		return
	}
	if w.pin != nil && w.size < walMaxBytes && time.Since(w.last) < walInterval {
		return
	}
	cp, err := w.checkpointAsync(db.bolt)
	if err != nil {
		db.log.Error("store: write-ahead log checkpoint failed", "err", err)
		return
	}
	w.pending = cp
}

// finishCheckpoint finishes the pending checkpoint, whose sync returned
// err.
func (db *DB) finishCheckpoint(err error) {
	w := db.wal
	cp := w.pending
	w.pending = nil
	if err := w.finish(cp, err, w.pinned(db.highWater)); err != nil {
		db.log.Error("store: write-ahead log checkpoint failed", "err", err)
	}
}

// collect returns first and the ops already queued behind it, without
// waiting for more.
func (db *DB) collect(first *op) []*op {
	ops := []*op{first}
	for len(ops) < maxBatch {
		select {
		case o := <-db.ops:
			ops = append(ops, o)
		default:
			return ops
		}
	}
	return ops
}

// commitBatch runs ops in one transaction and answers them.
func (db *DB) commitBatch(ops []*op) {
	start := db.rev.value()
	w := db.wal
	if !w.pinned(db.highWater) {
		// This commit may remap the file; one commit after a checkpoint
		// leaves the checkpoint's pages alone without a pin (wal.go).
		if w.pending != nil {
			db.finishCheckpoint(<-w.pending.synced)
		}
		if w.pin != nil {
			_ = w.pin.Rollback()
			w.pin = nil
		}
	}
	logSize, logged := w.size, false

	end := start
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		db.rec.reset()
		b := &batch{tx: tx, rev: start, compactedRev: -1, rec: &db.rec}
		fillAppendOnly(tx)
		for _, o := range ops {
			if o.err = o.ctx.Err(); o.err != nil {
				continue
			}
			o.err = runOp(o, b)
			var me *mutationError
			if errors.As(o.err, &me) {
				return me
			}
		}
		if b.rev != start {
			if err := b.put(bucketMeta, metaRevision, encodeUint(uint64(b.rev))); err != nil {
				return mutated(err)
			}
		}
		end = b.rev
		var logTime time.Duration
		if db.rec.ops > 0 {
			t := time.Now()
			if err := w.append(&db.rec); err != nil {
				return err
			}
			logged, logTime = true, time.Since(t)
		}
		db.onCommit(tx, start, end, len(ops), logTime) // stats.go: article count, commit observer
		// The mark before the commit's own allocations: pinning stops
		// half a mapping short of a remap, far more than a commit adds.
		hw := tx.Size()
		tx.OnCommit(func() { db.highWater = hw })
		return nil
	})
	if err != nil && logged {
		w.undo(logSize)
	}
	var me *mutationError
	switch {
	case err == nil:
		db.published(end)
	case errors.As(err, &me) && len(ops) > 1:
		// Isolate the faulty op: each op alone in its own transaction.
		for _, o := range ops {
			db.commitBatch([]*op{o})
		}
		return // each single-op batch answered its op
	default:
		// The transaction did not commit: no op's write happened. Ops that
		// failed their own checks keep that more useful error.
		err = db.writeError(err)
		for _, o := range ops {
			if o.err == nil || len(ops) == 1 {
				o.err = err
			}
		}
	}
	for _, o := range ops {
		close(o.done)
	}
}

// appendOnly are the buckets whose new keys sort after every key they
// hold: revisions, and ULIDs (ids and create times), which grow with time.
var appendOnly = [][]byte{bucketEvents, bucketArticles, bucketCreateTime}

// fillAppendOnly has tx fill the pages of the appendOnly buckets before it
// splits them. bbolt splits a full page in half by default, which suits
// keys that land anywhere; keys that only append would leave every page
// half empty.
func fillAppendOnly(tx *bbolt.Tx) {
	for _, name := range appendOnly {
		tx.Bucket(name).FillPercent = 1.0
	}
}

// runOp runs o, turning a panic (in mutate, or in index code) into an error
// that rolls the batch back rather than killing the process.
func runOp(o *op, b *batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &mutationError{err: fmt.Errorf("store: write panicked: %v", r)}
		}
	}()
	return o.run(b)
}

// writeError maps a failed commit to what callers should see: ErrNoSpace for
// a full disk, and otherwise the error itself with its mutationError mark
// removed. (A closed file never reaches it: Close stops the committer
// before it closes the file, and submit answers ErrClosed after Close.) Detail that may carry a file path is
// logged, not returned.
func (db *DB) writeError(err error) error {
	var me *mutationError
	if errors.As(err, &me) {
		err = me.err
	}
	switch {
	case noSpace(err):
		db.log.Error("store: commit failed: disk full", "err", err)
		return fmt.Errorf("%w: the write was not committed", articles.ErrNoSpace)
	}
	return err
}

// noSpaceErrnos are the errors that mean the file cannot grow: a full disk,
// a full quota, or the process's file size limit (RLIMIT_FSIZE). To a
// client they are all the same: writes fail until an operator makes room,
// reads keep working.
var noSpaceErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG}

// noSpace reports whether err is one of noSpaceErrnos. bbolt reports a
// failure to grow the file ("file resize error: ...", "file sync error:
// ...") with the errno formatted into the text, not wrapped, so the text is
// matched too.
func noSpace(err error) bool {
	for _, errno := range noSpaceErrnos {
		if errors.Is(err, errno) || strings.Contains(err.Error(), errno.Error()) {
			return true
		}
	}
	return false
}

// published records that revision rev is committed and wakes waiters.
func (db *DB) published(rev int64) {
	if db.rev.advance(rev) {
		db.maybeCompact(rev)
	}
}
