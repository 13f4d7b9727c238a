package etcdstore_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestGroupCreates races creates that commit in shared transactions, with
// slugs and request ids that collide inside and across groups: each
// caller's answer is exact (one winner per slug, the repeated request
// answered with its article), every article has its own revision, and the
// change feed holds each create once, in revision order, with the
// revision Create and Get report.
func TestGroupCreates(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	const callers, slugs = 96, 40
	type result struct {
		a   *articlesv1.Article
		err error
	}
	results := make([]result, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slug := fmt.Sprintf("g-%d", i%slugs)
			req := ""
			if i%slugs < 8 {
				req = fmt.Sprintf("req-%d", i%slugs) // same article, same request id
			}
			a, err := st.Create(ctx, art(slug, "Title "+slug), req)
			results[i] = result{a, err}
		}()
	}
	wg.Wait()

	winners := map[string]*articlesv1.Article{}
	revs := map[int64]string{}
	for i, r := range results {
		slug := fmt.Sprintf("g-%d", i%slugs)
		switch {
		case r.err == nil:
			if w, ok := winners[slug]; ok {
				if i%slugs >= 8 || !proto.Equal(w, r.a) {
					t.Errorf("caller %d: second success for %q: %v and %v", i, slug, w, r.a)
				}
				continue
			}
			winners[slug] = r.a
			if other, ok := revs[r.a.GetRevision()]; ok {
				t.Errorf("revision %d given to %q and %q", r.a.GetRevision(), other, slug)
			}
			revs[r.a.GetRevision()] = slug
		case errors.Is(r.err, articles.ErrAlreadyExists) && i%slugs >= 8:
		default:
			t.Errorf("caller %d (%q): %v", i, slug, r.err)
		}
	}
	if len(winners) != slugs {
		t.Fatalf("%d slugs created, want %d", len(winners), slugs)
	}
	txns := map[int64]bool{}
	for rev := range revs {
		txns[etcdstore.EtcdRevision(rev)] = true
	}
	if len(txns) == len(revs) {
		t.Fatalf("%d concurrent creates took %d transactions: none were grouped", len(revs), len(txns))
	}
	for slug, w := range winners {
		got, err := st.GetBySlug(ctx, slug)
		if err != nil || !proto.Equal(got, w) {
			t.Errorf("GetBySlug(%q) = %v, %v; want %v", slug, got, err, w)
		}
	}
	var want []int64
	for rev := range revs {
		want = append(want, rev)
	}
	slices.Sort(want)
	evs, err := st.Changes(ctx, want[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range evs {
		got = append(got, e.GetRevision())
		if w := winners[e.GetArticle().GetSlug()]; w == nil || w.GetRevision() != e.GetRevision() || w.GetEtag() != e.GetArticle().GetEtag() {
			t.Errorf("event %v does not match the create %v", e, w)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Changes revisions %v, want %v", got, want)
	}
	last, err := st.Revision(ctx)
	if err != nil || last != want[len(want)-1] {
		t.Fatalf("Revision = %d, %v; want %d", last, err, want[len(want)-1])
	}
	// From inside a group: the events of its earlier slots are left out.
	if len(want) > 1 {
		evs, err := st.Changes(ctx, want[1], 0)
		if err != nil || len(evs) != len(want)-1 || evs[0].GetRevision() != want[1] {
			t.Fatalf("Changes(%d) = %d events from %v, %v; want %d from %d", want[1], len(evs), evs[0].GetRevision(), err, len(want)-1, want[1])
		}
	}
}

// TestImportGroups imports more articles than one transaction holds, with
// repeated slugs and an existing one: the counts are exact and every
// article has its own revision.
func TestImportGroups(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	mustCreate(t, st, art("s-0", "Before"))
	var batch []*articlesv1.Article
	for i := range 300 {
		batch = append(batch, art(fmt.Sprintf("s-%d", i%250), fmt.Sprintf("Title %d", i)))
	}
	batch = append(batch, art("s-1", "Title 251")) // as imported just before: unchanged
	resp, err := st.Import(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Created != 249 || resp.Updated != 51 || resp.Unchanged != 1 || len(resp.Failures) != 0 {
		t.Fatalf("Import = %v; want 249 created, 51 updated, 1 unchanged", resp)
	}
	seen := map[int64]bool{}
	n := 0
	if err := st.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		n++
		if seen[a.GetRevision()] {
			t.Errorf("revision %d twice", a.GetRevision())
		}
		seen[a.GetRevision()] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 250 {
		t.Fatalf("listed %d articles, want 250", n)
	}
}

// TestGetBySlugMoves reads a slug through one store while another moves
// it between articles, deletes and recreates it: each read answers with
// the article the slug names now, whatever the first store read before.
func TestGetBySlugMoves(t *testing.T) {
	t.Parallel()
	st, cli := newStore(t)
	other := openStore(t, cli, st.Prefix())
	ctx := testCtx(t)
	check := func(want *articlesv1.Article) {
		t.Helper()
		got, err := st.GetBySlug(ctx, "moving")
		if want == nil {
			if !errors.Is(err, articles.ErrNotFound) {
				t.Fatalf("GetBySlug = %v, %v; want ErrNotFound", got, err)
			}
			return
		}
		if err != nil || !proto.Equal(got, want) {
			t.Fatalf("GetBySlug = %v, %v; want %v", got, err, want)
		}
	}
	a := mustCreate(t, other, art("moving", "A"))
	check(a)
	check(a) // the guess holds
	a, err := other.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Title = "A2"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	check(a) // same article, new version
	if _, err := other.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Slug = "moved"; return nil }); err != nil {
		t.Fatal(err)
	}
	check(nil)
	b := mustCreate(t, other, art("moving", "B"))
	check(b) // the slug names another article now
	if err := other.Delete(ctx, b.GetId(), ""); err != nil {
		t.Fatal(err)
	}
	check(nil)
}
