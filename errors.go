package articles

import (
	"errors"
	"fmt"
)

// These are the errors a storage backend returns. Backends wrap them with
// detail (fmt.Errorf("%w: ...")); callers test with errors.Is. The messages
// of errors wrapping these sentinels are shown to clients, so a backend must
// never put a file path or other internal detail in them.
var (
	// ErrNotFound is returned when no article has the given id or slug.
	ErrNotFound = errors.New("article not found")

	// ErrAlreadyExists is returned when a write would give an article a slug
	// that another article already has.
	ErrAlreadyExists = errors.New("slug already exists")

	// ErrConflict is returned when a write names an etag that is no longer
	// the article's current etag.
	ErrConflict = errors.New("etag does not match the current article")

	// ErrRequestIDReused is returned when a create carries a request id that
	// was already used for a create with different content.
	ErrRequestIDReused = errors.New("request_id was already used for a different request")

	// ErrCompacted is returned when a change-log read starts before the
	// oldest revision still retained. The error is a *CompactedError, which
	// tells the oldest revision available.
	ErrCompacted = errors.New("revision has been compacted")

	// ErrClosed is returned by every method once the store is closed.
	ErrClosed = errors.New("store is closed")

	// ErrNoSpace is returned when a write fails because the database file
	// cannot grow: the disk or the user's quota is full, or the process's
	// file size limit is reached. Reads keep working; writes succeed again
	// once space returns.
	ErrNoSpace = errors.New("no space left for writes")

	// ErrTooLarge is returned when a write is larger than the backend can
	// store in one write (for the etcd backend, the cluster's request size
	// limit, 1.5 MiB by default).
	ErrTooLarge = errors.New("article is too large to store")
)

// CompactedError is returned when a change-log read asks for a revision older
// than the log retains. It matches ErrCompacted with errors.Is.
type CompactedError struct {
	// Requested is the revision that was asked for.
	Requested int64
	// Oldest is the oldest revision still available.
	Oldest int64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("revision %d has been compacted; the oldest available revision is %d", e.Requested, e.Oldest)
}

// Is reports whether target is ErrCompacted.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }
