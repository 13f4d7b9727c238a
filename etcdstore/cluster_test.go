package etcdstore_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/etcdstore/etcdtest"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

// The cluster tests: two servers (server.Server over etcdstore.Store, each
// with its own etcd client and its own local index) on one 3-member
// cluster, served over loopback TCP. They share one cluster, each under its
// own prefix, and run one after another, since one of them stops a member.

var (
	clusterOnce sync.Once
	cluster3    *etcdtest.Cluster
	clusterErr  error
)

// threeMembers returns the 3-member cluster, starting it on first use; it
// is closed when the test binary's tests are done.
func threeMembers(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	clusterOnce.Do(func() {
		var bin string
		if bin, clusterErr = etcdBinary(); clusterErr == nil {
			cluster3, clusterErr = etcdtest.StartBinary(bin, 3, "")
		}
	})
	if clusterErr != nil {
		t.Fatalf("start 3-member etcd: %v", clusterErr)
	}
	return cluster3
}

// serveStore serves a server.Server over a new store under prefix, with
// its own etcd client, on a loopback port, and returns a client of it.
func serveStore(t *testing.T, c *etcdtest.Cluster, prefix string, opts ...server.Option) articlesv1.ArticleServiceClient {
	t.Helper()
	st := openStore(t, newClient(t, c), prefix)
	opts = append([]server.Option{server.WithSearcher(openEngine(t, st))}, opts...)
	srv, err := server.New(context.Background(), st, opts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := srv.GRPCServer()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.GracefulStop(ctx)
		<-served
	})
	return articlesv1.NewArticleServiceClient(conn)
}

// twoServers serves two servers on one fresh prefix of the 3-member
// cluster.
func twoServers(t *testing.T) (a, b articlesv1.ArticleServiceClient, c *etcdtest.Cluster) {
	t.Helper()
	c = threeMembers(t)
	prefix := freshPrefix()
	return serveStore(t, c, prefix), serveStore(t, c, prefix), c
}

func rpcCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClusterWriteVisibleThroughOther(t *testing.T) {
	a, b, _ := twoServers(t)
	ctx := rpcCtx(t)
	created, err := a.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Through A", Body: "Written through server A, about glaciers."}})
	if err != nil {
		t.Fatalf("CreateArticle via A: %v", err)
	}
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"Get", func() error {
			got, err := b.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: created.GetId()}})
			if err == nil && got.GetEtag() != created.GetEtag() {
				return fmt.Errorf("etag %q, want %q", got.GetEtag(), created.GetEtag())
			}
			return err
		}},
		{"List", func() error {
			resp, err := b.ListArticles(ctx, &articlesv1.ListArticlesRequest{})
			if err == nil && (len(resp.GetArticles()) != 1 || resp.GetArticles()[0].GetId() != created.GetId()) {
				return fmt.Errorf("listed %v, want the one article", resp.GetArticles())
			}
			return err
		}},
		// Search runs on B's own index, fed by its watch: it must wait for
		// A's write without being told its revision.
		{"Search", func() error {
			resp, err := b.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "glaciers"})
			if err == nil && len(resp.GetResults()) != 1 {
				return fmt.Errorf("found %d results, want 1", len(resp.GetResults()))
			}
			return err
		}},
		{"UpdateWithEtag", func() error {
			_, err := b.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: created.GetId(), Title: "Through B", Etag: created.GetEtag()}})
			return err
		}},
		{"StaleEtagThroughA", func() error {
			_, err := a.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{Article: &articlesv1.Article{Id: created.GetId(), Title: "Again", Etag: created.GetEtag()}})
			if status.Code(err) != codes.Aborted {
				return fmt.Errorf("err = %v, want ABORTED", err)
			}
			return nil
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestClusterWatchSeesOtherServersWrites(t *testing.T) {
	a, b, _ := twoServers(t)
	ctx := rpcCtx(t)
	stream, err := a.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := stream.Recv(); err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
		t.Fatalf("opening event = %v, %v; want PROGRESS", ev, err)
	}
	const n = 30
	var want []int64
	for i := range n {
		via := []articlesv1.ArticleServiceClient{a, b}[i%2]
		got, err := via.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: fmt.Sprintf("Watched %d", i)}})
		if err != nil {
			t.Fatalf("CreateArticle %d: %v", i, err)
		}
		want = append(want, got.GetRevision())
	}
	var got []int64
	for len(got) < n {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after %d events: %v", len(got), err)
		}
		if ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
			got = append(got, ev.GetRevision())
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("watch on A saw revisions %v, want the writes' %v (in order, none missing)", got, want)
	}
}

func TestClusterRacingCreates(t *testing.T) {
	a, b, _ := twoServers(t)
	ctx := rpcCtx(t)
	for i := range 10 {
		slug := fmt.Sprintf("contested-%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, via := range []articlesv1.ArticleServiceClient{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = via.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: fmt.Sprintf("Server %d", j), Slug: slug}})
			}()
		}
		wg.Wait()
		codesSeen := []codes.Code{status.Code(errs[0]), status.Code(errs[1])}
		slices.Sort(codesSeen)
		if !slices.Equal(codesSeen, []codes.Code{codes.OK, codes.AlreadyExists}) {
			t.Fatalf("racing creates of %q: errors %v, want exactly one success and one ALREADY_EXISTS", slug, errs)
		}
	}
}

func TestClusterMemberDown(t *testing.T) {
	a, b, c := twoServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// Two writers, one per server, each making up to perWriter creates;
	// the leader is stopped once they have made a few, and restarted when
	// they are done.
	down, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const perWriter = 40
	var (
		mu        sync.Mutex
		acked     = map[string]bool{} // ids of acknowledged creates
		afterStop [2]int              // acknowledged after the stop, per writer
		stopped   = make(chan struct{})
		wg        sync.WaitGroup
	)
	for w, via := range []articlesv1.ArticleServiceClient{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if i == 8 && w == 0 {
					c.Stop(down)
					close(stopped)
				}
				isStopped := false
				select {
				case <-stopped:
					isStopped = true
				default:
				}
				cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
				got, err := via.CreateArticle(cctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: fmt.Sprintf("Writer %d piece %d", w, i)}})
				ccancel()
				if err != nil {
					// A write in flight during the election may fail; it
					// must not be acknowledged, and the next must work.
					continue
				}
				mu.Lock()
				acked[got.GetId()] = true
				if isStopped {
					afterStop[w]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if afterStop[0] == 0 || afterStop[1] == 0 {
		t.Fatalf("writes acknowledged after the stop: %v per server; want both servers to keep writing", afterStop)
	}

	// Every acknowledged write is there, through both servers.
	for name, via := range map[string]articlesv1.ArticleServiceClient{"A": a, "B": b} {
		seen := map[string]bool{}
		req := &articlesv1.ListArticlesRequest{PageSize: 1000}
		resp, err := via.ListArticles(ctx, req)
		if err != nil {
			t.Fatalf("ListArticles via %s: %v", name, err)
		}
		for _, x := range resp.GetArticles() {
			seen[x.GetId()] = true
		}
		for id := range acked {
			if !seen[id] {
				t.Errorf("acknowledged article %s missing from the listing via %s", id, name)
			}
		}
	}

	// The stopped member rejoins and catches up.
	if err := c.Restart(down); err != nil {
		t.Fatalf("restart member %d: %v", down, err)
	}
	cli := newClient(t, c)
	head, err := cli.Get(ctx, "anything")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		rev, err := c.MemberRevision(ctx, down)
		if err == nil && rev >= head.Header.Revision {
			break
		}
		if i == 200 {
			t.Fatalf("restarted member at revision %d (%v), want %d", rev, err, head.Header.Revision)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterLeaderKilled writes through server A from several callers
// while the etcd leader is killed (SIGKILL), and reads and watches through
// server B: every acknowledged create is readable through B and arrives on
// B's watch exactly once, the watch's revisions strictly increase, and
// nothing arrives that was not asked for.
func TestClusterLeaderKilled(t *testing.T) {
	a, b, c := twoServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	stream, err := b.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := stream.Recv(); err != nil || ev.GetType() != articlesv1.ArticleEvent_PROGRESS {
		t.Fatalf("opening event = %v, %v; want PROGRESS", ev, err)
	}
	down, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Restart(down)

	const writers, perWriter = 4, 30
	var (
		mu         sync.Mutex
		acked      = map[string]int64{} // slug -> revision of acknowledged creates
		tried      = map[string]bool{}  // every slug asked for
		afterKill  int
		killed     = make(chan struct{})
		killedOnce sync.Once
		wg         sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if i == 6 {
					killedOnce.Do(func() { c.Stop(down); close(killed) })
				}
				isKilled := false
				select {
				case <-killed:
					isKilled = true
				default:
				}
				slug := fmt.Sprintf("w%d-%d", w, i)
				mu.Lock()
				tried[slug] = true
				mu.Unlock()
				cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
				got, err := a.CreateArticle(cctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Piece " + slug, Slug: slug}})
				ccancel()
				if err != nil {
					continue // in flight during the election: outcome unknown
				}
				mu.Lock()
				acked[slug] = got.GetRevision()
				if isKilled {
					afterKill++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if afterKill == 0 {
		t.Fatal("no write acknowledged after the leader was killed")
	}

	// Reads through B.
	for slug, rev := range acked {
		got, err := b.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: slug}})
		if err != nil || got.GetRevision() != rev {
			t.Errorf("GetArticle(%q) via B = revision %d, %v; want %d", slug, got.GetRevision(), err, rev)
		}
	}

	// B's watch: every acknowledged create once, in revision order. Mark
	// the end with one more write, whose event comes after all others.
	end, err := a.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "End", Slug: "end"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	last := int64(0)
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("watch via B after %d events: %v", len(seen), err)
		}
		if ev.GetType() == articlesv1.ArticleEvent_PROGRESS {
			continue
		}
		if ev.GetRevision() <= last {
			t.Fatalf("watch revision %d after %d", ev.GetRevision(), last)
		}
		last = ev.GetRevision()
		slug := ev.GetArticle().GetSlug()
		if slug == "end" {
			if ev.GetRevision() != end.GetRevision() {
				t.Fatalf("end event at revision %d, want %d", ev.GetRevision(), end.GetRevision())
			}
			break
		}
		if _, dup := seen[slug]; dup {
			t.Errorf("watch delivered %q twice", slug)
		}
		if !tried[slug] || ev.GetType() != articlesv1.ArticleEvent_CREATED {
			t.Errorf("unexpected event %v", ev)
		}
		seen[slug] = ev.GetRevision()
	}
	for slug, rev := range acked {
		if seen[slug] != rev {
			t.Errorf("acknowledged %q (revision %d) seen by the watch at %d", slug, rev, seen[slug])
		}
	}
	t.Logf("%d of %d creates acknowledged, %d after the kill; %d events", len(acked), writers*perWriter, afterKill, len(seen))
	if err := c.Restart(down); err != nil {
		t.Fatalf("restart member %d: %v", down, err)
	}
}
