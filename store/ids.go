package store

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// idSource makes article ids: ULIDs, which are URL-safe and sort by creation
// time. Monotonic entropy keeps ids made within one millisecond increasing
// too, so that ids and create times agree on order.
type idSource struct {
	// mu protects entropy, which is not safe for concurrent use.
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

func newIDSource() *idSource {
	return &idSource{entropy: ulid.Monotonic(rand.Reader, 0)}
}

// next returns a new id with the timestamp t.
func (s *idSource) next(t time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := ulid.New(ulid.Timestamp(t), s.entropy)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}
