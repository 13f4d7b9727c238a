// Package etcdstore keeps articles in an etcd cluster. Its Store implements
// server.Store, so several articlesd processes can serve one replicated
// set of articles: etcd's Raft gives the replication, its revisions the
// store-wide revision and its watch the change feed.
//
// # Basics
//
// Open a Store on a connected *clientv3.Client and a key prefix; every key
// the store writes is under that prefix (keys.go is the map), so several
// stores can share one cluster. Close stops the background watch; the
// client remains the caller's to close.
//
// Every write of an article (create, update, delete, and each article of
// an import) puts the article, moves its slug claim and bumps the revision
// marker in one etcd transaction, guarded by compares
// only where they guard something: the article's mod revision is the one
// read (optimistic concurrency), the new slug's claim and the request id
// do not exist. Two servers racing on one slug or one etag cannot both
// win: etcd serialises the transactions and the loser's compare fails,
// which the store answers with ErrAlreadyExists or ErrConflict, or
// re-reads and retries (a bounded number of times) when the failure says
// nothing final. An update or a delete starts from the read cache's copy
// of the article when it holds one, with no read before its transaction:
// the compare refuses a copy the watch has not yet brought up to date,
// and the retry reads etcd. Request ids of idempotent creates are written
// in the same transaction under a lease, so they expire (default 24
// hours).
//
// Creates commit in groups (batch.go): concurrent creates, and the new
// slugs of an import, share transactions of as many as fit within etcd's
// --max-txn-ops and --max-request-bytes, several in flight at once; each
// keeps its own compares and its own exact answer. An article's store
// revision is etcd's revision of its transaction times 1024 plus its slot
// in that transaction, so every article write still has a revision of its
// own, in commit order; its etag is derived from it.
//
// Reads are linearizable: one etcd round trip per Get (by slug: once this
// server has read the slug, which it remembers as a guess it checks),
// in which the member confirms with the leader that it has applied every
// committed write (etcd shares that confirmation among concurrent reads).
// So a read through any server sees every write acknowledged before it
// began, whichever server took it. Get, GetBySlug and BatchGet answer
// from a read cache fed by the watch when it holds the articles, after a
// shared linearizable read of the revision (cache.go). Serializable reads would save that
// confirmation but could miss a write made through another server until
// this server's member had applied it, and no server can know how far
// behind its member is without asking the leader.
//
// The token key that signs page tokens is created by the first server on
// a prefix with a compare on create_revision == 0; every later server
// reads it, so tokens made by one server are accepted by all.
//
// The list indexes (one per order, and per author, tag and source value)
// are not in etcd: every server derives them from the articles, in memory
// (listindex.go), as Kubernetes' apiserver serves lists from its watch
// cache. Open reads every article once to build them; the watch keeps
// them current. List takes a linearizable fence of the cluster's last
// write, waits for this server's watch to reach it, then takes pages of at
// most 1,024 ids from the index and reads each page's articles with
// concurrent transactions at the revision the index reflects. So etcd
// holds two keys per article (three with a request id) and one marker
// per transaction, and a write is as cheap as etcd makes them.
//
// The change feed is etcd's history: Changes reads it with a watch from a
// revision. Revisions follow etcd's, cluster-wide: writes of other
// prefixes make gaps in this store's numbering, but no event is ever
// missing, and the server's watch hub follows events by their own
// revision. When etcd has compacted the history, Changes returns an
// *articles.CompactedError naming the first store revision of etcd's
// compaction revision as the oldest one available.
//
// Each server follows the article keys with a watch (follow.go): it keeps
// the revision the watch has reached, which WaitRevision waits for, and
// the newest events, from which Changes serves the live feed. The
// full-text index is not the store's: package fulltext keeps one per
// server, in a local file, fed by Changes.
//
// # Caveats
//
// Every article must fit in one etcd request: with its slug claim, at
// most the cluster's --max-request-bytes (1.5 MiB by default; tell the
// store with WithMaxRequestBytes when it differs). Larger writes fail with
// articles.ErrTooLarge, before they are sent.
//
// Every server holds the list index of the whole prefix in memory (each
// article's order keys, authors, tags and source, never its body) and
// reads every article once at Open. Open deletes the list index keys
// that servers keeping their indexes in etcd write (keys.go): such
// servers must not run on the same prefix at the same time as these.
//
// An import is not one transaction: its articles go in many, so a failure
// part way leaves those acknowledged before it written (and reported to
// the caller as an error, not as counts).
//
// Store revisions are etcd's revisions times 1024 (plus a slot): to
// compact etcd by hand at a store revision, divide it by 1024.
//
// etcd keeps history until it is compacted; run etcd with
// --auto-compaction-retention (for example 1h) or watchers may replay
// history forever and the cluster grows without bound. Watches from a
// revision older than the compaction fail with OUT_OF_RANGE.
package etcdstore
