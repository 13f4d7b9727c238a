package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/seed9c1868aa/articles/internal/fsync"
)

// The write-ahead log.
//
// bbolt makes a transaction durable with two fdatasyncs (its pages, then
// its meta page) and one write per page the transaction touched. The
// committer instead commits each group to bbolt without syncing and makes
// it durable by appending one record to a log beside the file (PATH.wal)
// and syncing that once. Now and then a checkpoint syncs the bbolt file
// and starts a new log; Close checkpoints and removes the log, so a log
// exists only after a stop that was not clean.
//
// Invariants:
//
//   - A record lists every key the group's transaction put or deleted, in
//     order. It is synced before the transaction commits, so no reader
//     sees a write that is not durable, and a commit that fails takes its
//     record back.
//   - The log's header holds a copy of the meta page of the transaction T
//     at which the checkpoint synced the file. A read transaction opened
//     at T (the pin) is held until the next checkpoint, and bbolt reuses no
//     page a reader can see, so every page of T's tree stays on the disk
//     as it was synced, whatever has been written since.
//   - Open writes T's meta page into both meta slots and replays every
//     complete record in one synced transaction, then checkpoints. After
//     kill -9 or a machine crash the file is T plus exactly the records
//     that reached the disk; a torn last record was never acknowledged and
//     is dropped.
//
// Caveats: while pinned, pages freed since the checkpoint are not reused,
// so the file grows by up to a checkpoint interval of writes. A pinned
// reader would also stop bbolt from remapping a growing file (a deadlock,
// as the committer holds the pin), so the pin is kept only while the
// file's high-water mark is under half the initial mapping
// (WithInitialMmapSize); past it, each group commits unpinned and is
// checkpointed at once, which is correct and slower. PATH.wal belongs to
// PATH: move or delete them together.

// walSuffix names the log beside the database file.
const walSuffix = ".wal"

// walMagic opens every log file.
var walMagic = [16]byte{'a', 'r', 't', 'i', 'c', 'l', 'e', 's', '-', 'w', 'a', 'l', 0, 0, 0, 1}

// Checkpoints: at least every walInterval while records arrive, and as
// soon as the log holds walMaxBytes.
// They are variables only so that tests can hold a log open.
var (
	walInterval       = time.Second
	walMaxBytes int64 = 64 << 20
)

// Offsets in a bbolt meta page (go.etcd.io/bbolt/internal/common: a
// 16-byte page header, then the meta fields): the page id, the magic, the
// root bucket's page, the high-water mark and the transaction id.
const (
	metaPageIDOff = 0
	metaMagicOff  = 16
	metaRootOff   = 32
	metaPgidOff   = 56
	metaTxidOff   = 64
	boltMagic     = 0xED0CDAED
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record operations.
const (
	walPut    = 'p'
	walDelete = 'd'
)

// walRecord accumulates one transaction's changes. Its first 8 bytes are
// the frame (length and checksum), filled in by append.
type walRecord struct {
	buf []byte
	ops int
}

func (r *walRecord) reset() {
	r.buf = append(r.buf[:0], make([]byte, 8)...)
	r.ops = 0
}

func (r *walRecord) add(kind byte, bucket, key, value []byte) {
	r.buf = append(r.buf, kind)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(bucket)))
	r.buf = append(r.buf, bucket...)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(key)))
	r.buf = append(r.buf, key...)
	if kind == walPut {
		r.buf = binary.AppendUvarint(r.buf, uint64(len(value)))
		r.buf = append(r.buf, value...)
	}
	r.ops++
}

// put and del change a bucket of b's transaction and record the change
// in b's record (if it has one: the upgrade at Open has none).
func (b *batch) put(bucket, key, value []byte) error {
	if b.rec != nil {
		b.rec.add(walPut, bucket, key, value)
	}
	return b.tx.Bucket(bucket).Put(key, value)
}

func (b *batch) del(bucket, key []byte) error {
	if b.rec != nil {
		b.rec.add(walDelete, bucket, key, nil)
	}
	return b.tx.Bucket(bucket).Delete(key)
}

// wal is the open log. Only the committer uses it after Open.
type wal struct {
	path   string   // PATH.wal
	f      *os.File // the log, written at its end
	size   int64    // bytes in f
	dbFile *os.File // the database file, read for its meta page
	page   int      // bbolt's page size

	pin      *bbolt.Tx // the read transaction at the checkpoint, or nil
	pinLimit int64     // the high-water mark up to which pinning is safe
	last     time.Time // of the last checkpoint
	dirty    bool      // records appended since the last checkpoint
	warned   bool      // the unpinned warning was logged
	// pending is the checkpoint whose sync is running, or nil.
	pending *pendingCheckpoint
	// checkpoints counts the finished checkpoints, for tests.
	checkpoints atomic.Int64
	// err is a failed sync: from then on every write fails, since the
	// kernel may have dropped the pages it could not write.
	err error
}

// append writes rec to the log and syncs it. On failure the log is
// truncated back, and a log that cannot be is broken for good.
func (w *wal) append(rec *walRecord) error {
	if w.err != nil {
		return w.err
	}
	binary.LittleEndian.PutUint32(rec.buf[0:], uint32(len(rec.buf)-8))
	binary.LittleEndian.PutUint32(rec.buf[4:], crc32.Checksum(rec.buf[8:], castagnoli))
	if _, err := w.f.Write(rec.buf); err != nil {
		w.undo(w.size)
		return fmt.Errorf("store: write-ahead log: %w", err)
	}
	if err := fsync.Data(w.f); err != nil {
		w.err = fmt.Errorf("store: write-ahead log sync failed, writes are refused until a restart: %w", err)
		return w.err
	}
	w.size += int64(len(rec.buf))
	w.dirty = true
	return nil
}

// undo cuts the log back to size bytes, dropping a record whose
// transaction did not commit.
func (w *wal) undo(size int64) {
	if w.err != nil {
		return
	}
	if err := w.f.Truncate(size); err != nil {
		w.err = fmt.Errorf("store: write-ahead log cannot drop a failed commit: %w", err)
		return
	}
	if _, err := w.f.Seek(size, io.SeekStart); err != nil {
		w.err = fmt.Errorf("store: write-ahead log: %w", err)
		return
	}
	if err := fsync.Data(w.f); err != nil {
		w.err = fmt.Errorf("store: write-ahead log sync failed, writes are refused until a restart: %w", err)
		return
	}
	w.size = size
}

// pinned reports whether a high-water mark of hw bytes leaves room to
// keep the pin.
func (w *wal) pinned(hw int64) bool { return hw < w.pinLimit }

// A checkpoint happens in three steps. begin, on the committer between
// batches, pins the current transaction T and reads its meta page and root
// page (in the page cache, so as T left them). The database file is then
// synced, which also writes whatever later commits have put in the page
// cache: harmless, as recovery uses T's meta page and T's tree is pinned.
// finish, on the committer again, writes a new log holding T's meta page
// and the records appended since begin (the writes after T), renames it
// over the old one and moves the pin to T. The sync runs off the
// committer (checkpointAsync) so that writes go on meanwhile.

// pendingCheckpoint is a begun checkpoint.
type pendingCheckpoint struct {
	pin     *bbolt.Tx
	meta    []byte
	rootSum uint32
	from    int64 // the log's size at begin: the records after T follow
	synced  chan error
}

// begin starts a checkpoint at the current transaction.
func (w *wal) begin(bdb *bbolt.DB) (*pendingCheckpoint, error) {
	if w.err != nil {
		return nil, w.err
	}
	pin, err := bdb.Begin(false)
	if err != nil {
		return nil, err
	}
	meta := make([]byte, w.page)
	slot := int64(pin.ID() % 2)
	if _, err := w.dbFile.ReadAt(meta, slot*int64(w.page)); err != nil {
		_ = pin.Rollback()
		return nil, fmt.Errorf("store: read meta page: %w", err)
	}
	if binary.LittleEndian.Uint32(meta[metaMagicOff:]) != boltMagic ||
		binary.LittleEndian.Uint64(meta[metaTxidOff:]) != uint64(pin.ID()) {
		_ = pin.Rollback()
		return nil, errors.New("store: the meta page does not hold the current transaction")
	}
	root := make([]byte, w.page)
	if _, err := w.dbFile.ReadAt(root, int64(binary.LittleEndian.Uint64(meta[metaRootOff:]))*int64(w.page)); err != nil {
		_ = pin.Rollback()
		return nil, fmt.Errorf("store: read root page: %w", err)
	}
	return &pendingCheckpoint{pin: pin, meta: meta, rootSum: crc32.Checksum(root, castagnoli), from: w.size}, nil
}

// syncFile syncs the database file, or fails the log for good.
func (w *wal) syncFile(bdb *bbolt.DB) error {
	if err := bdb.Sync(); err != nil {
		return fmt.Errorf("store: syncing the database failed, writes are refused until a restart: %w", err)
	}
	return nil
}

// finish completes cp once its sync has returned syncErr. keepPin false
// releases the pin at once: the caller checkpoints again after its next
// commit.
func (w *wal) finish(cp *pendingCheckpoint, syncErr error, keepPin bool) error {
	if syncErr != nil && w.err == nil {
		w.err = syncErr
	}
	if w.err != nil {
		_ = cp.pin.Rollback()
		return w.err
	}
	tail := make([]byte, w.size-cp.from)
	if len(tail) > 0 {
		if _, err := w.f.ReadAt(tail, cp.from); err != nil {
			_ = cp.pin.Rollback()
			return fmt.Errorf("store: read write-ahead log: %w", err)
		}
	}
	f, err := writeWAL(w.path, cp.meta, cp.rootSum, tail)
	if err != nil {
		_ = cp.pin.Rollback()
		return err
	}
	if w.f != nil {
		_ = w.f.Close()
	}
	w.f, w.size = f, int64(walHeaderSize(w.page)+len(tail))
	if w.pin != nil {
		_ = w.pin.Rollback()
		w.pin = nil
	}
	if keepPin {
		w.pin = cp.pin
	} else {
		_ = cp.pin.Rollback()
	}
	w.last, w.dirty = time.Now(), len(tail) > 0
	w.checkpoints.Add(1)
	return nil
}

// checkpoint checkpoints on the calling goroutine (at Open, at Close, and
// while unpinned).
func (w *wal) checkpoint(bdb *bbolt.DB, keepPin bool) error {
	cp, err := w.begin(bdb)
	if err != nil {
		return err
	}
	return w.finish(cp, w.syncFile(bdb), keepPin)
}

// checkpointAsync begins a checkpoint whose sync runs on a goroutine of
// its own; the committer finishes it when cp.synced delivers.
func (w *wal) checkpointAsync(bdb *bbolt.DB) (*pendingCheckpoint, error) {
	cp, err := w.begin(bdb)
	if err != nil {
		return nil, err
	}
	cp.synced = make(chan error, 1)
	go func() {
		syncHook()
		cp.synced <- w.syncFile(bdb)
	}()
	return cp, nil
}

// syncedC is the channel the pending checkpoint's sync reports on, or nil.
func (w *wal) syncedC() <-chan error {
	if w.pending == nil {
		return nil
	}
	return w.pending.synced
}

// syncHook runs before a background sync; tests hold syncs with it.
var syncHook = func() {}

// close releases the pin and the files and, when the database was
// checkpointed at its last transaction (clean), removes the log.
func (w *wal) close(clean bool) error {
	if cp := w.pending; cp != nil {
		<-cp.synced
		_ = cp.pin.Rollback()
		w.pending = nil
	}
	if w.pin != nil {
		_ = w.pin.Rollback()
		w.pin = nil
	}
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	if clean && w.err == nil {
		if rerr := os.Remove(w.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		} else {
			err = errors.Join(err, fsync.Dir(filepath.Dir(w.path)))
		}
	}
	return errors.Join(err, w.dbFile.Close())
}

// The log file: a header, then records.
//
//	header  magic (16 bytes) | page size (u32) | meta page (page size bytes) |
//	        crc32c of the root bucket's page (u32) | crc32c of what precedes (u32)
//	record  length n (u32) | crc32c of the payload (u32) | payload (n bytes)
//	payload op...; op = kind ('p' or 'd') | uvarint len | bucket | uvarint len | key [| uvarint len | value]
//
// Integers are little-endian. A new log is written beside the old one and
// renamed over it, so the header is never torn. The root page's checksum
// ties the log to its file: that page is part of the checkpoint's tree,
// so it is on the disk unchanged until the next checkpoint, and a file
// put in the database's place (a restored backup) has other contents.

func walHeaderSize(page int) int { return 16 + 4 + page + 4 + 4 }

// writeWAL makes a new log at path holding a header with meta and
// rootSum, then records (whole frames), durable (file and directory
// synced), and returns it open for appending.
func writeWAL(path string, meta []byte, rootSum uint32, records []byte) (*os.File, error) {
	hdr := make([]byte, 0, walHeaderSize(len(meta)))
	hdr = append(hdr, walMagic[:]...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(meta)))
	hdr = append(hdr, meta...)
	hdr = binary.LittleEndian.AppendUint32(hdr, rootSum)
	hdr = binary.LittleEndian.AppendUint32(hdr, crc32.Checksum(hdr, castagnoli))
	hdr = append(hdr, records...)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create write-ahead log: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("store: write-ahead log: %w", err)
	}
	if _, err := f.Write(hdr); err != nil {
		return fail(err)
	}
	if err := fsync.Data(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := fsync.Dir(filepath.Dir(path)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("store: write-ahead log: %w", err)
	}
	return f, nil
}

// walFile is a log read back at Open.
type walFile struct {
	meta    []byte   // the checkpoint's meta page
	rootSum uint32   // the crc32c of its root bucket's page
	records [][]byte // the payloads of the complete records, in order
}

// errWALHeader marks a log whose header is damaged.
var errWALHeader = errors.New("the write-ahead log's header is damaged")

// readWAL parses a log file's contents. Records end at the first one that
// is short or fails its checksum: the tail a crash tore.
func readWAL(data []byte) (*walFile, error) {
	if len(data) < 20 || !bytes.Equal(data[:16], walMagic[:]) {
		return nil, errWALHeader
	}
	page := int(binary.LittleEndian.Uint32(data[16:]))
	n := walHeaderSize(page)
	if page < 1024 || page > 1<<20 || len(data) < n {
		return nil, errWALHeader
	}
	if crc32.Checksum(data[:n-4], castagnoli) != binary.LittleEndian.Uint32(data[n-4:]) {
		return nil, errWALHeader
	}
	w := &walFile{meta: data[20 : 20+page], rootSum: binary.LittleEndian.Uint32(data[20+page:])}
	for rest := data[n:]; len(rest) >= 8; {
		size := int(binary.LittleEndian.Uint32(rest))
		if size > len(rest)-8 {
			break
		}
		payload := rest[8 : 8+size]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(rest[4:]) {
			break
		}
		w.records = append(w.records, payload)
		rest = rest[8+size:]
	}
	return w, nil
}

// replay applies a record's operations in tx.
func replay(tx *bbolt.Tx, payload []byte) error {
	for len(payload) > 0 {
		kind := payload[0]
		payload = payload[1:]
		var parts [3][]byte
		n := 2
		if kind == walPut {
			n = 3
		} else if kind != walDelete {
			return fmt.Errorf("unknown operation %q", kind)
		}
		for i := range n {
			l, k := binary.Uvarint(payload)
			if k <= 0 || l > uint64(len(payload)-k) {
				return errors.New("truncated operation")
			}
			parts[i] = payload[k : k+int(l)]
			payload = payload[k+int(l):]
		}
		b := tx.Bucket(parts[0])
		if b == nil {
			return fmt.Errorf("unknown bucket %q", parts[0])
		}
		var err error
		if kind == walPut {
			err = b.Put(parts[1], parts[2])
		} else {
			err = b.Delete(parts[1])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// errWALForeign marks a log beside a database file it was not written for.
var errWALForeign = errors.New("the write-ahead log beside the database was written for another file (restored from a backup?): move the .wal file away to open the database as it is")

// restoreMeta writes the checkpoint's meta page into both meta slots of
// the database file at path and syncs it, so that bbolt opens the file at
// the checkpoint's transaction. It refuses a file that is not the one the
// log was written for.
func restoreMeta(path string, meta []byte, rootSum uint32) error {
	page := int64(len(meta))
	if binary.LittleEndian.Uint32(meta[metaMagicOff:]) != boltMagic {
		return errWALHeader
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// The high-water mark bounds the pages the checkpoint's tree uses.
	if fi.Size() < int64(binary.LittleEndian.Uint64(meta[metaPgidOff:]))*page {
		return errWALForeign
	}
	root := make([]byte, page)
	if _, err := f.ReadAt(root, int64(binary.LittleEndian.Uint64(meta[metaRootOff:]))*page); err != nil {
		return err
	}
	if crc32.Checksum(root, castagnoli) != rootSum {
		return errWALForeign
	}
	slot := make([]byte, page)
	for id := range int64(2) {
		copy(slot, meta)
		binary.LittleEndian.PutUint64(slot[metaPageIDOff:], uint64(id))
		if _, err := f.WriteAt(slot, id*page); err != nil {
			return err
		}
	}
	return fsync.Data(f)
}
