package store

import (
	"bytes"
	"context"
	"errors"

	"github.com/seed9c1868aa/articles"
)

// Compaction keeps the change log to the most recent cfg.history revisions.
// The committer nudges the compactor when the log has passed its limit.
// The compactor submits ops to the committer like any write (so the
// write-ahead log records them), each walking at most compactChunk of the
// oldest retained events: it deletes those that no longer hold a current
// version (superseded, or a delete), keeps those that do (they are the
// articles' content, see events.go), and records the newest revision it
// has passed in meta (compacted) in the same transaction. It waits for no
// reader of the log: a watcher or a full-text engine that falls behind
// gets ErrCompacted and starts over from the articles.

// compactChunk bounds the events one compaction transaction walks. It is
// a variable only so that tests can exercise several chunks cheaply.
var compactChunk = 1000

// maybeCompact nudges the compactor if the log at revision rev holds more
// than the history it keeps.
func (db *DB) maybeCompact(rev int64) {
	if rev-db.compacted.Load() <= db.cfg.history {
		return
	}
	select {
	case db.compactNow <- struct{}{}:
	default: // a nudge is already pending
	}
}

// compactLoop is the compactor goroutine.
func (db *DB) compactLoop() {
	defer db.wg.Done()
	for {
		select {
		case <-db.quit:
			return
		case <-db.compactNow:
			db.compact()
		}
	}
}

// compact drops history until at most cfg.history revisions are retained,
// stopping early when the store closes. A failure is logged; the next
// commit retries.
func (db *DB) compact() {
	for {
		select {
		case <-db.quit:
			return
		default:
		}
		target := db.rev.value() - db.cfg.history
		from := db.compacted.Load()
		if target <= from {
			return
		}
		var done int64
		err := db.submit(context.Background(), func(b *batch) error {
			var err error
			done, err = compactRange(b, from, target)
			// Later ops of the batch read the new compacted revision.
			b.compactedRev = -1
			return mutated(err)
		})
		if errors.Is(err, articles.ErrClosed) {
			return
		}
		if err != nil {
			db.log.Error("store: compacting the change log failed", "err", err)
			return
		}
		db.compacted.Store(done)
	}
}

// compactRange drops the history of revisions (from, target], or of the
// first compactChunk of them, and returns the last revision it passed.
func compactRange(b *batch, from, target int64) (int64, error) {
	events := b.tx.Bucket(bucketEvents)
	arts := b.tx.Bucket(bucketArticles)
	var drop [][]byte
	done, walked := target, 0
	c := events.Cursor()
	for k, v := c.Seek(encodeUint(uint64(from + 1))); k != nil; k, v = c.Next() {
		rev, ok := decodeUint(k)
		if !ok || int64(rev) > target {
			break
		}
		if walked == compactChunk {
			done = int64(rev) - 1
			break
		}
		walked++
		// An event stays while it holds its article's current version.
		if id := eventArticleID(v); id == nil || !bytes.Equal(arts.Get(id), k) {
			drop = append(drop, bytes.Clone(k))
		}
	}
	for _, k := range drop {
		if err := b.del(bucketEvents, k); err != nil {
			return 0, err
		}
	}
	return done, b.put(bucketMeta, metaCompacted, encodeUint(uint64(done)))
}
