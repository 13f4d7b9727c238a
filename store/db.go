package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/seed9c1868aa/articles"
	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
)

// DB is an article store in one bbolt file. It implements server.Store.
// Open it with Open and release it with Close; every method is safe for
// concurrent use.
type DB struct {
	// bolt is the open bbolt file. Package code outside the committer and
	// compactor only reads through it (View); all writes go through submit.
	bolt *bbolt.DB

	cfg      config
	log      *slog.Logger
	tokenKey []byte
	ids      *articles.IDSource

	// closeMu makes Close wait for submitters that are enqueueing, so that
	// nothing is enqueued after the committer has drained the queue. It
	// protects closed.
	closeMu sync.RWMutex
	closed  bool
	// isClosed mirrors closed for readers, which do not take closeMu.
	isClosed atomic.Bool

	ops        chan *op      // writes waiting for the committer
	quit       chan struct{} // closed by Close: stops the goroutines
	compactNow chan struct{} // a nudge to the compactor (capacity 1)
	wg         sync.WaitGroup

	// rev is the revision of the last committed write.
	rev *watermark

	// compacted is the newest revision the compactor has removed from the
	// log. Only the compactor writes it after Open.
	compacted atomic.Int64

	// stats is the article count kept for Stats (stats.go).
	stats statsState

	// wal is the write-ahead log (wal.go); rec is the record the
	// committer fills, and highWater the file's high-water mark in bytes
	// after the last commit. The committer owns all three after Open.
	wal       *wal
	rec       walRecord
	highWater int64
}

// Open opens (creating it when missing, with mode 0600) the store in the
// file at path. It fails after the open timeout (WithOpenTimeout, default
// one second) when another process holds the file, and fails when the file
// was written by a newer version of this package.
func Open(path string, opts ...Option) (*DB, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	logged, err := recoverMeta(path, cfg.logger)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         cfg.openTimeout,
		FreelistType:    bbolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: cfg.mmapSize,
	})
	if err != nil {
		if errors.Is(err, bberrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: database is locked by another process (waited %v)", path, cfg.openTimeout)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{
		bolt:       bdb,
		cfg:        cfg,
		log:        cfg.logger,
		ids:        articles.NewIDSource(),
		ops:        make(chan *op, 1024),
		quit:       make(chan struct{}),
		compactNow: make(chan struct{}, 1),
		rev:        newWatermark(),
	}
	err = bdb.Update(func(tx *bbolt.Tx) error {
		if logged != nil {
			// The log's records were written by a file with the schema
			// they assume: replay them before initSchema upgrades it.
			for i, rec := range logged.records {
				if err := replay(tx, rec); err != nil {
					return fmt.Errorf("replay write-ahead log record %d: %w", i, err)
				}
			}
		}
		if err := initSchema(tx, newTokenKey); err != nil {
			return err
		}
		rev, err := metaUint(tx, metaRevision)
		if err != nil {
			return err
		}
		compacted, err := metaUint(tx, metaCompacted)
		if err != nil {
			return err
		}
		db.rev.advance(int64(rev))
		db.compacted.Store(int64(compacted))
		db.tokenKey = append([]byte(nil), tx.Bucket(bucketMeta).Get(metaTokenKey)...)
		return nil
	})
	if err == nil {
		err = db.startWAL(path)
	}
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if logged != nil {
		db.log.Info("store: recovered from the write-ahead log", "records", len(logged.records))
	}
	db.wg.Add(2)
	go db.commitLoop()
	go db.compactLoop()
	db.maybeCompact(db.rev.value())
	return db, nil
}

func newTokenKey() ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return key, nil
}

// Close stops the committer and the compactor, waits for them (writes
// already queued are committed first) and closes the file. Every method
// called after Close returns articles.ErrClosed; Close itself may be called
// more than once.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	db.isClosed.Store(true)
	db.closeMu.Unlock()

	close(db.quit)
	db.wg.Wait()
	// A last checkpoint makes the file whole; the log is then removed.
	if db.wal.pending != nil {
		db.finishCheckpoint(<-db.wal.pending.synced)
	}
	err := db.wal.checkpoint(db.bolt, false)
	if err != nil {
		db.log.Error("store: final write-ahead log checkpoint failed", "err", err)
	}
	return errors.Join(err, db.wal.close(err == nil), db.bolt.Close())
}

// recoverMeta reads the write-ahead log beside the database file at path,
// if there is one, and restores the file's meta page to the log's
// checkpoint. It returns the log, whose records the caller replays, or
// nil when there is none to replay.
func recoverMeta(path string, log *slog.Logger) (*walFile, error) {
	_ = os.Remove(path + walSuffix + ".tmp")
	data, err := os.ReadFile(path + walSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		// A log without its database: nothing to apply it to.
		log.Warn("store: removing a write-ahead log whose database file is missing or empty")
		return nil, os.Remove(path + walSuffix)
	}
	w, err := readWAL(data)
	if err != nil {
		return nil, err
	}
	if err := restoreMeta(path, w.meta, w.rootSum); err != nil {
		return nil, fmt.Errorf("restore the write-ahead log's checkpoint: %w", err)
	}
	return w, nil
}

// startWAL opens the database file for reading meta pages, takes the
// first checkpoint (which starts the log) and from then on lets bbolt
// commit without syncing.
func (db *DB) startWAL(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	db.wal = &wal{
		path:     path + walSuffix,
		dbFile:   f,
		page:     db.bolt.Info().PageSize,
		pinLimit: int64(db.cfg.mmapSize) / 2,
	}
	_ = db.bolt.View(func(tx *bbolt.Tx) error {
		db.highWater = tx.Size()
		return nil
	})
	if err := db.wal.checkpoint(db.bolt, db.wal.pinned(db.highWater)); err != nil {
		_ = db.wal.close(false)
		return err
	}
	db.bolt.NoSync = true
	return nil
}

// TokenKey returns the database's 32-byte secret, made at first Open.
func (db *DB) TokenKey(ctx context.Context) ([]byte, error) {
	if err := db.readable(ctx); err != nil {
		return nil, err
	}
	return append([]byte(nil), db.tokenKey...), nil
}

// readable returns the error a read must fail with before it starts.
func (db *DB) readable(ctx context.Context) error {
	if db.isClosed.Load() {
		return articles.ErrClosed
	}
	return ctx.Err()
}

// view runs fn in a read transaction, reporting a closed database as
// articles.ErrClosed.
func (db *DB) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := db.readable(ctx); err != nil {
		return err
	}
	err := db.bolt.View(fn)
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return articles.ErrClosed
	}
	return err
}
