package store

import (
	"go.etcd.io/bbolt"
)

// The idx_slug bucket: slug -> id. It is the uniqueness constraint on slugs:
// a write checks slugOwner before claiming a slug.

// slugOwner returns the id of the article with the given slug, or "".
func slugOwner(tx *bbolt.Tx, slug string) string {
	if slug == "" {
		return ""
	}
	return string(tx.Bucket(bucketSlug).Get([]byte(slug)))
}

// moveSlug points the slug index from old's slug to new's (either may be
// "", for a create or a delete).
func moveSlug(b *batch, oldSlug, newSlug, id string) error {
	if oldSlug == newSlug {
		return nil
	}
	if oldSlug != "" {
		if err := b.del(bucketSlug, []byte(oldSlug)); err != nil {
			return err
		}
	}
	if newSlug != "" {
		return b.put(bucketSlug, []byte(newSlug), []byte(id))
	}
	return nil
}
