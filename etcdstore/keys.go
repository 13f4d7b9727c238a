package etcdstore

import (
	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The map of the keys under a Store's prefix P. Values are marshalled
// protobuf unless said otherwise. "esc(x)" is the order-preserving escape
// of a variable-length key part (escape): 0x00 becomes 0x00 0xFF and the
// part ends with 0x00 0x01, so esc(a)+b sorts exactly as the pair (a, b) and
// no escaped key is a prefix of another.
//
//	P a/<id>                     articlesv1.Article, without revision and etag
//	                             (they are the key's mod revision, added on read)
//	P s/<slug>                   id: the slug claim (unique by construction)
//	P o/<order digit>/<okey>     id, one key per articles.Order:
//	                             okey = esc(Order.SortKey(a)) + id for ascending
//	                             orders and its bytewise complement for
//	                             descending ones, so every listing is an
//	                             ascending range read with a limit
//	P f/a/<esc(author)><id>      id, one per author
//	P f/t/<esc(tag)><id>         id, one per tag
//	P f/s/<esc(source)><id>      id, articles with a source only
//	P r/<request id>             id + sha256 of the request, under a lease
//	P m/token                    32 random bytes, created once (create_revision 0)
//	P m/rev                      the last slot of its transaction in decimal
//	                             (empty: 0); put by every write, so it holds
//	                             the store revision of the last write
//
// The stored article's revision field holds its slot in its transaction
// (0 when written alone). Every article write touches exactly one P a/ key
// with its own slot, so the events under P a/ are one per article write
// and one per store revision: the change feed is a watch on P a/.
const (
	articlePart   = "a/"
	slugPart      = "s/"
	orderPart     = "o/"
	authorPart    = "f/a/"
	tagPart       = "f/t/"
	sourcePart    = "f/s/"
	requestPart   = "r/"
	tokenKeyPart  = "m/token"
	revisionPart  = "m/rev"
	idLen         = 26 // a ULID's text form
	escapeEnd     = "\x00\x01"
	escapedZero   = "\x00\xff"
	numberOfOrder = 5
)

// orders are the orders with an index, by their digit.
var orders = [numberOfOrder]articles.Order{
	articles.OrderPublishTimeDesc,
	articles.OrderPublishTime,
	articles.OrderCreateTime,
	articles.OrderCreateTimeDesc,
	articles.OrderTitle,
}

// escape appends the order-preserving escape of s to dst.
func escape(dst []byte, s []byte) []byte {
	for _, c := range s {
		if c == 0 {
			dst = append(dst, escapedZero...)
			continue
		}
		dst = append(dst, c)
	}
	return append(dst, escapeEnd...)
}

func (s *Store) articleKey(id string) string { return s.prefix + articlePart + id }
func (s *Store) slugKey(slug string) string  { return s.prefix + slugPart + slug }
func (s *Store) requestKey(id string) string { return s.prefix + requestPart + id }

// orderPrefix is the prefix of order o's index keys.
func (s *Store) orderPrefix(o articles.Order) string {
	return s.prefix + orderPart + string(rune('0'+int(o))) + "/"
}

// orderKey returns the index key of the position (key, id) in order o.
func (s *Store) orderKey(o articles.Order, key []byte, id string) string {
	k := escape(make([]byte, 0, len(key)+len(id)+4), key)
	k = append(k, id...)
	if o.Desc() {
		for i := range k {
			k[i] = ^k[i]
		}
	}
	return s.orderPrefix(o) + string(k)
}

// filterKey returns the key of the filter index part for value v and id.
func (s *Store) filterKey(part, v, id string) string {
	return s.prefix + part + string(escape(nil, []byte(v))) + id
}

// filterPrefix returns the prefix of the filter index keys for value v.
func (s *Store) filterPrefix(part, v string) string {
	return s.prefix + part + string(escape(nil, []byte(v)))
}

// indexKeys returns every index key of a (not the slug claim), each with
// the id as its value.
func (s *Store) indexKeys(a *articlesv1.Article) map[string]string {
	id := a.GetId()
	keys := make(map[string]string, numberOfOrder+len(a.GetAuthors())+len(a.GetTags())+1)
	for _, o := range orders {
		keys[s.orderKey(o, o.SortKey(a), id)] = id
	}
	for _, au := range a.GetAuthors() {
		keys[s.filterKey(authorPart, au, id)] = id
	}
	for _, t := range a.GetTags() {
		keys[s.filterKey(tagPart, t, id)] = id
	}
	if src := a.GetSource(); src != "" {
		keys[s.filterKey(sourcePart, src, id)] = id
	}
	return keys
}
