package etcdstore_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

var indexBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// listQueries are the queries the list index tests compare: every order,
// and filters on each indexed field, on two, on time and on nothing known.
var listQueries = func() []articles.Query {
	var qs []articles.Query
	for o := articles.OrderPublishTimeDesc; o <= articles.OrderTitle; o++ {
		qs = append(qs, articles.Query{Order: o})
	}
	return append(qs,
		articles.Query{Order: articles.OrderTitle, Filter: articles.Filter{Author: "Bob"}},
		articles.Query{Order: articles.OrderCreateTimeDesc, Filter: articles.Filter{Tag: "t1"}},
		articles.Query{Order: articles.OrderPublishTime, Filter: articles.Filter{Source: "wire"}},
		articles.Query{Filter: articles.Filter{Author: "Ann", Tag: "t0"}},
		articles.Query{Order: articles.OrderTitle, Filter: articles.Filter{Tag: "rare"}},
		articles.Query{Order: articles.OrderCreateTimeDesc, Filter: articles.Filter{Tag: "rare", Author: "Bob"}},
		articles.Query{Order: articles.OrderTitle, Filter: articles.Filter{Author: "Nobody"}},
		articles.Query{Filter: articles.Filter{PublishedAfter: indexBase.Add(2 * time.Hour)}},
	)
}()

// variedArticle returns an article whose listed fields depend on i.
func variedArticle(slug string, i int) *articlesv1.Article {
	a := art(slug, []string{"apple", "Banana", "cherry\x00pit", "apple", "Éclair"}[i%5]+fmt.Sprint(i%7))
	if i%4 != 0 {
		a.PublishTime = timestamppb.New(indexBase.Add(time.Duration(i%6) * time.Hour))
	}
	a.Authors = [][]string{{"Ann"}, {"Bob"}, {"Ann", "Bob"}, nil}[i%4]
	a.Tags = [][]string{{"t0"}, {"t1", "t2"}, nil}[i%3]
	a.Source = []string{"", "wire", "blog"}[i%3]
	if i%23 == 7 {
		a.Tags = append(a.Tags, "rare") // a set far smaller than the orders
	}
	return a
}

// wantIDs returns the ids of model's articles that match q, in q's order.
func wantIDs(model map[string]*articlesv1.Article, q articles.Query) []string {
	var as []*articlesv1.Article
	for _, a := range model {
		if q.Filter.Match(a) {
			as = append(as, a)
		}
	}
	slices.SortFunc(as, func(a, b *articlesv1.Article) int {
		c := bytes.Compare(q.Order.SortKey(a), q.Order.SortKey(b))
		if c == 0 {
			c = strings.Compare(a.GetId(), b.GetId())
		}
		if q.Order.Desc() {
			return -c
		}
		return c
	})
	ids := []string{}
	for _, a := range as {
		ids = append(ids, a.GetId())
	}
	return ids
}

// listIDs lists q through st in pages of page articles (0: one listing),
// each resumed from the last one's cursor, and returns the ids.
func listIDs(t *testing.T, ctx context.Context, st *etcdstore.Store, q articles.Query, page int) []string {
	t.Helper()
	ids := []string{}
	var after articles.Cursor
	for range 1000 {
		n := 0
		err := st.List(ctx, q, after, page, func(a *articlesv1.Article) error {
			ids = append(ids, a.GetId())
			after = q.Order.CursorOf(a)
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if page == 0 || n < page {
			return ids
		}
	}
	t.Fatalf("List(%+v): more than 1000 pages", q)
	return nil
}

// checkLists compares every listQueries listing of st with model's.
func checkLists(t *testing.T, ctx context.Context, st *etcdstore.Store, model map[string]*articlesv1.Article, page int, when string) {
	t.Helper()
	for _, q := range listQueries {
		if got, want := listIDs(t, ctx, st, q, page), wantIDs(model, q); !slices.Equal(got, want) {
			t.Fatalf("%s: List(%+v) in pages of %d:\n got %v\nwant %v", when, q, page, got, want)
		}
	}
}

// TestListIndexBuiltAtOpen writes through one store, then opens a second
// on the prefix, whose index is built from the articles at Open: both
// list exactly what was written, in every order and filter.
func TestListIndexBuiltAtOpen(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cluster := sharedCluster(t)
	prefix := freshPrefix()
	w := openStore(t, newClient(t, cluster), prefix)
	model := map[string]*articlesv1.Article{}
	for i := range 80 {
		a := mustCreate(t, w, variedArticle(fmt.Sprintf("s%02d", i), i))
		model[a.GetId()] = a
		switch i % 5 {
		case 1:
			if err := w.Delete(ctx, a.GetId(), ""); err != nil {
				t.Fatal(err)
			}
			delete(model, a.GetId())
		case 2:
			up, err := w.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error {
				x.Title, x.Authors, x.Tags = "zebra", []string{"Cy"}, []string{"t1"}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			model[a.GetId()] = up
		}
	}
	r := openStore(t, newClient(t, cluster), prefix)
	for _, page := range []int{0, 1, 7} {
		checkLists(t, ctx, w, model, page, "writer")
		checkLists(t, ctx, r, model, page, "opened after")
	}
}

// TestListSeesOtherServersWrites writes through one store and lists
// through another right after each write: the listing holds the write,
// although the listing server learns of it only through its watch.
func TestListSeesOtherServersWrites(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w, r := twoStores(t)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]*articlesv1.Article{}
	var ids []string
	for i := range 60 {
		var what string
		switch op := rng.IntN(6); {
		case len(ids) < 3 || op == 0:
			what = "create"
			a := mustCreate(t, w, variedArticle(fmt.Sprintf("c%02d", i), rng.IntN(100)))
			model[a.GetId()] = a
			ids = append(ids, a.GetId())
		case op == 1:
			what = "delete"
			k := rng.IntN(len(ids))
			if err := w.Delete(ctx, ids[k], ""); err != nil {
				t.Fatal(err)
			}
			delete(model, ids[k])
			ids = slices.Delete(ids, k, k+1)
		default:
			what = "update"
			id := ids[rng.IntN(len(ids))]
			v := variedArticle(fmt.Sprintf("u%02d", i), rng.IntN(100))
			up, err := w.Update(ctx, id, "", func(x *articlesv1.Article) error {
				x.Title, x.Authors, x.Tags, x.Source, x.PublishTime = v.Title, v.Authors, v.Tags, v.Source, v.PublishTime
				if op == 2 {
					x.Slug = v.Slug
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			model[id] = up
		}
		checkLists(t, ctx, r, model, 0, fmt.Sprintf("after %s %d", what, i))
	}
	checkLists(t, ctx, r, model, 3, "in pages")
}

// TestListAfterWatchRestart cuts a store's watch off while another writes
// and the cluster compacts its history: the store's view restarts at the
// cluster's revision, its index is built again there, and it lists the
// writes it never saw as events. Not parallel: it compacts the shared
// cluster.
func TestListAfterWatchRestart(t *testing.T) {
	ctx := testCtx(t)
	cluster := sharedCluster(t)
	prefix := freshPrefix()
	cli := newClient(t, cluster)
	w := openStore(t, cli, prefix)
	r := openStore(t, newClient(t, cluster), prefix)
	model := map[string]*articlesv1.Article{}
	var ids []string
	for i := range 6 {
		a := mustCreate(t, w, variedArticle(fmt.Sprintf("b%d", i), i))
		model[a.GetId()] = a
		ids = append(ids, a.GetId())
	}
	checkLists(t, ctx, r, model, 0, "before")

	done := make(chan error, 1)
	etcdstore.InterruptWatch(r, func() {
		done <- func() error {
			for i := range 4 {
				a, err := w.Create(ctx, variedArticle(fmt.Sprintf("d%d", i), i+10), "")
				if err != nil {
					return err
				}
				model[a.GetId()] = a
			}
			if err := w.Delete(ctx, ids[0], ""); err != nil {
				return err
			}
			delete(model, ids[0])
			up, err := w.Update(ctx, ids[1], "", func(x *articlesv1.Article) error {
				x.Title, x.Authors = "aardvark", []string{"Bob"}
				return nil
			})
			if err != nil {
				return err
			}
			model[ids[1]] = up
			resp, err := cli.Put(ctx, "/unrelated", "x")
			if err != nil {
				return err
			}
			_, err = cli.Compact(ctx, resp.Header.Revision)
			return err
		}()
	})
	if err := <-done; err != nil {
		t.Fatalf("writes while the watch was cut off: %v", err)
	}
	checkLists(t, ctx, r, model, 0, "after the restart")
	checkLists(t, ctx, r, model, 4, "after the restart, in pages")
}

// TestListAcrossCompaction compacts the cluster between two pages of one
// listing: the second page's revision is gone, and the listing learns a
// newer one and goes on, every article once. Not parallel: it compacts
// the shared cluster.
func TestListAcrossCompaction(t *testing.T) {
	ctx := testCtx(t)
	st, cli := newStore(t)
	const n = 1100 // more than one page
	var batch []*articlesv1.Article
	for i := range n {
		batch = append(batch, art(fmt.Sprintf("p%04d", i), fmt.Sprint(i)))
	}
	if _, err := st.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	compacted := false
	err := st.List(ctx, articles.Query{Order: articles.OrderTitle}, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
		seen[a.GetSlug()]++
		if !compacted {
			compacted = true
			resp, err := cli.Put(ctx, "/unrelated", "y")
			if err != nil {
				return err
			}
			_, err = cli.Compact(ctx, resp.Header.Revision)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List across a compaction: %v", err)
	}
	if len(seen) != n {
		t.Fatalf("listed %d articles, want %d", len(seen), n)
	}
	for slug, k := range seen {
		if k != 1 {
			t.Fatalf("%s listed %d times", slug, k)
		}
	}
}

// TestOpenDropsOldIndexKeys opens a store on a prefix holding list index
// keys in etcd (under o/ and f/): Open deletes them, and nothing else.
func TestOpenDropsOldIndexKeys(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cli := newClient(t, sharedCluster(t))
	prefix := freshPrefix()
	first := openStore(t, cli, prefix)
	a := mustCreate(t, first, art("kept", "Kept"))
	for _, k := range []string{"o/0/\xff\xfe01ABC", "o/4/kept\x00\x0101ABC", "f/a/Ann\x00\x0101ABC", "f/t/t0\x00\x0101ABC", "f/s/wire\x00\x0101ABC"} {
		if _, err := cli.Put(ctx, prefix+k, a.GetId()); err != nil {
			t.Fatal(err)
		}
	}
	openStore(t, cli, prefix)
	for _, part := range []string{"o/", "f/"} {
		resp, err := cli.Get(ctx, prefix+part, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count != 0 {
			t.Errorf("%d keys left under %s", resp.Count, part)
		}
	}
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, kv := range resp.Kvs {
		left = append(left, strings.TrimPrefix(string(kv.Key), prefix))
	}
	want := []string{"a/" + a.GetId(), "m/rev", "m/token", "s/kept"}
	if !slices.Equal(left, want) {
		t.Errorf("keys %q, want %q", left, want)
	}
	got, err := first.Get(ctx, a.GetId())
	if err != nil || !proto.Equal(got, a) {
		t.Errorf("Get after the drop = %v, %v; want %v", got, err, a)
	}
}
