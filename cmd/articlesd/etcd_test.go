package main_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// startEtcd starts a 3-member etcd cluster of processes for one test and
// returns its client endpoints, comma-separated.
func startEtcd(t *testing.T) string {
	t.Helper()
	etcdBin, err := etcdtest.Binary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := etcdtest.StartBinary(etcdBin, 3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.Endpoints(), ",")
}

// TestEtcdTwoDaemons runs two articlesd processes with --store etcd on one
// 3-member cluster: they serve the same articles, a watcher on one sees
// the other's writes in order with none missing, racing creates of one slug
// through both have one winner, and the CLI given both addresses works
// while one daemon is down.
func TestEtcdTwoDaemons(t *testing.T) {
	t.Parallel()
	eps := startEtcd(t)
	flags := []string{"--store", "etcd", "--etcd-endpoints", eps, "--etcd-prefix", "/e2e/"}
	a := start(t, newDB(t), nil, flags...) // seeds the empty store
	b := start(t, newDB(t), nil, flags...) // finds it written: no seeding
	if !strings.Contains(a.logs.String(), "msg=seeded") || strings.Contains(b.logs.String(), "msg=seeded") {
		t.Fatalf("want only the first daemon to seed; logs:\n%s\n---\n%s", a.logs, b.logs)
	}

	t.Run("SameArticles", func(t *testing.T) {
		ids := func(arts []*articlesv1.Article) []string {
			var out []string
			for _, x := range arts {
				out = append(out, x.GetId()+"@"+x.GetEtag())
			}
			return out
		}
		viaA, viaB := ids(listAll(t, a.client())), ids(listAll(t, b.client()))
		if len(viaA) == 0 || !slices.Equal(viaA, viaB) {
			t.Fatalf("daemons list %d and %d articles, want the same non-empty set", len(viaA), len(viaB))
		}
	})

	t.Run("WatchOtherDaemon", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		stream, err := b.client().WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := stream.Recv(); err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			t.Fatalf("opening event %v, %v; want PROGRESS", ev, err)
		}
		var want []int64
		for i := range 10 {
			via := []*daemon{a, b}[i%2]
			got, err := via.client().CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: fmt.Sprintf("Watched across daemons %d", i)}})
			if err != nil {
				t.Fatalf("CreateArticle %d: %v", i, err)
			}
			want = append(want, got.GetRevision())
		}
		var got []int64
		for len(got) < len(want) {
			ev, err := stream.Recv()
			if err != nil {
				t.Fatalf("Recv after %d events: %v", len(got), err)
			}
			if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
				got = append(got, ev.GetRevision())
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("watch on B saw revisions %v, want %v", got, want)
		}
	})

	t.Run("RacingCreates", func(t *testing.T) {
		for i := range 5 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j, via := range []*daemon{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[j] = via.client().CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
						Article: &articlesv1.Article{Title: "Contested", Slug: fmt.Sprintf("contested-%d", i)},
					})
				}()
			}
			wg.Wait()
			got := []codes.Code{status.Code(errs[0]), status.Code(errs[1])}
			slices.Sort(got)
			if !slices.Equal(got, []codes.Code{codes.OK, codes.AlreadyExists}) {
				t.Fatalf("racing creates: %v, want one OK and one ALREADY_EXISTS", errs)
			}
		}
	})

	t.Run("CLIOverBothAddresses", func(t *testing.T) {
		both := a.addr + "," + b.addr
		out := mustCLI(t, both, "", "get", "--slug", "contested-0", "-o", "jsonl")
		if !strings.Contains(out, "contested-0") {
			t.Fatalf("get via both daemons: %s", out)
		}
		if code := a.signal(syscall.SIGTERM); code != 0 {
			t.Fatalf("articlesd A exited %d; log:\n%s", code, a.logs)
		}
		for range 3 {
			if out := mustCLI(t, both, "", "get", "--slug", "contested-0", "-o", "jsonl"); !strings.Contains(out, "contested-0") {
				t.Fatalf("get with A down: %s", out)
			}
		}
	})
}
