package store

import (
	"bytes"
	"os"
	"sync"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
)

// Statistics for monitoring.
//
// The article count is kept in memory rather than counted per call: it is
// counted once (a walk of the articles bucket's pages, values unread) by the
// first Stats call, and from then on every commit adds the CREATED and
// subtracts the DELETED events it wrote. The commit reads those events
// inside its own transaction, so the delta and the write cannot disagree.
// The count is labelled with the revision it describes; a commit applies
// its delta only when it starts at that revision, so a count taken while
// commits run is neither double-counted nor left behind (a gap, which
// cannot happen since commits are serial, would drop the count for a
// recount).

// Stats is a snapshot of a store's size and position, for monitoring. Its
// fields are read at slightly different moments, so under concurrent
// writes they need not describe one single revision.
type Stats struct {
	// Articles is how many articles are stored.
	Articles int64
	// FileSize is the size in bytes of the database file on disk. bbolt
	// grows the file ahead of its data and never shrinks it.
	FileSize int64
	// Revision is the revision of the last committed write.
	Revision int64
	// Compacted is the newest revision removed from the change log (0:
	// none); watches can start from Compacted+1 on.
	Compacted int64
}

// statsState is the DB's article count and commit observer.
type statsState struct {
	// mu protects the count: known, count and rev.
	mu    sync.Mutex
	known bool
	count int64 // articles stored at revision rev
	rev   int64
}

// WithCommitObserver sets fn to be called after every successful group
// commit with the number of write ops that shared the transaction (each
// create, update, delete or import batch is one op, whether or not it
// passed its own checks) and the time spent making it durable: appending
// and syncing its write-ahead log record, then bbolt writing the
// transaction's pages and meta page to the file (bbolt's
// TxStats.WriteTime). Running the ops and rebalancing the tree are not
// included, so the duration is the commit's disk latency. A nil fn
// observes nothing.
//
// fn runs on the committer goroutine after bbolt has released its write
// lock but before the writers are answered: it must be quick (a histogram
// observation) and must not call the store.
func WithCommitObserver(fn func(ops int, fsync time.Duration)) Option {
	return optionFunc(func(c *config) { c.commitObserver = fn })
}

// Stats returns the store's statistics. It is cheap after the first call,
// which counts the articles. It does not fail: after Close it returns the
// last known count (0 if it was never counted) and revisions, and a
// FileSize of 0.
func (db *DB) Stats() Stats {
	st := Stats{Compacted: db.compacted.Load()}
	st.Revision = db.rev.value()
	if path := db.bolt.Path(); path != "" { // bbolt forgets it at Close
		if fi, err := os.Stat(path); err == nil {
			st.FileSize = fi.Size()
		}
	}

	s := &db.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known && !db.isClosed.Load() {
		// Holding mu blocks commit handlers, so none can slip between
		// this snapshot and the moment the count becomes known.
		err := db.bolt.View(func(tx *bbolt.Tx) error {
			rev, err := metaUint(tx, metaRevision)
			if err != nil {
				return err
			}
			s.count = int64(tx.Bucket(bucketArticles).Stats().KeyN)
			s.rev = int64(rev)
			return nil
		})
		if err != nil {
			db.log.Error("store: counting articles", "err", err)
		} else {
			s.known = true
		}
	}
	st.Articles = s.count
	return st
}

// onCommit is called by the committer at the end of a batch's transaction
// (start is the revision before it, end the last it took, ops how many ops
// it ran). It works out the change in the article count from the events the
// batch wrote and arranges for the count and the commit observer to be
// updated once, and only if, the transaction commits.
func (db *DB) onCommit(tx *bbolt.Tx, start, end int64, ops int, logTime time.Duration) {
	delta := articleDelta(tx, start, end)
	observe := db.cfg.commitObserver
	tx.OnCommit(func() {
		s := &db.stats
		s.mu.Lock()
		switch {
		case !s.known || end <= s.rev:
			// Not counted yet, or counted after this commit.
		case start == s.rev:
			s.count += delta
			s.rev = end
		default:
			// A commit was missed: recount on the next Stats.
			s.known = false
		}
		s.mu.Unlock()
		if observe != nil {
			ts := tx.Stats()
			observe(ops, logTime+ts.GetWriteTime())
		}
	})
}

// articleDelta returns how many articles the events with revisions in
// (start, end] created, minus how many they deleted. It reads only the
// type of each event, not the article it carries.
func articleDelta(tx *bbolt.Tx, start, end int64) int64 {
	if end <= start {
		return 0
	}
	var delta int64
	last := encodeUint(uint64(end))
	c := tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Seek(encodeUint(uint64(start + 1))); k != nil && bytes.Compare(k, last) <= 0; k, v = c.Next() {
		switch eventType(v) {
		case articlesv1.ArticleEvent_CREATED:
			delta++
		case articlesv1.ArticleEvent_DELETED:
			delta--
		}
	}
	return delta
}

// eventType reads the type field of a marshalled ArticleEvent without
// unmarshalling the article it carries; malformed input is
// TYPE_UNSPECIFIED.
func eventType(b []byte) articlesv1.ArticleEvent_Type {
	f, ok := eventField(b, eventFieldType, protowire.VarintType)
	if !ok {
		return articlesv1.ArticleEvent_TYPE_UNSPECIFIED
	}
	v, n := protowire.ConsumeVarint(f)
	if n < 0 {
		return articlesv1.ArticleEvent_TYPE_UNSPECIFIED
	}
	return articlesv1.ArticleEvent_Type(v)
}
