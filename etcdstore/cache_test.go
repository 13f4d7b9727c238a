package etcdstore_test

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestReadsSeeOtherServersWrites writes through one store and reads
// through another on the same prefix at once, with and without the read
// cache: every read sees the write acknowledged just before it, although
// the reading server learns of it only through its watch.
func TestReadsSeeOtherServersWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []etcdstore.Option
	}{
		{"cache", nil},
		{"small cache", []etcdstore.Option{etcdstore.WithCacheBytes(2_000)}},
		{"no cache", []etcdstore.Option{etcdstore.WithCacheBytes(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			w, r := twoStores(t, tc.opts...)

			a := mustCreate(t, w, art("seen", "v0"))
			other := mustCreate(t, w, art("other", "other"))
			for i := 1; i <= 60; i++ {
				up, err := w.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error {
					x.Title = fmt.Sprintf("v%d", i)
					return nil
				})
				if err != nil {
					t.Fatalf("Update %d: %v", i, err)
				}
				reads := map[string]func() (*articlesv1.Article, error){
					"Get":       func() (*articlesv1.Article, error) { return r.Get(ctx, a.GetId()) },
					"GetBySlug": func() (*articlesv1.Article, error) { return r.GetBySlug(ctx, "seen") },
					"BatchGet": func() (*articlesv1.Article, error) {
						got, err := r.BatchGet(ctx, []string{other.GetId(), a.GetId()})
						if err != nil {
							return nil, err
						}
						return got[1], nil
					},
				}
				// A floor instead of linearizability: wait for the write,
				// then read what this server has seen.
				reads["GetLocal"] = func() (*articlesv1.Article, error) {
					if err := r.WaitRevision(ctx, up.GetRevision()); err != nil {
						return nil, err
					}
					return r.GetLocal(ctx, a.GetId())
				}
				reads["GetBySlugLocal"] = func() (*articlesv1.Article, error) {
					if err := r.WaitRevision(ctx, up.GetRevision()); err != nil {
						return nil, err
					}
					return r.GetBySlugLocal(ctx, "seen")
				}
				reads["BatchGetLocal"] = func() (*articlesv1.Article, error) {
					if err := r.WaitRevision(ctx, up.GetRevision()); err != nil {
						return nil, err
					}
					got, err := r.BatchGetLocal(ctx, []string{other.GetId(), a.GetId()})
					if err != nil {
						return nil, err
					}
					return got[1], nil
				}
				for name, read := range reads {
					got, err := read()
					if err != nil || !proto.Equal(got, up) {
						t.Fatalf("update %d: %s through the other server = %v, %v; want %v", i, name, got, err, up)
					}
				}
			}
			if err := w.Delete(ctx, a.GetId(), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Get(ctx, a.GetId()); !errors.Is(err, articles.ErrNotFound) {
				t.Fatalf("Get after a delete through the other server: err = %v, want ErrNotFound", err)
			}
			if _, err := r.GetBySlug(ctx, "seen"); !errors.Is(err, articles.ErrNotFound) {
				t.Fatalf("GetBySlug after a delete through the other server: err = %v, want ErrNotFound", err)
			}
			rev, err := w.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.WaitRevision(ctx, rev); err != nil {
				t.Fatal(err)
			}
			if _, err := r.GetLocal(ctx, a.GetId()); !errors.Is(err, articles.ErrNotFound) {
				t.Fatalf("GetLocal after a delete through the other server: err = %v, want ErrNotFound", err)
			}
			if n := etcdstore.CacheLen(r); tc.name == "no cache" && n != 0 {
				t.Fatalf("a store without a cache caches %d articles", n)
			} else if tc.name == "cache" && n != 1 {
				t.Fatalf("the reading store caches %d articles, want 1 (the other one)", n)
			}
		})
	}
}

// TestCachedReadsAreCopies checks that changing an article a read returns
// changes nothing the next read returns.
func TestCachedReadsAreCopies(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := testCtx(t)
	a := mustCreate(t, st, art("copy", "Copy"))
	for range 2 {
		got, err := st.Get(ctx, a.GetId())
		if err != nil || !proto.Equal(got, a) {
			t.Fatalf("Get = %v, %v; want %v", got, err, a)
		}
		got.Title, got.Tags = "changed", append(got.Tags, "x")
		bs, err := st.BatchGet(ctx, []string{a.GetId()})
		if err != nil || !proto.Equal(bs[0], a) {
			t.Fatalf("BatchGet = %v, %v; want %v", bs, err, a)
		}
		bs[0].Body = "changed"
	}
	if etcdstore.CacheLen(st) != 1 {
		t.Fatalf("cache holds %d articles, want 1", etcdstore.CacheLen(st))
	}
}
