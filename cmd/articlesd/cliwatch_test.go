package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestCLIWatchSurvivesRestart runs "articles watch" against a real
// articlesd, stops the daemon, writes through a new one on the same
// address and database, and checks that the watch said it was
// reconnecting, came back by itself, and printed every change once, in
// order, without a gap.
func TestCLIWatchSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	d := start(t, db, nil, "--progress-interval", "200ms")
	addr := d.addr

	ctx, cancel := context.WithTimeout(t.Context(), 2*exitTimeout)
	defer cancel()
	w := exec.CommandContext(ctx, cliBin, "--addr", addr, "watch", "--from", "1", "-o", "jsonl")
	w.Env = cleanEnv()
	stderr := &logWriter{addr: make(chan string, 1)}
	w.Stderr = stderr
	out, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Process.Kill() }()

	type event struct {
		Type     string `json:"type"`
		Revision string `json:"revision"`
	}
	events := make(chan event, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("watch printed %q: %v", sc.Text(), err)
				return
			}
			events <- e
		}
	}()
	var changes []int
	// waitFor reads events until the change with revision rev.
	waitFor := func(rev int) {
		t.Helper()
		for {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatalf("watch ended; changes %v; stderr:\n%s", changes, stderr)
				}
				if e.Type == "PROGRESS" {
					continue
				}
				n, _ := strconv.Atoi(e.Revision)
				changes = append(changes, n)
				if n >= rev {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no change %d; changes %v; stderr:\n%s", rev, changes, stderr)
			}
		}
	}

	waitFor(4) // the four seed articles
	mustCLI(t, addr, "", "create", "--title", "Before the restart")
	waitFor(5)

	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("articlesd exit %d after SIGTERM", code)
	}
	stderr.waitFor(t, "reconnecting in")
	// Let a few attempts fail against the stopped server.
	stderr.waitFor(t, "connection refused")

	d2 := start(t, db, nil, "--listen", addr, "--progress-interval", "200ms")
	for i := range 3 {
		mustCLI(t, d2.addr, "", "create", "--title", fmt.Sprintf("After the restart %d", i))
	}
	waitFor(8)
	stderr.waitFor(t, "reconnected to "+addr)

	if err := w.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(); err != nil {
		t.Errorf("watch after SIGINT: %v, want exit 0; stderr:\n%s", err, stderr)
	}
	for i, rev := range changes {
		if rev != i+1 {
			t.Fatalf("changes %v, want 1 to 8, each once", changes)
		}
	}
	if len(changes) != 8 {
		t.Errorf("changes %v, want 1 to 8", changes)
	}
	for line := range strings.Lines(stderr.String()) {
		if !strings.HasPrefix(line, "articles: watch: ") {
			t.Errorf("stderr line %q, want each to start \"articles: watch: \"", line)
		}
	}
	if code := d2.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("second articlesd exit %d after SIGTERM", code)
	}
}
