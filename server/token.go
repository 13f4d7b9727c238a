package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"

	"github.com/seed9c1868aa/articles"
)

// Page tokens and stream cursors are opaque to clients but simple inside:
//
//	base64url( version | kind | fingerprint | payload | mac )
//
// version is 1 byte (tokenVersion); kind is 1 byte (a tokenKind), so that a
// stream cursor is never taken for a list page token; fingerprint is the
// first 8 bytes of SHA-256 over the request's filters and order (or search
// query and filters), so a token only works with the request it came from;
// payload is a keyset position (uvarint key length, sort key, article id)
// or, for search, a uvarint offset; mac is HMAC-SHA256 over everything
// before it, keyed with the store's TokenKey and truncated to 16 bytes.
//
// The mac makes tokens tamper-evident: a client cannot forge a position or
// reuse a token across filters by editing it. Keyset positions (rather
// than offsets) keep list pages stable under concurrent writes.

const (
	tokenVersion = 1
	fpLen        = 8
	macLen       = 16
	// maxTokenLen bounds the text decoded: a cursor holds at most a
	// 2,000-byte title key and an id.
	maxTokenLen = 4096
)

// tokenKind says what a token is for.
type tokenKind byte

const (
	kindPage   tokenKind = 1 // ListArticles page_token
	kindCursor tokenKind = 2 // StreamArticles cursor / start_after
	kindSearch tokenKind = 3 // SearchArticles page_token
)

var (
	// errBadToken is returned for a token that is malformed, truncated,
	// forged or edited.
	errBadToken = errors.New("invalid page_token")
	// errTokenMismatch is returned for a genuine token presented with
	// filters (or an order or query) other than those it was made with.
	errTokenMismatch = errors.New("page_token does not match the request's filters")
)

// tokenCodec signs and checks tokens with one key.
type tokenCodec struct {
	key []byte
}

func (c tokenCodec) seal(kind tokenKind, fp [fpLen]byte, payload []byte) string {
	b := make([]byte, 0, 2+fpLen+len(payload)+macLen)
	b = append(b, tokenVersion, byte(kind))
	b = append(b, fp[:]...)
	b = append(b, payload...)
	m := c.mac()
	m.h.Write(b)
	b = m.h.Sum(b)[:len(b)+macLen]
	macs.Put(m)
	return base64.RawURLEncoding.EncodeToString(b)
}

// macs pools keyed HMAC states for seal: a stream signs a cursor for every
// article it sends, and hmac.New (two SHA-256 states and the key schedule)
// cost more than the signing itself.
var macs sync.Pool // of *pooledMAC

// pooledMAC is an HMAC state and the key it was made with.
type pooledMAC struct {
	key []byte
	h   hash.Hash
}

// mac returns a reset HMAC-SHA256 state keyed with c.key, from the pool
// when one with the same key is there. Put it back in macs after use.
func (c tokenCodec) mac() *pooledMAC {
	if m, _ := macs.Get().(*pooledMAC); m != nil && bytes.Equal(m.key, c.key) {
		m.h.Reset()
		return m
	}
	return &pooledMAC{key: c.key, h: hmac.New(sha256.New, c.key)}
}

// open checks s and returns its payload. The mac is checked before the
// fingerprint, so a forged token is errBadToken and only a genuine one can
// be errTokenMismatch.
func (c tokenCodec) open(s string, kind tokenKind, fp [fpLen]byte) ([]byte, error) {
	if len(s) > maxTokenLen {
		return nil, errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	// Decoding skips newlines and ignores stray low bits; requiring the
	// canonical encoding means an edited token never decodes.
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != s || len(b) < 2+fpLen+macLen || b[0] != tokenVersion || tokenKind(b[1]) != kind {
		return nil, errBadToken
	}
	body, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	m := hmac.New(sha256.New, c.key)
	m.Write(body)
	if !hmac.Equal(m.Sum(nil)[:macLen], mac) {
		return nil, errBadToken
	}
	if [fpLen]byte(body[2:2+fpLen]) != fp {
		return nil, errTokenMismatch
	}
	return body[2+fpLen:], nil
}

// encodeCursor returns a page token (kindPage) or stream cursor
// (kindCursor) for the position cur in q.
func (c tokenCodec) encodeCursor(kind tokenKind, q articles.Query, cur articles.Cursor) string {
	return c.encodeCursorFP(kind, queryFingerprint(q), cur)
}

// encodeCursorFP is encodeCursor with the query's fingerprint computed
// once by the caller, for a stream that makes a cursor per article.
func (c tokenCodec) encodeCursorFP(kind tokenKind, fp [fpLen]byte, cur articles.Cursor) string {
	p := make([]byte, 0, binary.MaxVarintLen64+len(cur.Key)+len(cur.ID))
	p = binary.AppendUvarint(p, uint64(len(cur.Key)))
	p = append(p, cur.Key...)
	p = append(p, cur.ID...)
	return c.seal(kind, fp, p)
}

// decodeCursor checks a token made by encodeCursor for the same kind and q.
func (c tokenCodec) decodeCursor(s string, kind tokenKind, q articles.Query) (articles.Cursor, error) {
	p, err := c.open(s, kind, queryFingerprint(q))
	if err != nil {
		return articles.Cursor{}, err
	}
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return articles.Cursor{}, errBadToken
	}
	key := append([]byte{}, p[k:k+int(n)]...)
	id := string(p[k+int(n):])
	if id == "" {
		return articles.Cursor{}, errBadToken
	}
	return articles.Cursor{Key: key, ID: id}, nil
}

// encodeOffset returns a search page token for offset into the ranking of
// the query with canonical form canon under f.
func (c tokenCodec) encodeOffset(canon string, f articles.Filter, offset int) string {
	return c.seal(kindSearch, searchFingerprint(canon, f), binary.AppendUvarint(nil, uint64(offset)))
}

// decodeOffset checks a token made by encodeOffset for the same query and
// filters.
func (c tokenCodec) decodeOffset(s, canon string, f articles.Filter) (int, error) {
	p, err := c.open(s, kindSearch, searchFingerprint(canon, f))
	if err != nil {
		return 0, err
	}
	n, k := binary.Uvarint(p)
	if k <= 0 || k != len(p) || n > 1<<30 {
		return 0, errBadToken
	}
	return int(n), nil
}

func queryFingerprint(q articles.Query) [fpLen]byte {
	h := sha256.New()
	writeField(h, "list")
	writeField(h, q.Order.String())
	writeFilter(h, q.Filter)
	return [fpLen]byte(h.Sum(nil))
}

func searchFingerprint(canon string, f articles.Filter) [fpLen]byte {
	h := sha256.New()
	writeField(h, "search")
	writeField(h, canon)
	writeFilter(h, f)
	return [fpLen]byte(h.Sum(nil))
}

// writeFilter writes every condition of f, each length-prefixed so that
// no two filters share an encoding.
func writeFilter(h hash.Hash, f articles.Filter) {
	writeField(h, f.Author)
	writeField(h, f.Tag)
	writeField(h, f.Source)
	writeTime(h, f.PublishedAfter)
	writeTime(h, f.PublishedBefore)
}

func writeField(h hash.Hash, s string) {
	h.Write(binary.AppendUvarint(nil, uint64(len(s))))
	h.Write([]byte(s))
}

func writeTime(h hash.Hash, t time.Time) {
	if t.IsZero() {
		h.Write([]byte{0})
		return
	}
	b := []byte{1}
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	h.Write(b)
}
