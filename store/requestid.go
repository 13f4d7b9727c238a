package store

import (
	"bytes"
	"crypto/sha256"

	"go.etcd.io/bbolt"
)

// The request_ids bucket: request_id -> id + sha256(request). It makes a
// retried create idempotent (AIP-155): the same request id with the same
// article finds the article it created; with another article it is
// ErrRequestIDReused. Entries are kept forever (see Caveats in doc.go).

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
func putRequest(b *batch, requestID, id string, hash []byte) error {
	v := make([]byte, 0, len(id)+len(hash))
	v = append(append(v, id...), hash...)
	return b.put(bucketRequestIDs, []byte(requestID), v)
}
