package server

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/search"
)

// Search paging and consistency limits.
const (
	defaultSearchPageSize = 20
	maxSearchPageSize     = 100
	// maxSearchOffset bounds how deep a client may page into a ranking,
	// since each page re-ranks everything before it.
	maxSearchOffset = 10000
	// maxRevisionWait bounds a min_revision wait for a request that has no
	// deadline of its own.
	maxRevisionWait = 5 * time.Second
)

// SearchArticles runs a full-text query and returns one page of ranked
// results.
func (s *Server) SearchArticles(ctx context.Context, req *articlesv1.SearchArticlesRequest) (*articlesv1.SearchArticlesResponse, error) {
	size, err := pageSize(req.GetPageSize(), defaultSearchPageSize, maxSearchPageSize)
	if err != nil {
		return nil, err
	}
	text := req.GetQuery()
	switch {
	case !utf8.ValidString(text):
		return nil, invalidArgument(violation("query", "must be valid UTF-8"))
	case strings.TrimSpace(text) == "":
		return nil, invalidArgument(violation("query", "is required"))
	}
	q, err := search.Parse(text)
	if err != nil {
		return nil, badRequest(err.Error(), violation("query", "%s", err.Error()))
	}
	f, vs := parseFilter(req)
	if len(vs) > 0 {
		return nil, invalidArgument(vs...)
	}
	view, err := resolveView("view", req.GetView(), articlesv1.ArticleView_ARTICLE_VIEW_BASIC)
	if err != nil {
		return nil, err
	}
	canon := q.String()
	offset := 0
	if t := req.GetPageToken(); t != "" {
		if offset, err = s.tokens.decodeOffset(t, canon, f); err != nil {
			return nil, tokenError("page_token", err)
		}
	}
	if offset > maxSearchOffset {
		return nil, badRequest("page_token is beyond the deepest page", violation("page_token", "results past %d cannot be paged to; narrow the query", maxSearchOffset))
	}
	if err := s.waitRevision(ctx, req.GetMinRevision()); err != nil {
		return nil, err
	}
	resp, err := s.store.Search(ctx, q, f, offset, size)
	if err != nil {
		return nil, toStatus(err)
	}
	for _, r := range resp.GetResults() {
		applyView(r.GetArticle(), view)
	}
	resp.NextPageToken = ""
	if n := len(resp.GetResults()); n > 0 && offset+n < int(resp.GetTotalSize()) && offset+n <= maxSearchOffset {
		resp.NextPageToken = s.tokens.encodeOffset(canon, f, offset+n)
	}
	return resp, nil
}

// waitRevision waits until the store has reached min_revision rev, for as
// long as the request's deadline allows (maxRevisionWait without one).
func (s *Server) waitRevision(ctx context.Context, rev int64) error {
	if rev < 0 {
		return invalidArgument(violation("min_revision", "must not be negative"))
	}
	if rev == 0 {
		return nil
	}
	wctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, maxRevisionWait)
		defer cancel()
	}
	err := s.store.WaitRevision(wctx, rev)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return status.Errorf(codes.DeadlineExceeded, "min_revision %d was not reached within %s", rev, maxRevisionWait)
	}
	return toStatus(err)
}
