package server

import (
	"context"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Store is what the server needs of a storage backend. The bbolt store
// (package store) and the etcd store (package etcdstore) implement it.
//
// Every method is safe for concurrent use. Errors are the sentinels of
// package articles (ErrNotFound, ErrAlreadyExists, ErrConflict, ...), wrapped
// with detail that may be shown to clients; anything else is an internal
// failure. Context errors are returned as they are.
//
// Articles passed in have been validated and normalised by the server; the
// store assigns id, create_time, update_time, revision and etag. Articles
// returned belong to the caller.
type Store interface {
	// Get returns the article with the given id.
	// Returns ErrNotFound if there is none.
	Get(ctx context.Context, id string) (*articlesv1.Article, error)

	// GetBySlug returns the article with the given slug.
	// Returns ErrNotFound if there is none.
	GetBySlug(ctx context.Context, slug string) (*articlesv1.Article, error)

	// BatchGet returns the articles with the given ids, in the same order,
	// read at one revision. Returns ErrNotFound, naming the first missing id,
	// if any id is unknown.
	BatchGet(ctx context.Context, ids []string) ([]*articlesv1.Article, error)

	// List calls fn for each article matching q, in q's order, starting just
	// after the position after (the zero Cursor: from the start), until fn
	// returns an error, limit articles have been passed (limit <= 0: no
	// limit) or the articles run out. fn's error is returned as it is. fn is never called while a read transaction is open, so it
	// may block (on a stream's Send) without holding up writers.
	List(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(*articlesv1.Article) error) error

	// Create stores a new article and returns it as stored. With a non-empty
	// requestID, a repeated call with the same requestID and the same article
	// returns the first result and changes nothing.
	// Returns ErrAlreadyExists if the slug is taken, ErrRequestIDReused if
	// requestID was used with a different article.
	Create(ctx context.Context, a *articlesv1.Article, requestID string) (*articlesv1.Article, error)

	// Update applies mutate to the stored article with the given id and
	// stores the result, atomically. When etag is not empty it must be the
	// stored article's etag. mutate runs inside the write and must be quick
	// and free of side effects; its error aborts the update and is returned
	// unchanged. Output-only fields mutate sets are ignored.
	// Returns ErrNotFound, ErrConflict (stale etag) or ErrAlreadyExists (the
	// new slug is taken).
	Update(ctx context.Context, id, etag string, mutate func(*articlesv1.Article) error) (*articlesv1.Article, error)

	// Delete removes the article with the given id. When etag is not empty it
	// must be the stored article's etag.
	// Returns ErrNotFound or ErrConflict.
	Delete(ctx context.Context, id, etag string) error

	// Import upserts a batch of articles by slug in one durable write: a new
	// slug is created, an existing one has its settable fields replaced (or
	// is counted unchanged when they are equal). Failure indexes are
	// positions in batch, in ascending order. The server cuts a client's
	// import into batches (Server.Import); a backend writes what it is
	// given.
	Import(ctx context.Context, batch []*articlesv1.Article) (*articles.ImportResult, error)

	// Changes returns up to limit change-log events with revision >= from, in
	// revision order. Returns a *articles.CompactedError (ErrCompacted) if
	// from is older than the oldest revision the log retains.
	Changes(ctx context.Context, from int64, limit int) ([]*articlesv1.ArticleEvent, error)

	// Revision returns the store-wide revision of the last committed write
	// (0 for a store that was never written).
	Revision(ctx context.Context) (int64, error)

	// WaitRevision blocks until the store's revision is at least rev or ctx
	// is done, and returns ctx.Err() in that case.
	WaitRevision(ctx context.Context, rev int64) error

	// TokenKey returns a secret of at least 32 bytes, fixed for the life of
	// the database, with which the server signs page tokens and cursors.
	TokenKey(ctx context.Context) ([]byte, error)
}

// LocalReader is optionally implemented by a Store whose reads confirm
// with other servers that they see every acknowledged write (etcd's).
// Its methods answer from what this server has already seen instead; the
// server calls them for a read with min_revision once WaitRevision
// has reached it, so the answer still holds every write up to it.
type LocalReader interface {
	// GetLocal is Get from what this server has seen.
	GetLocal(ctx context.Context, id string) (*articlesv1.Article, error)

	// GetBySlugLocal is GetBySlug from what this server has seen.
	GetBySlugLocal(ctx context.Context, slug string) (*articlesv1.Article, error)

	// BatchGetLocal is BatchGet from what this server has seen.
	BatchGetLocal(ctx context.Context, ids []string) ([]*articlesv1.Article, error)
}

// RawStore is optionally implemented by a Store that keeps each article in
// its wire encoding (the protobuf encoding of the article Get returns) and
// can hand those bytes out without decoding them. GetArticle and
// StreamArticles then send them as they are. The bytes GetRaw and
// GetRawBySlug return belong to the caller. A Store without it is read through Store's methods.
type RawStore interface {
	// GetRaw is Get, returning the article's encoding.
	GetRaw(ctx context.Context, id string) ([]byte, error)

	// GetRawBySlug is GetBySlug, returning the article's encoding.
	GetRawBySlug(ctx context.Context, slug string) ([]byte, error)

	// ListRaw is List, passing each article's encoding and its position in
	// q's order (what q.Order.CursorOf returns for it). The encoding is
	// valid only until fn returns, and fn may change it in place.
	ListRaw(ctx context.Context, q articles.Query, after articles.Cursor, limit int, fn func(raw []byte, cur articles.Cursor) error) error
}
