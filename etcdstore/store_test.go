package etcdstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

func art(slug, title string) *articlesv1.Article {
	return &articlesv1.Article{Slug: slug, Title: title, Body: "Body of " + title}
}

func mustCreate(t *testing.T, st *etcdstore.Store, a *articlesv1.Article) *articlesv1.Article {
	t.Helper()
	got, err := st.Create(testCtx(t), a, "")
	if err != nil {
		t.Fatalf("Create(%q): %v", a.GetSlug(), err)
	}
	return got
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	a := mustCreate(t, st, art("one", "One"))
	if a.GetId() == "" || a.GetRevision() == 0 || a.GetEtag() == "" || a.GetCreateTime() == nil {
		t.Fatalf("Create returned %v: want id, revision, etag and create_time set", a)
	}
	rev, err := st.Revision(ctx)
	if err != nil || rev != a.GetRevision() {
		t.Fatalf("Revision = %d, %v; want %d", rev, err, a.GetRevision())
	}

	t.Run("Get", func(t *testing.T) {
		got, err := st.Get(ctx, a.GetId())
		if err != nil || !proto.Equal(got, a) {
			t.Fatalf("Get = %v, %v; want %v", got, err, a)
		}
		got, err = st.GetBySlug(ctx, "one")
		if err != nil || !proto.Equal(got, a) {
			t.Fatalf("GetBySlug = %v, %v; want %v", got, err, a)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for name, err := range map[string]error{
			"get":    second(st.Get(ctx, "01HZZZZZZZZZZZZZZZZZZZZZZZ")),
			"slug":   second(st.GetBySlug(ctx, "nope")),
			"batch":  second(st.BatchGet(ctx, []string{a.GetId(), "missing"})),
			"update": second(st.Update(ctx, "missing", "", func(*articlesv1.Article) error { return nil })),
			"delete": st.Delete(ctx, "missing", ""),
		} {
			if !errors.Is(err, articles.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", name, err)
			}
		}
	})
	t.Run("ErrAlreadyExists", func(t *testing.T) {
		if _, err := st.Create(ctx, art("one", "Again"), ""); !errors.Is(err, articles.ErrAlreadyExists) {
			t.Fatalf("Create with a taken slug: err = %v, want ErrAlreadyExists", err)
		}
		b := mustCreate(t, st, art("two", "Two"))
		_, err := st.Update(ctx, b.GetId(), "", func(x *articlesv1.Article) error { x.Slug = "one"; return nil })
		if !errors.Is(err, articles.ErrAlreadyExists) {
			t.Fatalf("Update to a taken slug: err = %v, want ErrAlreadyExists", err)
		}
	})
	t.Run("Update", func(t *testing.T) {
		up, err := st.Update(ctx, a.GetId(), a.GetEtag(), func(x *articlesv1.Article) error {
			x.Title, x.Slug = "One, renamed", "one-renamed"
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if up.GetRevision() <= a.GetRevision() || up.GetEtag() == a.GetEtag() || up.GetId() != a.GetId() {
			t.Fatalf("Update returned %v: want a new revision and etag, same id", up)
		}
		if _, err := st.GetBySlug(ctx, "one"); !errors.Is(err, articles.ErrNotFound) {
			t.Fatalf("old slug still found: %v", err)
		}
		if got, err := st.GetBySlug(ctx, "one-renamed"); err != nil || !proto.Equal(got, up) {
			t.Fatalf("GetBySlug(new) = %v, %v; want %v", got, err, up)
		}
		_, err = st.Update(ctx, a.GetId(), a.GetEtag(), func(*articlesv1.Article) error { return nil })
		if !errors.Is(err, articles.ErrConflict) {
			t.Fatalf("Update with a stale etag: err = %v, want ErrConflict", err)
		}
		if err := st.Delete(ctx, a.GetId(), a.GetEtag()); !errors.Is(err, articles.ErrConflict) {
			t.Fatalf("Delete with a stale etag: err = %v, want ErrConflict", err)
		}
		if err := st.Delete(ctx, a.GetId(), up.GetEtag()); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := st.Get(ctx, a.GetId()); !errors.Is(err, articles.ErrNotFound) {
			t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestRequestID(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	first, err := st.Create(ctx, art("req", "Req"), "r1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    *articlesv1.Article
		want error
	}{
		{"Same", art("req", "Req"), nil},
		{"Different", art("req", "Other"), articles.ErrRequestIDReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Create(ctx, tt.a, "r1")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && !proto.Equal(got, first) {
				t.Fatalf("repeat returned %v, want the first result %v", got, first)
			}
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []*articlesv1.Article
	for i := range 12 {
		a := art(fmt.Sprintf("a%02d", i), fmt.Sprintf("Title %c", 'z'-i))
		a.PublishTime = timestamppb.New(base.Add(time.Duration(i%5) * time.Hour))
		a.Authors = []string{[]string{"Ann", "Bob"}[i%2]}
		a.Tags = []string{"t" + fmt.Sprint(i%3)}
		all = append(all, mustCreate(t, st, a))
	}
	for _, tt := range []struct {
		name string
		q    articles.Query
	}{
		{"PublishTimeDesc", articles.Query{Order: articles.OrderPublishTimeDesc}},
		{"PublishTime", articles.Query{Order: articles.OrderPublishTime}},
		{"CreateTime", articles.Query{Order: articles.OrderCreateTime}},
		{"CreateTimeDesc", articles.Query{Order: articles.OrderCreateTimeDesc}},
		{"Title", articles.Query{Order: articles.OrderTitle}},
		{"AuthorTag", articles.Query{Order: articles.OrderTitle, Filter: articles.Filter{Author: "Bob", Tag: "t0"}}},
		{"PublishedAfter", articles.Query{Filter: articles.Filter{PublishedAfter: base.Add(3 * time.Hour)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			sorted := slices.Clone(all)
			slices.SortFunc(sorted, func(a, b *articlesv1.Article) int {
				c := bytes.Compare(tt.q.Order.SortKey(a), tt.q.Order.SortKey(b))
				if c == 0 {
					c = strings.Compare(a.GetId(), b.GetId())
				}
				if tt.q.Order.Desc() {
					return -c
				}
				return c
			})
			for _, a := range sorted {
				if tt.q.Filter.Match(a) {
					want = append(want, a.GetSlug())
				}
			}
			// Pages of 5, resumed from each page's last cursor.
			var got []string
			var after articles.Cursor
			for page := 0; page < 10; page++ {
				n := 0
				err := st.List(ctx, tt.q, after, 5, func(a *articlesv1.Article) error {
					got = append(got, a.GetSlug())
					after = tt.q.Order.CursorOf(a)
					n++
					return nil
				})
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				if n < 5 {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("listed %v, want %v", got, want)
			}
		})
	}
}

// TestChanges is not parallel: it compacts the shared cluster, which must
// not happen while another test reads at an old revision.
func TestChanges(t *testing.T) {
	st, cli := newStore(t)
	ctx := testCtx(t)
	a := mustCreate(t, st, art("c1", "C1"))
	up, err := st.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error { x.Title = "C1 again"; return nil })
	if err != nil {
		t.Fatal(err)
	}
	b := mustCreate(t, st, art("c2", "C2"))
	if err := st.Delete(ctx, a.GetId(), ""); err != nil {
		t.Fatal(err)
	}
	last, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct {
		typ  articlesv1.ArticleEvent_Type
		rev  int64
		slug string
	}
	want := []ev{
		{articlesv1.ArticleEvent_CREATED, a.GetRevision(), "c1"},
		{articlesv1.ArticleEvent_UPDATED, up.GetRevision(), "c1"},
		{articlesv1.ArticleEvent_CREATED, b.GetRevision(), "c2"},
		{articlesv1.ArticleEvent_DELETED, last, "c1"},
	}
	for _, tt := range []struct {
		name  string
		from  int64
		limit int
		want  []ev
	}{
		{"All", a.GetRevision(), 0, want},
		{"Limit", a.GetRevision(), 2, want[:2]},
		{"FromMiddle", up.GetRevision() + 1, 0, want[2:]},
		{"Future", last + 1, 0, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := st.Changes(ctx, tt.from, tt.limit)
			if err != nil {
				t.Fatalf("Changes: %v", err)
			}
			var got []ev
			for _, e := range evs {
				got = append(got, ev{e.GetType(), e.GetRevision(), e.GetArticle().GetSlug()})
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Changes(%d, %d) = %v, want %v", tt.from, tt.limit, got, tt.want)
			}
		})
	}
	t.Run("ErrCompacted", func(t *testing.T) {
		// Compacting the shared cluster is safe for other tests: they
		// read history only from revisions they wrote after this one.
		if _, err := cli.Compact(ctx, etcdstore.EtcdRevision(b.GetRevision())); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		_, err := st.Changes(ctx, a.GetRevision(), 0)
		var ce *articles.CompactedError
		if !errors.As(err, &ce) || ce.Oldest != b.GetRevision() {
			t.Fatalf("Changes from a compacted revision: err = %v, want CompactedError with oldest %d", err, b.GetRevision())
		}
		if _, err := st.Changes(ctx, b.GetRevision(), 0); err != nil {
			t.Fatalf("Changes from the compaction revision: %v", err)
		}
	})
}

// TestSearch checks the full-text engine on an etcd store: it follows
// the store's change feed (Changes from etcd's history) and rebuilds from
// its listing.
func TestSearch(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	slugs := map[string]string{}
	for _, a := range []*articlesv1.Article{
		{Slug: "s1", Title: "Sanctions on steel", Body: "The sanctions were announced today."},
		{Slug: "s2", Title: "Weather", Body: "Rain, and talk of new sanctions."},
	} {
		slugs[mustCreate(t, st, a).GetId()] = a.GetSlug()
	}
	// The engine's first start rebuilds from the listing; the third
	// article then comes through the change feed.
	eng := openEngine(t, st)
	slugs[mustCreate(t, st, &articlesv1.Article{Slug: "s3", Title: "Sports", Body: "Nothing about it."}).GetId()] = "s3"
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"sanction", []string{"s1", "s2"}},
		{"sanct*", []string{"s1", "s2"}},
		{`"new sanctions"`, []string{"s2"}},
		{"sanctions -rain", []string{"s1"}},
		{"nothing", []string{"s3"}},
		{"football", nil},
	} {
		t.Run(tt.query, func(t *testing.T) {
			q, err := search.Parse(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			res, err := eng.Search(ctx, q, articles.Filter{}, 0, 10)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			var got []string
			for _, h := range res.Hits {
				got = append(got, slugs[h.ID])
			}
			if !slices.Equal(got, tt.want) || res.Total != len(tt.want) {
				t.Fatalf("Search(%q) = %v (total %d), want %v", tt.query, got, res.Total, tt.want)
			}
		})
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	mustCreate(t, st, art("i1", "I1"))
	mustCreate(t, st, art("i2", "I2"))
	resp, err := st.Import(ctx, []*articlesv1.Article{
		art("i1", "I1"),         // unchanged
		art("i2", "I2 changed"), // updated
		art("i3", "I3"),         // created
		{Title: "no slug"},      // failure 3
		art("i3", "I3 again"),   // updated (the create above)
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if resp.Created != 1 || resp.Updated != 2 || resp.Unchanged != 1 ||
		len(resp.Failures) != 1 || resp.Failures[0].Index != 3 {
		t.Fatalf("Import = %v; want 1 created, 2 updated, 1 unchanged, failure at 3", resp)
	}
	got, err := st.GetBySlug(ctx, "i3")
	if err != nil || got.GetTitle() != "I3 again" {
		t.Fatalf("GetBySlug(i3) = %v, %v", got, err)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t, etcdstore.WithMaxRequestBytes(64<<10))
	ctx := testCtx(t)
	a := art("big", "Big")
	a.Body = strings.Repeat("word ", 20<<10)
	if _, err := st.Create(ctx, a, ""); !errors.Is(err, articles.ErrTooLarge) {
		t.Fatalf("Create of a 100 KB article with a 64 KB limit: err = %v, want ErrTooLarge", err)
	}
	resp, err := st.Import(ctx, []*articlesv1.Article{a})
	if err != nil || len(resp.Failures) != 1 {
		t.Fatalf("Import = %v, %v; want one failure", resp, err)
	}
}

func TestSharedTokenKey(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	prefix := freshPrefix()
	a := openStore(t, newClient(t, c), prefix)
	b := openStore(t, newClient(t, c), prefix)
	ctx := testCtx(t)
	ka, err := a.TokenKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.TokenKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ka) < 32 || !bytes.Equal(ka, kb) {
		t.Fatalf("token keys %x and %x: want one shared key of 32 bytes or more", ka, kb)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	st.Close()
	ctx := testCtx(t)
	if _, err := st.Get(ctx, "x"); !errors.Is(err, articles.ErrClosed) {
		t.Fatalf("Get after Close: err = %v, want ErrClosed", err)
	}
	if err := st.WaitRevision(ctx, 1<<40); !errors.Is(err, articles.ErrClosed) {
		t.Fatalf("WaitRevision after Close: err = %v, want ErrClosed", err)
	}
}
