package store

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// errCorruptEvent is returned by peekEvent for bytes that are not an
// encoded event.
var errCorruptEvent = errors.New("corrupt event")

// peekEvent returns the article id of an encoded ArticleEvent without
// decoding the rest: the indexer reads events in
// read transactions, one goroutine, and leaves the decoding of the
// articles (5 KB of text each, whose UTF-8 is checked) to its analysis
// workers. As proto.Unmarshal does, it takes the last value of a field
// that occurs more than once.
func peekEvent(v []byte) (id string, err error) {
	for len(v) > 0 {
		num, wt, n := protowire.ConsumeTag(v)
		if n < 0 {
			return "", errCorruptEvent
		}
		v = v[n:]
		switch {
		case num == eventFieldArticle && wt == protowire.BytesType:
			var art []byte
			if art, n = protowire.ConsumeBytes(v); n >= 0 {
				if aid, ok, perr := peekArticleID(art); perr != nil {
					return "", perr
				} else if ok {
					id = aid
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, wt, v)
		}
		if n < 0 {
			return "", errCorruptEvent
		}
		v = v[n:]
	}
	return id, nil
}

// peekArticleID returns the id of an encoded Article (field 1), and
// whether it has one.
func peekArticleID(v []byte) (string, bool, error) {
	var (
		id []byte
		ok bool
	)
	for len(v) > 0 {
		num, wt, n := protowire.ConsumeTag(v)
		if n < 0 {
			return "", false, errCorruptEvent
		}
		v = v[n:]
		if num == 1 && wt == protowire.BytesType {
			id, n = protowire.ConsumeBytes(v)
			ok = true
		} else {
			n = protowire.ConsumeFieldValue(num, wt, v)
		}
		if n < 0 {
			return "", false, errCorruptEvent
		}
		v = v[n:]
	}
	return string(id), ok, nil
}
