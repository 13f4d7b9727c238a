package articles_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func TestParseOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    articles.Order
		wantErr bool
	}{
		{"", articles.OrderPublishTimeDesc, false},
		{"publish_time desc", articles.OrderPublishTimeDesc, false},
		{"  Publish_Time   DESC ", articles.OrderPublishTimeDesc, false},
		{"publish_time", articles.OrderPublishTime, false},
		{"publish_time asc", articles.OrderPublishTime, false},
		{"create_time", articles.OrderCreateTime, false},
		{"create_time desc", articles.OrderCreateTimeDesc, false},
		{"title", articles.OrderTitle, false},
		{"title desc", 0, true},
		{"word_count", 0, true},
		{"publish_time desc extra", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := articles.ParseOrder(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseOrder(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("ParseOrder(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestOrderStringRoundTrip(t *testing.T) {
	t.Parallel()
	for o := articles.OrderPublishTimeDesc; o <= articles.OrderTitle; o++ {
		got, err := articles.ParseOrder(o.String())
		if err != nil || got != o {
			t.Errorf("ParseOrder(%q) = %v, %v; want %v", o.String(), got, err, o)
		}
	}
}

func TestSortKeyOrdersTimes(t *testing.T) {
	t.Parallel()
	at := func(s string) *articlesv1.Article {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return &articlesv1.Article{PublishTime: timestamppb.New(ts)}
	}
	// Ascending by time, including before 1970; a missing time sorts first.
	in := []*articlesv1.Article{{}, at("1901-01-01T00:00:00Z"), at("1969-12-31T23:59:59Z"), at("1970-01-01T00:00:00Z"), at("2022-02-21T10:00:00Z")}
	for i := 1; i < len(in); i++ {
		a, b := articles.OrderPublishTime.SortKey(in[i-1]), articles.OrderPublishTime.SortKey(in[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key %d (%x) not below key %d (%x)", i-1, a, i, b)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	pub := time.Date(2023, 3, 20, 0, 0, 0, 0, time.UTC)
	a := &articlesv1.Article{
		Authors:     []string{"Giancarlo Elia Valori"},
		Tags:        []string{"russia", "china"},
		Source:      "RIAC",
		PublishTime: timestamppb.New(pub),
	}
	tests := []struct {
		name string
		f    articles.Filter
		want bool
	}{
		{"zero", articles.Filter{}, true},
		{"author", articles.Filter{Author: "Giancarlo Elia Valori"}, true},
		{"other author", articles.Filter{Author: "Valori"}, false},
		{"tag", articles.Filter{Tag: "china"}, true},
		{"missing tag", articles.Filter{Tag: "usa"}, false},
		{"source", articles.Filter{Source: "RIAC"}, true},
		{"other source", articles.Filter{Source: "riac"}, false},
		{"after inclusive", articles.Filter{PublishedAfter: pub}, true},
		{"after later", articles.Filter{PublishedAfter: pub.Add(time.Second)}, false},
		{"before exclusive", articles.Filter{PublishedBefore: pub}, false},
		{"before later", articles.Filter{PublishedBefore: pub.Add(time.Second)}, true},
		{"all", articles.Filter{Author: "Giancarlo Elia Valori", Tag: "russia", Source: "RIAC", PublishedAfter: pub, PublishedBefore: pub.Add(time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.Match(a); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unpublished never matches a time range", func(t *testing.T) {
		if (articles.Filter{PublishedBefore: pub}).Match(&articlesv1.Article{}) {
			t.Error("article without publish_time matched a published_before filter")
		}
	})
}

func TestCompactedError(t *testing.T) {
	t.Parallel()
	var err error = &articles.CompactedError{Requested: 3, Oldest: 10}
	if !errors.Is(err, articles.ErrCompacted) {
		t.Error("CompactedError does not match ErrCompacted")
	}
	if errors.Is(err, articles.ErrNotFound) {
		t.Error("CompactedError matches ErrNotFound")
	}
	var ce *articles.CompactedError
	if !errors.As(err, &ce) || ce.Oldest != 10 {
		t.Errorf("errors.As gave %+v", ce)
	}
}

func FuzzParseOrder(f *testing.F) {
	for _, s := range []string{"", "title", "publish_time desc", "create_time  DESC", "x y z"} {
		f.Add(s)
	}
	valid := []string{"publish_time desc", "publish_time", "create_time", "create_time desc", "title"}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := articles.ParseOrder(s)
		if err != nil {
			return
		}
		if !slices.Contains(valid, o.String()) {
			t.Fatalf("ParseOrder(%q) = %v, not a valid order", s, o)
		}
	})
}
