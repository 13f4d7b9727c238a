package etcdstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed9c1868aa/articles"
	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// rangeCounter is an etcd client that counts its Range calls (reads).
func rangeCounter(t *testing.T, ranges *atomic.Int64) *clientv3.Client {
	t.Helper()
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == "/etcdserverpb.KV/Range" {
			ranges.Add(1)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   sharedCluster(t).Endpoints(),
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithChainUnaryInterceptor(count)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestWritesStartFromTheCache: an update or a delete of an article the
// read cache holds is one etcd transaction, with no read before it.
func TestWritesStartFromTheCache(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var ranges atomic.Int64
	st := openStore(t, rangeCounter(t, &ranges), freshPrefix())
	a := mustCreate(t, st, art("cached", "Cached"))
	// The watch brings the create into the cache.
	deadline := time.Now().Add(10 * time.Second)
	for etcdstore.CacheLen(st) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := ranges.Load()
	up, err := st.Update(ctx, a.GetId(), a.GetEtag(), func(x *articlesv1.Article) error {
		x.Title = "Updated"
		return nil
	})
	if err != nil || up.GetTitle() != "Updated" {
		t.Fatalf("Update = %v, %v", up, err)
	}
	// The watch brings the update into the cache, etag and all.
	if err := st.WaitRevision(ctx, up.GetRevision()); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, a.GetId(), up.GetEtag()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n := ranges.Load() - before; n != 0 {
		t.Errorf("an update and a delete of a cached article read etcd %d times, want 0", n)
	}
	if _, err := st.Get(ctx, a.GetId()); !errors.Is(err, articles.ErrNotFound) {
		t.Errorf("Get after the delete: %v, want ErrNotFound", err)
	}
}

// TestWritesOverAStaleCache: while a server's watch is cut off, its cache
// holds an old copy of an article another server has changed. Writes
// through it still see the current article: the current etag is
// accepted, the old one refused, and the update lands on the current
// version.
func TestWritesOverAStaleCache(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w, r := twoStores(t)
	a := mustCreate(t, w, &articlesv1.Article{Slug: "stale", Title: "v0", Body: "Body.", Tags: []string{"x"}})
	if got, err := r.Get(ctx, a.GetId()); err != nil || got.GetTitle() != "v0" {
		t.Fatalf("Get through r = %v, %v", got, err)
	}
	done := make(chan error, 1)
	etcdstore.InterruptWatch(r, func() {
		done <- func() error {
			v1, err := w.Update(ctx, a.GetId(), "", func(x *articlesv1.Article) error {
				x.Title, x.Tags = "v1", []string{"y"}
				return nil
			})
			if err != nil {
				return err
			}
			// The old etag: refused, although r's cache still holds it.
			_, err = r.Update(ctx, a.GetId(), a.GetEtag(), func(x *articlesv1.Article) error {
				x.Title = "lost update"
				return nil
			})
			if !errors.Is(err, articles.ErrConflict) {
				return errors.New("an update with the old etag through the stale server: " + errString(err) + ", want ErrConflict")
			}
			// The current etag: accepted, and applied to v1.
			v2, err := r.Update(ctx, a.GetId(), v1.GetEtag(), func(x *articlesv1.Article) error {
				x.Body = "Second body."
				return nil
			})
			if err != nil {
				return err
			}
			if v2.GetTitle() != "v1" || v2.GetTags()[0] != "y" || v2.GetBody() != "Second body." {
				return errors.New("the update through the stale server did not start from the current version: " + v2.String())
			}
			if err := r.Delete(ctx, a.GetId(), v1.GetEtag()); !errors.Is(err, articles.ErrConflict) {
				return errors.New("a delete with a stale etag: " + errString(err) + ", want ErrConflict")
			}
			return r.Delete(ctx, a.GetId(), v2.GetEtag())
		}()
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the writes while the watch was cut did not finish")
	}
	if _, err := w.Get(ctx, a.GetId()); !errors.Is(err, articles.ErrNotFound) {
		t.Errorf("Get after the delete: %v, want ErrNotFound", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
