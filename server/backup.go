package server

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Backuper is what the Backup RPC needs of a backend that keeps its
// database in a file of its own (package store's DB). A Store that does not
// implement it (package etcdstore's) answers Backup with
// FAILED_PRECONDITION.
type Backuper interface {
	// Backup writes a consistent copy of the database file to w, read in
	// one transaction while writes go on. Before the first byte it calls
	// start with the revision the copy holds and its size in bytes, and
	// returns start's error if it fails. Unless it returns an error, exactly
	// size bytes have gone to w. It stops with ctx's error once ctx is
	// done and with w's error as soon as w fails; errors are otherwise
	// those of Store.
	Backup(ctx context.Context, w io.Writer, start func(revision, size int64) error) error
}

// backupChunk is the most file bytes in one BackupResponse: large enough
// that framing costs nothing next to the data, well under the 4 MiB a
// gRPC client receives by default.
const backupChunk = 1 << 20

// errNoBackup is Backup's answer on a backend without a file of its own.
var errNoBackup = status.Error(codes.FailedPrecondition,
	"this server's backend has no database file to copy: back up the etcd cluster with `etcdctl snapshot save FILE`")

// Backup streams a consistent copy of the database file, in chunks of at
// most backupChunk bytes, the first one carrying the revision and size.
//
// Each Send waits for gRPC flow control, so the server holds at most about
// one chunk per backup however slowly the client reads; but the store's
// read transaction stays open for as long as the client takes (see
// Backuper and store.DB.Backup for what that holds up). The client going
// away, or the server shutting down, ends the copy and the transaction.
func (s *Server) Backup(_ *articlesv1.BackupRequest, stream grpc.ServerStreamingServer[articlesv1.BackupResponse]) error {
	b, ok := s.store.(Backuper)
	if !ok {
		return errNoBackup
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(s.shutdown, cancel)()
	if s.shutdown.Err() != nil {
		return errShuttingDown
	}
	cw := &chunkWriter{send: stream.Send}
	err := b.Backup(ctx, cw, func(rev, size int64) error {
		cw.first = &articlesv1.BackupResponse{Revision: rev, Size: size}
		return nil
	})
	if err == nil {
		err = cw.flush()
	}
	switch {
	case err == nil:
		return nil
	case stream.Context().Err() != nil:
		return toStatus(stream.Context().Err())
	case s.shutdown.Err() != nil:
		return errShuttingDown
	case cw.sendErr != nil:
		// The stream broke; its error is already a status.
		return cw.sendErr
	}
	return toStatus(err)
}

// chunkWriter gathers a file's bytes into BackupResponse messages of
// backupChunk bytes and sends each when it is full. first, once set, is
// the first message: it goes out with the first chunk.
type chunkWriter struct {
	send    func(*articlesv1.BackupResponse) error
	first   *articlesv1.BackupResponse
	buf     []byte
	sendErr error // the first failed send; every later write fails with it
}

// Write copies p into chunks, sending each full one.
func (c *chunkWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := c.ready(); err != nil {
			return n, err
		}
		k := copy(c.buf[len(c.buf):cap(c.buf)], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// ReadFrom reads r straight into chunks, sparing a copy through a
// separate buffer.
func (c *chunkWriter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if err := c.ready(); err != nil {
			return total, err
		}
		k, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+k]
		total += int64(k)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ready sends the current chunk if it is full and makes sure there is
// room for more bytes. Every chunk is a new slice: gRPC may hold on to a
// sent message.
func (c *chunkWriter) ready() error {
	if c.sendErr != nil {
		return c.sendErr
	}
	if c.buf != nil && len(c.buf) == cap(c.buf) {
		if err := c.flush(); err != nil {
			return err
		}
	}
	if c.buf == nil {
		c.buf = make([]byte, 0, backupChunk)
	}
	return nil
}

// flush sends what has been gathered, and the first message even when
// nothing has.
func (c *chunkWriter) flush() error {
	if c.sendErr != nil {
		return c.sendErr
	}
	if len(c.buf) == 0 && c.first == nil {
		return nil
	}
	msg := c.first
	if msg == nil {
		msg = &articlesv1.BackupResponse{}
	}
	msg.Data = c.buf
	c.first, c.buf = nil, nil
	if err := c.send(msg); err != nil {
		c.sendErr = err
		return err
	}
	return nil
}
