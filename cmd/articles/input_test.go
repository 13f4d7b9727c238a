package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

func TestParseImport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file, data string
		wantTitles []string
		wantWhere  []string
		wantErr    string
	}{
		{name: "JSONObject", file: "a.json", data: `{"title": "A"}`, wantTitles: []string{"A"}, wantWhere: []string{"a.json:1"}},
		{name: "JSONArray", file: "a.json", data: "[\n{\"title\": \"A\"},\n{\"title\": \"B\"}]", wantTitles: []string{"A", "B"},
			wantWhere: []string{"a.json:1: element 0", "a.json:1: element 1"}},
		{name: "JSONLines", file: "a.jsonl", data: "{\"title\": \"A\"}\n\n{\"title\": \"B\", \"publishTime\": \"2024-01-01T00:00:00Z\"}\n",
			wantTitles: []string{"A", "B"}, wantWhere: []string{"a.jsonl:1", "a.jsonl:3"}},
		{name: "ProtoNames", file: "a.ndjson", data: `{"title": "A", "author_bio": "Bio"}`, wantTitles: []string{"A"}},
		{name: "SniffedJSON", file: "stdin", data: "\uFEFF  {\"title\": \"A\"}", wantTitles: []string{"A"}},
		{name: "SniffedText", file: "stdin", data: "A title\n\nA paragraph.\n", wantTitles: []string{"A title"}},
		{name: "SeedPages", file: "p.txt", data: "First\n\nBody one.\nContinue Reading\nSecond\n\nBody two.\n",
			wantTitles: []string{"First", "Second"}, wantWhere: []string{"p.txt: article 1", "p.txt: article 2"}},
		{name: "TextExtensionWins", file: "p.txt", data: "{not json}\n", wantTitles: []string{"{not json}"}},
		{name: "Empty", file: "a.jsonl", data: "", wantTitles: nil},
		{name: "UnknownField", file: "a.json", data: `{"title": "A", "colour": "red"}`, wantErr: "a.json:1: "},
		{name: "Truncated", file: "a.jsonl", data: "{\"title\": \"A\"}\n{\"title\"", wantErr: "a.jsonl:2: "},
		{name: "NotAnObject", file: "a.jsonl", data: "42\n", wantErr: "a.jsonl:1: "},
		{name: "BadElement", file: "a.json", data: `[{"title": "A"}, 7]`, wantErr: "element 1"},
		{name: "InvalidUTF8Text", file: "p.txt", data: "Title\xff\n", wantErr: "p.txt: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, err := parseImport(tt.file, []byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseImport error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseImport: %v", err)
			}
			var gotTitles, gotWhere []string
			for _, it := range items {
				gotTitles = append(gotTitles, it.article.GetTitle())
				gotWhere = append(gotWhere, it.where)
			}
			if !slices.Equal(gotTitles, tt.wantTitles) {
				t.Errorf("titles = %q, want %q", gotTitles, tt.wantTitles)
			}
			if tt.wantWhere != nil && !slices.Equal(gotWhere, tt.wantWhere) {
				t.Errorf("where = %q, want %q", gotWhere, tt.wantWhere)
			}
		})
	}
}

func TestDecodeArticleJSONPaths(t *testing.T) {
	t.Parallel()
	// Output-only fields (as in a "get -o json" export) are not settable
	// and stay out of the update mask.
	_, paths, err := decodeArticleJSON([]byte(`{"id": "x", "etag": "e", "title": "T", "authorBio": "B", "publish_time": "2024-01-01T00:00:00Z", "revision": "3"}`))
	if err != nil {
		t.Fatalf("decodeArticleJSON: %v", err)
	}
	if want := []string{"title", "author_bio", "publish_time"}; !slices.Equal(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	t.Run("Time", func(t *testing.T) {
		for _, tt := range []struct {
			in   string
			want time.Time
			ok   bool
		}{
			{"2024-05-01", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), true},
			{"2024-05-01T12:30:00+02:00", time.Date(2024, 5, 1, 10, 30, 0, 0, time.UTC), true},
			{"2024-05-01T12:30:00.5Z", time.Date(2024, 5, 1, 12, 30, 0, 5e8, time.UTC), true},
			{"May 1", time.Time{}, false},
			{"2024-13-01", time.Time{}, false},
		} {
			got, err := parseTimeFlag("t", tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("parseTimeFlag(%q) error = %v, want ok %v", tt.in, err, tt.ok)
				continue
			}
			if tt.ok && !got.AsTime().Equal(tt.want) {
				t.Errorf("parseTimeFlag(%q) = %v, want %v", tt.in, got.AsTime(), tt.want)
			}
		}
	})
	t.Run("Labels", func(t *testing.T) {
		got, err := parseLabels([]string{"a=1", "", "b=x=y", "c="})
		if err != nil {
			t.Fatalf("parseLabels: %v", err)
		}
		if len(got) != 3 || got["a"] != "1" || got["b"] != "x=y" || got["c"] != "" {
			t.Errorf("parseLabels = %v", got)
		}
		for _, bad := range []string{"novalue", "=v"} {
			if _, err := parseLabels([]string{bad}); err == nil {
				t.Errorf("parseLabels(%q) succeeded", bad)
			}
		}
		if got, err := parseLabels([]string{""}); err != nil || got != nil {
			t.Errorf("parseLabels(\"\") = %v, %v; want no labels", got, err)
		}
	})
}

// FuzzParseImport checks that any input either fails cleanly or yields
// articles, the same ones every time.
func FuzzParseImport(f *testing.F) {
	for _, seed := range []struct{ name, data string }{
		{"a.json", `[{"title": "A", "tags": ["x"]}]`},
		{"a.jsonl", "{\"title\": \"A\"}\n{\"title\": \"B\"}\n"},
		{"a.jsonl", "{\"title\": \"A\"} {\"title\": \"B\"}\r\n\n  {\"title\": \"C\", \"labels\": {\"k\": \"v\"}}\t\n"},
		{"stdin", "Title\n\nBody.\nContinue Reading\nNext\n"},
		{"stdin", "[1, {\"title\": 2}]"},
		{"p.txt", "Connect with us\nAvatar photo\n"},
	} {
		f.Add(seed.name, []byte(seed.data))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		items, err := parseImport(name, data)
		if lines, ok := parseJSONLines(name, data); ok {
			// The JSON Lines fast path agrees with the general path.
			general, err := parseJSONCounted(name, data, &lineCounter{data: data})
			if err != nil || len(general) != len(lines) {
				t.Fatalf("fast path: %d items; general path: %d items, %v", len(lines), len(general), err)
			}
			for i := range lines {
				if !proto.Equal(lines[i].article, general[i].article) || lines[i].where != general[i].where {
					t.Fatalf("item %d: fast path %q, general path %q", i, lines[i].where, general[i].where)
				}
			}
		}
		if err != nil {
			return
		}
		again, err := parseImport(name, data)
		if err != nil || len(again) != len(items) {
			t.Fatalf("second parse differs: %d items, %v; first had %d", len(again), err, len(items))
		}
		for i := range items {
			if items[i].article == nil {
				t.Fatalf("item %d has no article", i)
			}
			if !proto.Equal(items[i].article, again[i].article) || items[i].where != again[i].where {
				t.Fatalf("item %d differs between parses", i)
			}
		}
	})
}

// FuzzFlagParsers checks that the parsers of flag values never panic and
// accept only what they can represent.
func FuzzFlagParsers(f *testing.F) {
	for _, s := range []string{"2024-05-01", "2024-05-01T12:00:00Z", "k=v", "=", "basic", "FULL", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := parseTimeFlag("t", s)
		if (s == "") != (ts == nil && err == nil) {
			t.Fatalf("parseTimeFlag(%q) = %v, %v; want nil, nil exactly for the empty string", s, ts, err)
		}
		if err == nil && ts != nil {
			if _, perr := time.Parse(time.RFC3339Nano, s); perr != nil {
				if _, derr := time.Parse(time.DateOnly, s); derr != nil {
					t.Fatalf("parseTimeFlag accepted %q, which neither layout parses", s)
				}
			}
		}
		if labels, err := parseLabels([]string{s}); err == nil {
			for k := range labels {
				if k == "" {
					t.Fatalf("parseLabels(%q) made an empty key", s)
				}
			}
		}
		if _, err := parseView(s); err == nil {
			if l := strings.ToLower(s); l != "" && l != "basic" && l != "full" {
				t.Fatalf("parseView(%q) accepted it", s)
			}
		}
	})
}

// jsonlCorpus returns n lines of JSONL articles, each with a body of
// about bodyBytes.
func jsonlCorpus(n, bodyBytes int) []byte {
	var b bytes.Buffer
	body := strings.Repeat("word ", bodyBytes/5)
	for i := range n {
		fmt.Fprintf(&b, `{"title":"Article %d","slug":"article-%d","authors":["Ann Lee"],"tags":["t%d"],"body":%q}`+"\n", i, i, i%50, body)
	}
	return b.Bytes()
}

// TestParseImportLinear checks that the general JSON path examines each input byte
// a bounded number of times to number its lines, however long the file:
// counting lines from the start for every value made a 30,000-line import
// quadratic. It counts work, not time.
func TestParseImportLinear(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 1_000, 20_000} {
		data := jsonlCorpus(n, 40)
		lines := &lineCounter{data: data}
		items, err := parseJSONCounted("a.jsonl", data, lines)
		if err != nil {
			t.Fatalf("%d lines: %v", n, err)
		}
		if len(items) != n || items[n-1].where != fmt.Sprintf("a.jsonl:%d", n) {
			t.Fatalf("%d lines: %d items, last at %q", n, len(items), items[len(items)-1].where)
		}
		if lines.scanned > 2*len(data) {
			t.Errorf("%d lines: scanned %d bytes of %d to number them, want at most twice the input", n, lines.scanned, len(data))
		}
	}
}

func TestLineCounter(t *testing.T) {
	t.Parallel()
	data := []byte("a\n\n  b\nc\n\n")
	c := lineCounter{data: data}
	for _, tt := range []struct{ off, want int }{
		{0, 1}, {1, 3}, {2, 3}, {6, 4}, {7, 4}, {8, 6}, {0, 1}, // the last one goes back
	} {
		if got := c.at(tt.off); got != tt.want {
			t.Errorf("at(%d) = %d, want %d", tt.off, got, tt.want)
		}
	}
}

// BenchmarkParseImport parses a JSONL file of 100,000 articles (about 500
// bytes each) as "articles import" does, beside reading the same file
// from disk (ReadFile), the baseline the parse is compared to.
func BenchmarkParseImport(b *testing.B) {
	path := filepath.Join(b.TempDir(), "corpus.jsonl")
	if err := os.WriteFile(path, jsonlCorpus(100_000, 400), 0o600); err != nil {
		b.Fatal(err)
	}
	size, _ := os.Stat(path)
	b.Run("ReadFile", func(b *testing.B) {
		b.SetBytes(size.Size())
		for b.Loop() {
			if _, err := os.ReadFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parse", func(b *testing.B) {
		b.SetBytes(size.Size())
		for b.Loop() {
			data, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			items, err := parseImport(path, data)
			if err != nil || len(items) != 100_000 {
				b.Fatalf("parsed %d items: %v", len(items), err)
			}
		}
	})
}
