package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestOutputDocuments checks that json and yaml output is one document:
// an object for one result or a page, an array for streams.
func TestOutputDocuments(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var ids []string
	for _, title := range []string{"Alpha", "Beta", "Gamma"} {
		ids = append(ids, createArticle(t, addr, "--title", title, "--tag", "doc")["id"].(string))
	}
	slices.Sort(ids)

	// oneJSON decodes output that must be exactly one JSON value.
	oneJSON := func(t *testing.T, out string, v any) {
		t.Helper()
		dec := json.NewDecoder(strings.NewReader(out))
		if err := dec.Decode(v); err != nil {
			t.Fatalf("output %q is not JSON: %v", out, err)
		}
		if dec.More() {
			t.Fatalf("output %q has more than one JSON value", out)
		}
	}
	idsOf := func(arts []map[string]any) []string {
		var out []string
		for _, a := range arts {
			out = append(out, a["id"].(string))
		}
		slices.Sort(out)
		return out
	}

	for _, args := range [][]string{
		{"stream", "--tag", "doc"},
		{"list", "--all", "--page-size", "2", "--tag", "doc"},
	} {
		t.Run(args[0]+"JSON", func(t *testing.T) {
			t.Parallel()
			r := mustCLI(t, addr, "", append(args, "-o", "json")...)
			var arts []map[string]any
			oneJSON(t, r.stdout, &arts)
			if got := idsOf(arts); !slices.Equal(got, ids) {
				t.Errorf("%s -o json = %q, want an array of %q", args[0], got, ids)
			}
		})
		t.Run(args[0]+"YAML", func(t *testing.T) {
			t.Parallel()
			r := mustCLI(t, addr, "", append(args, "-o", "yaml")...)
			var arts []map[string]any
			if err := yaml.UnmarshalStrict([]byte(r.stdout), &arts); err != nil {
				t.Fatalf("%s -o yaml = %q: %v", args[0], r.stdout, err)
			}
			if got := idsOf(arts); !slices.Equal(got, ids) {
				t.Errorf("%s -o yaml = %q, want a sequence of %q", args[0], got, ids)
			}
		})
	}
	t.Run("EmptyStream", func(t *testing.T) {
		t.Parallel()
		for _, format := range []string{"json", "yaml"} {
			r := mustCLI(t, addr, "", "stream", "--tag", "none", "-o", format)
			if r.stdout != "[]\n" {
				t.Errorf("empty stream -o %s = %q, want []", format, r.stdout)
			}
		}
	})
	t.Run("GetYAML", func(t *testing.T) {
		t.Parallel()
		r := mustCLI(t, addr, "", "get", ids[0], "-o", "yaml")
		var m map[string]any
		if err := yaml.UnmarshalStrict([]byte(r.stdout), &m); err != nil || m["id"] != ids[0] {
			t.Errorf("get -o yaml = %q (%v), want the article", r.stdout, err)
		}
	})
	t.Run("PageYAML", func(t *testing.T) {
		t.Parallel()
		r := mustCLI(t, addr, "", "list", "--tag", "doc", "--page-size", "2", "-o", "yaml")
		var m struct {
			Articles      []map[string]any `json:"articles"`
			NextPageToken string           `json:"nextPageToken"`
		}
		if err := yaml.UnmarshalStrict([]byte(r.stdout), &m); err != nil || len(m.Articles) != 2 || m.NextPageToken == "" {
			t.Errorf("list -o yaml = %q (%v), want the page", r.stdout, err)
		}
	})
	t.Run("WatchJSON", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"--addr", addr, "watch", "--from", "1", "-o", "json"}, strings.NewReader(""), &stdout, &stderr)
		}()
		for strings.Count(stdout.String(), `"CREATED"`) < 3 && ctx.Err() == nil {
			select {
			case <-time.After(10 * time.Millisecond):
			case code := <-done:
				t.Fatalf("watch ended early: exit %d, stderr %q", code, stderr.String())
			}
		}
		cancel() // what Ctrl-C does
		if code := <-done; code != exitOK {
			t.Fatalf("interrupted watch: exit %d, stderr %q", code, stderr.String())
		}
		var events []map[string]any
		oneJSON(t, stdout.String(), &events)
		var created int
		for _, e := range events {
			if e["type"] == "CREATED" {
				created++
			}
		}
		if len(events) == 0 || events[0]["type"] != "PROGRESS" || created != 3 {
			t.Errorf("watch -o json = %v, want PROGRESS and three CREATED in one array", events)
		}
	})
}
