package main_test

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// TestSizeUnits starts articlesd with sizes in units and checks that they
// take effect: a body one byte over --max-body-bytes 64KiB is refused, a
// body at the limit is stored.
func TestSizeUnits(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--max-body-bytes", "64KiB", "--max-recv-bytes", "1 MiB",
		"--watch-rate", "2MB", "--initial-mmap-size", "8MiB")
	c := d.client()
	for _, tt := range []struct {
		size int
		want codes.Code
	}{{64 << 10, codes.OK}, {64<<10 + 1, codes.InvalidArgument}} {
		_, err := c.CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{Title: "Sized", Body: strings.Repeat("a", tt.size)},
		})
		if got := status.Code(err); got != tt.want {
			t.Errorf("body of %d bytes: %v (%v), want %v", tt.size, got, err, tt.want)
		}
	}
}

// TestDurationsInJSONLogs checks that JSON logs write durations as text
// ("10s"), not as a count of nanoseconds.
func TestDurationsInJSONLogs(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--no-seed", "--log-format", "json", "--grace-period", "7s")
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code = %d; log:\n%s", code, d.logs)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(d.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "shutting down" {
			found = true
			if got := rec["grace_period"]; got != "7s" {
				t.Errorf("grace_period = %#v, want \"7s\"", got)
			}
		}
	}
	if !found {
		t.Fatalf("no \"shutting down\" line:\n%s", d.logs)
	}
}

// TestBindBeforeSeed checks that a busy port fails the start before the
// database is created or seeded.
func TestBindBeforeSeed(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, flag := range []string{"--listen", "--metrics-listen"} {
		t.Run(flag, func(t *testing.T) {
			db := newDB(t)
			args := []string{"--db", db}
			if flag == "--listen" {
				args = append(args, "--listen", busy.Addr().String())
			} else {
				args = append(args, "--listen", "127.0.0.1:0", "--metrics-listen", busy.Addr().String())
			}
			code, _, stderr := runCmd(t, nil, args...)
			if code != 1 || !strings.Contains(stderr, "address already in use") {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and \"address already in use\"", code, stderr)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("the database was created before the port was bound (stat: %v)", err)
			}
		})
	}
}
