// Package store keeps articles in one bbolt file. Its DB implements
// server.Store: CRUD by id and slug, ordered and filtered listing with
// stable cursors, idempotent creates, bulk import, a store-wide revision
// with a change log (the source of WatchArticles and of the full-text
// index, package fulltext, which keeps its own file).
//
// # Basics
//
// Open a file with Open and release it with Close. schema.go is the map of
// the file: every bucket and how its keys and values are encoded.
//
// Every write (create, update, delete, and each changed article of an
// import) takes the next store-wide revision and, in the same bbolt
// transaction, appends its event to the change log, points the article's
// id at that revision and moves its index entries. The event is the only
// copy of the article's content, as in etcd's MVCC store: the history is
// the store. A crash therefore never leaves an article without its indexes
// or its event, and never an event for a write that did not commit. The
// article's revision is that revision and its etag is derived from it, so
// the etag changes on every write.
//
// Writes go through group commit (commit.go): one committer goroutine runs
// every write that is queued when it gets to them in one transaction and one
// fsync. A lone writer does not wait for company; concurrent writers share
// fsyncs. That fsync is of the write-ahead log (wal.go), one record per
// transaction, and bbolt commits without syncing; checkpoints sync the
// file in the background. Every acknowledged write is in a synced record.
//
// Reads unmarshal values inside their transaction; what they return belongs
// to the caller. List walks an order index in read transactions of at most
// 256 keys and calls its callback between them, never inside one.
//
// Backup writes a consistent copy of the file, read in one transaction
// while writes go on, that Open serves as it was (backup.go).
//
// The change log keeps the most recent WithHistory revisions (default
// 100,000). A background compactor drops older history within moments of
// the log passing its limit, 1000 events per transaction: superseded
// versions and deletes go, while an event holding an article's current
// version stays for as long as it is current (the write that supersedes it
// then deletes it). Changes from a compacted revision returns an
// *articles.CompactedError naming the oldest one kept.
//
// Errors are the sentinels of package articles, wrapped with detail that is
// safe to show a client (never a file path); a full disk during a commit is
// articles.ErrNoSpace, and every method after Close returns
// articles.ErrClosed.
//
// # Caveats
//
// A long read transaction stops bbolt from remapping a growing file, which
// stalls every writer: keep transactions short, which is why List pages
// through many small ones. The price is that a listing is not a snapshot:
// an article that exists for the whole listing is seen exactly once, but
// one written during it may be seen in its new version or not at all.
//
// A filter on author, tag or source first reads the matching ids from each
// of those indexes (keys only, one short transaction per filter) and keeps
// the smallest set; the scan then walks the order index and loads only
// member articles. This is cheap when the filter is selective or the page
// is short, but a rare value still walks the order index key by key until
// the page fills, and a very common value costs a set as large as the
// index. A publish-time range ordered by publish time seeks straight into
// the publish index instead.
//
// bbolt never returns space to the file system: deleting articles or
// compacting history leaves free pages that later writes reuse, but the
// file does not shrink. Older files (schema versions 1 to 3, which kept a
// second copy of every article) are upgraded in one transaction at Open.
//
// Request ids (for idempotent creates) are kept forever: they are small, and
// dropping them with the change log would make a late retry create a
// duplicate.
//
// bbolt allows one writer process per file: a second Open of the same file,
// in this or another process, fails after the open timeout (default one
// second) with "database is locked by another process".
package store
