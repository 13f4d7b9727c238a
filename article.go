package articles

import (
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// What every backend does the same way when it writes an article.

// ClearOutputOnly clears the fields of a that a backend assigns and a
// client cannot set: id, create_time, update_time, revision, etag and
// word_count (which the server derives from the body).
func ClearOutputOnly(a *articlesv1.Article) {
	a.Id = ""
	a.CreateTime = nil
	a.UpdateTime = nil
	a.Revision = 0
	a.Etag = ""
	a.WordCount = 0
}

// hasOutputOnly reports whether a has any field ClearOutputOnly clears.
// A create's article has none (the server clears them), so hashing it
// needs no copy.
func hasOutputOnly(a *articlesv1.Article) bool {
	return a.GetId() != "" || a.GetCreateTime() != nil || a.GetUpdateTime() != nil ||
		a.GetRevision() != 0 || a.GetEtag() != "" || a.GetWordCount() != 0
}

// Settable returns a copy of a without its output-only fields: what a
// client controls. Backends compare it to tell an unchanged import from an
// update, and hash it to tell a retried create from a reused request id.
func Settable(a *articlesv1.Article) *articlesv1.Article {
	c := proto.Clone(a).(*articlesv1.Article)
	ClearOutputOnly(c)
	return c
}

// Etag returns the etag of an article written at store revision rev.
// Revisions are unique, so the etag changes on every write.
func Etag(rev int64) string { return strconv.FormatInt(rev, 36) }

// deterministic makes encodings byte-for-byte stable (labels are a map).
var deterministic = proto.MarshalOptions{Deterministic: true}

// RequestHash returns the digest of what a create asked for: the sha256 of
// the deterministic encoding of a's settable fields. A backend keeps it
// with the request id, so that a retry with the same article is told from
// a reuse of the id with another one (ErrRequestIDReused).
func RequestHash(a *articlesv1.Article) ([]byte, error) {
	if hasOutputOnly(a) {
		a = Settable(a)
	}
	b, err := deterministic.Marshal(a)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// IDSource makes article ids: ULIDs, which are URL-safe and sort by
// creation time. Monotonic entropy keeps ids made within one millisecond
// increasing too, so that ids and create times agree on order. It is safe
// for concurrent use.
type IDSource struct {
	// mu protects entropy, which is not safe for concurrent use.
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// NewIDSource returns an IDSource drawing on crypto/rand.
func NewIDSource() *IDSource {
	return &IDSource{entropy: ulid.Monotonic(rand.Reader, 0)}
}

// Next returns a new id with the timestamp t.
func (s *IDSource) Next(t time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := ulid.New(ulid.Timestamp(t), s.entropy)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
