package main

import (
	"context"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// benchRows parses the latency table of a bench report into op name ->
// [ok, errors].
func benchRows(t *testing.T, out string) map[string][2]int {
	t.Helper()
	rows := map[string][2]int{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) != 8 || !slices.Contains(append(opNames[:], "total"), f[0]) {
			continue
		}
		ok, err1 := strconv.Atoi(f[1])
		errs, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad table row %q", line)
		}
		rows[f[0]] = [2]int{ok, errs}
	}
	return rows
}

func TestBench(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	r := cli(t, addr, "", "bench", "--duration", "1s", "--concurrency", "4", "--write-ratio", "0.5",
		"--streams", "6", "--conns", "2", "--size", "512", "--preload", "20")
	if r.code != exitOK {
		t.Fatalf("bench: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	rows := benchRows(t, r.stdout)
	for _, op := range append(opNames[:], "total") {
		row, ok := rows[op]
		if !ok {
			t.Errorf("no %q row in the report:\n%s", op, r.stdout)
			continue
		}
		if row[1] != 0 {
			t.Errorf("%s: %d errors, want 0:\n%s", op, row[1], r.stdout)
		}
	}
	// Which kinds ran depends on the dice and the machine's speed; reads,
	// writes and the total must all have happened.
	reads := rows["get"][0] + rows["list"][0] + rows["search"][0]
	writes := rows["create"][0] + rows["update"][0] + rows["delete"][0]
	if reads == 0 || writes == 0 || rows["total"][0] != reads+writes {
		t.Errorf("%d reads, %d writes, total %d; want some of each, adding up:\n%s", reads, writes, rows["total"][0], r.stdout)
	}
	if !strings.Contains(r.stdout, "errors: none\n") {
		t.Errorf("report does not say errors: none:\n%s", r.stdout)
	}
	watch := regexp.MustCompile(`watch: 6 streams, (\d+) events .*, 0 out of order, 0 behind revision (\d+) at the end, 0 broken`).FindStringSubmatch(r.stdout)
	if watch == nil {
		t.Fatalf("no clean watch line in the report:\n%s", r.stdout)
	}
	// Every create and update of the run reached each of the 6 streams
	// (deletes return no revision to wait for, so theirs may be in flight).
	if events, _ := strconv.Atoi(watch[1]); events < 6*(rows["create"][0]+rows["update"][0]) {
		t.Errorf("watch streams got %d events for %d creates and updates x 6 streams:\n%s", events,
			rows["create"][0]+rows["update"][0], r.stdout)
	}
	for _, col := range []string{"p50", "p90", "p99", "max", "ops/s"} {
		if !strings.Contains(r.stdout, col) {
			t.Errorf("report lacks the %s column:\n%s", col, r.stdout)
		}
	}
}

// TestBenchCountsErrors serves SearchArticles as overloaded: the report
// counts those failures by code and the command fails.
func TestBenchCountsErrors(t *testing.T) {
	t.Parallel()
	overloaded := grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/SearchArticles") {
			return nil, status.Error(codes.ResourceExhausted, "busy")
		}
		return h(ctx, req)
	})
	addr := startServer(t, overloaded)
	r := cli(t, addr, "", "bench", "--duration", "500ms", "--concurrency", "2", "--write-ratio", "0", "--preload", "5")
	if r.code != exitError {
		t.Fatalf("bench: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, exitError, r.stdout, r.stderr)
	}
	rows := benchRows(t, r.stdout)
	if rows["search"][0] != 0 || rows["search"][1] == 0 || rows["get"][1] != 0 {
		t.Errorf("rows = %v, want every search failed and no get:\n%s", rows, r.stdout)
	}
	want := "errors by code:\n  RESOURCE_EXHAUSTED " + strconv.Itoa(rows["search"][1]) + "\n"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("report lacks %q:\n%s", want, r.stdout)
	}
}

func TestBenchFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ZeroDuration", []string{"--duration", "0s"}, "--duration"},
		{"WriteRatioAboveOne", []string{"--write-ratio", "1.5"}, "--write-ratio"},
		{"WriteRatioNaN", []string{"--write-ratio", "NaN"}, "--write-ratio"},
		{"NoWorkers", []string{"--concurrency", "0"}, "--concurrency"},
		{"NegativeStreams", []string{"--streams", "-1"}, "--streams"},
		{"NegativeSize", []string{"--size", "-5"}, "--size"},
		{"NoConns", []string{"--conns", "0"}, "--conns"},
		{"NoPreload", []string{"--preload", "0"}, "--preload"},
		{"Args", []string{"extra"}, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// No server: a usage error stops before dialling.
			r := cli(t, "127.0.0.1:1", "", append([]string{"bench"}, tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("bench %v: exit %d, stderr %q; want exit %d mentioning %q", tt.args, r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 999_999, 1 << 40, 1<<63 - 1}
	for range 1000 {
		values = append(values, rng.Uint64N(1<<rng.IntN(63)+1))
	}
	for _, v := range values {
		i := bucketOf(v)
		lo, hi := lowerBound(i), lowerBound(i+1)
		if v < lo || v >= hi && hi > lo {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
		// 32 buckets per power of two: each at most ~3% of its values.
		if lo >= 32 && float64(hi-lo) > float64(lo)/31 {
			t.Fatalf("bucket %d = [%d, %d) is wider than 1/31 of its bound", i, lo, hi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"Single", []time.Duration{5 * time.Millisecond}, 0.5, 5 * time.Millisecond},
		{"Median", []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}, 0.5, 2 * time.Millisecond},
		{"P99Outlier", append(slices.Repeat([]time.Duration{time.Millisecond}, 99), time.Second), 0.99, time.Millisecond},
		{"MaxOutlier", append(slices.Repeat([]time.Duration{time.Millisecond}, 99), time.Second), 1, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := new(histogram)
			for _, v := range tt.values {
				h.add(v)
			}
			got := h.quantile(tt.q)
			// Within the 3% resolution, and never above the true value.
			if got > tt.want || float64(tt.want-got) > 0.035*float64(tt.want) {
				t.Errorf("quantile(%v) = %v, want %v within 3%%", tt.q, got, tt.want)
			}
		})
	}
}
