package store

import (
	"context"
	"fmt"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Raw reads: articles in their stored encoding, which is the deterministic
// protobuf encoding of the article as Get returns it, so a server can send
// it to a client without decoding and encoding it again. The bytes are
// copied out of the read transaction and belong to the caller.

// articleBytes returns the stored encoding of the article with the given
// id, valid only inside tx, or nil if there is none.
func articleBytes(tx *bbolt.Tx, id string) ([]byte, error) {
	rev := tx.Bucket(bucketArticles).Get([]byte(id))
	if rev == nil {
		return nil, nil
	}
	v := tx.Bucket(bucketEvents).Get(rev)
	if v == nil {
		return nil, fmt.Errorf("corrupt article %q: no event at its revision %x", id, rev)
	}
	body, ok := eventArticle(v)
	if !ok {
		return nil, fmt.Errorf("corrupt event %x of article %q", rev, id)
	}
	return body, nil
}

// GetRaw returns the encoding of the article with the given id.
// Returns articles.ErrNotFound if there is none.
func (db *DB) GetRaw(ctx context.Context, id string) ([]byte, error) {
	return readArticle(db, ctx, "id", id, copiedBytes)
}

// GetRawBySlug returns the encoding of the article with the given slug.
// Returns articles.ErrNotFound if there is none.
func (db *DB) GetRawBySlug(ctx context.Context, slug string) ([]byte, error) {
	return readArticle(db, ctx, "slug", slug, copiedBytes)
}

// copiedBytes reads a copy of the encoding of the article with the given
// id for readArticle.
func copiedBytes(tx *bbolt.Tx, id string) ([]byte, bool, error) {
	v, err := articleBytes(tx, id)
	if v == nil {
		return nil, false, err
	}
	return append([]byte(nil), v...), true, err
}

// ListRaw is List with each article passed as its encoding and its
// position in q's order (the cursor to resume just after it). fn is never
// called inside a read transaction. raw is valid only until fn returns
// (fn may change it in place): the articles of a page are copied into one
// buffer that the next page reuses.
//
// Without filter conditions an article is not decoded at all; with them it
// is decoded to be matched, and still passed as stored.
func (db *DB) ListRaw(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(raw []byte, cur articles.Cursor) error) error {
	if err := db.readable(ctx); err != nil {
		return err
	}
	members, err := db.filterSet(ctx, q.Filter)
	if err != nil {
		return err
	}
	s := newScan(q, after)
	sent := 0
	var page rawPage
	for {
		want := listChunk
		if limit > 0 {
			want = min(want, limit-sent)
		}
		page.reset()
		err := db.view(ctx, func(tx *bbolt.Tx) error {
			return s.nextRaw(tx, members, want, &page)
		})
		if err != nil {
			return err
		}
		for _, r := range page.arts {
			if err := fn(page.buf[r.start:r.end:r.end], r.cur); err != nil {
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

// rawPage is one read transaction's articles of a raw listing: their
// bytes, copied out of the transaction one after another into buf, and
// where each one is.
type rawPage struct {
	buf  []byte
	arts []rawArticle
}

type rawArticle struct {
	start, end int
	cur        articles.Cursor
}

func (p *rawPage) reset() {
	p.buf = p.buf[:0]
	clear(p.arts)
	p.arts = p.arts[:0]
}

// nextRaw is scan.next for ListRaw: it adds up to want matching articles
// to page, visiting at most listChunk keys.
func (s *scan) nextRaw(tx *bbolt.Tx, members map[string]struct{}, want int, page *rawPage) error {
	c := tx.Bucket(s.bucket).Cursor()
	k := s.first(c)
	match := !s.q.Filter.IsZero()
	for visited := 0; ; visited++ {
		if k == nil || s.outOfRange(k) {
			s.done = true
			return nil
		}
		if visited == listChunk || len(page.arts) == want {
			return nil
		}
		s.pos = append(s.pos[:0:0], k...)
		cur := cursorOfIndexKey(k)
		if _, ok := members[cur.ID]; members == nil || ok {
			v, err := articleBytes(tx, cur.ID)
			if err != nil {
				return err
			}
			keep := v != nil
			if keep && match {
				a := new(articlesv1.Article)
				if err := proto.Unmarshal(v, a); err != nil {
					return fmt.Errorf("corrupt article %q: %w", cur.ID, err)
				}
				keep = s.q.Filter.Match(a)
			}
			if keep {
				start := len(page.buf)
				page.buf = append(page.buf, v...)
				page.arts = append(page.arts, rawArticle{start: start, end: len(page.buf), cur: cur})
			}
		}
		if s.desc {
			k, _ = c.Prev()
		} else {
			k, _ = c.Next()
		}
	}
}

// cursorOfIndexKey returns the position an order index key esc(key) + id
// names: the cursor CursorOf returns for that article.
func cursorOfIndexKey(k []byte) articles.Cursor {
	key := make([]byte, 0, 16)
	for i := 0; i+1 < len(k); i++ {
		if k[i] == 0 {
			if k[i+1] == 1 {
				return articles.Cursor{Key: key, ID: string(k[i+2:])}
			}
			key = append(key, 0)
			i++ // skip the escape
			continue
		}
		key = append(key, k[i])
	}
	return articles.Cursor{Key: key}
}
