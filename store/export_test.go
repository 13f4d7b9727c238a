package store

import (
	"testing"

	"context"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"

	"go.etcd.io/bbolt"
)

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

// PauseIndexer stops db's indexer after its current batch until the
// returned resume is called, so that tests can hold the index behind the
// store.
func (db *DB) PauseIndexer() (resume func()) {
	db.indexPaused.Store(true)
	return func() {
		db.indexPaused.Store(false)
		select {
		case db.indexNudge <- struct{}{}:
		default:
		}
	}
}

// IndexedRevision returns the revision the search index reflects.
func (db *DB) IndexedRevision() int64 { return db.indexedRevision() }

// WaitIndexed blocks until the search index reflects every write committed
// so far, or ctx ends.
func (db *DB) WaitIndexed(ctx context.Context) error {
	rev, err := db.Revision(ctx)
	if err != nil {
		return err
	}
	return db.waitIndexed(ctx, rev)
}

// CompactedRevision returns the newest revision compaction has removed.
func (db *DB) CompactedRevision() int64 { return db.compacted.Load() }

// AnalyzeSize analyses a as the indexer does and returns the size of its
// encoded postings, for BenchmarkAnalyze.
func AnalyzeSize(a *articlesv1.Article) int { return len(analyze(a).buf) }

// SegmentBuilder analyses arts and returns a function that builds their
// segment (as docnums 1 to len(arts)), in chunks of the size the indexer
// makes, and returns its number of terms, for BenchmarkBuildSegment.
func SegmentBuilder(arts []*articlesv1.Article) func() int {
	docs := make([]segmentDoc, len(arts))
	for i, a := range arts {
		docs[i] = segmentDoc{uint32(i + 1), analyze(a)}
	}
	return func() int {
		_, _, n := buildSegment(docs, chunkTargetBytes)
		return n
	}
}

// The store's own bounds, which the init functions of the tests shrink
// (package variables are set before any init function runs).
var prodCompactChunk, prodMergeStepBytes, prodChunkTarget = compactChunk, mergeStepBytes, chunkTarget

// ProductionBounds gives the bounds the tests shrink (compaction and merge
// transactions, chunks) the store's own values until b ends: benchmark
// figures are about those. Benchmarks run one at a time after every test,
// so this races with nothing.
func ProductionBounds(b *testing.B) {
	cc, ms, ct := compactChunk, mergeStepBytes, chunkTarget
	compactChunk, mergeStepBytes, chunkTarget = prodCompactChunk, prodMergeStepBytes, prodChunkTarget
	b.Cleanup(func() { compactChunk, mergeStepBytes, chunkTarget = cc, ms, ct })
}
