package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func TestWriteErrorNoSpace(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	tests := []struct {
		name string
		in   error
		want error
	}{
		{"ENOSPC", &os.PathError{Op: "write", Path: "/secret/dir/a.db", Err: syscall.ENOSPC}, articles.ErrNoSpace},
		{"wrapped ENOSPC", fmt.Errorf("commit: %w", &os.PathError{Op: "sync", Path: "/secret/dir/a.db", Err: syscall.ENOSPC}), articles.ErrNoSpace},
		{"EDQUOT", &os.PathError{Op: "write", Path: "/secret/dir/a.db", Err: syscall.EDQUOT}, articles.ErrNoSpace},
		{"EFBIG", &os.PathError{Op: "write", Path: "/secret/dir/a.db", Err: syscall.EFBIG}, articles.ErrNoSpace},
		// bbolt's grow formats the errno into text (%s), dropping the wrapping.
		{"bbolt resize", fmt.Errorf("file resize error: %s", &os.PathError{Op: "truncate", Path: "/secret/dir/a.db", Err: syscall.EFBIG}), articles.ErrNoSpace},
		{"bbolt sync", fmt.Errorf("file sync error: %s", &os.PathError{Op: "sync", Path: "/secret/dir/a.db", Err: syscall.ENOSPC}), articles.ErrNoSpace},
		{"other", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := db.WriteError(tt.in)
			if tt.want == nil {
				if got != tt.in {
					t.Errorf("WriteError(%v) = %v, want it unchanged", tt.in, got)
				}
				return
			}
			if !errors.Is(got, tt.want) || strings.Contains(got.Error(), "/secret") {
				t.Errorf("WriteError(%v) = %v, want %v without the path", tt.in, got, tt.want)
			}
		})
	}
}

// TestBatchFailureIsolated mixes writes that fail after their checks
// (a panicking mutate rolls back the whole shared transaction) with good
// writes: every good write still commits exactly once.
func TestBatchFailureIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	target := mustCreate(t, db, art("target"))
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%3 == 0 {
				_, errs[i] = db.Update(ctx, target.GetId(), "", func(*articlesv1.Article) error { panic("bad mutate") })
				return
			}
			_, errs[i] = db.Create(ctx, art(fmt.Sprintf("good-%d", i)), "")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 0) != (err != nil) {
			t.Errorf("write %d: err = %v", i, err)
		}
	}
	good := n - n/3
	if rev, _ := db.Revision(ctx); rev != int64(1+good) {
		t.Errorf("Revision = %d, want %d", rev, 1+good)
	}
	evs, err := db.Changes(ctx, 1, 0)
	if err != nil || len(evs) != 1+good {
		t.Errorf("Changes = %d events, %v; want %d", len(evs), err, 1+good)
	}
	if got, _ := db.Get(ctx, target.GetId()); got.GetRevision() != target.GetRevision() {
		t.Errorf("target changed: %v", got)
	}
}
