package store

import (
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// Tests shrink compaction transactions so that a short log exercises
// several of them.
func init() { compactChunk = 100 }

// WriteError exposes the mapping of failed commits to tests, since a full
// disk cannot be arranged portably.
func (db *DB) WriteError(err error) error { return db.writeError(err) }

// BucketSizes returns the bytes allocated to each top-level bucket, nested
// buckets included (bbolt's LeafAlloc plus BranchAlloc), so that benchmarks
// can report where the file's bytes go.
func (db *DB) BucketSizes() (map[string]int64, error) {
	sizes := map[string]int64{}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			s := b.Stats()
			sizes[string(name)] = int64(s.LeafAlloc + s.BranchAlloc)
			return nil
		})
	})
	return sizes, err
}

// CompactedRevision returns the newest revision compaction has removed.
func (db *DB) CompactedRevision() int64 { return db.compacted.Load() }

// The store's own bound, which the init function of the tests shrinks
// (package variables are set before any init function runs).
var prodCompactChunk = compactChunk

// ProductionBounds gives the bound the tests shrink (compaction
// transactions) the store's own value until b ends: benchmark figures are
// about that. Benchmarks run one at a time after every test, so this races
// with nothing.
func ProductionBounds(b *testing.B) {
	cc := compactChunk
	compactChunk = prodCompactChunk
	b.Cleanup(func() { compactChunk = cc })
}

// EventCount returns how many events the change log holds, compacted
// history's current versions included.
func (db *DB) EventCount() (int, error) {
	var n int
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketEvents).Stats().KeyN
		return nil
	})
	return n, err
}

// HoldCheckpoints stops the timed and size-bound checkpoints of the
// write-ahead log until the test ends, so that every write after Open's
// checkpoint stays in the log.
func HoldCheckpoints(t *testing.T) {
	interval, size := walInterval, walMaxBytes
	walInterval, walMaxBytes = time.Hour, 1<<40
	t.Cleanup(func() { walInterval, walMaxBytes = interval, size })
}

// Crash stops db as a kill -9 would: queued writes commit, but there is
// no last checkpoint, the log stays and the file is closed unsynced.
func (db *DB) Crash() {
	db.closeMu.Lock()
	db.closed = true
	db.isClosed.Store(true)
	db.closeMu.Unlock()
	close(db.quit)
	db.wg.Wait()
	_ = db.wal.close(false)
	_ = db.bolt.Close()
}

// CheckpointEvery makes the write-ahead log checkpoint every d while
// records arrive, until the test ends.
func CheckpointEvery(t *testing.T, d time.Duration) {
	interval := walInterval
	walInterval = d
	t.Cleanup(func() { walInterval = interval })
}

// HoldFirstSync makes the first background sync of a checkpoint wait: it
// sends on began, then waits for release to be closed. Later syncs run at
// once.
func HoldFirstSync(t *testing.T) (began <-chan struct{}, release chan<- struct{}) {
	b, r := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	hook := syncHook
	syncHook = func() {
		once.Do(func() {
			b <- struct{}{}
			<-r
		})
	}
	t.Cleanup(func() { syncHook = hook })
	return b, r
}

// Checkpoints returns how many checkpoints of the write-ahead log have
// finished since Open (Open's own included).
func (db *DB) Checkpoints() int64 { return db.wal.checkpoints.Load() }
