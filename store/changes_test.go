package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
	"google.golang.org/protobuf/proto"
)

func TestImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	existing := mustCreate(t, db, art("same"))
	changed := mustCreate(t, db, art("changed"))

	upd := art("changed")
	upd.Body = "a new body"
	dup1, dup2 := art("twice"), art("twice")
	dup2.Title = "second version"
	batch := []*articlesv1.Article{
		art("new-1"),
		art("same"), // equal settable fields: unchanged
		upd,
		nil,
		{Title: "no slug"},
		dup1, dup2, // created, then updated within one import
	}
	resp, err := db.Import(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Created != 2 || resp.Updated != 2 || resp.Unchanged != 1 || len(resp.Failures) != 2 {
		t.Fatalf("Import = %v", resp)
	}
	if resp.Failures[0].Index != 3 || resp.Failures[1].Index != 4 {
		t.Errorf("failure indexes = %v, want 3 and 4", resp.Failures)
	}
	// Unchanged articles took no revision: 2 creates before + 4 writes.
	if rev, _ := db.Revision(ctx); rev != 6 {
		t.Errorf("Revision = %d, want 6", rev)
	}
	if got, _ := db.GetBySlug(ctx, "same"); !proto.Equal(got, existing) {
		t.Errorf("unchanged article was rewritten: %v", got)
	}
	got, err := db.GetBySlug(ctx, "changed")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() != changed.GetId() || got.GetBody() != "a new body" || got.GetRevision() <= changed.GetRevision() ||
		!proto.Equal(got.GetCreateTime(), changed.GetCreateTime()) {
		t.Errorf("updated article = %v", got)
	}
	if got, _ := db.GetBySlug(ctx, "twice"); got.GetTitle() != "second version" {
		t.Errorf("twice = %v", got)
	}
	evs, err := db.Changes(ctx, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []articlesv1.ArticleEvent_Type
	for _, e := range evs {
		types = append(types, e.GetType())
	}
	want := []articlesv1.ArticleEvent_Type{articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_UPDATED, articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_UPDATED}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("import events = %v, want %v", types, want)
	}
}

func TestRevisionsAndEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	if rev, err := db.Revision(ctx); rev != 0 || err != nil {
		t.Fatalf("new store: Revision = %d, %v", rev, err)
	}
	a := mustCreate(t, db, art("e"))
	u, err := db.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Title = "T2"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(ctx, a.GetId(), ""); err != nil {
		t.Fatal(err)
	}
	evs, err := db.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []*articlesv1.ArticleEvent{
		{Type: articlesv1.ArticleEvent_CREATED, Revision: 1, Article: a},
		{Type: articlesv1.ArticleEvent_UPDATED, Revision: 2, Article: u},
		{Type: articlesv1.ArticleEvent_DELETED, Revision: 3, Article: &articlesv1.Article{Id: a.GetId(), Slug: "e", Revision: 3}},
	}
	if len(evs) != len(want) {
		t.Fatalf("Changes = %v", evs)
	}
	for i := range want {
		if !proto.Equal(evs[i], want[i]) {
			t.Errorf("event %d = %v, want %v", i, evs[i], want[i])
		}
	}
	if rev, _ := db.Revision(ctx); rev != 3 {
		t.Errorf("Revision = %d, want 3", rev)
	}
	if evs, _ := db.Changes(ctx, 2, 1); len(evs) != 1 || evs[0].GetRevision() != 2 {
		t.Errorf("Changes(2, 1) = %v", evs)
	}
	if evs, _ := db.Changes(ctx, 4, 0); len(evs) != 0 {
		t.Errorf("Changes(4) = %v, want none", evs)
	}
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t, store.WithHistory(5))
	var batch []*articlesv1.Article
	for i := range 250 { // more than two compaction chunks (100 in tests)
		batch = append(batch, art(fmt.Sprintf("c%d", i)))
	}
	if _, err := db.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// Compaction is asynchronous: wait (bounded) for it.
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err = db.Changes(ctx, 245, 0); err != nil {
			break
		}
	}
	var ce *articles.CompactedError
	if !errors.As(err, &ce) || !errors.Is(err, articles.ErrCompacted) {
		t.Fatalf("Changes(old) = %v, want a CompactedError", err)
	}
	if ce.Requested != 245 || ce.Oldest != 246 {
		t.Errorf("CompactedError = %+v, want requested 245, oldest 246", ce)
	}
	evs, err := db.Changes(ctx, ce.Oldest, 0)
	if err != nil || len(evs) != 5 || evs[0].GetRevision() != 246 || evs[4].GetRevision() != 250 {
		t.Errorf("Changes(oldest) = %d events, %v", len(evs), err)
	}
	if _, err := db.Changes(ctx, 0, 0); !errors.Is(err, articles.ErrCompacted) {
		t.Errorf("Changes(0) = %v, want ErrCompacted", err)
	}
}

func TestWaitRevision(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	if err := db.WaitRevision(ctx, 0); err != nil {
		t.Fatalf("WaitRevision(0) = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- db.WaitRevision(ctx, 2) }()
	mustCreate(t, db, art("w1"))
	select {
	case err := <-done:
		t.Fatalf("WaitRevision(2) returned %v at revision 1", err)
	default:
	}
	mustCreate(t, db, art("w2"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitRevision(2) did not return at revision 2")
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := db.WaitRevision(short, 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitRevision past deadline = %v", err)
	}
	go func() { done <- db.WaitRevision(ctx, 100) }()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, articles.ErrClosed) {
			t.Errorf("WaitRevision at Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitRevision did not return at Close")
	}
}

func TestMethodsAfterClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t)
	a := mustCreate(t, db, art("x"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	noop := func(*articlesv1.Article) error { return nil }
	calls := map[string]func() error{
		"Get":       func() error { _, err := db.Get(ctx, a.GetId()); return err },
		"GetBySlug": func() error { _, err := db.GetBySlug(ctx, "x"); return err },
		"BatchGet":  func() error { _, err := db.BatchGet(ctx, []string{a.GetId()}); return err },
		"List": func() error {
			return db.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(*articlesv1.Article) error { return nil })
		},
		"Create":       func() error { _, err := db.Create(ctx, art("y"), ""); return err },
		"Update":       func() error { _, err := db.Update(ctx, a.GetId(), "", noop); return err },
		"Delete":       func() error { return db.Delete(ctx, a.GetId(), "") },
		"Import":       func() error { _, err := db.Import(ctx, []*articlesv1.Article{art("z")}); return err },
		"Changes":      func() error { _, err := db.Changes(ctx, 1, 0); return err },
		"Revision":     func() error { _, err := db.Revision(ctx); return err },
		"WaitRevision": func() error { return db.WaitRevision(ctx, 1) },
		"TokenKey":     func() error { _, err := db.TokenKey(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, articles.ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", name, err)
			}
		})
	}
}
