package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestListRaw checks that ListRaw passes exactly what List passes, in the
// same order, each article as its encoding with the cursor CursorOf gives,
// for every order, with and without filters, from the start and from a
// cursor, with and without a limit.
func TestListRaw(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	seedList(t, db, 60)
	ctx := context.Background()
	filters := []articles.Filter{
		{},
		{Author: "Author 1"},
		{Tag: "t0", Source: "RIAC"},
		{PublishedAfter: day0.Add(3 * time.Hour), PublishedBefore: day0.Add(8 * time.Hour)},
	}
	for _, o := range allOrders {
		for fi, f := range filters {
			for _, limit := range []int{0, 7} {
				t.Run(fmt.Sprintf("%s/filter=%d/limit=%d", o, fi, limit), func(t *testing.T) {
					q := articles.Query{Filter: f, Order: o}
					var want []*articlesv1.Article
					if err := db.List(ctx, q, articles.Cursor{}, 0, func(a *articlesv1.Article) error {
						want = append(want, a)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					// From the start, then from the cursor of a middle one.
					starts := []int{-1}
					if len(want) > 2 {
						starts = append(starts, len(want)/2)
					}
					for _, start := range starts {
						var after articles.Cursor
						if start >= 0 {
							after = o.CursorOf(want[start])
						}
						rest := want[start+1:]
						if limit > 0 && len(rest) > limit {
							rest = rest[:limit]
						}
						i := 0
						err := db.ListRaw(ctx, q, after, limit, func(raw []byte, cur articles.Cursor) error {
							if i >= len(rest) {
								return fmt.Errorf("ListRaw passed more than List's %d", len(rest))
							}
							got := new(articlesv1.Article)
							if err := proto.Unmarshal(raw, got); err != nil {
								return err
							}
							if !proto.Equal(got, rest[i]) {
								return fmt.Errorf("article %d: got %v, want %v", i, got.GetSlug(), rest[i].GetSlug())
							}
							if wc := o.CursorOf(rest[i]); !bytes.Equal(cur.Key, wc.Key) || cur.ID != wc.ID {
								return fmt.Errorf("article %d: cursor %q/%s, want %q/%s", i, cur.Key, cur.ID, wc.Key, wc.ID)
							}
							i++
							return nil
						})
						if err != nil {
							t.Fatalf("from %d: %v", start, err)
						}
						if i != len(rest) {
							t.Fatalf("from %d: ListRaw passed %d articles, List %d", start, i, len(rest))
						}
					}
				})
			}
		}
	}
}

func TestGetRaw(t *testing.T) {
	t.Parallel()
	db := mustOpen(t)
	ctx := context.Background()
	a := mustCreate(t, db, art("raw-one"))
	for _, tt := range []struct {
		name string
		get  func() ([]byte, error)
	}{
		{"ByID", func() ([]byte, error) { return db.GetRaw(ctx, a.GetId()) }},
		{"BySlug", func() ([]byte, error) { return db.GetRawBySlug(ctx, "raw-one") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.get()
			if err != nil {
				t.Fatal(err)
			}
			got := new(articlesv1.Article)
			if err := proto.Unmarshal(raw, got); err != nil {
				t.Fatal(err)
			}
			if want, _ := db.Get(ctx, a.GetId()); !proto.Equal(got, want) {
				t.Errorf("GetRaw decodes to %v, want %v", got, want)
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := db.GetRaw(ctx, "01J00000000000000000000000"); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("GetRaw of a missing id: %v, want ErrNotFound", err)
		}
		if _, err := db.GetRawBySlug(ctx, "no-such-slug"); !errors.Is(err, articles.ErrNotFound) {
			t.Errorf("GetRawBySlug of a missing slug: %v, want ErrNotFound", err)
		}
	})
	t.Run("ErrClosed", func(t *testing.T) {
		db := mustOpen(t)
		db.Close()
		if _, err := db.GetRaw(ctx, a.GetId()); !errors.Is(err, articles.ErrClosed) {
			t.Errorf("GetRaw after Close: %v, want ErrClosed", err)
		}
		err := db.ListRaw(ctx, articles.Query{}, articles.Cursor{}, 0, func([]byte, articles.Cursor) error { return nil })
		if !errors.Is(err, articles.ErrClosed) {
			t.Errorf("ListRaw after Close: %v, want ErrClosed", err)
		}
	})
}
