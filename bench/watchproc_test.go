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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The watcher process's environment: the server's address, how many
// streams to open and how many events each must receive.
const (
	envWatchAddr    = "ARTICLES_BENCH_WATCH_ADDR"
	envWatchStreams = "ARTICLES_BENCH_WATCH_STREAMS"
	envWatchEvents  = "ARTICLES_BENCH_WATCH_EVENTS"
	envWatchView    = "ARTICLES_BENCH_WATCH_VIEW"
	envWatchGzip    = "ARTICLES_BENCH_WATCH_GZIP"
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
		var opts []grpc.CallOption
		if os.Getenv(envWatchGzip) != "" {
			// What client.WatchCompressed asks for.
			opts = append(opts, grpc.UseCompressor(gzip.Name))
		}
		s, err := clients[i%len(clients)].WatchArticles(ctx, &articlesv1.WatchArticlesRequest{View: articlesv1.ArticleView(view), Batch: true}, opts...)
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
// to end and reports its failure and the CPU time it used. With idle, on
// Linux, the process also runs under SCHED_IDLE (startNiced); with
// compressed, its streams ask for gzip.
func startWatcherProcess(b *testing.B, addr string, n, events int, view articlesv1.ArticleView, idle, compressed bool) (base int64, wait func() (time.Duration, error)) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(),
		envWatchAddr+"="+addr,
		envWatchStreams+"="+strconv.Itoa(n),
		envWatchEvents+"="+strconv.Itoa(events),
		envWatchView+"="+strconv.Itoa(int(view)))
	if compressed {
		cmd.Env = append(cmd.Env, envWatchGzip+"=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if idle && runtime.GOOS != "linux" {
		b.Skip("SCHED_IDLE is Linux's")
	}
	if err := startNiced(cmd, idle); err != nil {
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
	return base, func() (time.Duration, error) {
		if err := cmd.Wait(); err != nil {
			return 0, fmt.Errorf("%w: %s", err, stderr.String())
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
	}
}

// startNiced starts cmd with every thread of its process at nice 19. On
// Linux a nice value belongs to a thread, not to a process: the watcher
// process setting its own would lower only the thread that asks, while
// the Go runtime's other threads, already running, stay at 0 and take
// the CPU from the server. A new process inherits the nice value of the
// thread that starts it, and its threads that of their creator; so on
// Linux cmd starts from a thread of its own at nice 19, which exits with
// its goroutine. Elsewhere the watcher process's own setpriority is for
// the whole process. With idle, the thread also takes the SCHED_IDLE
// policy, which cmd's threads inherit the same way.
func startNiced(cmd *exec.Cmd, idle bool) error {
	if runtime.GOOS != "linux" {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine rather
		// than run other goroutines at nice 19.
		runtime.LockOSThread()
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, 19); err != nil {
			errc <- fmt.Errorf("setpriority: %w", err)
			return
		}
		if idle {
			const schedIdle = 5 // SCHED_IDLE in linux/sched.h
			var param struct{ priority int32 }
			if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedIdle, uintptr(unsafe.Pointer(&param))); errno != 0 {
				errc <- fmt.Errorf("sched_setscheduler: %w", errno)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// machineIdle returns the idle and total time of every CPU of the machine
// since boot, from /proc/stat, or zeros where that file does not exist.
func machineIdle() (idle, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	// Fields: user nice system idle iowait irq softirq steal, in ticks of
	// (almost always) 1/100 s.
	const tick = 10 * time.Millisecond
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0
		}
		total += time.Duration(n) * tick
		if i == 3 || i == 4 {
			idle += time.Duration(n) * tick
		}
	}
	return idle, total
}

// processCPU returns the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
