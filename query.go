package articles

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Filter selects articles. Its conditions are combined with AND; a zero
// Filter matches every article.
type Filter struct {
	// Author matches articles with this exact display name among Authors.
	Author string
	// Tag matches articles with this tag. It must already be normalised
	// (lowercase), as stored tags are.
	Tag string
	// Source matches articles with exactly this Source.
	Source string
	// PublishedAfter, when not zero, keeps articles published at or after it.
	PublishedAfter time.Time
	// PublishedBefore, when not zero, keeps articles published before it.
	PublishedBefore time.Time
}

// IsZero reports whether f matches every article.
func (f Filter) IsZero() bool { return f == Filter{} }

// Match reports whether a satisfies every condition of f.
func (f Filter) Match(a *articlesv1.Article) bool {
	if f.Author != "" && !slices.Contains(a.GetAuthors(), f.Author) {
		return false
	}
	if f.Tag != "" && !slices.Contains(a.GetTags(), f.Tag) {
		return false
	}
	if f.Source != "" && a.GetSource() != f.Source {
		return false
	}
	if !f.PublishedAfter.IsZero() || !f.PublishedBefore.IsZero() {
		if a.GetPublishTime() == nil {
			return false
		}
		t := a.GetPublishTime().AsTime()
		if !f.PublishedAfter.IsZero() && t.Before(f.PublishedAfter) {
			return false
		}
		if !f.PublishedBefore.IsZero() && !t.Before(f.PublishedBefore) {
			return false
		}
	}
	return true
}

// Order is a total order over articles: by a sort key, then by id.
type Order int

// The orders ListArticles accepts. The zero Order is the default.
const (
	OrderPublishTimeDesc Order = iota // "publish_time desc"
	OrderPublishTime                  // "publish_time"
	OrderCreateTime                   // "create_time"
	OrderCreateTimeDesc               // "create_time desc"
	OrderTitle                        // "title"
)

var orderNames = [...]string{
	OrderPublishTimeDesc: "publish_time desc",
	OrderPublishTime:     "publish_time",
	OrderCreateTime:      "create_time",
	OrderCreateTimeDesc:  "create_time desc",
	OrderTitle:           "title",
}

// ParseOrder parses an order_by value. The empty string is the default
// order; fields and direction are matched case-insensitively and runs of
// spaces are folded, so "Publish_Time  DESC" is accepted. "asc" is accepted
// as the explicit ascending direction.
func ParseOrder(s string) (Order, error) {
	f := strings.Fields(strings.ToLower(s))
	if len(f) == 0 {
		return OrderPublishTimeDesc, nil
	}
	if len(f) == 2 && f[1] == "asc" {
		f = f[:1]
	}
	norm := strings.Join(f, " ")
	for o, name := range orderNames {
		if name == norm {
			return Order(o), nil
		}
	}
	return 0, fmt.Errorf("unknown order_by %q: want one of %s", s, strings.Join(orderNames[:], ", "))
}

// String returns the order_by value that names o.
func (o Order) String() string {
	if o < 0 || int(o) >= len(orderNames) {
		return fmt.Sprintf("Order(%d)", int(o))
	}
	return orderNames[o]
}

// Desc reports whether o walks its sort keys from largest to smallest.
func (o Order) Desc() bool { return o == OrderPublishTimeDesc || o == OrderCreateTimeDesc }

// SortKey returns a's key in order o: bytes whose lexicographic order is the
// order's ascending order (a descending Order walks them backwards). Time
// orders use 8 big-endian bytes of the time in Unix nanoseconds with the sign
// bit flipped, so negative times sort first; a missing publish time sorts
// as the earliest possible time. The title order uses the case-folded title.
func (o Order) SortKey(a *articlesv1.Article) []byte {
	switch o {
	case OrderPublishTime, OrderPublishTimeDesc:
		return timeKey(a.GetPublishTime().AsTime(), a.GetPublishTime() == nil)
	case OrderCreateTime, OrderCreateTimeDesc:
		return timeKey(a.GetCreateTime().AsTime(), a.GetCreateTime() == nil)
	default:
		return []byte(strings.ToLower(a.GetTitle()))
	}
}

// TimeKey returns the order-preserving 8-byte encoding of t used by SortKey.
func TimeKey(t time.Time) []byte { return timeKey(t, false) }

func timeKey(t time.Time, missing bool) []byte {
	var n uint64 // missing sorts first: 0 is below every flipped time
	if !missing {
		n = uint64(t.UnixNano()) ^ (1 << 63)
	}
	return binary.BigEndian.AppendUint64(nil, n)
}

// Query is a filter and an order: what ListArticles, StreamArticles and
// their backends agree on.
type Query struct {
	Filter
	Order Order
}

// Cursor is a position in a Query's order: just after the article with
// this sort key and id. The zero Cursor is the start.
type Cursor struct {
	// Key is the SortKey of the last article seen.
	Key []byte
	// ID is the id of the last article seen.
	ID string
}

// IsZero reports whether c is the start of the order.
func (c Cursor) IsZero() bool { return c.Key == nil && c.ID == "" }

// CursorOf returns the position just after a in order o.
func (o Order) CursorOf(a *articlesv1.Article) Cursor {
	return Cursor{Key: o.SortKey(a), ID: a.GetId()}
}
