package client_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

const streamMethod = "/articles.v1.ArticleService/StreamArticles"

// breakStreams is a server interceptor that cuts short the first len(after)
// StreamArticles calls: call i fails with UNAVAILABLE once it has sent
// after[i] messages, as a dying connection or server would.
func breakStreams(after ...int) grpc.ServerOption {
	var calls atomic.Int32
	return grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod != streamMethod {
			return h(srv, ss)
		}
		i := int(calls.Add(1)) - 1
		if i >= len(after) {
			return h(srv, ss)
		}
		cut := &cutStream{ServerStream: ss, left: after[i]}
		_ = h(srv, cut)
		return status.Error(codes.Unavailable, "stream broken by the test")
	})
}

// cutStream drops every message after the first left ones.
type cutStream struct {
	grpc.ServerStream
	left int
}

func (s *cutStream) SendMsg(m any) error {
	if s.left <= 0 {
		return status.Error(codes.Unavailable, "stream broken by the test")
	}
	s.left--
	return s.ServerStream.SendMsg(m)
}

// streamTitles ranges over a Stream and returns the titles it yielded and
// its error, reading at most limit articles.
func streamTitles(t *testing.T, c *client.Client, req *articlesv1.StreamArticlesRequest, limit int) ([]string, error) {
	t.Helper()
	var got []string
	for a, err := range c.Stream(context.Background(), req) {
		if err != nil {
			return got, err
		}
		got = append(got, a.GetTitle())
		if len(got) >= limit {
			t.Fatalf("stream yielded more than %d articles: %q...", limit, got[:10])
		}
	}
	return got, nil
}

func wantTitles(n int) []string {
	var out []string
	for i := range n {
		out = append(out, testArticle(i).GetTitle())
	}
	return out
}

func TestStream(t *testing.T) {
	t.Parallel()
	const n = 12
	e := newClientEnv(t, nil)
	seedArticles(t, e.client, n)
	all := wantTitles(n)

	t.Run("All", func(t *testing.T) {
		req := &articlesv1.StreamArticlesRequest{OrderBy: "publish_time"}
		got, err := streamTitles(t, e.client, req, 2*n)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if !slices.Equal(got, all) {
			t.Errorf("Stream = %q, want %q", got, all)
		}
		if req.GetStartAfter() != "" {
			t.Errorf("Stream changed the caller's request: start_after %q", req.GetStartAfter())
		}
	})
	t.Run("NilRequest", func(t *testing.T) {
		got, err := streamTitles(t, e.client, nil, 2*n)
		if err != nil || len(got) != n {
			t.Errorf("Stream(nil) = %d articles, %v; want %d", len(got), err, n)
		}
	})
	t.Run("Filtered", func(t *testing.T) {
		got, err := streamTitles(t, e.client, &articlesv1.StreamArticlesRequest{Tag: "t2", OrderBy: "publish_time"}, 2*n)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if want := []string{"Article 002", "Article 005", "Article 008", "Article 011"}; !slices.Equal(got, want) {
			t.Errorf("Stream tag t2 = %q, want %q", got, want)
		}
	})
	t.Run("StartAfterID", func(t *testing.T) {
		resp, err := e.client.List(context.Background(), &articlesv1.ListArticlesRequest{PageSize: 4, OrderBy: "publish_time"})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		req := &articlesv1.StreamArticlesRequest{OrderBy: "publish_time", StartAfter: resp.GetArticles()[3].GetId()}
		got, err := streamTitles(t, e.client, req, 2*n)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if !slices.Equal(got, all[4:]) {
			t.Errorf("Stream after the 4th = %q, want %q", got, all[4:])
		}
	})
	t.Run("StopEarly", func(t *testing.T) {
		var got []string
		for a, err := range e.client.Stream(context.Background(), &articlesv1.StreamArticlesRequest{OrderBy: "publish_time"}) {
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			got = append(got, a.GetTitle())
			if len(got) == 2 {
				break
			}
		}
		if !slices.Equal(got, all[:2]) {
			t.Errorf("got %q, want %q", got, all[:2])
		}
	})
	t.Run("BadOrder", func(t *testing.T) {
		_, err := streamTitles(t, e.client, &articlesv1.StreamArticlesRequest{OrderBy: "nonsense"}, 2*n)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("error = %v, want INVALID_ARGUMENT", err)
		}
	})
}

// TestStreamResume breaks streams part-way on the server and checks that
// the caller still sees every article exactly once, in order.
func TestStreamResume(t *testing.T) {
	t.Parallel()
	const n = 20
	all := wantTitles(n)
	tests := []struct {
		name    string
		breaks  []int // messages sent by each broken call
		retry   int
		wantErr codes.Code
	}{
		{name: "OnceMidStream", breaks: []int{7}},
		{name: "Repeatedly", breaks: []int{3, 5, 1, 4}},
		{name: "BeforeTheFirst", breaks: []int{0}},
		{name: "AtTheEnd", breaks: []int{n}},
		// Failures in a row without progress count against the attempts.
		{name: "GivesUp", breaks: []int{2, 0, 0}, retry: 3, wantErr: codes.Unavailable},
		{name: "ProgressResetsAttempts", breaks: []int{2, 0, 3, 0, 1}, retry: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []client.Option
			if tt.retry > 0 {
				opts = append(opts, client.WithRetry(tt.retry))
			}
			e := newClientEnv(t, []grpc.ServerOption{breakStreams(tt.breaks...)}, opts...)
			seedArticles(t, e.client, n)
			got, err := streamTitles(t, e.client, &articlesv1.StreamArticlesRequest{OrderBy: "publish_time"}, 2*n)
			if tt.wantErr != codes.OK {
				if status.Code(err) != tt.wantErr {
					t.Fatalf("Stream error = %v, want %v", err, tt.wantErr)
				}
				if !slices.Equal(got, all[:len(got)]) {
					t.Errorf("before failing, Stream yielded %q, want a prefix of %q", got, all)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if !slices.Equal(got, all) {
				t.Errorf("Stream = %q, want %q", got, all)
			}
		})
	}
}

// TestStreamResumeBrokenConnection kills the client's first connection
// after it has read some bytes mid-stream, at the transport rather than in
// the server, and checks that Stream reconnects and loses nothing.
func TestStreamResumeBrokenConnection(t *testing.T) {
	t.Parallel()
	const n = 30
	var calls atomic.Int32
	count := grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod == streamMethod {
			calls.Add(1)
		}
		return h(srv, ss)
	})
	e := newClientEnv(t, []grpc.ServerOption{count})
	seedArticles(t, e.client, n)

	// 30 full articles take about 8 KB on the wire; the first connection
	// is cut after 4 KB, inside the stream.
	var conns sync.WaitGroup
	c, err := client.New(context.Background(), "passthrough:///bufnet", client.WithDialOptions(
		grpc.WithContextDialer(e.dialer(func(i int, c net.Conn) net.Conn {
			if i > 1 {
				return c
			}
			conns.Add(1)
			return &breakingConn{Conn: c, left: 4096, done: conns.Done}
		})),
		// Small frames, so the cut falls between articles, not after the
		// whole stream arrived in one read.
		grpc.WithReadBufferSize(512),
		grpc.WithInitialWindowSize(1<<16),
	))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.Close()

	req := &articlesv1.StreamArticlesRequest{OrderBy: "publish_time", View: articlesv1.ArticleView_ARTICLE_VIEW_FULL}
	got, err := streamTitles(t, c, req, 2*n)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if want := wantTitles(n); !slices.Equal(got, want) {
		t.Errorf("Stream = %q, want %q", got, want)
	}
	conns.Wait() // the first connection was really cut
	if got := calls.Load(); got < 2 {
		t.Errorf("server saw %d StreamArticles calls, want the stream resumed at least once", got)
	}
}

// breakingConn closes itself once left bytes have been read from it.
type breakingConn struct {
	net.Conn
	mu   sync.Mutex
	left int
	done func()
}

func (c *breakingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		if c.done != nil {
			c.done()
			c.done = nil
		}
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}
