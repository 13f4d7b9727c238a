package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
	"github.com/seed9c1868aa/articles/server"
)

// The tests in this file send hostile or malformed requests through a real
// gRPC connection and check the exact status code (and, for
// INVALID_ARGUMENT, the field violation) and that nothing was written.

const svcPrefix = "/articles.v1.ArticleService/"

// badSeed is how many articles TestBadInput stores: one more than a full
// page, so that clamping a huge page_size can be seen.
const badSeed = 1001

// maxErrorText bounds the message, and the printed details, of every
// error TestBadInput provokes: errors quote little of the request.
const maxErrorText = 1024

// badCase is one request that TestBadInput sends.
type badCase struct {
	name string
	// call sends the request. A case that wants OK checks the response
	// itself and returns a non-status error when it is wrong.
	call  func(ctx context.Context) error
	code  codes.Code
	field string // with INVALID_ARGUMENT: the field violation wanted
	// writes is how much the store revision may grow (0 for every bad
	// input: a rejected request writes nothing).
	writes int64
}

// rawCall sends req, wire bytes, to method with the raw codec, so that
// requests the protobuf library would refuse to marshal reach the server.
func rawCall(conn *grpc.ClientConn, method string, req []byte) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var out []byte
		return conn.Invoke(ctx, svcPrefix+method, &req, &out, grpc.ForceCodecV2(rawCodec{}))
	}
}

// firstStreamErr opens a server stream and returns the error that ends it,
// reading at most max messages (nil if the stream ends cleanly or max
// messages arrive).
func firstStreamErr[T any](s grpc.ServerStreamingClient[T], err error, max int) error {
	if err != nil {
		return err
	}
	for range max {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	return nil
}

// varintField appends field num with varint value v to b.
func varintField(b []byte, num int, v uint64) []byte {
	b = protowire.AppendTag(b, protowire.Number(num), protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// nestedGroups returns an unknown field (15) that is n groups deep, which
// a protobuf parser must not follow past its recursion limit.
func nestedGroups(n int) []byte {
	b := make([]byte, 0, 2*n)
	for range n {
		b = protowire.AppendTag(b, 15, protowire.StartGroupType)
	}
	for range n {
		b = protowire.AppendTag(b, 15, protowire.EndGroupType)
	}
	return b
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := testCtx(t)

	// Seed directly (one store import per 500): badSeed articles by Ann
	// (even) and Bob (odd), all containing the word "common".
	seed := make([]*articlesv1.Article, badSeed)
	for i := range seed {
		author := "Ann"
		if i%2 == 1 {
			author = "Bob"
		}
		seed[i] = &articlesv1.Article{
			Title:       fmt.Sprintf("Common piece %04d", i),
			Body:        "A common body of text.",
			Authors:     []string{author},
			PublishTime: timestamppb.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)),
		}
	}
	if r, err := e.srv.Import(ctx, seed); err != nil || r.GetCreated() != badSeed {
		t.Fatalf("Import = %v, %v; want %d created", r, err, badSeed)
	}
	ids := make([]string, 0, badSeed)
	for req := (&articlesv1.ListArticlesRequest{PageSize: 1000}); ; {
		resp, err := e.client.ListArticles(ctx, req)
		if err != nil {
			t.Fatalf("ListArticles: %v", err)
		}
		for _, a := range resp.GetArticles() {
			ids = append(ids, a.GetId())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" || len(ids) > badSeed {
			break
		}
	}
	if len(ids) != badSeed {
		t.Fatalf("listed %d ids, want %d", len(ids), badSeed)
	}
	const rid = "request-1"
	mine, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
		Article: &articlesv1.Article{Title: "Mine", Body: "Mine alone."}, RequestId: rid,
	})
	if err != nil {
		t.Fatalf("CreateArticle: %v", err)
	}

	// Tokens and cursors to misuse.
	annPage, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 2, Author: "Ann"})
	if err != nil || annPage.GetNextPageToken() == "" {
		t.Fatalf("ListArticles(Ann) = %v, %v; want a next page", annPage, err)
	}
	listTok := annPage.GetNextPageToken()
	searchPage, err := e.client.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "common", PageSize: 2})
	if err != nil || searchPage.GetNextPageToken() == "" {
		t.Fatalf("SearchArticles = %v, %v; want a next page", searchPage, err)
	}
	searchTok := searchPage.GetNextPageToken()
	cursor := streamCursor(t, e)
	annQuery, nviol := server.ParseListQuery(&articlesv1.ListArticlesRequest{Author: "Ann"})
	if nviol != 0 {
		t.Fatalf("ParseListQuery: %d violations", nviol)
	}
	otherKey := []byte(strings.Repeat("k", 32))
	forgedList := server.EncodePageToken(otherKey, annQuery, articles.Cursor{Key: []byte{0}, ID: ids[0]})
	key, err := e.db.TokenKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	common, err := search.Parse("common")
	if err != nil {
		t.Fatal(err)
	}
	forgedSearch := server.EncodeSearchToken(otherKey, common.String(), articles.Filter{}, 2)
	tooDeep := server.EncodeSearchToken(key, common.String(), articles.Filter{}, 1_000_000)
	flipped := func(tok string) string {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			t.Fatalf("token %q is not base64url: %v", tok, err)
		}
		b[len(b)/2] ^= 0x10
		return base64.RawURLEncoding.EncodeToString(b)
	}

	long := strings.Repeat("a", 10_000)
	huge := strings.Repeat("h", 3<<20) // under grpc-go's 4 MiB limit
	thousandIDs := append(slices.Clone(ids[:1000]), ids[0])
	getID := func(id string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: id}})
			return err
		}
	}
	getSlug := func(slug string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: slug}})
			return err
		}
	}
	del := func(id, etag string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: id, Etag: etag})
			return err
		}
	}
	batch := func(view articlesv1.ArticleView, ids ...string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: ids, View: view})
			return err
		}
	}
	create := func(a *articlesv1.Article) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a})
			return err
		}
	}
	withSlug := func(slug string) *articlesv1.Article { return &articlesv1.Article{Title: "Slugged", Slug: slug} }
	update := func(a *articlesv1.Article, paths ...string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			req := &articlesv1.UpdateArticleRequest{Article: a}
			if paths != nil {
				req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
			}
			_, err := e.client.UpdateArticle(ctx, req)
			return err
		}
	}
	onMine := func(edit func(a *articlesv1.Article)) *articlesv1.Article {
		a := &articlesv1.Article{Id: mine.GetId(), Title: "Mine", Body: "Changed."}
		edit(a)
		return a
	}
	list := func(req *articlesv1.ListArticlesRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.ListArticles(ctx, req)
			return err
		}
	}
	find := func(req *articlesv1.SearchArticlesRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.client.SearchArticles(ctx, req)
			return err
		}
	}
	stream := func(req *articlesv1.StreamArticlesRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			s, err := e.client.StreamArticles(ctx, req)
			return firstStreamErr(s, err, 1)
		}
	}
	watch := func(req *articlesv1.WatchArticlesRequest) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			s, err := e.client.WatchArticles(ctx, req)
			return firstStreamErr(s, err, 1)
		}
	}
	// pageOf checks that ListArticles with page_size n answers exactly want
	// articles and a next page token.
	pageOf := func(n int32, want int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			resp, err := e.client.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: n})
			if err != nil {
				return err
			}
			if len(resp.GetArticles()) != want || resp.GetNextPageToken() == "" {
				return fmt.Errorf("page_size %d: %d articles, next token %t; want %d and a token", n, len(resp.GetArticles()), resp.GetNextPageToken() != "", want)
			}
			return nil
		}
	}
	searchOf := func(n int32, want int) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			resp, err := e.client.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: "common", PageSize: n})
			if err != nil {
				return err
			}
			if len(resp.GetResults()) != want {
				return fmt.Errorf("search page_size %d: %d results, want %d", n, len(resp.GetResults()), want)
			}
			return nil
		}
	}
	importing := func(arts ...*articlesv1.Article) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			s, err := e.client.ImportArticles(ctx)
			if err != nil {
				return err
			}
			for _, a := range arts {
				if err := s.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
					return err
				}
			}
			resp, err := s.CloseAndRecv()
			if err != nil {
				return err
			}
			if resp.GetCreated()+resp.GetUpdated()+resp.GetUnchanged() != 0 || len(resp.GetFailures()) != len(arts) {
				return fmt.Errorf("import of only bad articles answered %v", resp)
			}
			return nil
		}
	}

	tests := []badCase{
		// Oversized: grpc-go's default 4 MiB receive limit answers before
		// any handler runs (TestBadInputOversizedTCP sets a small one).
		{name: "Oversized/Create", call: create(&articlesv1.Article{Title: "Big", Body: strings.Repeat("x", 5<<20)}), code: codes.ResourceExhausted},
		{name: "Oversized/BatchGet", call: batch(0, slices.Repeat([]string{strings.Repeat("i", 1<<20)}, 5)...), code: codes.ResourceExhausted},

		// Invalid UTF-8 on the wire: the server's codec turns grpc-go's
		// INTERNAL into INVALID_ARGUMENT naming the field.
		{name: "UTF8/CreateTitle", call: rawCall(e.conn, "CreateArticle", msg(1, msg(3, "bad \xff"))), code: codes.InvalidArgument, field: "article.title"},
		{name: "UTF8/CreateLabelKey", call: rawCall(e.conn, "CreateArticle", msg(1, msg(3, "ok", 10, msg(1, "k\xc0", 2, "v")))), code: codes.InvalidArgument, field: "article.labels"},
		{name: "UTF8/CreateRequestID", call: rawCall(e.conn, "CreateArticle", msg(1, msg(3, "ok"), 2, "\xfe")), code: codes.InvalidArgument, field: "request_id"},
		{name: "UTF8/GetID", call: rawCall(e.conn, "GetArticle", msg(1, "01\xff")), code: codes.InvalidArgument, field: "id"},
		{name: "UTF8/BatchGetID", call: rawCall(e.conn, "BatchGetArticles", msg(1, ids[0], 1, "\xff")), code: codes.InvalidArgument, field: "ids[1]"},
		{name: "UTF8/DeleteEtag", call: rawCall(e.conn, "DeleteArticle", msg(1, mine.GetId(), 2, "\xff")), code: codes.InvalidArgument, field: "etag"},
		{name: "UTF8/UpdateMaskPath", call: rawCall(e.conn, "UpdateArticle", msg(1, msg(1, mine.GetId()), 2, msg(1, "title\xff"))), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "UTF8/ListPageToken", call: rawCall(e.conn, "ListArticles", msg(2, "\xff\xfe")), code: codes.InvalidArgument, field: "page_token"},
		{name: "UTF8/ListOrderBy", call: rawCall(e.conn, "ListArticles", msg(8, "title\xff")), code: codes.InvalidArgument, field: "order_by"},
		{name: "UTF8/SearchQuery", call: rawCall(e.conn, "SearchArticles", msg(1, "comm\xffon")), code: codes.InvalidArgument, field: "query"},

		// Bytes that are no protobuf message at all: INVALID_ARGUMENT too,
		// not grpc-go's INTERNAL.
		{name: "Malformed/Garbage", call: rawCall(e.conn, "CreateArticle", []byte{0xff, 0xff, 0xff, 0xff}), code: codes.InvalidArgument, field: "request"},
		{name: "Malformed/Truncated", call: rawCall(e.conn, "CreateArticle", msg(1, msg(3, "A title"))[:6]), code: codes.InvalidArgument, field: "request"},
		{name: "Malformed/BadVarint", call: rawCall(e.conn, "ListArticles", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), code: codes.InvalidArgument, field: "request"},
		{name: "Malformed/DeepGroups", call: rawCall(e.conn, "CreateArticle", nestedGroups(20_000)), code: codes.InvalidArgument, field: "request"},
		{name: "Malformed/ShallowGroups", call: rawCall(e.conn, "CreateArticle", append(nestedGroups(10), msg(1, msg(3, "Groups are skipped"))...)), code: codes.OK, writes: 1},
		{name: "Malformed/FieldZero", call: rawCall(e.conn, "GetArticle", []byte{0x02, 0x00}), code: codes.InvalidArgument, field: "request"},
		// A known field with the wrong wire type is an unknown field to
		// protobuf, so the request has no article.
		{name: "Malformed/WrongWireType", call: rawCall(e.conn, "CreateArticle", varintField(nil, 1, 7)), code: codes.InvalidArgument, field: "article"},
		{name: "Malformed/UnknownMethod", call: rawCall(e.conn, "DropArticles", nil), code: codes.Unimplemented},

		// page_size: negative is invalid, huge is clamped.
		{name: "PageSize/ListNegative", call: list(&articlesv1.ListArticlesRequest{PageSize: -1}), code: codes.InvalidArgument, field: "page_size"},
		{name: "PageSize/ListMinInt32", call: list(&articlesv1.ListArticlesRequest{PageSize: math.MinInt32}), code: codes.InvalidArgument, field: "page_size"},
		{name: "PageSize/ListHugeClamped", call: pageOf(math.MaxInt32, 1000), code: codes.OK},
		{name: "PageSize/ListJustOverClamped", call: pageOf(1001, 1000), code: codes.OK},
		{name: "PageSize/SearchNegative", call: find(&articlesv1.SearchArticlesRequest{Query: "common", PageSize: -5}), code: codes.InvalidArgument, field: "page_size"},
		{name: "PageSize/SearchHugeClamped", call: searchOf(math.MaxInt32, 100), code: codes.OK},

		// Page tokens: forged, truncated, edited, foreign and cross-filter
		// tokens are INVALID_ARGUMENT, never a wrong page.
		{name: "Token/ListForged", call: list(&articlesv1.ListArticlesRequest{Author: "Ann", PageToken: forgedList}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListTruncated", call: list(&articlesv1.ListArticlesRequest{Author: "Ann", PageToken: listTok[:len(listTok)-1]}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListHalf", call: list(&articlesv1.ListArticlesRequest{Author: "Ann", PageToken: listTok[:len(listTok)/2]}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListEdited", call: list(&articlesv1.ListArticlesRequest{Author: "Ann", PageToken: flipped(listTok)}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListPadded", call: list(&articlesv1.ListArticlesRequest{Author: "Ann", PageToken: listTok + "="}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListCrossFilter", call: list(&articlesv1.ListArticlesRequest{Author: "Bob", PageToken: listTok}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListCrossOrder", call: list(&articlesv1.ListArticlesRequest{Author: "Ann", OrderBy: "create_time", PageToken: listTok}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListSearchToken", call: list(&articlesv1.ListArticlesRequest{PageToken: searchTok}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListStreamCursor", call: list(&articlesv1.ListArticlesRequest{PageToken: cursor}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListPath", call: list(&articlesv1.ListArticlesRequest{PageToken: "../../etc/passwd"}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/ListTenThousand", call: list(&articlesv1.ListArticlesRequest{PageToken: long}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/SearchForged", call: find(&articlesv1.SearchArticlesRequest{Query: "common", PageToken: forgedSearch}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/SearchTruncated", call: find(&articlesv1.SearchArticlesRequest{Query: "common", PageToken: searchTok[:len(searchTok)-2]}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/SearchOtherQuery", call: find(&articlesv1.SearchArticlesRequest{Query: "body", PageToken: searchTok}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/SearchCrossFilter", call: find(&articlesv1.SearchArticlesRequest{Query: "common", Author: "Ann", PageToken: searchTok}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/SearchListToken", call: find(&articlesv1.SearchArticlesRequest{Query: "common", PageToken: listTok}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/SearchTooDeep", call: find(&articlesv1.SearchArticlesRequest{Query: "common", PageToken: tooDeep}), code: codes.InvalidArgument, field: "page_token"},
		{name: "Token/StreamForged", call: stream(&articlesv1.StreamArticlesRequest{StartAfter: flipped(cursor)}), code: codes.InvalidArgument, field: "start_after"},
		{name: "Token/StreamPageToken", call: stream(&articlesv1.StreamArticlesRequest{Author: "Ann", StartAfter: listTok}), code: codes.InvalidArgument, field: "start_after"},
		{name: "Token/StreamCrossFilter", call: stream(&articlesv1.StreamArticlesRequest{Author: "Bob", StartAfter: cursor}), code: codes.InvalidArgument, field: "start_after"},
		{name: "Token/StreamTenThousand", call: stream(&articlesv1.StreamArticlesRequest{StartAfter: long}), code: codes.InvalidArgument, field: "start_after"},
		{name: "Token/StreamUnknownID", call: stream(&articlesv1.StreamArticlesRequest{StartAfter: "01J00000000000000000000000"}), code: codes.NotFound},

		// Slugs: only lowercase a-z, 0-9 and single '-' are stored.
		{name: "Slug/CreateDotDot", call: create(withSlug("../etc/passwd")), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/CreateSlash", call: create(withSlug("a/b")), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/CreateNUL", call: create(withSlug("a\x00b")), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/CreateSpace", call: create(withSlug("a b")), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/CreateTenThousand", call: create(withSlug(long)), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/CreateUnicode", call: create(withSlug("café")), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/UpdateDotDot", call: update(onMine(func(a *articlesv1.Article) { a.Slug = "../mine" }), "slug"), code: codes.InvalidArgument, field: "article.slug"},
		{name: "Slug/ImportBad", call: importing(withSlug("../x"), withSlug("a/b"), withSlug("a\x00b"), withSlug(long), nil), code: codes.OK},
		// A lookup by a slug no article can have finds nothing; only an
		// empty or overlong one is malformed.
		{name: "Slug/GetDotDot", call: getSlug("../etc/passwd"), code: codes.NotFound},
		{name: "Slug/GetNUL", call: getSlug("common-piece-0001\x00"), code: codes.NotFound},
		{name: "Slug/GetSpace", call: getSlug("common piece"), code: codes.NotFound},
		{name: "Slug/GetEmpty", call: getSlug(""), code: codes.InvalidArgument, field: "slug"},
		{name: "Slug/GetTenThousand", call: getSlug(long), code: codes.InvalidArgument, field: "slug"},

		// Titles.
		{name: "Title/CreateEmpty", call: create(&articlesv1.Article{Body: "No title."}), code: codes.InvalidArgument, field: "article.title"},
		{name: "Title/CreateBlank", call: create(&articlesv1.Article{Title: "\t \n"}), code: codes.InvalidArgument, field: "article.title"},
		{name: "Title/Create501", call: create(&articlesv1.Article{Title: strings.Repeat("t", 501)}), code: codes.InvalidArgument, field: "article.title"},
		{name: "Title/Create501Runes", call: create(&articlesv1.Article{Title: strings.Repeat("ж", 501)}), code: codes.InvalidArgument, field: "article.title"},
		{name: "Title/UpdateEmpty", call: update(onMine(func(a *articlesv1.Article) { a.Title = "" }), "title"), code: codes.InvalidArgument, field: "article.title"},
		{name: "Title/UpdateEmptyMaskAll", call: update(onMine(func(a *articlesv1.Article) { a.Title = "" })), code: codes.InvalidArgument, field: "article.title"},

		// Update masks.
		{name: "Mask/Unknown", call: update(onMine(func(*articlesv1.Article) {}), "popularity"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/UnknownSecond", call: update(onMine(func(*articlesv1.Article) {}), "title", "colour"), code: codes.InvalidArgument, field: "update_mask.paths[1]"},
		{name: "Mask/WrongCase", call: update(onMine(func(*articlesv1.Article) {}), "Title"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/Prefixed", call: update(onMine(func(*articlesv1.Article) {}), "article.title"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/Empty", call: update(onMine(func(*articlesv1.Article) {}), ""), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/StarWithOthers", call: update(onMine(func(*articlesv1.Article) {}), "*", "title"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/TenThousand", call: update(onMine(func(*articlesv1.Article) {}), long), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/ThreeMegabytes", call: update(onMine(func(*articlesv1.Article) {}), huge), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/OutputOnlyID", call: update(onMine(func(*articlesv1.Article) {}), "id"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/OutputOnlyEtag", call: update(onMine(func(*articlesv1.Article) {}), "title", "etag"), code: codes.InvalidArgument, field: "update_mask.paths[1]"},
		{name: "Mask/OutputOnlyRevision", call: update(onMine(func(*articlesv1.Article) {}), "revision"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/OutputOnlyCreateTime", call: update(onMine(func(*articlesv1.Article) {}), "create_time"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/OutputOnlyUpdateTime", call: update(onMine(func(*articlesv1.Article) {}), "update_time"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},
		{name: "Mask/OutputOnlyWordCount", call: update(onMine(func(*articlesv1.Article) {}), "word_count"), code: codes.InvalidArgument, field: "update_mask.paths[0]"},

		// request_id: a retry with the same content changes nothing; the
		// same id with other content is refused.
		{name: "RequestID/SameContent", call: func(ctx context.Context) error {
			got, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Mine", Body: "Mine alone."}, RequestId: rid})
			if err == nil && got.GetId() != mine.GetId() {
				return fmt.Errorf("retry created %s, want the first article %s", got.GetId(), mine.GetId())
			}
			return err
		}, code: codes.OK},
		{name: "RequestID/OtherContent", call: func(ctx context.Context) error {
			_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Not mine", Body: "Other."}, RequestId: rid})
			return err
		}, code: codes.InvalidArgument, field: "request_id"},
		{name: "RequestID/OtherBody", call: func(ctx context.Context) error {
			_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Mine", Body: "Mine, edited."}, RequestId: rid})
			return err
		}, code: codes.InvalidArgument, field: "request_id"},
		{name: "RequestID/TooLong", call: func(ctx context.Context) error {
			_, err := e.client.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Long rid"}, RequestId: long})
			return err
		}, code: codes.InvalidArgument, field: "request_id"},

		// Ids of the wrong shape. The server does not assume the store's id
		// scheme: a well-formed lookup of an id that cannot exist is
		// NOT_FOUND; empty and overlong ids are INVALID_ARGUMENT.
		{name: "ID/GetEmpty", call: getID(""), code: codes.InvalidArgument, field: "id"},
		{name: "ID/GetNoKey", call: func(ctx context.Context) error {
			_, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{})
			return err
		}, code: codes.InvalidArgument, field: "id"},
		{name: "ID/GetNotULID", call: getID("not-a-ulid"), code: codes.NotFound},
		{name: "ID/GetNUL", call: getID("\x00"), code: codes.NotFound},
		{name: "ID/GetDotDot", call: getID("../" + ids[0]), code: codes.NotFound},
		{name: "ID/GetTenThousand", call: getID(long), code: codes.InvalidArgument, field: "id"},
		{name: "ID/DeleteEmpty", call: del("", ""), code: codes.InvalidArgument, field: "id"},
		{name: "ID/DeleteNotULID", call: del("not-a-ulid", ""), code: codes.NotFound},
		{name: "ID/DeleteNUL", call: del(mine.GetId()+"\x00", ""), code: codes.NotFound},
		{name: "ID/DeleteTenThousand", call: del(long, ""), code: codes.InvalidArgument, field: "id"},
		{name: "ID/DeleteStaleEtag", call: del(mine.GetId(), "stale"), code: codes.Aborted},
		{name: "ID/UpdateEmpty", call: update(&articlesv1.Article{Title: "x"}), code: codes.InvalidArgument, field: "article.id"},
		{name: "ID/UpdateNotULID", call: update(&articlesv1.Article{Id: "not-a-ulid", Title: "x"}), code: codes.NotFound},
		{name: "ID/UpdateNUL", call: update(&articlesv1.Article{Id: "\x00", Title: "x"}), code: codes.NotFound},
		{name: "ID/UpdateTenThousand", call: update(&articlesv1.Article{Id: long, Title: "x"}), code: codes.InvalidArgument, field: "article.id"},
		{name: "ID/UpdateStaleEtag", call: update(onMine(func(a *articlesv1.Article) { a.Etag = "stale" }), "body"), code: codes.Aborted},
		{name: "ID/UpdateNoArticle", call: func(ctx context.Context) error {
			_, err := e.client.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{})
			return err
		}, code: codes.InvalidArgument, field: "article"},
		{name: "ID/BatchGetEmpty", call: batch(0, ids[0], ""), code: codes.InvalidArgument, field: "ids[1]"},
		{name: "ID/BatchGetNotULID", call: batch(0, ids[0], "not-a-ulid"), code: codes.NotFound},
		{name: "ID/BatchGetNUL", call: batch(0, "\x00", ids[0]), code: codes.NotFound},
		{name: "ID/BatchGetTenThousand", call: batch(0, ids[0], long), code: codes.InvalidArgument, field: "ids[1]"},
		{name: "ID/BatchGet1001", call: batch(0, thousandIDs...), code: codes.InvalidArgument, field: "ids"},
		{name: "ID/BatchGet1000", call: func(ctx context.Context) error {
			resp, err := e.client.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: thousandIDs[:1000], View: articlesv1.ArticleView_ARTICLE_VIEW_BASIC})
			if err == nil && len(resp.GetArticles()) != 1000 {
				return fmt.Errorf("BatchGet of 1000 ids returned %d articles", len(resp.GetArticles()))
			}
			return err
		}, code: codes.OK},

		// Orders, views and filters.
		{name: "Order/ListUnknown", call: list(&articlesv1.ListArticlesRequest{OrderBy: "popularity"}), code: codes.InvalidArgument, field: "order_by"},
		{name: "Order/ListTitleDesc", call: list(&articlesv1.ListArticlesRequest{OrderBy: "title desc"}), code: codes.InvalidArgument, field: "order_by"},
		{name: "Order/ListInjection", call: list(&articlesv1.ListArticlesRequest{OrderBy: "title; DROP TABLE articles"}), code: codes.InvalidArgument, field: "order_by"},
		{name: "Order/ListTenThousand", call: list(&articlesv1.ListArticlesRequest{OrderBy: long}), code: codes.InvalidArgument, field: "order_by"},
		{name: "Order/ListThreeMegabytes", call: list(&articlesv1.ListArticlesRequest{OrderBy: huge}), code: codes.InvalidArgument, field: "order_by"},
		{name: "Order/StreamUnknown", call: stream(&articlesv1.StreamArticlesRequest{OrderBy: "random"}), code: codes.InvalidArgument, field: "order_by"},
		{name: "View/Get", call: func(ctx context.Context) error {
			_, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: ids[0]}, View: 7})
			return err
		}, code: codes.InvalidArgument, field: "view"},
		{name: "View/BatchGetNegative", call: batch(-1, ids[0]), code: codes.InvalidArgument, field: "view"},
		{name: "View/List", call: list(&articlesv1.ListArticlesRequest{View: 99}), code: codes.InvalidArgument, field: "view"},
		{name: "View/Stream", call: stream(&articlesv1.StreamArticlesRequest{View: 3}), code: codes.InvalidArgument, field: "view"},
		{name: "View/Search", call: find(&articlesv1.SearchArticlesRequest{Query: "common", View: math.MaxInt32}), code: codes.InvalidArgument, field: "view"},
		{name: "Filter/LongAuthor", call: list(&articlesv1.ListArticlesRequest{Author: long}), code: codes.InvalidArgument, field: "author"},
		{name: "Filter/BadTimestamp", call: list(&articlesv1.ListArticlesRequest{PublishedBefore: &timestamppb.Timestamp{Seconds: math.MaxInt64}}), code: codes.InvalidArgument, field: "published_before"},
		{name: "Filter/InvertedRange", call: find(&articlesv1.SearchArticlesRequest{Query: "common", PublishedAfter: timestamppb.New(time.Unix(2e9, 0)), PublishedBefore: timestamppb.New(time.Unix(1e9, 0))}), code: codes.InvalidArgument, field: "published_after"},
		{name: "Filter/CreateBadPublishTime", call: create(&articlesv1.Article{Title: "Timeless", PublishTime: &timestamppb.Timestamp{Nanos: 2e9}}), code: codes.InvalidArgument, field: "article.publish_time"},

		// Watch.
		{name: "Watch/NegativeStart", call: watch(&articlesv1.WatchArticlesRequest{StartRevision: -1}), code: codes.InvalidArgument, field: "start_revision"},
		{name: "Watch/MinInt64Start", call: watch(&articlesv1.WatchArticlesRequest{StartRevision: math.MinInt64}), code: codes.InvalidArgument, field: "start_revision"},
		{name: "Watch/LongTag", call: watch(&articlesv1.WatchArticlesRequest{Tag: long}), code: codes.InvalidArgument, field: "tag"},

		// Search queries.
		{name: "Search/Empty", call: find(&articlesv1.SearchArticlesRequest{}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/Blank", call: find(&articlesv1.SearchArticlesRequest{Query: " \t\n"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/UnclosedQuote", call: find(&articlesv1.SearchArticlesRequest{Query: `"common body`}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/OnlyExcluded", call: find(&articlesv1.SearchArticlesRequest{Query: "-common"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/LoneDash", call: find(&articlesv1.SearchArticlesRequest{Query: "common -"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/LoneStar", call: find(&articlesv1.SearchArticlesRequest{Query: "*"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/ShortPrefix", call: find(&articlesv1.SearchArticlesRequest{Query: "c*"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/OnlyStopWords", call: find(&articlesv1.SearchArticlesRequest{Query: "the of and"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/OnlyPunctuation", call: find(&articlesv1.SearchArticlesRequest{Query: "!?.,;"}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/TooLong", call: find(&articlesv1.SearchArticlesRequest{Query: strings.Repeat("common ", 200)}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/TooManyWords", call: find(&articlesv1.SearchArticlesRequest{Query: strings.Repeat("w ", 33)}), code: codes.InvalidArgument, field: "query"},
		{name: "Search/NegativeMinRevision", call: find(&articlesv1.SearchArticlesRequest{Query: "common", MinRevision: -1}), code: codes.InvalidArgument, field: "min_revision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := e.db.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(ctx)
			if tt.field != "" {
				wantViolation(t, err, tt.field)
			} else {
				wantCode(t, err, tt.code)
			}
			// An error quotes at most a little of the request back.
			if st, _ := status.FromError(err); len(st.Message()) > maxErrorText || len(fmt.Sprint(st.Details())) > maxErrorText {
				t.Errorf("error message of %d bytes with details of %d; want at most %d each", len(st.Message()), len(fmt.Sprint(st.Details())), maxErrorText)
			}
			after, err := e.db.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !advancedBy(before, after, tt.writes) {
				t.Errorf("store revision went from %d to %d, want %d: a rejected request wrote", before, after, before+tt.writes)
			}
		})
	}

	t.Run("NothingChanged", func(t *testing.T) {
		got, err := e.client.GetArticle(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: mine.GetId()}})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetEtag() != mine.GetEtag() || got.GetSlug() != mine.GetSlug() || got.GetBody() != mine.GetBody() {
			t.Errorf("article after bad updates = %v, want it as created: %v", got, mine)
		}
		if logs := e.logs.String(); strings.Contains(logs, "panic") || strings.Contains(logs, "grpc.code=Internal") {
			t.Errorf("server log shows a panic or an internal error:\n%s", logs)
		}
	})
}

// serveTCP serves srv's gRPC server, built with opts, on a loopback TCP
// port and returns a client connection to it. The server is stopped at
// cleanup.
func serveTCP(t *testing.T, srv *server.Server, opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := srv.GRPCServer(opts...)
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.GracefulStop(ctx)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return conn
}

// TestBadInputOversizedTCP checks grpc-go's receive size limit over a real
// loopback connection: a message over grpc.MaxRecvMsgSize is
// RESOURCE_EXHAUSTED before any handler runs, a body over the server's own
// limit but inside the message limit is INVALID_ARGUMENT, and the
// connection keeps working afterwards.
func TestBadInputOversizedTCP(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	srv, err := server.New(context.Background(), db, server.WithMaxBodyBytes(1000))
	if err != nil {
		t.Fatal(err)
	}
	const maxMsg = 4096
	conn := serveTCP(t, srv, grpc.MaxRecvMsgSize(maxMsg))
	c := articlesv1.NewArticleServiceClient(conn)
	ctx := testCtx(t)

	withBody := func(n int) *articlesv1.Article {
		return &articlesv1.Article{Title: "Sized", Body: strings.Repeat("x", n)}
	}
	tests := []struct {
		name  string
		call  func(ctx context.Context) error
		code  codes.Code
		field string
	}{
		{"CreateOverMessageLimit", func(ctx context.Context) error {
			_, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: withBody(2 * maxMsg)})
			return err
		}, codes.ResourceExhausted, ""},
		{"CreateOverBodyLimit", func(ctx context.Context) error {
			_, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: withBody(2000)})
			return err
		}, codes.InvalidArgument, "article.body"},
		{"UpdateOverMessageLimit", func(ctx context.Context) error {
			_, err := c.UpdateArticle(ctx, &articlesv1.UpdateArticleRequest{Article: withBody(maxMsg)})
			return err
		}, codes.ResourceExhausted, ""},
		{"BatchGetOverMessageLimit", func(ctx context.Context) error {
			_, err := c.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{Ids: slices.Repeat([]string{"01J00000000000000000000000"}, 200)})
			return err
		}, codes.ResourceExhausted, ""},
		{"SearchOverMessageLimit", func(ctx context.Context) error {
			_, err := c.SearchArticles(ctx, &articlesv1.SearchArticlesRequest{Query: strings.Repeat("q", maxMsg)})
			return err
		}, codes.ResourceExhausted, ""},
		{"ImportOverMessageLimit", func(ctx context.Context) error {
			s, err := c.ImportArticles(ctx)
			if err != nil {
				return err
			}
			// The send may already fail with io.EOF once the server has
			// answered; the status comes from CloseAndRecv either way.
			_ = s.Send(&articlesv1.ImportArticlesRequest{Article: withBody(2 * maxMsg)})
			_, err = s.CloseAndRecv()
			return err
		}, codes.ResourceExhausted, ""},
		{"WatchOverMessageLimit", func(ctx context.Context) error {
			s, err := c.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{Author: strings.Repeat("a", 2*maxMsg)})
			return firstStreamErr(s, err, 1)
		}, codes.ResourceExhausted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(ctx)
			if tt.field != "" {
				wantViolation(t, err, tt.field)
			} else {
				wantCode(t, err, tt.code)
			}
			if rev, err := db.Revision(ctx); err != nil || rev != 0 {
				t.Errorf("store revision = %d, %v; want 0: nothing written", rev, err)
			}
		})
	}
	t.Run("ConnectionStillServes", func(t *testing.T) {
		a, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: withBody(1000)})
		if err != nil {
			t.Fatalf("CreateArticle at the body limit: %v", err)
		}
		if a.GetRevision() != 1 || len(a.GetBody()) != 1000 {
			t.Errorf("created revision %d with a %d-byte body, want revision 1 and 1000 bytes", a.GetRevision(), len(a.GetBody()))
		}
	})
}
