package store

import (
	"context"
	"fmt"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// The articles bucket: id -> the 8-byte revision of the article's current
// version. Its content is stored once, in that revision's event (events.go).

// marshalOpts makes encodings byte-for-byte stable (labels are a map), so
// that equal articles have equal bytes.
var marshalOpts = proto.MarshalOptions{Deterministic: true}

// getArticle returns the article with the given id, unmarshalled (so valid
// after tx ends), or nil if there is none.
func getArticle(tx *bbolt.Tx, id string) (*articlesv1.Article, error) {
	v, err := articleBytes(tx, id)
	if v == nil || err != nil {
		return nil, err
	}
	a := new(articlesv1.Article)
	if err := proto.Unmarshal(v, a); err != nil {
		return nil, fmt.Errorf("corrupt article %q: %w", id, err)
	}
	return a, nil
}

// putArticle makes a, stored at revision rev, the current version of its
// id and returns its encoding, which the caller stores in rev's event.
func putArticle(b *batch, a *articlesv1.Article, rev int64) ([]byte, error) {
	v, err := marshalOpts.Marshal(a)
	if err != nil {
		return nil, err
	}
	return v, b.put(bucketArticles, []byte(a.GetId()), encodeUint(uint64(rev)))
}

// Get returns the article with the given id.
// Returns articles.ErrNotFound if there is none.
func (db *DB) Get(ctx context.Context, id string) (*articlesv1.Article, error) {
	return readArticle(db, ctx, "id", id, decodedArticle)
}

// GetBySlug returns the article with the given slug.
// Returns articles.ErrNotFound if there is none.
func (db *DB) GetBySlug(ctx context.Context, slug string) (*articlesv1.Article, error) {
	return readArticle(db, ctx, "slug", slug, decodedArticle)
}

// decodedArticle reads the article with the given id for readArticle.
func decodedArticle(tx *bbolt.Tx, id string) (*articlesv1.Article, bool, error) {
	a, err := getArticle(tx, id)
	return a, a != nil, err
}

// readArticle returns what read makes of the article named by key, an id
// or (field "slug") a slug, in one read transaction; read reports whether
// the article exists. Returns articles.ErrNotFound if it does not.
func readArticle[T any](db *DB, ctx context.Context, field, key string, read func(tx *bbolt.Tx, id string) (T, bool, error)) (T, error) {
	var (
		out   T
		found bool
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		id := key
		if field == "slug" {
			if id = slugOwner(tx, key); id == "" {
				return nil
			}
		}
		var err error
		out, found, err = read(tx, id)
		return err
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: %s %q", articles.ErrNotFound, field, key)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// BatchGet returns the articles with the given ids, in the same order, read
// in one transaction. Returns articles.ErrNotFound naming the first unknown
// id.
func (db *DB) BatchGet(ctx context.Context, ids []string) ([]*articlesv1.Article, error) {
	out := make([]*articlesv1.Article, 0, len(ids))
	var missing string
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		for _, id := range ids {
			a, err := getArticle(tx, id)
			if err != nil {
				return err
			}
			if a == nil {
				missing = id
				return nil
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) != len(ids) {
		return nil, fmt.Errorf("%w: id %q", articles.ErrNotFound, missing)
	}
	return out, nil
}
