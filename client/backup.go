package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Backup receives a consistent copy of the server's database file into w
// (a bbolt file that articlesd --db serves as it was) and returns the store
// revision the copy holds. progress, when not nil, is called after each
// chunk with the bytes written so far and the whole file's size.
//
// Backup needs a token of the write role. A server whose backend has no
// file of its own (etcd) answers FAILED_PRECONDITION. Backup is not given
// the default timeout, since it lasts as long as the file takes to
// arrive; ctx bounds it. It is not resumed or retried: after an error,
// what w received is incomplete and must be discarded.
func (c *Client) Backup(ctx context.Context, w io.Writer, progress func(done, size int64)) (revision int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Backup(ctx, &articlesv1.BackupRequest{})
	if err != nil {
		return 0, err
	}
	var done, size int64
	for first := true; ; first = false {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if first {
				return 0, errors.New("backup: the server sent nothing")
			}
			break
		}
		if err != nil {
			return 0, err
		}
		if first {
			revision, size = msg.GetRevision(), msg.GetSize()
			if size <= 0 {
				return 0, fmt.Errorf("backup: the server announced a file of %d bytes", size)
			}
		}
		data := msg.GetData()
		if done+int64(len(data)) > size {
			return 0, fmt.Errorf("backup: the server sent more than the %d bytes it announced", size)
		}
		if _, err := w.Write(data); err != nil {
			return 0, err
		}
		done += int64(len(data))
		if progress != nil {
			progress(done, size)
		}
	}
	if done != size {
		return 0, fmt.Errorf("backup: the stream ended after %d of %d bytes", done, size)
	}
	return revision, nil
}
