package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCLIFeatures drives the CLI's newer surface with the built binaries:
// get by slug argument, -o json as one document, -o yaml, shell
// completion, import's plain progress, and the error line once the
// server is gone.
func TestCLIFeatures(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil)
	addr := d.addr

	seeded := decodeLines[record](t, mustCLI(t, addr, "", "list", "-o", "jsonl"))
	if len(seeded) != 4 {
		t.Fatalf("list: %d seed articles, want 4", len(seeded))
	}

	// get tells an id from a slug by its form.
	bySlug := decodeOne(t, mustCLI(t, addr, "", "get", seeded[0].Slug, "-o", "jsonl"))
	byID := decodeOne(t, mustCLI(t, addr, "", "get", seeded[0].ID, "-o", "jsonl"))
	if bySlug.ID != seeded[0].ID || byID.Slug != seeded[0].Slug {
		t.Errorf("get SLUG gave %s, get ID gave %s; want %s (%s)", bySlug.ID, byID.Slug, seeded[0].ID, seeded[0].Slug)
	}

	// stream -o json is one array; list -o yaml one document.
	var arr []record
	out := mustCLI(t, addr, "", "stream", "-o", "json")
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&arr); err != nil || dec.More() || len(arr) != 4 {
		t.Errorf("stream -o json: %d articles, %v, more %v; want one array of 4:\n%.300s", len(arr), err, dec.More(), out)
	}
	if out := mustCLI(t, addr, "", "list", "-o", "yaml"); !strings.HasPrefix(out, "articles:\n- ") {
		t.Errorf("list -o yaml = %.200q, want the page as YAML", out)
	}

	// Shell completion scripts, and the completions they ask for.
	if out := mustCLI(t, addr, "", "completion", "bash"); !strings.Contains(out, "__start_articles") {
		t.Errorf("completion bash: %.200q", out)
	}
	if out := mustCLI(t, addr, "", "__complete", "st"); !strings.Contains(out, "stream\t") {
		t.Errorf("__complete st = %q, want stream", out)
	}

	// Import, not on a terminal: a summary on stdout and no bar.
	f := filepath.Join(t.TempDir(), "more.jsonl")
	var b strings.Builder
	for i := range 1200 { // three import batches
		fmt.Fprintf(&b, "{\"title\": \"Feature %d\"}\n", i)
	}
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, addr, "", "import", f, "-o", "text")
	if code != 0 || stdout != "created 1200, updated 0, unchanged 0, failures 0\n" || strings.Contains(stderr, "\r") {
		t.Errorf("import: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// With the server stopped, one line naming the address and the cause.
	if code := d.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("articlesd exit %d", code)
	}
	code, _, stderr = cli(t, addr, "", "list")
	want := "articles: UNAVAILABLE: cannot reach " + addr + ": connection refused"
	if code != 1 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "--addr") {
		t.Errorf("list against a stopped server: exit %d, stderr %q; want one line starting %q", code, stderr, want)
	}
}
