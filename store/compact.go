package store

import (
	"go.etcd.io/bbolt"
)

// Compaction keeps the change log to the most recent cfg.history revisions.
// The committer nudges the compactor when the log has passed its limit; the
// compactor deletes the oldest events in transactions of at most
// compactChunk keys, so it never holds the write lock for long, and records
// the newest removed revision in meta (compacted) in the same transaction.
// It waits for no reader of the log: a watcher or a full-text engine that
// falls behind gets ErrCompacted and starts over from the articles.

// compactChunk bounds the events one compaction transaction deletes. It is
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

// compact deletes events until at most cfg.history remain, stopping early
// when the store closes. A failure is logged; the next commit retries.
func (db *DB) compact() {
	for {
		select {
		case <-db.quit:
			return
		default:
		}
		target := db.rev.value() - db.cfg.history
		if target <= db.compacted.Load() {
			return
		}
		var done int64
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketEvents)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < compactChunk; k, _ = c.Next() {
				rev, ok := decodeUint(k)
				if !ok || int64(rev) > target {
					break
				}
				keys = append(keys, append([]byte(nil), k...))
			}
			done = target
			if len(keys) == compactChunk {
				n, _ := decodeUint(keys[len(keys)-1])
				done = int64(n)
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(metaCompacted, encodeUint(uint64(done)))
		})
		if err != nil {
			db.log.Error("store: compacting the change log failed", "err", err)
			return
		}
		db.compacted.Store(done)
	}
}
