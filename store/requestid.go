package store

import (
	"bytes"
	"crypto/sha256"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// The request_ids bucket: request_id -> id + sha256(request). It makes a
// retried create idempotent (AIP-155): the same request id with the same
// article finds the article it created; with another article it is
// ErrRequestIDReused. Entries are kept forever (see Caveats in doc.go).

// requestHash returns the digest of what a create asked for: the article's
// settable fields, in a deterministic encoding.
func requestHash(a *articlesv1.Article) ([]byte, error) {
	b, err := marshalOpts.Marshal(settable(a))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// settable returns a copy of a without its output-only fields: what a client
// controls, and what Import compares.
func settable(a *articlesv1.Article) *articlesv1.Article {
	c := proto.Clone(a).(*articlesv1.Article)
	c.Id = ""
	c.CreateTime = nil
	c.UpdateTime = nil
	c.Revision = 0
	c.Etag = ""
	c.WordCount = 0
	return c
}

// lookupRequest returns the id created for requestID and whether hash
// matches the request that created it; id is "" for an unknown request id.
func lookupRequest(tx *bbolt.Tx, requestID string, hash []byte) (id string, same bool) {
	v := tx.Bucket(bucketRequestIDs).Get([]byte(requestID))
	if len(v) < sha256.Size {
		return "", false
	}
	n := len(v) - sha256.Size
	return string(v[:n]), bytes.Equal(v[n:], hash)
}

// putRequest records that requestID created the article id.
func putRequest(tx *bbolt.Tx, requestID, id string, hash []byte) error {
	v := make([]byte, 0, len(id)+len(hash))
	v = append(append(v, id...), hash...)
	return tx.Bucket(bucketRequestIDs).Put([]byte(requestID), v)
}
