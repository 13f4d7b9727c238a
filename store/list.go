package store

import (
	"bytes"
	"context"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
)

// listChunk bounds the index keys one List read transaction visits, so a
// scan never holds a read transaction for long (see Caveats in doc.go).
const listChunk = 256

// List calls fn for each article matching q, in q's order, starting just
// after the position after (the zero Cursor: from the start), until fn
// returns an error, limit articles have been passed (limit <= 0: no limit)
// or the articles run out. fn's error is returned as it is.
//
// The scan walks q's order index in read transactions of at most 256 keys
// and calls fn only between them, so fn may block. An article that exists
// for the whole scan is passed exactly once; one written during the scan is
// passed at most once, in the version read when the scan reached it.
func (db *DB) List(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error {
	if err := db.readable(ctx); err != nil {
		return err
	}
	members, err := db.filterSet(ctx, q.Filter)
	if err != nil {
		return err
	}
	s := newScan(q, after)
	sent := 0
	for {
		want := listChunk
		if limit > 0 {
			want = min(want, limit-sent)
		}
		var page []*articlesv1.Article
		err := db.view(ctx, func(tx *bbolt.Tx) error {
			var err error
			page, err = s.next(tx, members, want)
			return err
		})
		if err != nil {
			return err
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
			sent++
		}
		if s.done || (limit > 0 && sent >= limit) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// filterSet returns the ids that satisfy the filter's author, tag and source
// conditions, read from their indexes (one short transaction each), or nil
// when none is set (every id may match). The most selective set is the one
// kept: the others' conditions are checked on each article anyway.
func (db *DB) filterSet(ctx context.Context, f articles.Filter) (map[string]struct{}, error) {
	return articles.SmallestSet(ctx, f, func(ctx context.Context, c articles.Condition) (map[string]struct{}, error) {
		var set map[string]struct{}
		err := db.view(ctx, func(tx *bbolt.Tx) error {
			set = idSet(tx, indexBucket[c.Field], c.Value)
			return nil
		})
		return set, err
	})
}

// indexBucket is the index bucket of each indexed field.
var indexBucket = map[articles.IndexedField][]byte{
	articles.FieldAuthor: bucketAuthor,
	articles.FieldTag:    bucketTag,
	articles.FieldSource: bucketSource,
}

// scan is a List in progress: a position in an order index that survives
// between read transactions.
type scan struct {
	q      articles.Query
	bucket []byte
	desc   bool
	// pos is the last key visited ("strictly after it" in the walk's
	// direction); nil means the walk has not started.
	pos []byte
	// lo and hi bound the walk: keys >= lo and < hi (nil: unbounded).
	lo, hi []byte
	done   bool
}

func newScan(q articles.Query, after articles.Cursor) *scan {
	s := &scan{q: q, bucket: orderBucket(q.Order), desc: q.Order.Desc()}
	if !after.IsZero() {
		s.pos = indexKey(after.Key, after.ID)
	}
	// Publish-time bounds become key bounds when walking the publish index.
	if s.bucket != nil && bytes.Equal(s.bucket, bucketPublishTime) {
		if t := q.PublishedAfter; !t.IsZero() && inNanoRange(t) {
			s.lo = escapeKey(nil, articles.TimeKey(t))
		}
		if t := q.PublishedBefore; !t.IsZero() && inNanoRange(t) {
			s.hi = escapeKey(nil, articles.TimeKey(t))
		}
	}
	return s
}

// inNanoRange reports whether t has a Unix-nanosecond form, which TimeKey
// needs to be order-preserving.
func inNanoRange(t time.Time) bool {
	return t.After(time.Unix(0, -1<<63)) && t.Before(time.Unix(0, 1<<63-1))
}

// next returns up to want matching articles, visiting at most listChunk
// keys, and advances the position. It sets done when the walk is over.
func (s *scan) next(tx *bbolt.Tx, members map[string]struct{}, want int) ([]*articlesv1.Article, error) {
	c := tx.Bucket(s.bucket).Cursor()
	k := s.first(c)
	var out []*articlesv1.Article
	for visited := 0; ; visited++ {
		if k == nil || s.outOfRange(k) {
			s.done = true
			return out, nil
		}
		if visited == listChunk || len(out) == want {
			return out, nil
		}
		s.pos = append(s.pos[:0:0], k...)
		id := idFromIndexKey(k)
		if _, ok := members[id]; members == nil || ok {
			a, err := getArticle(tx, id)
			if err != nil {
				return nil, err
			}
			if a != nil && s.q.Filter.Match(a) {
				out = append(out, a)
			}
		}
		if s.desc {
			k, _ = c.Prev()
		} else {
			k, _ = c.Next()
		}
	}
}

// first positions c on the first key to visit: just after pos in the walk's
// direction, or at the start of the range.
func (s *scan) first(c *bbolt.Cursor) []byte {
	if !s.desc {
		from := s.pos
		if s.lo != nil && (from == nil || bytes.Compare(from, s.lo) < 0) {
			k, _ := c.Seek(s.lo)
			return k
		}
		if from == nil {
			k, _ := c.First()
			return k
		}
		k, _ := c.Seek(from)
		if k != nil && bytes.Equal(k, from) {
			k, _ = c.Next()
		}
		return k
	}
	// Descending: the last key strictly below the bound.
	bound := s.pos
	if s.hi != nil && (bound == nil || bytes.Compare(s.hi, bound) < 0) {
		bound = s.hi
	}
	if bound == nil {
		k, _ := c.Last()
		return k
	}
	if k, _ := c.Seek(bound); k == nil {
		k, _ = c.Last()
		return k
	}
	k, _ := c.Prev()
	return k
}

// outOfRange reports whether key k lies past the walk's bound in its
// direction.
func (s *scan) outOfRange(k []byte) bool {
	if s.desc {
		return s.lo != nil && bytes.Compare(k, s.lo) < 0
	}
	return s.hi != nil && bytes.Compare(k, s.hi) >= 0
}
