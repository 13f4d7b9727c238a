package server_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec sends and receives wire bytes as they are, so a test can send
// what the Go protobuf library refuses to marshal: invalid UTF-8.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// msg encodes fields (number, bytes) as a wire-format message.
func msg(fields ...any) []byte {
	var b []byte
	for i := 0; i+1 < len(fields); i += 2 {
		b = protowire.AppendTag(b, protowire.Number(fields[i].(int)), protowire.BytesType)
		switch v := fields[i+1].(type) {
		case string:
			b = protowire.AppendString(b, v)
		case []byte:
			b = protowire.AppendBytes(b, v)
		}
	}
	return b
}

func TestInvalidUTF8OnTheWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)
	const svc = "/articles.v1.ArticleService/"
	tests := []struct {
		name, method string
		req          []byte
		field        string
	}{
		{"Title", "CreateArticle", msg(1, msg(3, "bad \xff")), "article.title"},
		{"Body", "CreateArticle", msg(1, msg(3, "ok", 5, "\xc3")), "article.body"},
		{"Tag", "CreateArticle", msg(1, msg(3, "ok", 9, "fine", 9, "\xff")), "article.tags[1]"},
		{"Author", "CreateArticle", msg(1, msg(3, "ok", 6, "\xff")), "article.authors[0]"},
		{"LabelValue", "CreateArticle", msg(1, msg(3, "ok", 10, msg(1, "k", 2, "\xff"))), "article.labels"},
		{"RequestID", "CreateArticle", msg(1, msg(3, "ok"), 2, "\xff"), "request_id"},
		{"GetSlug", "GetArticle", msg(2, "\xff"), "slug"},
		{"ListAuthor", "ListArticles", msg(3, "\xff"), "author"},
		{"UpdateSource", "UpdateArticle", msg(1, msg(1, "id", 8, "\xff")), "article.source"},
		{"SearchQuery", "SearchArticles", msg(1, "\xff"), "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []byte
			err := e.conn.Invoke(ctx, svc+tt.method, &tt.req, &out, grpc.ForceCodecV2(rawCodec{}))
			wantViolation(t, err, tt.field)
		})
	}
	streams := []struct {
		name, method string
		desc         grpc.StreamDesc
		req          []byte
		field        string
	}{
		{"Import", "ImportArticles", grpc.StreamDesc{ClientStreams: true}, msg(1, msg(3, "\xff")), "article.title"},
		{"Stream", "StreamArticles", grpc.StreamDesc{ServerStreams: true}, msg(2, "\xff"), "tag"},
		{"Watch", "WatchArticles", grpc.StreamDesc{ServerStreams: true}, msg(4, "\xff"), "source"},
	}
	for _, tt := range streams {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.conn.NewStream(ctx, &tt.desc, svc+tt.method, grpc.ForceCodecV2(rawCodec{}))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg(&tt.req); err != nil {
				t.Fatal(err)
			}
			if err := s.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var out []byte
			wantViolation(t, s.RecvMsg(&out), tt.field)
		})
	}
	t.Run("ValidRawStillWorks", func(t *testing.T) {
		req, out := msg(1, msg(3, "Raw but fine")), []byte(nil)
		if err := e.conn.Invoke(ctx, svc+"CreateArticle", &req, &out, grpc.ForceCodecV2(rawCodec{})); err != nil || len(out) == 0 {
			t.Errorf("CreateArticle = %d bytes, %v", len(out), err)
		}
	})
}
