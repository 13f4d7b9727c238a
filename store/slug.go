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
func moveSlug(tx *bbolt.Tx, oldSlug, newSlug, id string) error {
	b := tx.Bucket(bucketSlug)
	if oldSlug == newSlug {
		return nil
	}
	if oldSlug != "" {
		if err := b.Delete([]byte(oldSlug)); err != nil {
			return err
		}
	}
	if newSlug != "" {
		return b.Put([]byte(newSlug), []byte(id))
	}
	return nil
}
