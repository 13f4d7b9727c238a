package client_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/seed9c1868aa/articles/client"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// servedBackend is one server on a loopback port, counting the unary calls
// it serves.
type servedBackend struct {
	addr  string
	calls atomic.Int64
	stop  func()
}

// serveTwo serves two servers over one store (as two articlesd on one etcd
// cluster serve the same articles) on loopback TCP ports.
func serveTwo(t *testing.T) [2]*servedBackend {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var out [2]*servedBackend
	for i := range out {
		b := &servedBackend{}
		srv, err := server.New(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			b.calls.Add(1)
			return h(ctx, req)
		}
		gs := srv.GRPCServer(grpc.ChainUnaryInterceptor(count))
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b.addr = lis.Addr().String()
		served := make(chan struct{})
		go func() {
			defer close(served)
			_ = gs.Serve(lis)
		}()
		stopped := false
		b.stop = func() {
			if stopped {
				return
			}
			stopped = true
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.GracefulStop(ctx)
			<-served
		}
		t.Cleanup(b.stop)
		out[i] = b
	}
	return out
}

func TestBalance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dial func(addrs [2]string) (*client.Client, error)
	}{
		{"WithAddresses", func(a [2]string) (*client.Client, error) {
			return client.New(context.Background(), "", client.WithAddresses(a[0], a[1]))
		}},
		{"CommaSeparated", func(a [2]string) (*client.Client, error) {
			return client.New(context.Background(), a[0]+", "+a[1])
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			backends := serveTwo(t)
			c, err := tt.dial([2]string{backends[0].addr, backends[1].addr})
			if err != nil {
				t.Fatalf("client.New: %v", err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := c.Create(ctx, &articlesv1.Article{Title: "Balanced"}, "")
			if err != nil {
				t.Fatalf("Create: %v", err)
			}

			// Round robin: 20 reads reach both servers.
			for i := range 20 {
				if _, err := c.Get(ctx, a.GetId()); err != nil {
					t.Fatalf("Get %d: %v", i, err)
				}
			}
			if n0, n1 := backends[0].calls.Load(), backends[1].calls.Load(); n0 < 5 || n1 < 5 {
				t.Fatalf("calls per server = %d, %d; want reads spread over both", n0, n1)
			}

			// One server goes away: every read still succeeds, on the other.
			backends[0].stop()
			before := backends[1].calls.Load()
			for i := range 20 {
				if _, err := c.Get(ctx, a.GetId()); err != nil {
					t.Fatalf("Get %d after one server stopped: %v", i, err)
				}
			}
			if got := backends[1].calls.Load() - before; got < 20 {
				t.Fatalf("remaining server served %d of 20 reads", got)
			}
		})
	}
}

func TestBalanceBadAddresses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		target string
		opts   []client.Option
		want   string
	}{
		{"Empty", "", []client.Option{client.WithAddresses(" ", "")}, "empty address list"},
		{"Scheme", "", []client.Option{client.WithAddresses("dns:///x:1")}, "want host:port"},
		{"TokenPlaintextRemote", "127.0.0.1:1,10.1.2.3:1", []client.Option{client.WithToken("t")}, "plaintext"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(context.Background(), tt.target, tt.opts...)
			if err == nil {
				c.Close()
				t.Fatalf("New succeeded, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Run("TokenPlaintextLoopback", func(t *testing.T) {
		c, err := client.New(context.Background(), "127.0.0.1:1,[::1]:2", client.WithToken("t"))
		if err != nil {
			t.Fatalf("New with loopback addresses and a token: %v", err)
		}
		c.Close()
	})
}

// FuzzNewTarget feeds New arbitrary targets and address lists: New never
// connects, so it must answer every input with a Client or an error, never
// a panic, and must refuse a list with an empty or scheme-bearing entry.
func FuzzNewTarget(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:1,127.0.0.1:2", "a:1, b:2", ",", "dns:///x:1,y:2", "x:1,,y:2", "[::1]:1,[::1]:2", "unix:///tmp/s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		c, err := client.New(context.Background(), target)
		if err == nil {
			c.Close()
		}
		c, err = client.New(context.Background(), "", client.WithAddresses(strings.Split(target, ",")...))
		if err == nil {
			c.Close()
			for _, a := range strings.Split(target, ",") {
				if strings.Contains(a, "://") {
					t.Fatalf("WithAddresses(%q) accepted an address with a scheme", target)
				}
			}
		}
	})
}
