package main

import (
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
		{"stdin", "Title\n\nBody.\nContinue Reading\nNext\n"},
		{"stdin", "[1, {\"title\": 2}]"},
		{"p.txt", "Connect with us\nAvatar photo\n"},
	} {
		f.Add(seed.name, []byte(seed.data))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		items, err := parseImport(name, data)
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
