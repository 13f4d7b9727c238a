// Package fulltext is the full-text index of the articles: derived data
// that an Engine keeps in a bbolt file of its own, beside the database
// (or, for etcd, on each server), by following a backend's change feed.
//
// # Basics
//
// Open an Engine on a file path and a Feed: the small part of a backend
// it reads (its revision, its change log, and a listing of every article
// for a rebuild). Both backends satisfy Feed as they are. Close it before
// the backend. Search ranks the articles matching a query with BM25
// (package search) and returns ids and scores; the caller loads the
// articles and builds snippets.
//
// One goroutine applies the feed's events in batches, each one bbolt
// transaction of the engine's file that also records the applied
// revision, and merges the index's segments between batches (search.go
// and segment.go hold the layout). Writes of the backend never wait for
// it.
//
// Invariants:
//   - Search first reads the feed's revision and waits (bounded by its
//     ctx) until the engine has applied it, so it sees every write
//     acknowledged before it began, through any server.
//   - The applied revision is stored in the transaction of the batch that
//     reaches it, so the file always holds the index of exactly one
//     revision.
//   - The engine rebuilds the index from a listing of the articles (then
//     follows the feed from the revision read before the listing) when
//     its file is missing, of another index version, fails to open or
//     read, was left mid-rebuild, or when its applied revision is older
//     than the oldest the change log keeps (Changes returns
//     articles.ErrCompacted) or, at Open, newer than the backend's (a
//     database restored from a backup beside the index of the newer
//     one). Searches wait for the rebuild to finish.
//
// # Durability
//
// Batches commit without fsync: the index is made durable now and then
// (a checkpoint every WithCheckpointInterval, and at Close), like the
// commit points of Lucene. A process crash loses nothing the kernel has
// accepted, so the engine resumes from its applied revision by replaying
// the feed. A machine crash may tear the file between checkpoints: a
// marker file (<path>.dirty, naming the boot) exists from the first
// commit after a checkpoint until the next one, and an Open that finds
// one of another boot rebuilds.
//
// # Caveats
//
// While the engine rebuilds or catches up, searches wait (up to their
// deadline); a rebuild of a large corpus takes as long as indexing it.
// A filter is applied to what the index recorded of each article (authors,
// tags, source, publish time) as of the applied revision. The change log
// must hold the events the engine has not applied: if the backend
// compacts them away, the engine rebuilds from scratch.
package fulltext
