package store

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
