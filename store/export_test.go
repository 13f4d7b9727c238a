package store

// Tests shrink compaction transactions so that a short log exercises
// several of them.
func init() { compactChunk = 100 }

// WriteError exposes the mapping of failed commits to tests, since a full
// disk cannot be arranged portably.
func (db *DB) WriteError(err error) error { return db.writeError(err) }
