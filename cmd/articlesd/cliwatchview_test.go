package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestCLIWatchView runs "articles watch --view" against a real articlesd:
// basic events carry the article without its body, full ones (and the
// default) with it, and an unknown view is a usage error.
func TestCLIWatchView(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil)
	for _, tt := range []struct {
		view     string
		wantBody bool
	}{
		{"basic", false},
		{"full", true},
		{"", true},
	} {
		t.Run("view="+tt.view, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), exitTimeout)
			defer cancel()
			args := []string{"--addr", d.addr, "watch", "--from", "1", "-o", "jsonl"}
			if tt.view != "" {
				args = append(args, "--view", tt.view)
			}
			w := exec.CommandContext(ctx, cliBin, args...)
			w.Env = cleanEnv()
			out, err := w.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = w.Process.Kill(); _ = w.Wait() }()
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 16<<20)
			changes := 0
			for changes < 4 && sc.Scan() { // the four seed articles
				var ev struct {
					Type    string         `json:"type"`
					Article map[string]any `json:"article"`
				}
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("watch printed %q: %v", sc.Text(), err)
				}
				if ev.Type == "PROGRESS" {
					continue
				}
				changes++
				_, hasBody := ev.Article["body"]
				if hasBody != tt.wantBody || ev.Article["title"] == nil {
					t.Errorf("--view %q: event %s has title %v, body: %v; want body: %v", tt.view, ev.Type, ev.Article["title"], hasBody, tt.wantBody)
				}
			}
			if changes < 4 {
				t.Fatalf("watch printed %d changes, want the 4 seed articles", changes)
			}
		})
	}
	t.Run("view=bogus", func(t *testing.T) {
		code, _, errOut := cli(t, d.addr, "", "watch", "--view", "bogus")
		if code == 0 || !strings.Contains(errOut, "--view") {
			t.Errorf("watch --view bogus: exit %d, stderr %q; want a usage error naming --view", code, errOut)
		}
	})
}
