//go:build unix

package bench_test

// Watchers in a process of their own. On a machine of two cores, a
// thousand watchers that decode every 5 KB event need more CPU than the
// server that feeds them, and in the server's process they take it from
// the writers whatever the server does. In production they run on other
// machines. To stand in for that here, the benchmark can re-run this test
// binary as a watcher process at the lowest CPU priority (nice 19): it
// still opens every stream over loopback TCP and receives and decodes
// every event, but only on CPU time the server leaves idle, and the kernel
// and HTTP/2 flow control make the server wait for it like any slow
// client. The server's own cost of feeding the watchers (encoding,
// framing, socket writes, catching up from the log) stays in the server's
// process and is measured.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The watcher process's environment: the server's address, how many
// streams to open and how many events each must receive.
const (
	envWatchAddr    = "ARTICLES_BENCH_WATCH_ADDR"
	envWatchStreams = "ARTICLES_BENCH_WATCH_STREAMS"
	envWatchEvents  = "ARTICLES_BENCH_WATCH_EVENTS"
	envWatchView    = "ARTICLES_BENCH_WATCH_VIEW"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envWatchAddr); addr != "" {
		if err := watcherProcess(addr); err != nil {
			fmt.Fprintln(os.Stderr, "watcher process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// watcherProcess is the watcher process's main: at nice 19 it opens the
// streams from now (asking for batches, as client.Watch does), prints "ready BASE" once all are open, then receives
// every event on every stream, checking order (receive), and returns.
func watcherProcess(addr string) error {
	streams, err := strconv.Atoi(os.Getenv(envWatchStreams))
	if err != nil {
		return err
	}
	events, err := strconv.Atoi(os.Getenv(envWatchEvents))
	if err != nil {
		return err
	}
	view, err := strconv.Atoi(os.Getenv(envWatchView))
	if err != nil {
		return err
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, 19); err != nil {
		return fmt.Errorf("setpriority: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	clients := make([]articlesv1.ArticleServiceClient, streams/streamsPerConn+1)
	for i := range clients {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		clients[i] = articlesv1.NewArticleServiceClient(conn)
	}
	open := make([]grpc.ServerStreamingClient[articlesv1.ArticleEvent], streams)
	base := int64(-1)
	for i := range open {
		s, err := clients[i%len(clients)].WatchArticles(ctx, &articlesv1.WatchArticlesRequest{View: articlesv1.ArticleView(view), Batch: true})
		if err != nil {
			return err
		}
		ev, err := s.Recv()
		if err != nil {
			return err
		}
		if ev.GetType() != articlesv1.ArticleEvent_PROGRESS || (base >= 0 && ev.GetRevision() != base) {
			return fmt.Errorf("stream %d opened with %v at %d, the others at %d", i, ev.GetType(), ev.GetRevision(), base)
		}
		open[i], base = s, ev.GetRevision()
	}
	fmt.Printf("ready %d\n", base)
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i, s := range open {
		wg.Go(func() { errs[i] = receive(s, base, events, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("stream %d: %w", i, err)
		}
	}
	return nil
}

// startWatcherProcess starts a watcher process with n streams to addr in
// view, each to receive events events, and waits until they are open. It returns
// the revision they start after and a function that waits for the process
// to end and reports its failure.
func startWatcherProcess(b *testing.B, addr string, n, events int, view articlesv1.ArticleView) (base int64, wait func() error) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(),
		envWatchAddr+"="+addr,
		envWatchStreams+"="+strconv.Itoa(n),
		envWatchEvents+"="+strconv.Itoa(events),
		envWatchView+"="+strconv.Itoa(int(view)))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		b.Fatalf("watcher process: %v: %s", err, stderr.String())
	}
	if _, err := fmt.Sscanf(line, "ready %d", &base); err != nil {
		b.Fatalf("watcher process said %q: %v", line, err)
	}
	return base, func() error {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%w: %s", err, stderr.String())
		}
		return nil
	}
}

// processCPU returns the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
