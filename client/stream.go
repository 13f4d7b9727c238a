package client

import (
	"context"
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Stream yields every article that req selects, in the order ListArticles
// would page through them (req.start_after, if set, skips to just after
// that cursor or id). req is not modified; a nil req streams everything.
//
// When the stream breaks with UNAVAILABLE (a dropped connection, a server
// restarting), Stream opens it again from the cursor of the last article it
// yielded, after a short backoff, so the caller sees every article exactly
// once and in order. It gives up, yielding the last error, after the
// client's retry attempts (WithRetry) have failed in a row without
// receiving an article. Other errors are yielded at once. Breaking out of
// the loop cancels the stream.
func (c *Client) Stream(ctx context.Context, req *articlesv1.StreamArticlesRequest) iter.Seq2[*articlesv1.Article, error] {
	return func(yield func(*articlesv1.Article, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()

		r := &articlesv1.StreamArticlesRequest{}
		if req != nil {
			r = proto.Clone(req).(*articlesv1.StreamArticlesRequest)
		}
		err := c.resume(ctx, func() (bool, error) { return c.streamOnce(ctx, r, yield) })
		if err != nil {
			yield(nil, err)
		}
	}
}

// resume is the resume loop of Stream and Watch: it runs attempt (one
// call, which picks up where the last one left off) until attempt returns
// a nil error, and again after a backoff when it fails with a resumable
// error. It returns the error to give the caller: attempt's last one when
// it is not resumable or the client's retry attempts (WithRetry) have
// failed in a row without progress, or ctx's while waiting.
func (c *Client) resume(ctx context.Context, attempt func() (progressed bool, err error)) error {
	failures := 0
	for {
		progressed, err := attempt()
		if err == nil {
			return nil
		}
		if progressed {
			failures = 0
		}
		failures++
		if !resumable(ctx, err) || failures >= c.maxAttempts {
			return err
		}
		if !sleep(ctx, c.backoffFor(failures)) {
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// streamOnce runs one StreamArticles call from r.start_after, yielding its
// articles and moving r.start_after past each. It returns a nil error when
// the stream ended or the caller stopped, and whether any article arrived.
func (c *Client) streamOnce(ctx context.Context, r *articlesv1.StreamArticlesRequest, yield func(*articlesv1.Article, error) bool) (progressed bool, err error) {
	// Each attempt gets its own context, so that a stream the caller walks
	// away from, or one that failed, is released at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.StreamArticles(ctx, r)
	if err != nil {
		return false, err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return progressed, nil
		}
		if err != nil {
			return progressed, err
		}
		progressed = true
		// The cursor is the resume point; an article id is the documented
		// fallback when a server sends none.
		if cur := msg.GetCursor(); cur != "" {
			r.StartAfter = cur
		} else {
			r.StartAfter = msg.GetArticle().GetId()
		}
		if !yield(msg.GetArticle(), nil) {
			return progressed, nil
		}
	}
}

// resumable reports whether a stream that failed with err may be opened
// again: the server or connection was unavailable and the caller still
// wants the rest.
func resumable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && status.Code(err) == codes.Unavailable
}

// backoffFor is the pause before attempt n+1: exponential from c.backoff,
// capped at c.maxBackoff, with jitter so that many clients cut off by one
// server restart do not return in lockstep.
func (c *Client) backoffFor(n int) time.Duration {
	d := c.backoff
	for i := 1; i < n && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
