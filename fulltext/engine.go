package fulltext

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/internal/fsync"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Feed is what the engine reads of a backend. The bbolt store and the
// etcd store implement it.
type Feed interface {
	// Revision returns the revision of the backend's last write.
	Revision(ctx context.Context) (int64, error)
	// WaitRevision blocks until the backend has reached revision rev (or
	// ctx ends): the engine's wake-up on new writes.
	WaitRevision(ctx context.Context, rev int64) error
	// Changes returns up to limit events with revision >= from, in
	// revision order. Returns an error matching articles.ErrCompacted if
	// from is older than the oldest revision the log retains.
	Changes(ctx context.Context, from int64, limit int) ([]*articlesv1.ArticleEvent, error)
	// List calls fn for every article in q's order after the position
	// after, at most limit of them; fn's error is returned as it is. The
	// engine lists every article in create-time order to rebuild.
	List(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error
}

// Errors the engine returns.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = articles.ErrClosed
)

// The engine's file: the full-text index's buckets (search.go) and a meta
// bucket. Integers are 8-byte big-endian.
//
//	meta             version  -> uint64 (fileVersion): another version is rebuilt
//	                 applied  -> uint64, the feed revision the index reflects
//	                 rebuild  -> uint64, present while a rebuild runs: the revision it started from
//	search_segments  segments (search.go)
//	search_index     documents, ids, vocabulary, stats (search.go)
var (
	bucketMeta           = []byte("meta")
	bucketSearchSegments = []byte("search_segments")
	bucketSearchIndex    = []byte("search_index")

	metaVersion = []byte("version")
	metaApplied = []byte("applied")
	metaRebuild = []byte("rebuild")
)

// fileVersion is the version of the file's layout, index included. Raise
// it with indexVersion or with the map above.
const fileVersion = indexVersion

// An Option configures Open.
type Option interface{ apply(*config) }

type config struct {
	logger      *slog.Logger
	checkpoint  time.Duration
	openTimeout time.Duration
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the logger for the engine's background work. The
// default discards everything; nil keeps it.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// DefaultCheckpointInterval is WithCheckpointInterval's default.
const DefaultCheckpointInterval = 2 * time.Second

// WithCheckpointInterval sets how often, while it is applying events, the
// engine makes its file durable (fsync). A machine crash loses at most
// that much indexing, after which the engine rebuilds. Zero or less keeps
// the default.
func WithCheckpointInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.checkpoint = d
		}
	})
}

// WithOpenTimeout sets how long Open waits for the file's lock held by
// another process (default one second).
func WithOpenTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.openTimeout = d
		}
	})
}

// Engine is the full-text index of one backend, in its own file. Open it
// with Open and release it with Close (before the backend); every method
// is safe for concurrent use.
type Engine struct {
	bolt *bbolt.DB
	path string
	feed Feed
	cfg  config
	log  *slog.Logger

	// applied is the revision the index reflects; it is rebuilding while
	// a rebuild runs, below every revision, so that searches wait for it.
	applied *watermark

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	once   sync.Once
	wg     sync.WaitGroup

	// paused stops the indexer (a test hook); nudge wakes it.
	paused atomic.Bool
	nudge  chan struct{}
	// waiting counts the searches waiting for the index; hurry wakes the
	// indexer from its linger when one starts to.
	waiting atomic.Int32
	hurry   chan struct{}

	// rebuilds counts the rebuilds started; requestRebuild asks the
	// indexer for one (Rebuild).
	rebuilds       atomic.Int64
	requestRebuild atomic.Bool

	// syncMu protects dirty, set from the first commit after a checkpoint
	// (the marker file exists) until the next checkpoint, and synced, the
	// time of the last checkpoint.
	syncMu sync.Mutex
	dirty  bool
	synced time.Time
}

// Open opens (creating it when missing) the index in the file at path,
// fed by feed, and starts following the feed. It rebuilds the index (in
// the background) when the file is new, of another version, damaged, left
// torn by a machine crash, or ahead of the feed's revision (the database
// was restored from a backup). It fails when another process holds the
// file.
func Open(path string, feed Feed, opts ...Option) (*Engine, error) {
	if path == "" {
		return nil, errors.New("fulltext: empty index path")
	}
	if feed == nil {
		return nil, errors.New("fulltext: nil feed")
	}
	cfg := config{
		logger:      slog.New(slog.DiscardHandler),
		checkpoint:  DefaultCheckpointInterval,
		openTimeout: time.Second,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	e := &Engine{
		path:    path,
		feed:    feed,
		cfg:     cfg,
		log:     cfg.logger,
		applied: newWatermark(),
		nudge:   make(chan struct{}, 1),
		hurry:   make(chan struct{}, 1),
	}
	if reason := e.checkFile(); reason != "" {
		e.log.Warn("fulltext: discarding the index file; rebuilding", "reason", reason)
		if err := removeIndex(path); err != nil {
			return nil, err
		}
	}
	applied, rebuild, err := e.openFile()
	if err != nil {
		var locked lockedError
		if errors.As(err, &locked) {
			return nil, err
		}
		e.log.Warn("fulltext: the index file does not open; rebuilding", "err", err)
		if err := removeIndex(path); err != nil {
			return nil, err
		}
		if applied, rebuild, err = e.openFile(); err != nil {
			return nil, fmt.Errorf("fulltext: open %s: %w", path, err)
		}
	}
	if !rebuild && e.behindFeed(applied) {
		// The backend is older than the index: a database restored from a
		// backup beside the index of the newer one. Its next writes take
		// revisions the index has already applied, so start again.
		_ = e.bolt.Close()
		e.bolt = nil
		if err := removeIndex(path); err != nil {
			return nil, err
		}
		if applied, rebuild, err = e.openFile(); err != nil {
			return nil, fmt.Errorf("fulltext: open %s: %w", path, err)
		}
	}
	if rebuild {
		applied = rebuilding
	}
	e.applied.set(applied)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.synced = time.Now()
	e.wg.Add(1)
	go e.run(rebuild)
	return e, nil
}

// behindFeed reports whether the feed's revision is below applied, which
// the index can only have reached from a newer database. A feed that does
// not answer within the open timeout is taken as current.
func (e *Engine) behindFeed(applied int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), max(e.cfg.openTimeout, time.Second))
	defer cancel()
	rev, err := e.feed.Revision(ctx)
	if err != nil || rev >= applied {
		return false
	}
	e.log.Warn("fulltext: the index is ahead of the database (restored from a backup?); rebuilding",
		"applied", applied, "revision", rev)
	return true
}

// openFile opens the file and checks it (initFile), leaving it in e.bolt,
// and makes it durable.
func (e *Engine) openFile() (applied int64, rebuild bool, err error) {
	bdb, err := e.openBolt()
	if err != nil {
		return 0, false, err
	}
	e.bolt = bdb
	if applied, rebuild, err = e.initFile(); err == nil {
		// A rebuild starts from a durable empty index.
		err = bdb.Sync()
	}
	if err != nil {
		_ = bdb.Close()
		e.bolt = nil
		return 0, false, err
	}
	return applied, rebuild, nil
}

// lockedError is returned by Open when another process holds the file.
type lockedError struct{ error }

func (e lockedError) Unwrap() error { return e.error }

// openBolt opens the bbolt file: commits skip fsync (checkpoints make the
// file durable), and the file is mapped large from the start (mmapSize).
func (e *Engine) openBolt() (*bbolt.DB, error) {
	bdb, err := bbolt.Open(e.path, 0o600, &bbolt.Options{
		Timeout:         e.cfg.openTimeout,
		NoSync:          true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: mmapSize,
	})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, lockedError{fmt.Errorf("fulltext: open %s: index file is locked by another process (waited %v)", e.path, e.cfg.openTimeout)}
	}
	return bdb, err
}

// initFile creates the buckets of a new file and checks an existing one:
// its version, its corpus stats and its segment table. A file that fails
// the checks, was left mid-rebuild or is new is cleared and marked for a
// rebuild, which the indexer runs. It returns the applied revision and
// whether a rebuild is due.
func (e *Engine) initFile() (applied int64, rebuild bool, err error) {
	err = e.update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		reason := ""
		switch v, ok := decodeUint(meta.Get(metaVersion)); {
		case meta.Get(metaVersion) == nil:
			reason = "new index"
		case !ok || v != fileVersion:
			reason = fmt.Sprintf("index version %d, want %d", v, fileVersion)
		case meta.Get(metaRebuild) != nil:
			reason = "a rebuild was interrupted"
		default:
			if reason = checkIndex(tx); reason == "" {
				a, ok := decodeUint(meta.Get(metaApplied))
				if !ok {
					reason = "corrupt applied revision"
				}
				applied = int64(a)
			}
		}
		if reason == "" {
			return nil
		}
		if reason != "new index" {
			e.log.Warn("fulltext: rebuilding the index", "reason", reason)
		}
		rebuild = true
		if err := clearSearchIndex(tx); err != nil {
			return err
		}
		if err := meta.Put(metaVersion, encodeUint(fileVersion)); err != nil {
			return err
		}
		if err := meta.Put(metaApplied, encodeUint(0)); err != nil {
			return err
		}
		// Until the rebuild ends, the file says one is due: a crash before
		// its first batch must not leave an empty index that looks whole.
		return meta.Put(metaRebuild, encodeUint(0))
	})
	return applied, rebuild, err
}

// checkIndex reads what every search reads (buckets, stats, segment
// table and length tables, dead set) and returns why it is unusable, or
// "".
func checkIndex(tx *bbolt.Tx) (reason string) {
	defer func() {
		// bbolt panics on some damaged pages.
		if r := recover(); r != nil {
			reason = fmt.Sprintf("damaged: %v", r)
		}
	}()
	ix, err := openIndex(tx)
	if err != nil {
		return err.Error()
	}
	if _, err := readStats(ix.root); err != nil {
		return err.Error()
	}
	if err := ix.loadSegments(); err != nil {
		return err.Error()
	}
	if _, err := ix.loadDead(0, ^uint32(0)); err != nil {
		return err.Error()
	}
	return ""
}

// Close stops the indexer, makes the file durable and closes it. Close
// may be called more than once.
func (e *Engine) Close() error {
	var err error
	e.once.Do(func() {
		e.closed.Store(true)
		e.cancel()
		e.wg.Wait()
		err = e.bolt.Close()
	})
	return err
}

// Revision returns the revision of the feed that the index reflects (0
// while a rebuild runs).
func (e *Engine) Revision() int64 { return max(e.applied.value(), 0) }

// rebuilding is the applied revision while a rebuild runs: below every
// revision a search can wait for, 0 included.
const rebuilding = -1

// Rebuilds returns how many rebuilds the engine has started since Open.
func (e *Engine) Rebuilds() int64 { return e.rebuilds.Load() }

// WaitApplied blocks until the index reflects revision rev, ctx is done
// (returning ctx.Err()) or the engine is closed (ErrClosed).
func (e *Engine) WaitApplied(ctx context.Context, rev int64) error {
	if e.closed.Load() {
		return ErrClosed
	}
	if e.applied.value() >= rev {
		return nil
	}
	e.waiting.Add(1)
	defer e.waiting.Add(-1)
	select {
	case e.hurry <- struct{}{}:
	default:
	}
	return e.applied.wait(ctx, rev, e.ctx.Done())
}

// WaitCurrent blocks until the index reflects every write the feed had
// acknowledged when it was called.
func (e *Engine) WaitCurrent(ctx context.Context) error {
	rev, err := e.feed.Revision(ctx)
	if err != nil {
		return err
	}
	return e.WaitApplied(ctx, rev)
}

// Rebuild discards the index and rebuilds it from the feed, and returns
// once the index has caught up with the feed (or ctx ends; the rebuild
// then goes on in the background).
func (e *Engine) Rebuild(ctx context.Context) error {
	if e.closed.Load() {
		return ErrClosed
	}
	// The indexer drops the applied revision when it starts: wait for a
	// rebuild to have started and finished. The count is read before the
	// request, or a rebuild that starts at once would go unseen.
	start := e.rebuilds.Load()
	e.requestRebuild.Store(true)
	e.wake()
	for e.rebuilds.Load() == start {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.ctx.Done():
			return ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
	return e.WaitCurrent(ctx)
}

// wake nudges the indexer.
func (e *Engine) wake() {
	select {
	case e.nudge <- struct{}{}:
	default:
	}
}

// The dirty marker: a file beside the index that exists while the index
// holds commits made since its last fsync, and names the boot (Linux's
// boot id) that made them. After a process crash the kernel still has
// those commits and the marker names this boot; after a machine crash
// it names another, and the file may be torn.

// markerPath returns the path of the dirty marker of the index at path.
func markerPath(path string) string { return path + ".dirty" }

// bootID returns an id of the running boot of the machine, or "" where
// none is known.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// markDirty creates the marker, durably, before the first commit after a
// checkpoint.
func (e *Engine) markDirty() error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if e.dirty {
		return nil
	}
	f, err := os.OpenFile(markerPath(e.path), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(bootID() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsync.Dir(filepath.Dir(e.path))
	}
	if err != nil {
		return fmt.Errorf("fulltext: write the dirty marker: %w", err)
	}
	e.dirty = true
	return nil
}

// sinceCheckpoint returns the time since the last checkpoint, and whether
// commits have been made since.
func (e *Engine) sinceCheckpoint() (time.Duration, bool) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	return time.Since(e.synced), e.dirty
}

// checkpoint makes every commit durable and removes the marker.
func (e *Engine) checkpoint() error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	e.synced = time.Now()
	if !e.dirty {
		return nil
	}
	if err := e.bolt.Sync(); err != nil {
		return fmt.Errorf("fulltext: checkpoint: %w", err)
	}
	if err := os.Remove(markerPath(e.path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fulltext: checkpoint: %w", err)
	}
	e.dirty = false
	return nil
}

// checkFile returns why the file at e.path must be discarded before it is
// opened, or "": a dirty marker of another boot (or of an unknown one),
// or bbolt meta pages that describe a file larger than it is (a
// truncated file, whose pages bbolt would read beyond its end).
func (e *Engine) checkFile() string {
	info, err := os.Stat(e.path)
	if err != nil {
		// Missing: the marker, if any, is stale.
		_ = os.Remove(markerPath(e.path))
		return ""
	}
	if m, err := os.ReadFile(markerPath(e.path)); err == nil {
		if boot := bootID(); boot == "" || strings.TrimSpace(string(m)) != boot {
			return "the machine stopped before the index was made durable"
		}
	}
	if info.Size() == 0 {
		return ""
	}
	return checkMeta(e.path, info.Size())
}

// checkMeta reads the two meta pages of the bbolt file at path (size
// bytes) and returns why the file is unusable, or "". The meta page
// layout is bbolt's (internal/common/meta.go): after a 16-byte page
// header, magic, version, page size and flags (uint32 each), the root
// bucket (root page, sequence), the freelist page, the high-water page
// id, the transaction id and a checksum (uint64 each), little-endian on
// the platforms Go supports but big-endian ones, which bbolt files are
// not portable to anyway.
func checkMeta(path string, size int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	const (
		pageHeader = 16
		metaLen    = 64
		magic      = 0xED0CDAED
	)
	buf := make([]byte, pageHeader+metaLen)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return "too short for a bbolt file"
	}
	pageSize := int64(binary.LittleEndian.Uint32(buf[pageHeader+8:]))
	if pageSize < 512 || pageSize > 1<<20 || size < 2*pageSize {
		return "too short for a bbolt file"
	}
	var best struct {
		ok         bool
		txid, high uint64
	}
	for i := range int64(2) {
		if _, err := f.ReadAt(buf, i*pageSize); err != nil {
			continue
		}
		m := buf[pageHeader:]
		if binary.LittleEndian.Uint32(m) != magic {
			continue
		}
		high := binary.LittleEndian.Uint64(m[40:])
		txid := binary.LittleEndian.Uint64(m[48:])
		if sum := binary.LittleEndian.Uint64(m[56:]); sum != fnv64a(m[:56]) {
			continue
		}
		if !best.ok || txid > best.txid {
			best.ok, best.txid, best.high = true, txid, high
		}
	}
	if !best.ok {
		return "no valid bbolt meta page"
	}
	if int64(best.high)*pageSize > size {
		return fmt.Sprintf("truncated: %d bytes, its pages need %d", size, int64(best.high)*pageSize)
	}
	return ""
}

// fnv64a is the FNV-1a hash bbolt checksums its meta pages with.
func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// removeIndex deletes the index file and its marker.
func removeIndex(path string) error {
	for _, p := range []string{path, markerPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("fulltext: remove the damaged index: %w", err)
		}
	}
	return nil
}

// encodeUint returns the 8-byte big-endian form of n.
func encodeUint(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// decodeUint reads an 8-byte big-endian integer.
func decodeUint(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
