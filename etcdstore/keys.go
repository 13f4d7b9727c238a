package etcdstore

import "github.com/seed9c1868aa/articles"

// The map of the keys under a Store's prefix P. Values are marshalled
// protobuf unless said otherwise. Per article there are two keys (three
// with a request id): the list indexes are not in etcd but derived by
// every server from the articles (listindex.go).
//
//	P a/<id>                     articlesv1.Article, without revision and etag
//	                             (they are the key's mod revision, added on read)
//	P s/<slug>                   id: the slug claim (unique by construction)
//	P r/<request id>             id + sha256 of the request, under a lease
//	P m/token                    32 random bytes, created once (create_revision 0)
//	P m/rev                      the last slot of its transaction in decimal
//	                             (empty: 0); put by every write, so it holds
//	                             the store revision of the last write
//
// Open deletes every key under P o/ and P f/: there, stores that keep
// their list indexes in etcd keep them, and the keys would otherwise only
// take space.
//
// The stored article's revision field holds its slot in its transaction
// (0 when written alone). Every article write touches exactly one P a/ key
// with its own slot, so the events under P a/ are one per article write
// and one per store revision: the change feed is a watch on P a/.
const (
	articlePart   = "a/"
	slugPart      = "s/"
	oldOrderPart  = "o/"
	oldFilterPart = "f/"
	requestPart   = "r/"
	tokenKeyPart  = "m/token"
	revisionPart  = "m/rev"
	escapeEnd     = "\x00\x01"
	escapedZero   = "\x00\xff"
	numberOfOrder = 5
)

// orders are the orders with a list index, by their digit.
var orders = [numberOfOrder]articles.Order{
	articles.OrderPublishTimeDesc,
	articles.OrderPublishTime,
	articles.OrderCreateTime,
	articles.OrderCreateTimeDesc,
	articles.OrderTitle,
}

// escape appends the order-preserving escape of s to dst: 0x00 becomes
// 0x00 0xFF and the part ends with 0x00 0x01, so escape(a)+b sorts exactly
// as the pair (a, b) and no escaped part is a prefix of another.
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

// orderKey returns the list index key (listindex.go) of the position
// (key, id) in order o: esc(key) + id for ascending orders and its bytewise
// complement for descending ones, so every order is walked ascending and
// a cursor is the key it stopped at.
func orderKey(o articles.Order, key []byte, id string) string {
	k := escape(make([]byte, 0, len(key)+len(id)+4), key)
	k = append(k, id...)
	if o.Desc() {
		for i := range k {
			k[i] = ^k[i]
		}
	}
	return string(k)
}
