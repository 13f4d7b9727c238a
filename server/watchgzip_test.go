package server_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// payloadSizes is a client stats handler that adds up the messages
// received: their size, and their size on the wire (compressed).
type payloadSizes struct {
	length, compressed atomic.Int64
}

func (p *payloadSizes) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (p *payloadSizes) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (p *payloadSizes) HandleConn(context.Context, stats.ConnStats) {}
func (p *payloadSizes) HandleRPC(_ context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		p.length.Add(int64(in.Length))
		p.compressed.Add(int64(in.CompressedLength))
	}
}

// TestWatchGzipShared: watch streams whose request came compressed with
// gzip get their events compressed, each event and each batch compressed
// once for all of them, and every stream gets exactly the events it
// should, in order, in its view, batched or not.
func TestWatchGzipShared(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	sizes := &payloadSizes{}
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return e.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(sizes),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gz := articlesv1.NewArticleServiceClient(conn)

	const basic, full = articlesv1.ArticleView_ARTICLE_VIEW_BASIC, articlesv1.ArticleView_ARTICLE_VIEW_FULL
	type watch struct {
		name string
		rpc  articlesv1.ArticleServiceClient
		req  *articlesv1.WatchArticlesRequest
	}
	watches := []watch{
		{"gzip/batched/full", gz, &articlesv1.WatchArticlesRequest{Batch: true}},
		{"gzip/batched/full/2", gz, &articlesv1.WatchArticlesRequest{Batch: true}},
		{"gzip/batched/basic", gz, &articlesv1.WatchArticlesRequest{Batch: true, View: basic}},
		{"gzip/single/full", gz, &articlesv1.WatchArticlesRequest{}},
		{"gzip/single/basic/tag", gz, &articlesv1.WatchArticlesRequest{View: basic, Tag: "all"}},
		{"plain/batched/full", e.client, &articlesv1.WatchArticlesRequest{Batch: true}},
	}
	ref, _ := openWatch(t, ctx, e.client, &articlesv1.WatchArticlesRequest{}, -1)
	streams := make([]watchStream, len(watches))
	for i, w := range watches {
		streams[i], _ = openWatch(t, ctx, w.rpc, w.req, -1)
	}
	const imports, per = 3, 30
	body := strings.Repeat("Words of the body, said again. ", 40)
	for k := range imports {
		arts := make([]*articlesv1.Article, per)
		for i := range arts {
			arts[i] = &articlesv1.Article{Title: fmt.Sprintf("Squeezed %d", k*per+i), Body: body, AuthorBio: "Bio.", Tags: []string{"all"}}
		}
		if _, err := e.srv.Import(ctx, arts); err != nil {
			t.Fatalf("Import: %v", err)
		}
	}
	// One more, alone: sent as a message of its own.
	if _, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Alone", Body: body, Tags: []string{"all"}}}); err != nil {
		t.Fatal(err)
	}
	const events = imports*per + 1
	want := recvEvents(t, ref, events)

	var wg sync.WaitGroup
	for i, w := range watches {
		wg.Go(func() {
			var got []*articlesv1.ArticleEvent
			if w.req.GetBatch() {
				got = recvBatched(t, streams[i], events)
			} else {
				got = recvEvents(t, streams[i], events)
			}
			for j := range got {
				exp := want[j]
				if w.req.GetView() == basic {
					exp = proto.CloneOf(exp)
					exp.GetArticle().Body, exp.GetArticle().AuthorBio = "", ""
				}
				if !proto.Equal(got[j], exp) {
					t.Errorf("%s: event %d = revision %d, want %d (or content differs)", w.name, j, got[j].GetRevision(), exp.GetRevision())
					return
				}
			}
		})
	}
	wg.Wait()
	if n := e.srv.WatchGzipped(); n == 0 {
		t.Errorf("no watch message was compressed once for the gzip streams")
	} else {
		t.Logf("%d messages compressed once for the gzip streams", n)
	}
	if l, c := sizes.length.Load(), sizes.compressed.Load(); c == 0 || 3*c > l {
		t.Errorf("the gzip streams received %d bytes in %d on the wire, want under a third", l, c)
	}
}
