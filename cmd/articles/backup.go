package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/seed9c1868aa/articles/internal/fsync"
)

func (a *app) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the server's database into FILE (needs a write token)",
		Long: `Copy the running server's database into FILE while it goes on serving.

The copy is consistent: the server reads it in one transaction, so FILE
holds every write acknowledged before the backup began and is the
database exactly as of one revision, which is printed at the end.
"articlesd --db FILE" serves it as it was, with the same ids, revisions,
etags and page tokens; the full-text index is not copied and rebuilds.

The file arrives in a temporary file beside FILE (.FILE.partial-*), which
is synced and renamed to FILE only once complete, replacing any FILE there
was: an interrupted or failed backup never leaves a partial FILE. A FILE
that a running server holds open as its database is refused. On a
terminal, stderr shows a progress bar (bytes of total, rate, time left).

Backup needs a token of the write role. A server on the etcd backend
refuses it with FAILED_PRECONDITION: back up etcd with
"etcdctl snapshot save" instead.`,
		Example: `  articles backup articles-$(date +%F).db
  articlesd --db articles-2026-12-05.db --listen :50052   # serve the copy`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || args[0] == "" {
				return usagef("%s takes one FILE to write, got %d arguments", cmd.Name(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.backup(cmd.Context(), args[0])
		},
	}
}

// backup receives the server's database into a temporary file beside
// path, syncs it and renames it to path.
func (a *app) backup(ctx context.Context, path string) (err error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return usagef("backup: %s is a directory: give the file to write", path)
	}
	if lockedByDatabase(path) {
		return fmt.Errorf("backup: %s is the file of a running database (it is locked): write the backup elsewhere", path)
	}
	c, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp makes the file 0600: it holds every article and the
	// server's token key.
	f, err := os.CreateTemp(dir, "."+base+".partial-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()

	var bar *progressbar.ProgressBar
	progress := func(done, size int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(size,
				progressbar.OptionSetWriter(a.stderr),
				progressbar.OptionSetDescription("backup"),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set64(done)
	}
	if !isTerminal(a.stderr) {
		progress = nil
	}
	rev, err := c.Backup(ctx, f, progress)
	if bar != nil {
		_ = bar.Clear()
	}
	if err != nil {
		return err // a status, or the file's error naming it
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The rename is durable once the directory is synced; a failure here
	// leaves a complete FILE, so it is only reported.
	if err := fsync.Dir(dir); err != nil {
		fmt.Fprintf(a.stderr, "articles: backup: %s is complete, but syncing its directory failed: %v\n", path, err)
	}
	_, err = fmt.Fprintf(a.stdout, "%s: revision %d, %d bytes\n", path, rev, size)
	return err
}
