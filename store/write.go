package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Writes. Each method builds an op for the committer (commit.go). Every op
// does all its checks first and mutates only after they pass, so an error
// from a check leaves the batch's transaction untouched.

// stamp sets the fields a write assigns: update time, revision and etag.
func stamp(a *articlesv1.Article, now time.Time, rev int64) {
	a.UpdateTime = timestamppb.New(now)
	a.Revision = rev
	a.Etag = articles.Etag(rev)
}

// writeArticle stores the write from old to new (old nil: create; new nil:
// delete) with its indexes and its event, at revision rev. Its
// errors are mutation errors: the batch must roll back.
func writeArticle(b *batch, old, new *articlesv1.Article, rev int64) error {
	var (
		typ     articlesv1.ArticleEvent_Type
		payload []byte
		err     error
	)
	switch {
	case new == nil:
		typ = articlesv1.ArticleEvent_DELETED
		if err = b.del(bucketArticles, []byte(old.GetId())); err != nil {
			return mutated(err)
		}
		tomb := &articlesv1.Article{Id: old.GetId(), Slug: old.GetSlug(), Revision: rev}
		if payload, err = marshalOpts.Marshal(tomb); err != nil {
			return mutated(err)
		}
	default:
		typ = articlesv1.ArticleEvent_UPDATED
		if old == nil {
			typ = articlesv1.ArticleEvent_CREATED
		}
		if payload, err = putArticle(b, new, rev); err != nil {
			return mutated(err)
		}
	}
	// A superseded version older than the retained history is no longer
	// anyone's: compaction kept it only while it was current.
	if old != nil && old.GetRevision() <= b.compacted() {
		if err := b.del(bucketEvents, encodeUint(uint64(old.GetRevision()))); err != nil {
			return mutated(err)
		}
	}
	if err := moveSlug(b, old.GetSlug(), new.GetSlug(), new.GetId()); err != nil {
		return mutated(err)
	}
	if err := reindex(b, old, new); err != nil {
		return mutated(err)
	}
	return mutated(putEvent(b, typ, rev, payload))
}

// Create stores a new article and returns it as stored. With a non-empty
// requestID, a repeated call with the same requestID and the same article
// returns the article it created (as it is now) and changes nothing.
// Returns articles.ErrAlreadyExists if the slug is taken,
// articles.ErrRequestIDReused if requestID was used with a different
// article, and articles.ErrNotFound if requestID created an article that has
// since been deleted.
func (db *DB) Create(ctx context.Context, in *articlesv1.Article, requestID string) (*articlesv1.Article, error) {
	if in.GetSlug() == "" {
		return nil, errors.New("store: create: article has no slug")
	}
	var hash []byte
	if requestID != "" {
		var err error
		if hash, err = articles.RequestHash(in); err != nil {
			return nil, err
		}
	}
	var out *articlesv1.Article
	err := db.submit(ctx, func(b *batch) error {
		out = nil
		if requestID != "" {
			if id, same := lookupRequest(b.tx, requestID, hash); id != "" {
				if !same {
					return fmt.Errorf("%w: request_id %q", articles.ErrRequestIDReused, requestID)
				}
				a, err := getArticle(b.tx, id)
				if err != nil {
					return err
				}
				if a == nil {
					return fmt.Errorf("%w: id %q, created by request_id %q, has been deleted", articles.ErrNotFound, id, requestID)
				}
				out = a
				return nil
			}
		}
		a, err := db.newArticle(b, in)
		if err != nil {
			return err
		}
		// Checks passed: mutate.
		if err := writeArticle(b, nil, a, a.GetRevision()); err != nil {
			return err
		}
		if requestID != "" {
			if err := putRequest(b, requestID, a.GetId(), hash); err != nil {
				return mutated(err)
			}
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newArticle checks that in's slug is free and returns the article to
// create from it, with a new id, its times and the next revision. It does
// not mutate b.
func (db *DB) newArticle(b *batch, in *articlesv1.Article) (*articlesv1.Article, error) {
	if owner := slugOwner(b.tx, in.GetSlug()); owner != "" {
		return nil, fmt.Errorf("%w: slug %q", articles.ErrAlreadyExists, in.GetSlug())
	}
	now := time.Now()
	id, err := db.ids.Next(now)
	if err != nil {
		return nil, fmt.Errorf("store: make id: %w", err)
	}
	a := proto.Clone(in).(*articlesv1.Article)
	a.Id = id
	a.CreateTime = timestamppb.New(now)
	stamp(a, now, b.nextRev())
	return a, nil
}

// Update applies mutate to a copy of the stored article with the given id
// and stores the result. When etag is not empty it must be the stored
// article's etag. mutate's error aborts the update and is returned as it
// is; the output-only fields id, create_time, update_time, revision and etag
// are restored after it runs (word_count is left as mutate sets it: the
// server derives it from the body).
// Returns articles.ErrNotFound, articles.ErrConflict or
// articles.ErrAlreadyExists (the new slug is taken).
func (db *DB) Update(ctx context.Context, id, etag string, mutate func(*articlesv1.Article) error) (*articlesv1.Article, error) {
	var out *articlesv1.Article
	err := db.submit(ctx, func(b *batch) error {
		out = nil
		old, err := getArticle(b.tx, id)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("%w: id %q", articles.ErrNotFound, id)
		}
		if etag != "" && etag != old.GetEtag() {
			return fmt.Errorf("%w: id %q has etag %q, not %q", articles.ErrConflict, id, old.GetEtag(), etag)
		}
		a := proto.Clone(old).(*articlesv1.Article)
		if err := mutate(a); err != nil {
			return err
		}
		a.Id = old.GetId()
		a.CreateTime = old.GetCreateTime()
		if a.GetSlug() != old.GetSlug() {
			if a.GetSlug() == "" {
				return errors.New("store: update: article has no slug")
			}
			if owner := slugOwner(b.tx, a.GetSlug()); owner != "" && owner != id {
				return fmt.Errorf("%w: slug %q", articles.ErrAlreadyExists, a.GetSlug())
			}
		}
		rev := b.nextRev()
		stamp(a, time.Now(), rev)
		if err := writeArticle(b, old, a, rev); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the article with the given id. When etag is not empty it
// must be the stored article's etag.
// Returns articles.ErrNotFound or articles.ErrConflict.
func (db *DB) Delete(ctx context.Context, id, etag string) error {
	return db.submit(ctx, func(b *batch) error {
		old, err := getArticle(b.tx, id)
		if err != nil {
			return err
		}
		if old == nil {
			return fmt.Errorf("%w: id %q", articles.ErrNotFound, id)
		}
		if etag != "" && etag != old.GetEtag() {
			return fmt.Errorf("%w: id %q has etag %q, not %q", articles.ErrConflict, id, old.GetEtag(), etag)
		}
		return writeArticle(b, old, nil, b.nextRev())
	})
}

// Import upserts batch by slug in one durable write: a new slug is created,
// an existing one has its settable fields replaced, or is counted unchanged
// (taking no revision and making no event) when they are equal. Articles
// without a slug are reported as failures, by position in batch.
func (db *DB) Import(ctx context.Context, arts []*articlesv1.Article) (*articles.ImportResult, error) {
	var resp *articles.ImportResult
	err := db.submit(ctx, func(b *batch) error {
		resp = &articles.ImportResult{}
		fail := func(i int, reason string) {
			resp.Failures = append(resp.Failures, articles.ImportFailure{Index: i, Reason: reason})
		}
		for i, in := range arts {
			switch {
			case in == nil:
				fail(i, "article is missing")
				continue
			case in.GetSlug() == "":
				fail(i, "article has no slug")
				continue
			}
			ownerID := slugOwner(b.tx, in.GetSlug())
			if ownerID == "" {
				a, err := db.newArticle(b, in)
				if err != nil {
					fail(i, err.Error())
					continue
				}
				if err := writeArticle(b, nil, a, a.GetRevision()); err != nil {
					return err
				}
				resp.Created++
				continue
			}
			old, err := getArticle(b.tx, ownerID)
			if err != nil {
				return mutated(err)
			}
			if old == nil {
				return mutated(fmt.Errorf("slug index names missing article %q", ownerID))
			}
			if proto.Equal(articles.Settable(old), articles.Settable(in)) {
				resp.Unchanged++
				continue
			}
			a := proto.Clone(in).(*articlesv1.Article)
			a.Id = old.GetId()
			a.CreateTime = old.GetCreateTime()
			rev := b.nextRev()
			stamp(a, time.Now(), rev)
			if err := writeArticle(b, old, a, rev); err != nil {
				return err
			}
			resp.Updated++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
