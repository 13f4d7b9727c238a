package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/seed9c1868aa/articles"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// An import is written to the store in batches of at most importBatch
// articles and importBatchBytes of encoded articles (the one that makes
// a batch reach it is its last): large enough to share a commit and an
// fsync among many articles, small enough to bound the memory a stream
// holds before its articles are durable. Imports are cut into batches
// here and nowhere else.
const (
	importBatch      = 2000
	importBatchBytes = 16 << 20
)

// importer validates, normalises and buffers the articles of one import
// and writes them to the store importBatch at a time, adding up what the
// store reports into the API's response.
type importer struct {
	s     *Server
	ctx   context.Context
	resp  *articlesv1.ImportArticlesResponse
	n     int                   // articles added so far
	batch []*articlesv1.Article // valid articles not yet written
	pos   []int                 // pos[i] is batch[i]'s position in the import
	bytes int                   // the encoded size of batch
}

func (s *Server) newImport(ctx context.Context) *importer {
	return &importer{s: s, ctx: ctx, resp: &articlesv1.ImportArticlesResponse{}}
}

// add takes the import's next article. An invalid one is recorded as a
// failure; an error is the store's, and ends the import (the batches
// written before it stay written).
func (im *importer) add(a *articlesv1.Article) error {
	i := im.n
	im.n++
	if a == nil {
		im.fail(i, "article: is required")
		return nil
	}
	c := proto.Clone(a).(*articlesv1.Article)
	articles.ClearOutputOnly(c)
	if vs := im.s.valid.normalize(c, "article"); len(vs) > 0 {
		im.fail(i, violationsText(vs))
		return nil
	}
	im.batch = append(im.batch, c)
	im.pos = append(im.pos, i)
	im.bytes += proto.Size(c)
	if len(im.batch) == importBatch || im.bytes >= importBatchBytes {
		return im.flush()
	}
	return nil
}

func (im *importer) fail(i int, reason string) {
	im.resp.Failures = append(im.resp.Failures, &articlesv1.ImportFailure{Index: int64(i), Reason: reason})
}

// flush writes the buffered articles.
func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	r, err := im.s.store.Import(im.ctx, im.batch)
	if err != nil {
		return err
	}
	im.resp.Created += int32(r.Created)
	im.resp.Updated += int32(r.Updated)
	im.resp.Unchanged += int32(r.Unchanged)
	for _, f := range r.Failures {
		if f.Index < 0 || f.Index >= len(im.pos) {
			return fmt.Errorf("store reported a failure at index %d of a batch of %d", f.Index, len(im.pos))
		}
		im.fail(im.pos[f.Index], f.Reason)
	}
	// A new slice: the store may still hold the last one.
	im.batch, im.pos, im.bytes = nil, im.pos[:0], 0
	return nil
}

// finish writes what is buffered and returns the import's response, its
// failures in order of position.
func (im *importer) finish() (*articlesv1.ImportArticlesResponse, error) {
	if err := im.flush(); err != nil {
		return nil, err
	}
	// Invalid articles were recorded as they came, the store's failures
	// when their batch was written.
	slices.SortStableFunc(im.resp.Failures, func(a, b *articlesv1.ImportFailure) int { return cmp.Compare(a.Index, b.Index) })
	return im.resp, nil
}

// Import validates and normalises each article of arts and upserts the
// valid ones by slug, in store calls of at most importBatch articles (and
// importBatchBytes). The
// response counts what was written; an invalid article is skipped and
// reported in failures with its position in arts. An error from the store
// (returned as the store's error, not a gRPC status) ends the import: the
// batches written before it stay written.
//
// The ImportArticles handler and the daemon's seeding both import this way.
func (s *Server) Import(ctx context.Context, arts []*articlesv1.Article) (*articlesv1.ImportArticlesResponse, error) {
	im := s.newImport(ctx)
	for _, a := range arts {
		if err := im.add(a); err != nil {
			return nil, err
		}
	}
	return im.finish()
}
