package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var _ server.Store = (*store.DB)(nil)

// mustOpen opens a store in a fresh temporary file, closed at cleanup.
func mustOpen(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "a.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// art returns a valid article to create, as the server would pass it.
func art(slug string) *articlesv1.Article {
	return &articlesv1.Article{
		Slug:    slug,
		Title:   "Title of " + slug,
		Summary: "summary",
		Body:    "body of " + slug,
		Authors: []string{"Ann Author"},
		Tags:    []string{"news"},
		Source:  "RIAC",
		Labels:  map[string]string{"k": "v"},
	}
}

func mustCreate(t testing.TB, db *store.DB, a *articlesv1.Article) *articlesv1.Article {
	t.Helper()
	got, err := db.Create(context.Background(), a, "")
	if err != nil {
		t.Fatalf("Create(%q): %v", a.GetSlug(), err)
	}
	return got
}

func TestCreateGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	in := art("first")
	before := proto.Clone(in)
	a := mustCreate(t, db, in)
	if !proto.Equal(in, before) {
		t.Errorf("Create modified its argument")
	}
	if len(a.GetId()) != 26 || a.GetCreateTime() == nil || a.GetUpdateTime() == nil || a.GetRevision() != 1 || a.GetEtag() == "" {
		t.Errorf("output-only fields not assigned: %v", a)
	}
	if a.GetTitle() != in.GetTitle() || a.GetLabels()["k"] != "v" {
		t.Errorf("settable fields changed: %v", a)
	}
	got, err := db.Get(ctx, a.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, a) {
		t.Errorf("Get = %v, want %v", got, a)
	}
	got, err = db.GetBySlug(ctx, "first")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, a) {
		t.Errorf("GetBySlug = %v, want %v", got, a)
	}
	b := mustCreate(t, db, art("second"))
	if b.GetId() <= a.GetId() {
		t.Errorf("ids not increasing: %q then %q", a.GetId(), b.GetId())
	}
	if b.GetRevision() != 2 || b.GetEtag() == a.GetEtag() {
		t.Errorf("second create: revision %d etag %q (first etag %q)", b.GetRevision(), b.GetEtag(), a.GetEtag())
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	a := mustCreate(t, db, art("taken"))
	mustCreate(t, db, art("other"))
	noop := func(*articlesv1.Article) error { return nil }
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"Get/ErrNotFound", func() error { _, err := db.Get(ctx, "nope"); return err }, articles.ErrNotFound},
		{"GetBySlug/ErrNotFound", func() error { _, err := db.GetBySlug(ctx, "nope"); return err }, articles.ErrNotFound},
		{"BatchGet/ErrNotFound", func() error { _, err := db.BatchGet(ctx, []string{a.GetId(), "nope"}); return err }, articles.ErrNotFound},
		{"Create/ErrAlreadyExists", func() error { _, err := db.Create(ctx, art("taken"), ""); return err }, articles.ErrAlreadyExists},
		{"Update/ErrNotFound", func() error { _, err := db.Update(ctx, "nope", "", noop); return err }, articles.ErrNotFound},
		{"Update/ErrConflict", func() error { _, err := db.Update(ctx, a.GetId(), "stale", noop); return err }, articles.ErrConflict},
		{"Update/ErrAlreadyExists", func() error {
			_, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Slug = "other"; return nil })
			return err
		}, articles.ErrAlreadyExists},
		{"Delete/ErrNotFound", func() error { return db.Delete(ctx, "nope", "") }, articles.ErrNotFound},
		{"Delete/ErrConflict", func() error { return db.Delete(ctx, a.GetId(), "stale") }, articles.ErrConflict},
		{"Changes/canceled", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := db.Changes(c, 1, 10)
			return err
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// None of the failed writes took a revision.
	if rev, _ := db.Revision(ctx); rev != 2 {
		t.Errorf("Revision = %d after failed writes, want 2", rev)
	}
	if got, _ := db.Get(ctx, a.GetId()); !proto.Equal(got, a) {
		t.Errorf("failed writes changed the article: %v", got)
	}
}

func TestErrorMessagesHaveNoPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Get(context.Background(), "x")
	if err == nil || containsStr(err.Error(), dir) {
		t.Errorf("Get error %v: want ErrNotFound without the path", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = db.Get(context.Background(), "x")
	if !errors.Is(err, articles.ErrClosed) || containsStr(err.Error(), dir) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
}

func containsStr(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (func() bool {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
		return false
	})()
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	a := mustCreate(t, db, art("u"))
	mustCreate(t, db, art("v"))

	got, err := db.Update(ctx, a.GetId(), a.GetEtag(), func(x *articlesv1.Article) error {
		x.Title = "New title"
		x.Slug = "u2"
		x.Tags = []string{"changed"}
		// Output-only fields set by mutate are ignored.
		x.Id = "forged"
		x.Revision = 999
		x.Etag = "forged"
		x.CreateTime = timestamppb.New(time.Unix(1, 0))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() != a.GetId() || got.GetRevision() != 3 || got.GetEtag() == a.GetEtag() || got.GetEtag() == "forged" ||
		!proto.Equal(got.GetCreateTime(), a.GetCreateTime()) || got.GetTitle() != "New title" {
		t.Errorf("Update = %v", got)
	}
	if _, err := db.GetBySlug(ctx, "u"); !errors.Is(err, articles.ErrNotFound) {
		t.Errorf("old slug still resolves: %v", err)
	}
	if s, err := db.GetBySlug(ctx, "u2"); err != nil || s.GetId() != a.GetId() {
		t.Errorf("GetBySlug(new) = %v, %v", s, err)
	}
	// The old etag is now stale.
	if _, err := db.Update(ctx, a.GetId(), a.GetEtag(), func(*articlesv1.Article) error { return nil }); !errors.Is(err, articles.ErrConflict) {
		t.Errorf("stale etag: %v", err)
	}
	// mutate's own error is returned as it is and nothing changes.
	sentinel := errors.New("mutate says no")
	if _, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Title = "x"; return sentinel }); err != sentinel {
		t.Errorf("mutate error: got %v", err)
	}
	// A panicking mutate is an error, not a crash.
	if _, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { panic("boom") }); err == nil {
		t.Errorf("panicking mutate: no error")
	}
	if now, _ := db.Get(ctx, a.GetId()); !proto.Equal(now, got) {
		t.Errorf("failed updates changed the article: %v", now)
	}
	// The old slug is free again.
	mustCreate(t, db, art("u"))
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	a := mustCreate(t, db, art("d"))
	if err := db.Delete(ctx, a.GetId(), a.GetEtag()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get(ctx, a.GetId()); !errors.Is(err, articles.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := db.Delete(ctx, a.GetId(), ""); !errors.Is(err, articles.ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	n := 0
	if err := db.List(ctx, articles.Query{Order: articles.OrderTitle}, articles.Cursor{}, 0, func(*articlesv1.Article) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List after delete: %d articles, %v", n, err)
	}
	// The slug can be reused.
	mustCreate(t, db, art("d"))
}

func TestBatchGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, mustCreate(t, db, art(fmt.Sprintf("b%d", i))).GetId())
	}
	order := []string{ids[2], ids[0], ids[1], ids[0]}
	got, err := db.BatchGet(ctx, order)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range got {
		if a.GetId() != order[i] {
			t.Errorf("BatchGet[%d] = %q, want %q", i, a.GetId(), order[i])
		}
	}
	_, err = db.BatchGet(ctx, []string{ids[0], "missing-1", "missing-2"})
	if !errors.Is(err, articles.ErrNotFound) || !containsStr(err.Error(), "missing-1") || containsStr(err.Error(), "missing-2") {
		t.Errorf("BatchGet with missing ids: %v, want ErrNotFound naming missing-1", err)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	first, err := db.Create(ctx, art("r"), "req-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.Create(ctx, art("r"), "req-1")
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !proto.Equal(first, again) {
		t.Errorf("retry = %v, want %v", again, first)
	}
	if rev, _ := db.Revision(ctx); rev != 1 {
		t.Errorf("retry wrote: revision %d", rev)
	}
	other := art("r")
	other.Title = "different"
	if _, err := db.Create(ctx, other, "req-1"); !errors.Is(err, articles.ErrRequestIDReused) {
		t.Errorf("reuse with other content: %v", err)
	}
	// The retry returns the current version.
	upd, err := db.Update(ctx, first.GetId(), "", func(x *articlesv1.Article) error { x.Summary = "new"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if again, err := db.Create(ctx, art("r"), "req-1"); err != nil || !proto.Equal(again, upd) {
		t.Errorf("retry after update = %v, %v; want %v", again, err, upd)
	}
	// Another request id with a taken slug is an ordinary conflict.
	if _, err := db.Create(ctx, art("r"), "req-2"); !errors.Is(err, articles.ErrAlreadyExists) {
		t.Errorf("new request id, taken slug: %v", err)
	}
}
