package store

import (
	"bytes"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
)

// Secondary indexes. Order indexes hold esc(sort key) + id for every
// article; the author, tag and source indexes hold esc(value) + id for each
// value an article has. Values are empty: the key is the whole entry.

// escapeKey appends the order-preserving escape of part to dst: 0x00 becomes
// 0x00 0xFF and the part ends with 0x00 0x01. Because the terminator sorts
// below every escaped byte, esc(a)+x < esc(b)+y exactly when a < b, or a == b
// and x < y: a variable-length key followed by an id keeps the pair's order.
func escapeKey(dst, part []byte) []byte {
	for _, c := range part {
		if c == 0 {
			dst = append(dst, 0, 0xFF)
			continue
		}
		dst = append(dst, c)
	}
	return append(dst, 0, 1)
}

// indexKey returns esc(part) + id.
func indexKey(part []byte, id string) []byte {
	k := escapeKey(make([]byte, 0, len(part)+2+len(id)), part)
	return append(k, id...)
}

// idFromIndexKey returns the id at the end of an index key: everything after
// the first terminator (0x00 0x01).
func idFromIndexKey(k []byte) string {
	for i := 0; i+1 < len(k); i++ {
		if k[i] == 0 {
			if k[i+1] == 1 {
				return string(k[i+2:])
			}
			i++ // skip the escaped byte
		}
	}
	return ""
}

// orderIndexes pairs each order index bucket with the order whose sort key
// it holds.
var orderIndexes = []struct {
	bucket []byte
	order  articles.Order
}{
	{bucketPublishTime, articles.OrderPublishTime},
	{bucketCreateTime, articles.OrderCreateTime},
	{bucketTitle, articles.OrderTitle},
}

// orderBucket returns the index bucket that holds o's sort keys.
func orderBucket(o articles.Order) []byte {
	switch o {
	case articles.OrderPublishTime, articles.OrderPublishTimeDesc:
		return bucketPublishTime
	case articles.OrderCreateTime, articles.OrderCreateTimeDesc:
		return bucketCreateTime
	default:
		return bucketTitle
	}
}

// indexKeys returns every secondary index key of a, by bucket.
func indexKeys(a *articlesv1.Article) map[string][][]byte {
	id := a.GetId()
	keys := make(map[string][][]byte, 6)
	for _, oi := range orderIndexes {
		keys[string(oi.bucket)] = [][]byte{indexKey(oi.order.SortKey(a), id)}
	}
	for _, au := range a.GetAuthors() {
		keys[string(bucketAuthor)] = append(keys[string(bucketAuthor)], indexKey([]byte(au), id))
	}
	for _, t := range a.GetTags() {
		keys[string(bucketTag)] = append(keys[string(bucketTag)], indexKey([]byte(t), id))
	}
	if s := a.GetSource(); s != "" {
		keys[string(bucketSource)] = [][]byte{indexKey([]byte(s), id)}
	}
	return keys
}

// reindex moves a's index entries from old to new (either may be nil),
// touching only the keys that change.
func reindex(bt *batch, old, new *articlesv1.Article) error {
	var oldKeys, newKeys map[string][][]byte
	if old != nil {
		oldKeys = indexKeys(old)
	}
	if new != nil {
		newKeys = indexKeys(new)
	}
	for _, name := range [][]byte{bucketPublishTime, bucketCreateTime, bucketTitle, bucketAuthor, bucketTag, bucketSource} {
		ok, nk := oldKeys[string(name)], newKeys[string(name)]
		for _, k := range ok {
			if !containsKey(nk, k) {
				if err := bt.del(name, k); err != nil {
					return err
				}
			}
		}
		for _, k := range nk {
			if !containsKey(ok, k) {
				if err := bt.put(name, k, []byte{}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// idSet returns the ids in the value index bucket under value.
func idSet(tx *bbolt.Tx, bucket []byte, value string) map[string]struct{} {
	prefix := escapeKey(nil, []byte(value))
	set := make(map[string]struct{})
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		set[string(k[len(prefix):])] = struct{}{}
	}
	return set
}
