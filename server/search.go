package server

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed9c1868aa/articles"
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

// Searcher is what the server needs of a full-text index (package
// fulltext's Engine). It is safe for concurrent use.
type Searcher interface {
	// Search returns the ids and scores of the articles matching q and f,
	// best first, at positions [offset, offset+limit) of the ranking,
	// with the number of matches and the store revision the index
	// reflects. It first waits (bounded by ctx) until the index reflects
	// every write the store acknowledged before the call. Context errors
	// are returned as they are; anything else is an internal failure.
	Search(ctx context.Context, q *search.Query, f articles.Filter, offset, limit int) (*search.Results, error)
}

// searchAttempts bounds how often SearchArticles ranks again because
// writes made during the call changed articles of its page.
const searchAttempts = 3

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
	if s.cfg.searcher == nil {
		return nil, status.Error(codes.Unimplemented, "this server has no full-text index")
	}
	resp, err := s.search(ctx, q, f, offset, size)
	if err != nil {
		return nil, toStatus(err)
	}
	for _, r := range resp.GetResults() {
		applyView(r.GetArticle(), view)
	}
	if n := len(resp.GetResults()); n > 0 && offset+n < int(resp.GetTotalSize()) && offset+n <= maxSearchOffset {
		resp.NextPageToken = s.tokens.encodeOffset(canon, f, offset+n)
	}
	return resp, nil
}

// search ranks with the searcher and loads the page's articles from the
// store. An article of the page deleted or rewritten after the index's
// revision (by a write during the call) makes it rank again, once the
// index has caught up, up to searchAttempts times; it is then left out
// of the page, so a result is always the version the index matched.
// Each result carries a snippet of the article's body (or, when the body
// is empty, its summary).
func (s *Server) search(ctx context.Context, q *search.Query, f articles.Filter, offset, limit int) (*articlesv1.SearchArticlesResponse, error) {
	var (
		res  *search.Results
		page []*articlesv1.Article
		hits []search.Hit
	)
	for attempt := 1; ; attempt++ {
		var err error
		if res, err = s.cfg.searcher.Search(ctx, q, f, offset, limit); err != nil {
			return nil, err
		}
		ids := make([]string, len(res.Hits))
		for i, h := range res.Hits {
			ids[i] = h.ID
		}
		arts, err := s.getMany(ctx, ids)
		if err != nil {
			return nil, err
		}
		page, hits = page[:0], hits[:0]
		changed := false
		for i, a := range arts {
			if a == nil || a.GetRevision() > res.Revision {
				// Deleted or rewritten since the index's revision: its
				// indexed version is gone and the current one may not
				// match.
				changed = true
				continue
			}
			page = append(page, a)
			hits = append(hits, res.Hits[i])
		}
		if !changed || attempt == searchAttempts {
			break
		}
	}
	resp := &articlesv1.SearchArticlesResponse{
		TotalSize: int32(min(res.Total, math.MaxInt32)),
		Revision:  res.Revision,
	}
	for i, a := range page {
		text := a.GetBody()
		if strings.TrimSpace(text) == "" {
			text = a.GetSummary()
		}
		resp.Results = append(resp.Results, &articlesv1.SearchResult{
			Article: a,
			Score:   hits[i].Score,
			Snippet: search.Snippet(text, q, 0),
		})
	}
	return resp, nil
}

// getMany returns the articles with the given ids, in order, nil for
// those that no longer exist.
func (s *Server) getMany(ctx context.Context, ids []string) ([]*articlesv1.Article, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	arts, err := s.store.BatchGet(ctx, ids)
	if err == nil {
		return arts, nil
	}
	if !errors.Is(err, articles.ErrNotFound) {
		return nil, err
	}
	// Some were deleted: read them one by one.
	arts = make([]*articlesv1.Article, len(ids))
	for i, id := range ids {
		a, err := s.store.Get(ctx, id)
		if errors.Is(err, articles.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		arts[i] = a
	}
	return arts, nil
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
