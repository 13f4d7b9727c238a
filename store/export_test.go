package store

import "go.etcd.io/bbolt"

// Tests shrink compaction transactions so that a short log exercises
// several of them.
func init() { compactChunk = 100 }

// WriteError exposes the mapping of failed commits to tests, since a full
// disk cannot be arranged portably.
func (db *DB) WriteError(err error) error { return db.writeError(err) }

// SetSearchIndexing turns the full-text indexing of writes on or off for
// every DB of the package, so that benchmarks can compare imports with and
// without it. Only benchmarks use it: it is global, and they do not run in
// parallel with tests.
func SetSearchIndexing(on bool) { skipSearchIndex.Store(!on) }

// BucketSizes returns the bytes allocated to each top-level bucket, nested
// buckets included (bbolt's LeafAlloc plus BranchAlloc), so that benchmarks
// can report the search index's size against the articles'.
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
