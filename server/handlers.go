package server

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Paging limits.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
	maxBatchGet     = 1000
	// maxIDLen bounds ids and slugs in requests; longer ones cannot exist.
	maxIDLen = 200
)

var errShuttingDown = status.Error(codes.Unavailable, "server is shutting down")

// RevisionHeader is the response header of every write (Create, Update,
// Delete, Import): the store revision that includes the write. A client
// passes it back as min_revision to read its own writes through any
// server; the Go client does so with client.WithReadYourWrites.
const RevisionHeader = "articles-revision"

// revisionMD is the header that reports rev.
func revisionMD(rev int64) metadata.MD {
	return metadata.Pairs(RevisionHeader, strconv.FormatInt(rev, 10))
}

// storeRevision returns the store's revision after a write whose reply
// carries no article, or 0 when it cannot be read: the write has
// happened, so a failed read only leaves the header out.
func (s *Server) storeRevision(ctx context.Context) int64 {
	rev, err := s.store.Revision(ctx)
	if err != nil {
		return 0
	}
	return rev
}

// checkID validates an id or slug given in a request.
func checkID(field, id string) *errdetails.BadRequest_FieldViolation {
	switch {
	case id == "":
		return violation(field, "is required")
	case !utf8.ValidString(id):
		return violation(field, "must be valid UTF-8")
	case len(id) > maxIDLen:
		return violation(field, "must be at most %d bytes", maxIDLen)
	}
	return nil
}

// GetArticle returns one article by id or slug.
func (s *Server) GetArticle(ctx context.Context, req *articlesv1.GetArticleRequest) (*articlesv1.Article, error) {
	view, id, slug, err := checkGetArticle(req)
	if err != nil {
		return nil, err
	}
	if err := s.waitRevision(ctx, req.GetMinRevision()); err != nil {
		return nil, err
	}
	get, bySlug := s.store.Get, s.store.GetBySlug
	if lr, ok := s.store.(LocalReader); ok && req.GetMinRevision() > 0 {
		get, bySlug = lr.GetLocal, lr.GetBySlugLocal
	}
	var a *articlesv1.Article
	if slug != "" {
		a, err = bySlug(ctx, slug)
	} else {
		a, err = get(ctx, id)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return applyView(a, view), nil
}

// getArticleReply is GetArticle as served over gRPC: from a RawStore, the
// article's stored encoding (trimmed to the view) goes into the reply as
// it is, without a decode and an encode.
func (s *Server) getArticleReply(ctx context.Context, req *articlesv1.GetArticleRequest) (any, error) {
	rs, ok := s.store.(RawStore)
	if !ok {
		return s.GetArticle(ctx, req)
	}
	view, id, slug, err := checkGetArticle(req)
	if err != nil {
		return nil, err
	}
	if err := s.waitRevision(ctx, req.GetMinRevision()); err != nil {
		return nil, err
	}
	var raw []byte
	if slug != "" {
		raw, err = rs.GetRawBySlug(ctx, slug)
	} else {
		raw, err = rs.GetRaw(ctx, id)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return encodedArticle(trimView(raw, view)), nil
}

// checkGetArticle checks a GetArticleRequest and returns its view and its
// id or slug (exactly one is set).
func checkGetArticle(req *articlesv1.GetArticleRequest) (view articlesv1.ArticleView, id, slug string, err error) {
	view, err = resolveView("view", req.GetView(), articlesv1.ArticleView_ARTICLE_VIEW_FULL)
	if err != nil {
		return 0, "", "", err
	}
	switch k := req.GetKey().(type) {
	case *articlesv1.GetArticleRequest_Id:
		if v := checkID("id", k.Id); v != nil {
			return 0, "", "", invalidArgument(v)
		}
		return view, k.Id, "", nil
	case *articlesv1.GetArticleRequest_Slug:
		if v := checkID("slug", k.Slug); v != nil {
			return 0, "", "", invalidArgument(v)
		}
		return view, "", k.Slug, nil
	}
	return 0, "", "", invalidArgument(violation("id", "one of id or slug is required"))
}

// BatchGetArticles returns articles by id, in the order asked.
func (s *Server) BatchGetArticles(ctx context.Context, req *articlesv1.BatchGetArticlesRequest) (*articlesv1.BatchGetArticlesResponse, error) {
	view, err := resolveView("view", req.GetView(), articlesv1.ArticleView_ARTICLE_VIEW_FULL)
	if err != nil {
		return nil, err
	}
	ids := req.GetIds()
	if len(ids) > maxBatchGet {
		return nil, invalidArgument(violation("ids", "must have at most %d ids, not %d", maxBatchGet, len(ids)))
	}
	var vs []*errdetails.BadRequest_FieldViolation
	for i, id := range ids {
		if v := checkID("ids["+itoa(i)+"]", id); v != nil {
			vs = append(vs, v)
		}
	}
	if len(vs) > 0 {
		return nil, invalidArgument(vs...)
	}
	if err := s.waitRevision(ctx, req.GetMinRevision()); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return &articlesv1.BatchGetArticlesResponse{}, nil
	}
	batchGet := s.store.BatchGet
	if lr, ok := s.store.(LocalReader); ok && req.GetMinRevision() > 0 {
		batchGet = lr.BatchGetLocal
	}
	as, err := batchGet(ctx, ids)
	if err != nil {
		return nil, toStatus(err)
	}
	for _, a := range as {
		applyView(a, view)
	}
	return &articlesv1.BatchGetArticlesResponse{Articles: as}, nil
}

// pageSize checks a page_size and applies its default and maximum.
func pageSize(n int32, def, max int) (int, error) {
	switch {
	case n < 0:
		return 0, invalidArgument(violation("page_size", "must not be negative"))
	case n == 0:
		return def, nil
	case int(n) > max:
		return max, nil
	}
	return int(n), nil
}

// ListArticles returns one page of articles.
func (s *Server) ListArticles(ctx context.Context, req *articlesv1.ListArticlesRequest) (*articlesv1.ListArticlesResponse, error) {
	size, err := pageSize(req.GetPageSize(), defaultPageSize, maxPageSize)
	if err != nil {
		return nil, err
	}
	q, vs := parseQuery(req, req.GetOrderBy())
	if len(vs) > 0 {
		return nil, invalidArgument(vs...)
	}
	view, err := resolveView("view", req.GetView(), articlesv1.ArticleView_ARTICLE_VIEW_BASIC)
	if err != nil {
		return nil, err
	}
	var after articles.Cursor
	if t := req.GetPageToken(); t != "" {
		if after, err = s.tokens.decodeCursor(t, kindPage, q); err != nil {
			return nil, tokenError("page_token", err)
		}
	}
	// One more than the page, to know whether there is a next page without
	// handing out a token that leads to an empty one.
	page := make([]*articlesv1.Article, 0, min(size+1, 64))
	err = s.store.List(ctx, q, after, size+1, func(a *articlesv1.Article) error {
		page = append(page, a)
		return nil
	})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &articlesv1.ListArticlesResponse{}
	if len(page) > size {
		page = page[:size]
		resp.NextPageToken = s.tokens.encodeCursor(kindPage, q, q.Order.CursorOf(page[size-1]))
	}
	for _, a := range page {
		applyView(a, view)
	}
	resp.Articles = page
	return resp, nil
}

// StreamArticles streams every matching article with a cursor each.
func (s *Server) StreamArticles(req *articlesv1.StreamArticlesRequest, stream grpc.ServerStreamingServer[articlesv1.StreamArticlesResponse]) error {
	q, vs := parseQuery(req, req.GetOrderBy())
	if len(vs) > 0 {
		return invalidArgument(vs...)
	}
	view, err := resolveView("view", req.GetView(), articlesv1.ArticleView_ARTICLE_VIEW_BASIC)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(s.shutdown, cancel)()
	if s.shutdown.Err() != nil {
		return errShuttingDown
	}
	var after articles.Cursor
	if sa := req.GetStartAfter(); sa != "" {
		if after, err = s.startAfter(ctx, sa, q); err != nil {
			return err
		}
	}
	fp := queryFingerprint(q)
	if rs, ok := s.store.(RawStore); ok {
		// Articles as stored, each with its signed cursor, spliced into
		// the reply without a decode and an encode.
		err = rs.ListRaw(ctx, q, after, 0, func(raw []byte, c articles.Cursor) error {
			cur := s.tokens.encodeCursorFP(kindCursor, fp, c)
			return stream.SendMsg(encodedStreamReply(trimView(raw, view), cur))
		})
	} else {
		err = s.store.List(ctx, q, after, 0, func(a *articlesv1.Article) error {
			cur := s.tokens.encodeCursorFP(kindCursor, fp, q.Order.CursorOf(a))
			return stream.Send(&articlesv1.StreamArticlesResponse{Article: applyView(a, view), Cursor: cur})
		})
	}
	if err != nil && s.shutdown.Err() != nil && stream.Context().Err() == nil {
		return errShuttingDown
	}
	return toStatus(err)
}

// startAfter resolves a StreamArticles start_after: a cursor from a stream
// with the same filters and order, or an article id.
func (s *Server) startAfter(ctx context.Context, sa string, q articles.Query) (articles.Cursor, error) {
	cur, err := s.tokens.decodeCursor(sa, kindCursor, q)
	switch {
	case err == nil:
		return cur, nil
	case errors.Is(err, errTokenMismatch):
		return cur, badRequest("start_after does not match the request's filters and order",
			violation("start_after", "the cursor came from a stream with other filters or another order"))
	case looksLikeCursor(sa):
		return cur, badRequest("invalid start_after", violation("start_after", "is not a valid cursor"))
	}
	if v := checkID("start_after", sa); v != nil {
		return cur, invalidArgument(v)
	}
	a, err := s.store.Get(ctx, sa)
	if err != nil {
		return cur, toStatus(err)
	}
	return q.Order.CursorOf(a), nil
}

// looksLikeCursor reports whether s has the framing of one of the
// server's tokens, so that a damaged cursor, or a page token passed as a
// cursor, is reported as such rather than looked up as an article id.
// (Ids are 26-character ULIDs, too short to decode to a token.)
func looksLikeCursor(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) >= 2+fpLen+macLen && b[0] == tokenVersion &&
		(tokenKind(b[1]) == kindPage || tokenKind(b[1]) == kindCursor || tokenKind(b[1]) == kindSearch)
}

// CreateArticle validates and stores a new article.
func (s *Server) CreateArticle(ctx context.Context, req *articlesv1.CreateArticleRequest) (*articlesv1.Article, error) {
	if req.GetArticle() == nil {
		return nil, invalidArgument(violation("article", "is required"))
	}
	var vs []*errdetails.BadRequest_FieldViolation
	rid := req.GetRequestId()
	switch {
	case !utf8.ValidString(rid):
		vs = append(vs, violation("request_id", "must be valid UTF-8"))
	case utf8.RuneCountInString(rid) > maxRequestIDChars:
		vs = append(vs, violation("request_id", "must be at most %d characters", maxRequestIDChars))
	}
	a := proto.Clone(req.GetArticle()).(*articlesv1.Article)
	articles.ClearOutputOnly(a)
	vs = append(vs, s.valid.normalize(a, "article")...)
	if len(vs) > 0 {
		return nil, invalidArgument(vs...)
	}
	out, err := s.store.Create(ctx, a, rid)
	if err != nil {
		return nil, toStatus(err)
	}
	_ = grpc.SetHeader(ctx, revisionMD(out.GetRevision()))
	return out, nil
}

// UpdateArticle changes the fields named in the update mask.
func (s *Server) UpdateArticle(ctx context.Context, req *articlesv1.UpdateArticleRequest) (*articlesv1.Article, error) {
	src := req.GetArticle()
	if src == nil {
		return nil, invalidArgument(violation("article", "is required"))
	}
	var vs []*errdetails.BadRequest_FieldViolation
	if v := checkID("article.id", src.GetId()); v != nil {
		vs = append(vs, v)
	}
	paths, mvs := checkMask(req.GetUpdateMask().GetPaths())
	vs = append(vs, mvs...)
	if !utf8.ValidString(src.GetEtag()) {
		vs = append(vs, violation("article.etag", "must be valid UTF-8"))
	}
	if len(vs) > 0 {
		return nil, invalidArgument(vs...)
	}
	src = proto.Clone(src).(*articlesv1.Article)
	// mutate runs inside the store's write, perhaps more than once: it only
	// copies and checks, and its validation error aborts the write.
	mutate := func(a *articlesv1.Article) error {
		for _, p := range paths {
			settableFields[p](a, src)
		}
		if vs := s.valid.normalize(a, "article"); len(vs) > 0 {
			return invalidArgument(vs...)
		}
		return nil
	}
	out, err := s.store.Update(ctx, src.GetId(), src.GetEtag(), mutate)
	if err != nil {
		return nil, toStatus(err)
	}
	_ = grpc.SetHeader(ctx, revisionMD(out.GetRevision()))
	return out, nil
}

// DeleteArticle deletes one article.
func (s *Server) DeleteArticle(ctx context.Context, req *articlesv1.DeleteArticleRequest) (*emptypb.Empty, error) {
	if v := checkID("id", req.GetId()); v != nil {
		return nil, invalidArgument(v)
	}
	if !utf8.ValidString(req.GetEtag()) {
		return nil, invalidArgument(violation("etag", "must be valid UTF-8"))
	}
	if err := s.store.Delete(ctx, req.GetId(), req.GetEtag()); err != nil {
		return nil, toStatus(err)
	}
	if rev := s.storeRevision(ctx); rev > 0 {
		_ = grpc.SetHeader(ctx, revisionMD(rev))
	}
	return &emptypb.Empty{}, nil
}

// ImportArticles upserts a client stream of articles, committing every
// importBatch articles as they arrive (import.go), so that what the reply
// counts is durable.
func (s *Server) ImportArticles(stream grpc.ClientStreamingServer[articlesv1.ImportArticlesRequest, articlesv1.ImportArticlesResponse]) error {
	imp := s.newImport(stream.Context())
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return toStatus(err)
		}
		if err := imp.add(req.GetArticle()); err != nil {
			return toStatus(err)
		}
	}
	resp, err := imp.finish()
	if err != nil {
		return toStatus(err)
	}
	if rev := s.storeRevision(stream.Context()); rev > 0 {
		_ = stream.SetHeader(revisionMD(rev))
	}
	return stream.SendAndClose(resp)
}
