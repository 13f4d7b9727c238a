package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/store"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var allOrders = []articles.Order{
	articles.OrderPublishTimeDesc, articles.OrderPublishTime,
	articles.OrderCreateTime, articles.OrderCreateTimeDesc, articles.OrderTitle,
}

var day0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// seedList creates n articles with repeating titles, publish times (some
// missing, some equal), authors, tags and sources, so that every order has
// ties and every filter selects a proper subset.
func seedList(t testing.TB, db *store.DB, n int) []*articlesv1.Article {
	t.Helper()
	var batch []*articlesv1.Article
	for i := range n {
		a := art(fmt.Sprintf("l-%03d", i))
		a.Title = []string{"Alpha", "beta", "ALPHA", "Gamma\x00x", "gamma"}[i%5]
		if i%7 != 0 {
			a.PublishTime = timestamppb.New(day0.Add(time.Duration(i%11) * time.Hour))
		}
		a.Authors = []string{fmt.Sprintf("Author %d", i%3)}
		if i%4 == 0 {
			a.Authors = append(a.Authors, "Co Author")
		}
		a.Tags = []string{fmt.Sprintf("t%d", i%2), "all"}
		a.Source = []string{"RIAC", "", "Other"}[i%3]
		batch = append(batch, a)
	}
	resp, err := db.Import(context.Background(), batch)
	if err != nil || int(resp.Created) != n {
		t.Fatalf("Import: %v, %v", resp, err)
	}
	var out []*articlesv1.Article
	if err := db.List(context.Background(), articles.Query{Order: articles.OrderCreateTime}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		out = append(out, a)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// expect returns the ids of all that match q, in q's order, after the cursor.
func expect(all []*articlesv1.Article, q articles.Query, after articles.Cursor) []string {
	var m []*articlesv1.Article
	for _, a := range all {
		if q.Filter.Match(a) {
			m = append(m, a)
		}
	}
	cmp := func(a, b *articlesv1.Article) int {
		if c := bytes.Compare(q.Order.SortKey(a), q.Order.SortKey(b)); c != 0 {
			return c
		}
		return cmpStr(a.GetId(), b.GetId())
	}
	slices.SortFunc(m, cmp)
	if q.Order.Desc() {
		slices.Reverse(m)
	}
	var ids []string
	for _, a := range m {
		if !after.IsZero() {
			c := bytes.Compare(q.Order.SortKey(a), after.Key)
			if c == 0 {
				c = cmpStr(a.GetId(), after.ID)
			}
			if q.Order.Desc() {
				c = -c
			}
			if c <= 0 {
				continue
			}
		}
		ids = append(ids, a.GetId())
	}
	return ids
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func listIDs(t testing.TB, db *store.DB, q articles.Query, after articles.Cursor, limit int) []string {
	t.Helper()
	var ids []string
	err := db.List(context.Background(), q, after, limit, func(a *articlesv1.Article) error {
		ids = append(ids, a.GetId())
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ids
}

func TestListOrdersAndFilters(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	all := seedList(t, db, 300) // more than one 256-key chunk
	filters := []struct {
		name string
		f    articles.Filter
	}{
		{"none", articles.Filter{}},
		{"author", articles.Filter{Author: "Author 1"}},
		{"coauthor", articles.Filter{Author: "Co Author"}},
		{"tag", articles.Filter{Tag: "t1"}},
		{"source", articles.Filter{Source: "RIAC"}},
		{"author+tag+source", articles.Filter{Author: "Author 0", Tag: "t0", Source: "RIAC"}},
		{"unknown author", articles.Filter{Author: "nobody"}},
		{"after", articles.Filter{PublishedAfter: day0.Add(3 * time.Hour)}},
		{"before", articles.Filter{PublishedBefore: day0.Add(5 * time.Hour)}},
		{"range+tag", articles.Filter{Tag: "all", PublishedAfter: day0.Add(2 * time.Hour), PublishedBefore: day0.Add(9 * time.Hour)}},
		{"empty range", articles.Filter{PublishedAfter: day0.Add(5 * time.Hour), PublishedBefore: day0.Add(5 * time.Hour)}},
	}
	for _, o := range allOrders {
		for _, f := range filters {
			t.Run(o.String()+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				q := articles.Query{Filter: f.f, Order: o}
				want := expect(all, q, articles.Cursor{})
				if got := listIDs(t, db, q, articles.Cursor{}, 0); !slices.Equal(got, want) {
					t.Fatalf("List = %d ids %v\nwant %d ids %v", len(got), got, len(want), want)
				}
				// Paging with cursors gives the same sequence.
				var paged []string
				cur := articles.Cursor{}
				for range len(want) + 2 {
					var page []*articlesv1.Article
					if err := db.List(context.Background(), q, cur, 7, func(a *articlesv1.Article) error {
						page = append(page, a)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					if len(page) > 7 {
						t.Fatalf("page of %d, limit 7", len(page))
					}
					if len(page) == 0 {
						break
					}
					for _, a := range page {
						paged = append(paged, a.GetId())
					}
					cur = o.CursorOf(page[len(page)-1])
				}
				if !slices.Equal(paged, want) {
					t.Fatalf("paged = %v\nwant %v", paged, want)
				}
			})
		}
	}
}

func TestListCursorNotAnArticle(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	all := seedList(t, db, 40)
	for _, o := range allOrders {
		q := articles.Query{Order: o}
		// Cursors between, before and after stored keys.
		for _, c := range []articles.Cursor{
			{Key: articles.TimeKey(day0.Add(4*time.Hour + 1)), ID: ""},
			{Key: []byte("beta"), ID: "zzz"},
			{Key: []byte{0xff, 0xff}, ID: ""},
			{Key: []byte{}, ID: "0"},
			{Key: nil, ID: "x"},
		} {
			want := expect(all, q, c)
			if got := listIDs(t, db, q, c, 0); !slices.Equal(got, want) {
				t.Errorf("%v after %q/%q = %v, want %v", o, c.Key, c.ID, got, want)
			}
		}
	}
}

func TestListStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	seedList(t, db, 20)
	stop := errors.New("stop")
	n := 0
	err := db.List(context.Background(), articles.Query{}, articles.Cursor{}, 0, func(*articlesv1.Article) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("List = %v after %d calls, want stop after 3", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.List(ctx, articles.Query{}, articles.Cursor{}, 0, func(*articlesv1.Article) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with canceled ctx = %v", err)
	}
}

// TestListWritesDuringScan checks that a slow reader that pages through
// the store while others insert and delete sees every article that exists
// throughout exactly once, and no article twice.
func TestListWritesDuringScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, o := range allOrders {
		t.Run(o.String(), func(t *testing.T) {
			t.Parallel()
			db := mustOpen(t)
			stable := seedList(t, db, 120)
			var wg sync.WaitGroup
			stopW := make(chan struct{})
			wg.Add(1)
			go func() { // churn: bounded inserts and deletes
				defer wg.Done()
				for i := range 200 {
					select {
					case <-stopW:
						return
					default:
					}
					a := art(fmt.Sprintf("churn-%d", i))
					a.Title = []string{"Alpha", "beta", "zeta"}[i%3]
					a.PublishTime = timestamppb.New(day0.Add(time.Duration(i%13) * time.Hour))
					c, err := db.Create(ctx, a, "")
					if err != nil {
						t.Errorf("churn create: %v", err)
						return
					}
					if i%2 == 0 {
						if err := db.Delete(ctx, c.GetId(), ""); err != nil {
							t.Errorf("churn delete: %v", err)
							return
						}
					}
				}
			}()
			seen := map[string]int{}
			cur := articles.Cursor{}
			for range 1000 {
				var page []*articlesv1.Article
				if err := db.List(ctx, articles.Query{Order: o}, cur, 5, func(a *articlesv1.Article) error {
					page = append(page, a)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, a := range page {
					seen[a.GetId()]++
				}
				cur = o.CursorOf(page[len(page)-1])
				time.Sleep(time.Millisecond) // let writers in between pages
			}
			close(stopW)
			wg.Wait()
			for id, n := range seen {
				if n != 1 {
					t.Errorf("article %s seen %d times", id, n)
				}
			}
			for _, a := range stable {
				if seen[a.GetId()] != 1 {
					t.Errorf("stable article %s seen %d times", a.GetSlug(), seen[a.GetId()])
				}
			}
		})
	}
}

// FuzzListCursor feeds List arbitrary cursors (they come from client page
// tokens): it must never fail or panic, and must return exactly the
// articles strictly after the cursor.
func FuzzListCursor(f *testing.F) {
	f.Add(0, []byte(nil), "")
	f.Add(1, articles.TimeKey(day0), "01")
	f.Add(4, []byte("beta\x00"), "\x00\x01")
	f.Add(3, []byte{0, 1, 0, 0xff}, "zz")
	db := mustOpen(f)
	all := seedList(f, db, 30)
	f.Fuzz(func(t *testing.T, order int, key []byte, id string) {
		o := allOrders[(order%len(allOrders)+len(allOrders))%len(allOrders)]
		q := articles.Query{Order: o}
		c := articles.Cursor{Key: key, ID: id}
		want := expect(all, q, c)
		if got := listIDs(t, db, q, c, 0); !slices.Equal(got, want) {
			t.Errorf("%v after %q/%q = %v, want %v", o, key, id, got, want)
		}
	})
}
