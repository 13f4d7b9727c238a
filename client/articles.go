package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// A GetOption changes how Get, GetBySlug and BatchGet read.
type GetOption interface {
	applyGet(*getOptions)
}

type getOptions struct {
	minRevision int64
	set         bool // minRevision was given, if only as 0
}

type getOptionFunc func(*getOptions)

func (f getOptionFunc) applyGet(o *getOptions) { f(o) }

func newGetOptions(opts []GetOption) getOptions {
	var o getOptions
	for _, opt := range opts {
		opt.applyGet(&o)
	}
	return o
}

// MinRevision reads your writes instead of linearizably: the server may
// answer from what it has already seen once that reaches rev (the
// revision of an article this caller wrote, say), and the answer holds
// every write up to rev but may miss later ones through other servers.
// On etcd this saves the server a round trip to the cluster; a single
// bbolt server sees every write either way. rev 0 reads linearizably,
// also on a WithReadYourWrites Client.
func MinRevision(rev int64) GetOption {
	return getOptionFunc(func(o *getOptions) { o.minRevision, o.set = rev, true })
}

// Get returns the article with the given id, with every field.
// The error has code NOT_FOUND if there is none.
func (c *Client) Get(ctx context.Context, id string, opts ...GetOption) (*articlesv1.Article, error) {
	return c.get(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Id{Id: id}}, opts)
}

// GetBySlug returns the article with the given slug, with every field.
// The error has code NOT_FOUND if there is none.
func (c *Client) GetBySlug(ctx context.Context, slug string, opts ...GetOption) (*articlesv1.Article, error) {
	return c.get(ctx, &articlesv1.GetArticleRequest{Key: &articlesv1.GetArticleRequest_Slug{Slug: slug}}, opts)
}

func (c *Client) get(ctx context.Context, req *articlesv1.GetArticleRequest, opts []GetOption) (*articlesv1.Article, error) {
	req.View = articlesv1.ArticleView_ARTICLE_VIEW_FULL
	req.MinRevision = c.floor(newGetOptions(opts))
	return c.rpc.GetArticle(ctx, req)
}

// BatchGet returns the articles with the given ids (at most 1000), in the
// same order, with every field. If any id is unknown the whole call fails
// with NOT_FOUND naming it.
func (c *Client) BatchGet(ctx context.Context, ids []string, opts ...GetOption) ([]*articlesv1.Article, error) {
	resp, err := c.rpc.BatchGetArticles(ctx, &articlesv1.BatchGetArticlesRequest{
		Ids:         ids,
		View:        articlesv1.ArticleView_ARTICLE_VIEW_FULL,
		MinRevision: c.floor(newGetOptions(opts)),
	})
	if err != nil {
		return nil, err
	}
	return resp.GetArticles(), nil
}

// List returns one page of articles. req carries the filters, order, view,
// page size and token; a nil req lists the first page with the defaults.
func (c *Client) List(ctx context.Context, req *articlesv1.ListArticlesRequest) (*articlesv1.ListArticlesResponse, error) {
	if req == nil {
		req = &articlesv1.ListArticlesRequest{}
	}
	return c.rpc.ListArticles(ctx, req)
}

// ListAll yields every article that req selects, page after page, starting
// at req.page_token. req is not modified. Each page is a separate call with
// the client's default timeout; an error is yielded once and ends the
// sequence.
func (c *Client) ListAll(ctx context.Context, req *articlesv1.ListArticlesRequest) iter.Seq2[*articlesv1.Article, error] {
	return func(yield func(*articlesv1.Article, error) bool) {
		page := &articlesv1.ListArticlesRequest{}
		if req != nil {
			page = proto.Clone(req).(*articlesv1.ListArticlesRequest)
		}
		for {
			resp, err := c.rpc.ListArticles(ctx, page)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, a := range resp.GetArticles() {
				if !yield(a, nil) {
					return
				}
			}
			next := resp.GetNextPageToken()
			if next == "" {
				return
			}
			if next == page.PageToken {
				// A server that hands back the token it was given would
				// loop forever; stop with an error instead.
				yield(nil, fmt.Errorf("client: server returned the same page token twice"))
				return
			}
			page.PageToken = next
		}
	}
}

// Create creates an article and returns it as stored. requestID, when not
// empty, makes the call safe to retry: a repeat with the same requestID
// returns the first result and creates nothing new (AIP-155).
func (c *Client) Create(ctx context.Context, a *articlesv1.Article, requestID string) (*articlesv1.Article, error) {
	if a == nil {
		return nil, errNilArticle
	}
	return c.rpc.CreateArticle(ctx, &articlesv1.CreateArticleRequest{Article: a, RequestId: requestID})
}

// Update changes the article a.id names and returns it as stored. paths
// are the fields to change, as proto field names ("title", "tags",
// "publish_time"); none means every settable field. When a.etag is set and
// no longer current the call fails with ABORTED and changes nothing.
func (c *Client) Update(ctx context.Context, a *articlesv1.Article, paths ...string) (*articlesv1.Article, error) {
	if a == nil {
		return nil, errNilArticle
	}
	req := &articlesv1.UpdateArticleRequest{Article: a}
	if len(paths) > 0 {
		req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	}
	return c.rpc.UpdateArticle(ctx, req)
}

// Delete deletes the article with the given id. etag, when not empty, must
// be the article's current etag, or the call fails with ABORTED.
func (c *Client) Delete(ctx context.Context, id, etag string) error {
	_, err := c.rpc.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{Id: id, Etag: etag})
	return err
}

// Import upserts every article of seq by slug in one client stream and
// returns the server's summary: how many were created, updated and
// unchanged, and each rejected article's index in seq with the reason.
// Nil articles are sent as empty ones, and so are rejected with their index.
//
// Import is not given the default timeout, since an import lasts as long as
// seq does; ctx bounds it. If the stream fails part-way, the articles the
// server had already committed stay committed.
func (c *Client) Import(ctx context.Context, seq iter.Seq[*articlesv1.Article]) (*articlesv1.ImportArticlesResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.ImportArticles(ctx)
	if err != nil {
		return nil, err
	}
	for a := range seq {
		if a == nil {
			a = &articlesv1.Article{}
		}
		if err := stream.Send(&articlesv1.ImportArticlesRequest{Article: a}); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream; its status is the real
				// error, and CloseAndRecv returns it.
				break
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

// Search returns one page of articles matching req.query, best first, each
// with its score and a snippet.
func (c *Client) Search(ctx context.Context, req *articlesv1.SearchArticlesRequest) (*articlesv1.SearchArticlesResponse, error) {
	if req == nil {
		req = &articlesv1.SearchArticlesRequest{}
	}
	return c.rpc.SearchArticles(ctx, req)
}
