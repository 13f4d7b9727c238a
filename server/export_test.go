package server

import (
	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Hooks into unexported parts, for tests and fuzz targets of package
// server_test.

var (
	ToStatus         = toStatus
	ErrBadToken      = errBadToken
	ErrTokenMismatch = errTokenMismatch
)

// EncodePageToken makes a ListArticles page token for cur in q.
func EncodePageToken(key []byte, q articles.Query, cur articles.Cursor) string {
	return tokenCodec{key: key}.encodeCursor(kindPage, q, cur)
}

// DecodePageToken checks a ListArticles page token against q.
func DecodePageToken(key []byte, tok string, q articles.Query) (articles.Cursor, error) {
	return tokenCodec{key: key}.decodeCursor(tok, kindPage, q)
}

// EncodeSearchToken makes a SearchArticles page token.
func EncodeSearchToken(key []byte, canon string, f articles.Filter, offset int) string {
	return tokenCodec{key: key}.encodeOffset(canon, f, offset)
}

// DecodeSearchToken checks a SearchArticles page token.
func DecodeSearchToken(key []byte, tok, canon string, f articles.Filter) (int, error) {
	return tokenCodec{key: key}.decodeOffset(tok, canon, f)
}

// ParseListQuery checks a ListArticlesRequest's filters and order and
// returns the query and how many field violations were found.
func ParseListQuery(req *articlesv1.ListArticlesRequest) (articles.Query, int) {
	q, vs := parseQuery(req, req.GetOrderBy())
	return q, len(vs)
}

// WatchBatches returns the batched messages of the change feed so far:
// shared batches made and sent, and batches streams made for themselves.
// A stream adds its sends when it ends.
func (s *Server) WatchBatches() (built, shared, own int64) {
	st := &s.hub.stats
	return st.built.Load(), st.shared.Load(), st.own.Load()
}

// WatchWakes returns how many times watch streams waiting for news were
// woken for it. A stream adds its wake-ups when it ends.
func (s *Server) WatchWakes() int64 { return s.hub.stats.wakes.Load() }

// WatchCatchUps returns how many times watch streams read the change log
// because they were behind the ring.
func (s *Server) WatchCatchUps() int64 { return s.hub.stats.catchUps.Load() }

// WatchGzipped returns how many watch messages were compressed once for
// every gzip stream.
func (s *Server) WatchGzipped() int64 { return s.hub.stats.gzipped.Load() }
