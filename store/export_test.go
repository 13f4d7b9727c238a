package store

// Tests shrink compaction transactions so that a short log exercises
// several of them.
func init() { compactChunk = 100 }
