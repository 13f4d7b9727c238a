package store

import (
	"context"
	"io"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the database file to w, read in one
// bbolt read transaction while writes go on, so the copy is the database
// exactly as of one revision. Before the first byte it calls start (when
// not nil) with that revision and the copy's size in bytes; an error from
// start ends the backup with nothing written. Unless Backup returns an
// error, exactly size bytes have gone to w.
//
// The copy is a complete store file: Open serves it, token key included,
// so page tokens and cursors made before the backup stay valid against a
// restored copy. It holds the database file only; the full-text index
// (package fulltext) is derived and rebuilds from it.
//
// w sees the file in order, in writes of at most a few pages (or through
// its ReadFrom, if it has one), never the whole file at once. Backup stops
// with ctx's error at the next write after ctx is done, and with w's error
// as soon as w fails. Returns articles.ErrClosed after Close.
//
// # Caveats
//
// The read transaction lasts as long as w takes, so a slow w keeps it
// open: bbolt cannot reuse pages freed meanwhile (the file grows under
// heavy writes), and a write that must map the file anew (once it grows
// past WithInitialMmapSize) waits for the backup to end, and every write
// queued behind it with it. The file is read through the open handle and
// the page cache; bbolt's WriteFlag (O_DIRECT) is left unset because it
// needs aligned buffers that w does not promise.
func (db *DB) Backup(ctx context.Context, w io.Writer, start func(revision, size int64) error) error {
	return db.view(ctx, func(tx *bbolt.Tx) error {
		rev, err := metaUint(tx, metaRevision)
		if err != nil {
			return err
		}
		if start != nil {
			if err := start(int64(rev), tx.Size()); err != nil {
				return err
			}
		}
		_, err = tx.WriteTo(&ctxWriter{ctx: ctx, w: w})
		if cerr := ctx.Err(); cerr != nil {
			// bbolt wraps some write errors with %s, which hides the
			// context error from errors.Is.
			return cerr
		}
		return err
	})
}

// ctxWriter is a writer that fails with its context's error once the
// context is done, so that a cancelled backup ends its read transaction
// at the next write rather than at the end of the file.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// ReadFrom hands the bulk of the file to w's own ReadFrom when it has one
// (sparing a copy through io.Copy's buffer), checking the context between
// its reads.
func (c *ctxWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(&ctxReader{ctx: c.ctx, r: r})
	}
	return io.Copy(struct{ io.Writer }{c}, r)
}

// ctxReader is a reader that fails with its context's error once the
// context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
