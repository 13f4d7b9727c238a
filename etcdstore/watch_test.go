package etcdstore_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/etcdstore"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// TestServerWatch checks what the change feed promises on etcd, through a
// server: revisions are etcd's (with gaps where other prefixes wrote), but
// no event is missing, a stream resumes from any retained revision, deletes
// carry the article so filters apply to them, and a compacted start
// revision is OUT_OF_RANGE naming etcd's compaction revision.
//
// It is not parallel: it compacts the shared cluster.
func TestServerWatch(t *testing.T) {
	c := sharedCluster(t)
	cli := newClient(t, c)
	api := serveStore(t, c, freshPrefix(), server.WithProgressInterval(50*time.Millisecond))
	ctx := rpcCtx(t)

	create := func(title, tag string) *articlesv1.Article {
		t.Helper()
		a, err := api.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: title, Tags: []string{tag}}})
		if err != nil {
			t.Fatalf("CreateArticle: %v", err)
		}
		// Another prefix writes between ours: our revisions get gaps.
		if _, err := cli.Put(ctx, "/elsewhere/"+title, "x"); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a1 := create("One", "go")
	a2 := create("Two", "rust")
	a3 := create("Three", "go")
	if _, err := api.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: a2.GetId()}); err != nil {
		t.Fatal(err)
	}
	// The delete is the prefix's last write: its revision is the store's.
	head, err := cli.Get(ctx, "/elsewhere/none")
	if err != nil {
		t.Fatal(err)
	}
	last := etcdstore.StoreRevision(head.Header.Revision, 0)

	type ev struct {
		typ articlesv1.ArticleEvent_Type
		id  string
	}
	created, deleted := articlesv1.ArticleEvent_CREATED, articlesv1.ArticleEvent_DELETED
	for _, tt := range []struct {
		name string
		req  *articlesv1.WatchArticlesRequest
		want []ev
	}{
		{"All", &articlesv1.WatchArticlesRequest{StartRevision: a1.GetRevision()},
			[]ev{{created, a1.GetId()}, {created, a2.GetId()}, {created, a3.GetId()}, {deleted, a2.GetId()}}},
		{"ResumeInAGap", &articlesv1.WatchArticlesRequest{StartRevision: a2.GetRevision() + 1},
			[]ev{{created, a3.GetId()}, {deleted, a2.GetId()}}},
		// The delete of a2 (tagged rust) carries its content: a watcher of
		// "go" is not sent it.
		{"FilteredDelete", &articlesv1.WatchArticlesRequest{StartRevision: a1.GetRevision(), Tag: "go"},
			[]ev{{created, a1.GetId()}, {created, a3.GetId()}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			stream, err := api.WatchArticles(sctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []ev
			var revs []int64
			for {
				e, err := stream.Recv()
				if err != nil {
					t.Fatalf("Recv: %v (after %v)", err, got)
				}
				if e.GetType() == articlesv1.ArticleEvent_PROGRESS {
					// Caught up: everything up to the delete is delivered.
					if e.GetRevision() >= last {
						break
					}
					continue
				}
				got = append(got, ev{e.GetType(), e.GetArticle().GetId()})
				revs = append(revs, e.GetRevision())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
			if !slices.IsSorted(revs) {
				t.Fatalf("revisions %v out of order", revs)
			}
		})
	}

	t.Run("OutOfRange", func(t *testing.T) {
		if _, err := cli.Compact(ctx, etcdstore.EtcdRevision(a3.GetRevision())); err != nil {
			t.Fatal(err)
		}
		stream, err := api.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{StartRevision: a1.GetRevision()})
		if err == nil {
			_, err = stream.Recv()
		}
		st, _ := status.FromError(err)
		if st.Code() != codes.OutOfRange {
			t.Fatalf("watch from a compacted revision: %v, want OUT_OF_RANGE", err)
		}
		oldest := ""
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				oldest = info.GetMetadata()["oldest_revision"]
			}
		}
		if oldest != strconv.FormatInt(a3.GetRevision(), 10) {
			t.Fatalf("oldest_revision %q, want %d", oldest, a3.GetRevision())
		}
	})
}
