package store

import (
	"context"
	"fmt"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The events bucket: 8-byte big-endian revision -> ArticleEvent. It is the
// change log and the only copy of every article's content: CREATED and
// UPDATED events carry the whole article as stored at their revision, and
// the articles bucket maps an id to the revision of its current version.
// DELETED events carry the deleted article's id, slug and the revision of
// the delete. Every revision from compacted+1 to the current revision has
// exactly one event, written in the transaction of its write; below
// compacted+1 only the events holding a current version remain (compact.go).

// maxChanges bounds one Changes call when the caller asks for no limit.
const maxChanges = 1000

// Field numbers of ArticleEvent, for encoding events around an article's
// already marshalled bytes instead of marshalling the article twice.
const (
	eventFieldType     = 1
	eventFieldRevision = 2
	eventFieldArticle  = 3
)

// putEvent records the event of revision rev. article is the marshalled
// Article the event carries.
func putEvent(b *batch, typ articlesv1.ArticleEvent_Type, rev int64, article []byte) error {
	v := make([]byte, 0, len(article)+24)
	v = protowire.AppendTag(v, eventFieldType, protowire.VarintType)
	v = protowire.AppendVarint(v, uint64(typ))
	v = protowire.AppendTag(v, eventFieldRevision, protowire.VarintType)
	v = protowire.AppendVarint(v, uint64(rev))
	v = protowire.AppendTag(v, eventFieldArticle, protowire.BytesType)
	v = protowire.AppendBytes(v, article)
	return b.put(bucketEvents, encodeUint(uint64(rev)), v)
}

// Changes returns up to limit events (limit <= 0 or above 1000: up to 1000,
// so callers page through a long log) with revision
// >= from, in revision order. Returns a *articles.CompactedError if events
// from from on are no longer all retained.
func (db *DB) Changes(ctx context.Context, from int64, limit int) ([]*articlesv1.ArticleEvent, error) {
	if limit <= 0 || limit > maxChanges {
		limit = maxChanges
	}
	from = max(from, 1)
	var out []*articlesv1.ArticleEvent
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		compacted, err := metaUint(tx, metaCompacted)
		if err != nil {
			return err
		}
		if from <= int64(compacted) {
			return &articles.CompactedError{Requested: from, Oldest: int64(compacted) + 1}
		}
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(encodeUint(uint64(from))); k != nil && len(out) < limit; k, v = c.Next() {
			e := new(articlesv1.ArticleEvent)
			if err := proto.Unmarshal(v, e); err != nil {
				return fmt.Errorf("corrupt event %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eventField returns the value of the last field num of wire type typ in
// the marshalled message b (proto.Unmarshal also takes the last), and
// whether there is one and b is well formed up to it.
func eventField(b []byte, num protowire.Number, typ protowire.Type) (val []byte, ok bool) {
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
		l = protowire.ConsumeFieldValue(n, t, b)
		if l < 0 {
			return nil, false
		}
		if n == num && t == typ {
			val, ok = b[:l], true
		}
		b = b[l:]
	}
	return val, ok
}

// eventArticle returns the marshalled article the marshalled event v
// carries.
func eventArticle(v []byte) ([]byte, bool) {
	f, ok := eventField(v, eventFieldArticle, protowire.BytesType)
	if !ok {
		return nil, false
	}
	body, n := protowire.ConsumeBytes(f)
	return body, n >= 0
}

// eventArticleID returns the id of the article the marshalled event v
// carries (field 1 of Article), or nil.
func eventArticleID(v []byte) []byte {
	body, ok := eventArticle(v)
	if !ok {
		return nil
	}
	f, ok := eventField(body, 1, protowire.BytesType)
	if !ok {
		return nil
	}
	id, n := protowire.ConsumeBytes(f)
	if n < 0 {
		return nil
	}
	return id
}

// Revision returns the revision of the last committed write (0 for a store
// never written).
func (db *DB) Revision(ctx context.Context) (int64, error) {
	if err := db.readable(ctx); err != nil {
		return 0, err
	}
	return db.rev.value(), nil
}

// WaitRevision blocks until the store's revision is at least rev, ctx is
// done (returning ctx.Err()) or the store is closed (returning
// articles.ErrClosed).
func (db *DB) WaitRevision(ctx context.Context, rev int64) error {
	if err := db.readable(ctx); err != nil {
		return err
	}
	return db.rev.wait(ctx, rev, db.quit)
}
