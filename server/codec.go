package server

import (
	"context"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// The API promises INVALID_ARGUMENT, naming the field, for a string that is
// not valid UTF-8, and INVALID_ARGUMENT for any malformed request. grpc-go's
// protobuf codec refuses such a message before any handler or interceptor
// sees it, and grpc-go reports every decoding failure as INTERNAL, the code
// of a server bug. So the server decodes with utf8Codec: the protobuf codec,
// except that a message it cannot decode decodes to an empty message
// carrying a marker (an unknown field: for invalid UTF-8 the path of the bad
// field, for any other fault nothing), which the interceptors of checkUTF8
// turn into INVALID_ARGUMENT before the handler runs.
//
// A client can send a marker field itself; it then gets the
// INVALID_ARGUMENT it asked for, and nothing else.

// Field numbers of the markers: the largest valid ones, which no message
// of ours uses.
const (
	utf8MarkerField      protowire.Number = protowire.MaxValidNumber
	malformedMarkerField protowire.Number = protowire.MaxValidNumber - 1
)

// utf8Codec is the protobuf codec with invalid UTF-8 reported as above,
// which also sends an *encoded reply's bytes as they are.
type utf8Codec struct {
	encoding.CodecV2
}

// Marshal encodes v, or returns the bytes of an *encoded as they are.
func (c utf8Codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*encoded); ok {
		return e.bufs, nil
	}
	return c.CodecV2.Marshal(v)
}

func newUTF8Codec() utf8Codec {
	return utf8Codec{CodecV2: encoding.GetCodecV2("proto")}
}

// Unmarshal decodes data into v, or, when data is not a valid message of
// v's type, resets v and marks it: with the path of the first string field
// that is not valid UTF-8 if there is one, as malformed otherwise.
func (c utf8Codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	var marker []byte
	if path, found := invalidUTF8Path(data.Materialize(), m.ProtoReflect().Descriptor(), ""); found {
		marker = protowire.AppendTag(nil, utf8MarkerField, protowire.BytesType)
		marker = protowire.AppendString(marker, path)
	} else {
		marker = protowire.AppendTag(nil, malformedMarkerField, protowire.BytesType)
		marker = protowire.AppendString(marker, "")
	}
	proto.Reset(m)
	m.ProtoReflect().SetUnknown(marker)
	return nil
}

// invalidUTF8Path returns the path (e.g. "article.tags[1]") of the first
// string field in the wire-format message b, of type md, that is not valid
// UTF-8.
func invalidUTF8Path(b []byte, md protoreflect.MessageDescriptor, prefix string) (string, bool) {
	seen := map[protowire.Number]int{} // occurrences so far, for indexes
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return "", false
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if fd == nil {
			continue
		}
		name := string(fd.Name())
		if prefix != "" {
			name = prefix + "." + name
		}
		if fd.IsList() {
			name += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		switch {
		case fd.IsMap():
			if _, found := invalidUTF8Path(v, fd.Message(), ""); found {
				return name, true
			}
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.Valid(v) {
				return name, true
			}
		case fd.Kind() == protoreflect.MessageKind:
			if p, found := invalidUTF8Path(v, fd.Message(), name); found {
				return p, true
			}
		}
	}
	return "", false
}

// utf8Violation returns INVALID_ARGUMENT if req was marked by utf8Codec.
func utf8Violation(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	unk := m.ProtoReflect().GetUnknown()
	for len(unk) > 0 {
		num, typ, n := protowire.ConsumeTag(unk)
		if n < 0 {
			return nil
		}
		unk = unk[n:]
		if num == utf8MarkerField && typ == protowire.BytesType {
			path, _ := protowire.ConsumeString(unk)
			if path == "" || !utf8.ValidString(path) {
				path = "request"
			}
			return invalidArgument(violation(path, "must be valid UTF-8"))
		}
		if num == malformedMarkerField && typ == protowire.BytesType {
			return invalidArgument(violation("request", "is not a valid %s message", m.ProtoReflect().Descriptor().FullName()))
		}
		if n = protowire.ConsumeFieldValue(num, typ, unk); n < 0 {
			return nil
		}
		unk = unk[n:]
	}
	return nil
}

// checkUTF8Unary answers a marked unary request (invalid UTF-8 or
// malformed) with INVALID_ARGUMENT.
func checkUTF8Unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := utf8Violation(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// checkUTF8Stream answers a marked stream message (invalid UTF-8 or
// malformed) with INVALID_ARGUMENT.
func checkUTF8Stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, utf8Stream{ss})
}

type utf8Stream struct{ grpc.ServerStream }

func (s utf8Stream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return utf8Violation(m)
}

// encoded is a reply message already in its wire encoding: utf8Codec sends
// its bytes without looking at them. GetArticle and StreamArticles reply
// with one to send an article as the store keeps it, and the change feed
// to send an event encoded once for every watcher.
type encoded struct {
	bufs mem.BufferSlice
}

// encodedArticle is the reply of GetArticle: an Article's encoding.
func encodedArticle(article []byte) *encoded {
	return &encoded{bufs: mem.BufferSlice{mem.SliceBuffer(article)}}
}

// Field numbers of StreamArticlesResponse.
const (
	streamReplyArticle protowire.Number = 1
	streamReplyCursor  protowire.Number = 2
)

// encodedStreamReply is a StreamArticlesResponse with the Article
// encoding article and the cursor cur, in one buffer from grpc's pool,
// which grpc returns to the pool once it has written it. One contiguous
// buffer, rather than the article's bytes between two small ones: the
// transport copies a message that spans buffers once more to frame it.
func encodedStreamReply(article []byte, cur string) *encoded {
	n := protowire.SizeTag(streamReplyArticle) + protowire.SizeBytes(len(article)) +
		protowire.SizeTag(streamReplyCursor) + protowire.SizeBytes(len(cur))
	pool := mem.DefaultBufferPool()
	buf := pool.Get(n)
	b := (*buf)[:0]
	b = protowire.AppendTag(b, streamReplyArticle, protowire.BytesType)
	b = protowire.AppendBytes(b, article)
	b = protowire.AppendTag(b, streamReplyCursor, protowire.BytesType)
	b = protowire.AppendString(b, cur)
	*buf = b
	return &encoded{bufs: mem.BufferSlice{mem.NewBuffer(buf, pool)}}
}

// Fields of Article that the BASIC view leaves out.
const (
	articleBody      protowire.Number = 5
	articleAuthorBio protowire.Number = 7
)

// trimView returns the Article encoding b as view shows it: for BASIC,
// without body and author_bio, which it removes in place; for FULL, b
// itself. b must be a valid encoding (as stored); should it not be, the
// rest of it from the first fault is left as it is.
func trimView(b []byte, view articlesv1.ArticleView) []byte {
	if view != articlesv1.ArticleView_ARTICLE_VIEW_BASIC {
		return b
	}
	w := 0 // bytes kept so far, at the front of b
	for r := 0; r < len(b); {
		num, typ, n := protowire.ConsumeTag(b[r:])
		if n < 0 {
			return append(b[:w], b[r:]...)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[r+n:])
		if m < 0 {
			return append(b[:w], b[r:]...)
		}
		if num != articleBody && num != articleAuthorBio {
			w += copy(b[w:], b[r:r+n+m])
		}
		r += n + m
	}
	return b[:w]
}
