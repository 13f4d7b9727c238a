package server

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
)

// maxFilterChars bounds each text filter; longer values cannot match any
// stored article.
const maxFilterChars = 1000

// filterRequest is what ListArticles, StreamArticles and SearchArticles
// requests share.
type filterRequest interface {
	GetAuthor() string
	GetTag() string
	GetSource() string
	GetPublishedAfter() *timestamppb.Timestamp
	GetPublishedBefore() *timestamppb.Timestamp
}

// parseFilter checks a request's filters and normalises them as stored
// values are: tag lowercased and trimmed, author and source trimmed.
func parseFilter(r filterRequest) (articles.Filter, []*errdetails.BadRequest_FieldViolation) {
	var f articles.Filter
	var vs []*errdetails.BadRequest_FieldViolation
	str := func(field, s string) string {
		if !utf8.ValidString(s) {
			vs = append(vs, violation(field, "must be valid UTF-8"))
			return ""
		}
		if n := utf8.RuneCountInString(s); n > maxFilterChars {
			vs = append(vs, violation(field, "must be at most %d characters, not %d", maxFilterChars, n))
			return ""
		}
		return strings.TrimSpace(s)
	}
	f.Author = str("author", r.GetAuthor())
	f.Tag = strings.ToLower(str("tag", r.GetTag()))
	f.Source = str("source", r.GetSource())
	ts := func(field string, t *timestamppb.Timestamp) {
		if t == nil {
			return
		}
		if err := t.CheckValid(); err != nil {
			vs = append(vs, violation(field, "is not a valid timestamp"))
			return
		}
		if field == "published_after" {
			f.PublishedAfter = t.AsTime()
		} else {
			f.PublishedBefore = t.AsTime()
		}
	}
	ts("published_after", r.GetPublishedAfter())
	ts("published_before", r.GetPublishedBefore())
	if !f.PublishedAfter.IsZero() && !f.PublishedBefore.IsZero() && f.PublishedAfter.After(f.PublishedBefore) {
		vs = append(vs, violation("published_after", "must not be after published_before"))
	}
	return f, vs
}

// parseQuery checks a request's filters and order_by.
func parseQuery(r filterRequest, orderBy string) (articles.Query, []*errdetails.BadRequest_FieldViolation) {
	f, vs := parseFilter(r)
	o, err := articles.ParseOrder(orderBy)
	switch {
	case err == nil:
	case len(orderBy) > maxEcho:
		// ParseOrder's error quotes the value: not a long one.
		vs = append(vs, violation("order_by", "unknown order_by %q", clip(strings.ToValidUTF8(orderBy, "?"), maxEcho)))
	default:
		vs = append(vs, violation("order_by", "%s", strings.ToValidUTF8(err.Error(), "?")))
	}
	return articles.Query{Filter: f, Order: o}, vs
}
