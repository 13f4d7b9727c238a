package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cli runs the articles CLI against addr with stdin and returns its exit
// code, stdout and stderr. It is bounded by exitTimeout.
func cli(t *testing.T, addr, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), exitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin, append([]string{"--addr", addr}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("articles %q did not exit within %v", args, exitTimeout)
	}
	return exitCode(err), stdout.String(), stderr.String()
}

// mustCLI is cli that fails the test unless the command exits 0.
func mustCLI(t *testing.T, addr, stdin string, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, addr, stdin, args...)
	if code != 0 {
		t.Fatalf("articles %q: exit %d, stderr: %s", args, code, errOut)
	}
	return out
}

// record is the part of an article (protojson) the test reads.
type record struct {
	ID        string   `json:"id"`
	Slug      string   `json:"slug"`
	Title     string   `json:"title"`
	Body      string   `json:"body"`
	Summary   string   `json:"summary"`
	Authors   []string `json:"authors"`
	Tags      []string `json:"tags"`
	Source    string   `json:"source"`
	Etag      string   `json:"etag"`
	Revision  string   `json:"revision"` // int64 is a string in protojson
	WordCount int      `json:"wordCount"`
}

func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var recs []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func decodeOne(t *testing.T, out string) record {
	t.Helper()
	recs := decodeLines[record](t, out)
	if len(recs) != 1 {
		t.Fatalf("want one JSON line, got %d: %q", len(recs), out)
	}
	return recs[0]
}

// TestCLIEndToEnd builds the real binaries, starts articlesd on a loopback
// port with a fresh database and drives every subcommand of the articles
// CLI against it, checking what each prints.
func TestCLIEndToEnd(t *testing.T) {
	d := start(t, newDB(t), nil, "--progress-interval", "200ms")
	addr := d.addr

	// The seeds are there at once, newest first by default.
	seeded := decodeLines[record](t, mustCLI(t, addr, "", "list", "-o", "jsonl"))
	if len(seeded) != 4 {
		t.Fatalf("list: %d seed articles, want 4", len(seeded))
	}
	for _, r := range seeded {
		if r.ID == "" || r.Slug == "" || r.Title == "" || r.Body != "" {
			t.Errorf("list (basic view) gave %+v: want id, slug, title and no body", r)
		}
	}

	// get by slug prints the full article; a table is readable.
	var icc record
	for _, r := range seeded {
		if strings.Contains(r.Title, "ICC") {
			icc = r
		}
	}
	if icc.Slug == "" {
		t.Fatalf("no seed article about the ICC in %+v", seeded)
	}
	got := decodeOne(t, mustCLI(t, addr, "", "get", "--slug", icc.Slug, "-o", "jsonl"))
	if got.ID != icc.ID || !strings.Contains(got.Body, "Milošević") || got.WordCount == 0 {
		t.Errorf("get --slug: id %q, word count %d, body has Milošević: %v", got.ID, got.WordCount, strings.Contains(got.Body, "Milošević"))
	}
	if out := mustCLI(t, addr, "", "get", icc.ID, "-o", "table"); !strings.Contains(out, icc.ID) || !strings.HasPrefix(out, "ID ") {
		t.Errorf("get -o table does not show a header and the id:\n%s", out)
	}
	if out := mustCLI(t, addr, "", "get", icc.ID, "-o", "text"); !strings.Contains(out, icc.Title) {
		t.Errorf("get -o text does not show the title:\n%s", out)
	}

	// create, with the body on stdin; the server derives slug and summary.
	created := decodeOne(t, mustCLI(t, addr, "First paragraph here.\n\nSecond one.",
		"create", "--title", "End to End: Ünïcode Title", "--body-file", "-",
		"--author", "Ada Lovelace", "--tag", "Testing", "--tag", "testing", "--request-id", "e2e-1", "-o", "jsonl"))
	if created.Slug != "end-to-end-unicode-title" || created.Summary != "First paragraph here." ||
		len(created.Tags) != 1 || created.Tags[0] != "testing" || created.WordCount != 5 {
		t.Errorf("create gave %+v", created)
	}
	// The same request id again returns the same article.
	again := decodeOne(t, mustCLI(t, addr, "First paragraph here.\n\nSecond one.",
		"create", "--title", "End to End: Ünïcode Title", "--body-file", "-",
		"--author", "Ada Lovelace", "--tag", "Testing", "--tag", "testing", "--request-id", "e2e-1", "-o", "jsonl"))
	if again.ID != created.ID {
		t.Errorf("retried create made %s, want the first article %s", again.ID, created.ID)
	}

	// update changes only the flags given.
	updated := decodeOne(t, mustCLI(t, addr, "", "update", created.ID, "--title", "End to End, Renamed", "--etag", created.Etag, "-o", "jsonl"))
	if updated.Title != "End to End, Renamed" || updated.Slug != created.Slug || updated.Etag == created.Etag || len(updated.Authors) != 1 {
		t.Errorf("update gave %+v", updated)
	}

	// Errors are one line naming the code, exit 1; usage errors exit 2.
	errCases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"stale etag", []string{"delete", created.ID, "--etag", created.Etag}, 1, "ABORTED"},
		{"unknown id", []string{"get", "01JAAAAAAAAAAAAAAAAAAAAAAA"}, 1, "NOT_FOUND"},
		{"slug taken", []string{"create", "--title", "x", "--slug", icc.Slug}, 1, "ALREADY_EXISTS"},
		{"no title", []string{"create", "--body", "b"}, 2, ""},
		{"bad order", []string{"list", "--order-by", "words"}, 1, "INVALID_ARGUMENT"},
		{"unknown flag", []string{"list", "--colour"}, 2, ""},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, addr, "", tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, errOut)
			}
			if tc.wantErr != "" && (!strings.HasPrefix(errOut, "articles: "+tc.wantErr+": ") || strings.Count(strings.TrimSpace(errOut), "\n") != 0) {
				t.Errorf("stderr = %q, want one line starting \"articles: %s: \"", errOut, tc.wantErr)
			}
		})
	}

	// import JSONL from a file: one new article, one existing slug updated.
	jsonl := filepath.Join(t.TempDir(), "more.jsonl")
	lines := fmt.Sprintf("{\"title\":\"Imported One\",\"body\":\"Alpha beta.\"}\n{\"slug\":%q,\"title\":\"End to End, Reimported\",\"body\":\"New body.\"}\n", created.Slug)
	if err := os.WriteFile(jsonl, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, addr, "", "import", jsonl, "-o", "table"); !strings.Contains(out, "created 1, updated 1, unchanged 0, failures 0") {
		t.Errorf("import summary %q, want 1 created and 1 updated", out)
	}

	// stream everything: 4 seeds + the created one + the imported one.
	streamed := decodeLines[record](t, mustCLI(t, addr, "", "stream", "-o", "jsonl"))
	if len(streamed) != 6 {
		t.Errorf("stream: %d articles, want 6", len(streamed))
	}
	// list pages chain with --all.
	if all := decodeLines[record](t, mustCLI(t, addr, "", "list", "--all", "--page-size", "4", "-o", "jsonl")); len(all) != 6 {
		t.Errorf("list --all: %d articles, want 6", len(all))
	}

	// search folds diacritics: "milosevic" finds the ICC article first.
	type hit struct {
		Article record  `json:"article"`
		Score   float64 `json:"score"`
		Snippet string  `json:"snippet"`
	}
	hits := decodeLines[hit](t, mustCLI(t, addr, "", "search", "milosevic", "-o", "jsonl"))
	if len(hits) == 0 || hits[0].Article.ID != icc.ID || !strings.Contains(hits[0].Snippet, "**") {
		t.Errorf("search milosevic: %+v", hits)
	}

	// delete with the current etag, then the article is gone.
	cur := decodeOne(t, mustCLI(t, addr, "", "get", created.ID, "-o", "jsonl"))
	mustCLI(t, addr, "", "delete", created.ID, "--etag", cur.Etag)
	if code, _, _ := cli(t, addr, "", "get", created.ID); code != 1 {
		t.Errorf("get after delete: exit %d, want 1", code)
	}

	// watch from revision 1 replays every write in order, then runs until
	// interrupted, and exits 0.
	ctx, cancel := context.WithTimeout(t.Context(), exitTimeout)
	defer cancel()
	w := exec.CommandContext(ctx, cliBin, "--addr", addr, "watch", "--from", "1", "-o", "jsonl")
	w.Env = cleanEnv()
	out, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	type event struct {
		Type     string `json:"type"`
		Revision string `json:"revision"`
	}
	var events []event
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 16<<20)
	deadline := time.Now().Add(exitTimeout)
	for sc.Scan() && time.Now().Before(deadline) {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("watch printed %q: %v", sc.Text(), err)
		}
		if e.Type == "PROGRESS" {
			continue
		}
		events = append(events, e)
		if e.Type == "DELETED" {
			break // the last write of this test
		}
	}
	if err := w.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(); err != nil {
		t.Errorf("watch after SIGINT: %v, want exit 0", err)
	}
	// 4 seeds + create + update + import (2) + delete = 9 writes.
	if len(events) != 9 {
		t.Fatalf("watch --from 1: %d events %+v, want 9", len(events), events)
	}
	for i, e := range events {
		if want := fmt.Sprint(i + 1); e.Revision != want {
			t.Errorf("event %d has revision %s, want %s (ordered, no gaps)", i, e.Revision, want)
		}
	}

	// The daemon shuts down cleanly.
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("articlesd exit code %d after SIGTERM, want 0", code)
	}
}
