package main_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// blockedWait is how long a test lets a call that a limit holds back wait
// before concluding it is held back. Passing it proves nothing about speed;
// a limit that failed to hold would let the call through at once.
const blockedWait = 2 * time.Second

// TestMessageLimits checks the size limits end to end: a body over
// --max-body-bytes is INVALID_ARGUMENT, a message over --max-recv-bytes is
// RESOURCE_EXHAUSTED, page sizes are bounded, and the server keeps serving.
func TestMessageLimits(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--max-recv-bytes", "200000", "--max-body-bytes", "100000")
	c := d.client()
	create := func(n int) error {
		_, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{Title: "Size " + strings.Repeat("i", n%50), Body: strings.Repeat("a", n)},
		})
		return err
	}
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{name: "BodyAtLimit", call: func() error { return create(100000) }, want: codes.OK},
		{name: "BodyOverLimit", call: func() error { return create(100001) }, want: codes.InvalidArgument},
		{name: "MessageOverLimit", call: func() error { return create(300000) }, want: codes.ResourceExhausted},
		{name: "NegativePageSize", call: func() error {
			_, err := c.ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{PageSize: -1})
			return err
		}, want: codes.InvalidArgument},
		{name: "HugePageSize", call: func() error {
			_, err := c.ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{PageSize: 1 << 30})
			return err
		}, want: codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatusCode(t, tt.name, tt.call(), tt.want)
		})
	}
	if err := healthServing(t, d.conn()); err != nil {
		t.Errorf("health after the oversized calls: %v", err)
	}
}

// openHealthWatch opens a health Watch stream on cc and waits for its
// first message, so the stream is surely open on the server.
func openHealthWatch(t *testing.T, ctx context.Context, cc *grpc.ClientConn) error {
	t.Helper()
	s, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	_, err = s.Recv()
	return err
}

// TestMaxStreams checks --max-streams: with two streams open on a
// connection a third waits, and gets through once one closes.
func TestMaxStreams(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--max-streams", "2")
	cc := d.conn()
	var cancels []context.CancelFunc
	for i := range 2 {
		ctx, cancel := context.WithCancel(callCtx(t))
		defer cancel()
		cancels = append(cancels, cancel)
		if err := openHealthWatch(t, ctx, cc); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), blockedWait)
	defer cancel()
	err := openHealthWatch(t, ctx, cc)
	wantStatusCode(t, "third stream", err, codes.DeadlineExceeded)
	// A unary call is a stream too.
	ctx, cancel = context.WithTimeout(t.Context(), blockedWait)
	defer cancel()
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	wantStatusCode(t, "unary call over the limit", err, codes.DeadlineExceeded)

	cancels[0]()
	if err := openHealthWatch(t, callCtx(t), cc); err != nil {
		t.Errorf("stream after one closed: %v", err)
	}
}

// TestMaxConns checks --max-conns: with one connection open a second is
// not served, and it is once the first closes.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--max-conns", "1")
	first := d.conn()
	if err := healthServing(t, first); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second := d.conn()
	ctx, cancel := context.WithTimeout(t.Context(), blockedWait)
	defer cancel()
	_, err := healthpb.NewHealthClient(second).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	wantStatusCode(t, "second connection", err, codes.DeadlineExceeded)

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := healthpb.NewHealthClient(second).Check(callCtx(t), &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("second connection after the first closed: %v, %v", resp.GetStatus(), err)
	}
}

// TestKeepaliveEnforcement pings the daemon over a raw HTTP/2 connection
// far more often than --keepalive-min-time allows: it must answer with
// GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (what grpc clients log) and
// close the connection, while other clients go on being served.
func TestKeepaliveEnforcement(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--keepalive-min-time", "1m")
	conn, err := net.DialTimeout("tcp", d.addr, callTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(callTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// grpc-go tolerates two pings too early; ten is well past that. A
	// write may fail once the server has hung up: that is the point.
	for i := range 10 {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			break
		}
	}
	var goAway *http2.GoAwayFrame
	for range 1000 { // settings, acks, pings: far fewer frames than this
		f, err := fr.ReadFrame()
		if err != nil {
			if goAway == nil {
				t.Fatalf("connection ended without GOAWAY: %v", err)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
				break // closed by the server, as it should be
			}
			t.Fatalf("after GOAWAY, reading: %v; want the connection closed", err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok && goAway == nil {
			goAway = g
			if g.ErrCode != http2.ErrCodeEnhanceYourCalm || string(g.DebugData()) != "too_many_pings" {
				t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM \"too_many_pings\"", g.ErrCode, g.DebugData())
			}
		}
	}
	if goAway == nil {
		t.Fatal("no GOAWAY within 1000 frames")
	}
	if err := healthServing(t, d.conn()); err != nil {
		t.Errorf("a well-behaved client after the GOAWAY: %v", err)
	}
}

// TestIdleTimeout checks --idle-timeout: a connection without calls is
// closed by the server (the client channel leaves READY), and the next call
// reconnects.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--idle-timeout", "300ms")
	cc := d.conn()
	if err := healthServing(t, cc); err != nil {
		t.Fatal(err)
	}
	ctx := callCtx(t)
	for state := cc.GetState(); state == connectivity.Ready; state = cc.GetState() {
		if !cc.WaitForStateChange(ctx, state) {
			t.Fatalf("the connection stayed %v for %v; the server should have closed it when idle", state, callTimeout)
		}
	}
	if err := healthServing(t, cc); err != nil {
		t.Errorf("call after the idle close: %v", err)
	}
}

// TestDefaultTimeout checks that --default-timeout reaches the handlers:
// with a deadline too short for anything, a unary call sent without one
// fails DEADLINE_EXCEEDED, while a call with its own deadline succeeds.
func TestDefaultTimeout(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--default-timeout", "1ns")
	c := d.client()
	_, err := c.ListArticles(context.Background(), &articlesv1.ListArticlesRequest{})
	wantStatusCode(t, "call without a deadline", err, codes.DeadlineExceeded)
	resp, err := c.ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{})
	if err != nil || len(resp.GetArticles()) == 0 {
		t.Errorf("call with its own deadline: %d articles, %v", len(resp.GetArticles()), err)
	}
}

// TestLimitFlags checks that the limit flags are documented with their
// environment fallbacks and that bad values are usage errors (exit 2).
func TestLimitFlags(t *testing.T) {
	t.Parallel()
	t.Run("Help", func(t *testing.T) {
		t.Parallel()
		code, stdout, _ := runCmd(t, nil, "--help")
		if code != 0 {
			t.Fatalf("--help exit code = %d", code)
		}
		for _, flag := range []string{"max-streams", "max-conns", "idle-timeout", "default-timeout", "keepalive-min-time",
			"keepalive-permit-without-stream", "tls-cert", "tls-key", "client-ca", "tokens", "insecure-allow-tokens", "no-reflection"} {
			if !strings.Contains(stdout, "--"+flag+" ") || !strings.Contains(stdout, "(env "+envName(flag)+")") {
				t.Errorf("--help does not document --%s and %s", flag, envName(flag))
			}
		}
	})
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "ZeroStreams", args: []string{"--max-streams", "0"}, want: "--max-streams"},
		{name: "NegativeConns", args: []string{"--max-conns", "-1"}, want: "--max-conns"},
		{name: "NegativeIdle", args: []string{"--idle-timeout", "-1s"}, want: "--idle-timeout"},
		{name: "NegativeDefaultTimeout", args: []string{"--default-timeout", "-1s"}, want: "--default-timeout"},
		{name: "NegativeKeepalive", args: []string{"--keepalive-min-time", "-1s"}, want: "--keepalive-min-time"},
		{name: "BadEnvStreams", env: []string{"ARTICLES_MAX_STREAMS=many"}, want: "ARTICLES_MAX_STREAMS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCmd(t, tt.env, append([]string{"--db", newDB(t)}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %s", code, stderr, tt.want)
			}
		})
	}
}

// envName is the environment fallback of a flag.
func envName(flag string) string {
	return "ARTICLES_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
