package main_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"go.etcd.io/bbolt"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestKillDuringIndexRebuild starts articlesd without its search index
// file, so that it rebuilds the index from the articles, kills it with
// SIGKILL in the middle of that rebuild, and checks that after a restart
// searches give the full answers.
func TestKillDuringIndexRebuild(t *testing.T) {
	t.Parallel()
	const n = 4000
	db := newDB(t)
	index := db + ".search"
	d := start(t, db, nil, "--no-seed")
	c := d.client()
	imp, err := c.ImportArticles(callCtx(t))
	if err != nil {
		t.Fatalf("ImportArticles: %v", err)
	}
	for i := range n {
		a := &articlesv1.Article{
			Slug:  fmt.Sprintf("a-%d", i),
			Title: fmt.Sprintf("Dispatch %d", i),
			Body:  fmt.Sprintf("A common report, number uniq%d, on harbours, rivers and the weather of the coast. ", i) + strings.Repeat("Ferries, gulls and tides. ", 20),
		}
		if err := imp.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if res, err := imp.CloseAndRecv(); err != nil || res.GetCreated() != n {
		t.Fatalf("import: %v, %v", res, err)
	}
	checkSearch := func(c articlesv1.ArticleServiceClient, when string) {
		t.Helper()
		resp, err := c.SearchArticles(callCtx(t), &articlesv1.SearchArticlesRequest{Query: "common harbours", PageSize: 5})
		if err != nil || resp.GetTotalSize() != n || len(resp.GetResults()) != 5 {
			t.Fatalf("%s: search for common words: total %d, %d results, %v; want %d, 5", when, resp.GetTotalSize(), len(resp.GetResults()), err, n)
		}
		resp, err = c.SearchArticles(callCtx(t), &articlesv1.SearchArticlesRequest{Query: "uniq1234"})
		if err != nil || len(resp.GetResults()) != 1 || resp.GetResults()[0].GetArticle().GetSlug() != "a-1234" {
			t.Fatalf("%s: search for uniq1234: %v, %v; want a-1234", when, resp.GetResults(), err)
		}
	}
	checkSearch(c, "before")
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; log:\n%s", code, d.logs)
	}

	// Without its file, the next start rebuilds the index: kill it as soon
	// as it says so.
	if err := os.Remove(index); err != nil {
		t.Fatal(err)
	}
	d = launch(t, db, nil, "--no-seed")
	d.logs.waitFor(t, "rebuilding the index")
	if code := d.signal(syscall.SIGKILL); code != -1 {
		t.Fatalf("exit code after SIGKILL = %d, want -1 (killed)", code)
	}
	if strings.Contains(d.logs.String(), "index rebuilt") {
		t.Fatalf("the rebuild finished before the kill; log:\n%s", d.logs)
	}
	// The file was left mid-rebuild.
	bdb, err := bbolt.Open(index, 0o600, &bbolt.Options{ReadOnly: true, Timeout: exitTimeout})
	if err != nil {
		t.Fatalf("open the index file: %v", err)
	}
	err = bdb.View(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket([]byte("meta")); meta == nil || meta.Get([]byte("rebuild")) == nil {
			return errors.New("no rebuild in progress")
		}
		return nil
	})
	bdb.Close()
	if err != nil {
		t.Fatalf("index file after the kill: %v; log:\n%s", err, d.logs)
	}

	d = start(t, db, nil, "--no-seed")
	checkSearch(d.client(), "after the restart")
	d.logs.waitFor(t, "index rebuilt")
	if _, err := os.Stat(index); errors.Is(err, fs.ErrNotExist) {
		t.Fatal("no index file after the restart")
	}
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; log:\n%s", code, d.logs)
	}
}
