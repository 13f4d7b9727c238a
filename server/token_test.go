package server_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

var tokenKey = bytes.Repeat([]byte{7}, 32)

func TestPageToken(t *testing.T) {
	t.Parallel()
	q := articles.Query{Filter: articles.Filter{Author: "Ann", PublishedAfter: time.Unix(100, 5)}, Order: articles.OrderTitle}
	cur := articles.Cursor{Key: []byte("some title\x00\xff"), ID: "01HABC"}
	tok := server.EncodePageToken(tokenKey, q, cur)
	if strings.Contains(tok, "01HABC") || strings.Contains(tok, "Ann") {
		t.Errorf("token %q shows its contents", tok)
	}
	tests := []struct {
		name string
		key  []byte
		tok  string
		q    articles.Query
		want error
	}{
		{"RoundTrip", tokenKey, tok, q, nil},
		{"OtherKey", bytes.Repeat([]byte{8}, 32), tok, q, server.ErrBadToken},
		{"OtherAuthor", tokenKey, tok, articles.Query{Filter: articles.Filter{Author: "Bob", PublishedAfter: time.Unix(100, 5)}, Order: articles.OrderTitle}, server.ErrTokenMismatch},
		{"OtherTime", tokenKey, tok, articles.Query{Filter: articles.Filter{Author: "Ann", PublishedAfter: time.Unix(100, 6)}, Order: articles.OrderTitle}, server.ErrTokenMismatch},
		{"OtherOrder", tokenKey, tok, articles.Query{Filter: q.Filter}, server.ErrTokenMismatch},
		{"Truncated", tokenKey, tok[:len(tok)-1], q, server.ErrBadToken},
		{"Empty", tokenKey, "", q, server.ErrBadToken},
		{"SearchToken", tokenKey, server.EncodeSearchToken(tokenKey, "x", q.Filter, 20), q, server.ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := server.DecodePageToken(tt.key, tt.tok, tt.q)
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("DecodePageToken = %v, want %v", err, tt.want)
			}
			if tt.want == nil && (!bytes.Equal(got.Key, cur.Key) || got.ID != cur.ID) {
				t.Errorf("cursor = %+v, want %+v", got, cur)
			}
		})
	}
	t.Run("SearchRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := server.EncodeSearchToken(tokenKey, "report", q.Filter, 40)
		if n, err := server.DecodeSearchToken(tokenKey, s, "report", q.Filter); err != nil || n != 40 {
			t.Errorf("DecodeSearchToken = %d, %v; want 40", n, err)
		}
		if _, err := server.DecodeSearchToken(tokenKey, s, "reports", q.Filter); !errors.Is(err, server.ErrTokenMismatch) {
			t.Errorf("other query: %v, want ErrTokenMismatch", err)
		}
	})
}

// FuzzDecodeToken feeds arbitrary text to the page-token decoder: it must
// never panic, must reject everything but a genuine token, and a genuine
// token must decode to the cursor it was made from.
func FuzzDecodeToken(f *testing.F) {
	q := articles.Query{Filter: articles.Filter{Tag: "go"}}
	genuine := server.EncodePageToken(tokenKey, q, articles.Cursor{Key: []byte{1, 2}, ID: "id1"})
	for _, s := range []string{"", "AQ", genuine, genuine[:len(genuine)-2], "AQEAAAAAAAAAAAA" + strings.Repeat("A", 30), strings.Repeat("_", 5000)} {
		f.Add(s, []byte{1, 2}, "id1")
	}
	f.Fuzz(func(t *testing.T, tok string, key []byte, id string) {
		cur, err := server.DecodePageToken(tokenKey, tok, q)
		if err == nil && tok != genuine {
			// Only a token signed with tokenKey can decode; the fuzzer
			// cannot forge HMAC-SHA256.
			t.Fatalf("DecodePageToken(%q) accepted a token it did not make: %+v", tok, cur)
		}
		if err != nil && !errors.Is(err, server.ErrBadToken) && !errors.Is(err, server.ErrTokenMismatch) {
			t.Fatalf("DecodePageToken(%q) = %v, want ErrBadToken", tok, err)
		}
		// Real cursors hold a sort key of at most a title's 2,000 bytes and
		// an id of at most 200 bytes (ids are ULIDs; requests with longer
		// ones are rejected), which keeps every token under maxTokenLen.
		if id == "" || len(id) > 200 || len(key) > 2000 {
			return
		}
		made := server.EncodePageToken(tokenKey, q, articles.Cursor{Key: key, ID: id})
		got, err := server.DecodePageToken(tokenKey, made, q)
		if err != nil || !bytes.Equal(got.Key, key) || got.ID != id {
			t.Fatalf("round trip of (%q, %q) = %+v, %v", key, id, got, err)
		}
	})
}

// FuzzParseListQuery checks that filter and order parsing never panics,
// and that whatever it accepts is normalised.
func FuzzParseListQuery(f *testing.F) {
	f.Add("Ann", "Go", "RIAC", "publish_time desc", int64(0), int64(0))
	f.Add("", "", "", "TITLE asc", int64(-1<<40), int64(1<<40))
	f.Add("\xff", " x ", "", "nope", int64(5), int64(3))
	f.Fuzz(func(t *testing.T, author, tag, source, order string, after, before int64) {
		req := &articlesv1.ListArticlesRequest{Author: author, Tag: tag, Source: source, OrderBy: order}
		if after != 0 {
			req.PublishedAfter = &timestamppb.Timestamp{Seconds: after}
		}
		if before != 0 {
			req.PublishedBefore = &timestamppb.Timestamp{Seconds: before}
		}
		q, bad := server.ParseListQuery(req)
		if bad > 0 {
			return
		}
		if q.Tag != strings.ToLower(q.Tag) || q.Tag != strings.TrimSpace(q.Tag) {
			t.Errorf("tag %q not normalised", q.Tag)
		}
		if !q.PublishedAfter.IsZero() && !q.PublishedBefore.IsZero() && q.PublishedAfter.After(q.PublishedBefore) {
			t.Errorf("accepted an inverted range %v > %v", q.PublishedAfter, q.PublishedBefore)
		}
		if _, err := articles.ParseOrder(q.Order.String()); err != nil {
			t.Errorf("order %v does not round-trip: %v", q.Order, err)
		}
	})
}
