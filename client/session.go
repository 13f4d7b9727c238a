package client

import (
	"context"
	"strconv"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Read-your-writes sessions.
//
// By default every read is linearizable: it sees every write acknowledged
// before it began, through any server, which on etcd costs each read a
// confirmation from the cluster's leader. Most callers need less: to see
// their own writes, and never to see an article go back in time. A Client
// made WithReadYourWrites remembers the highest store revision it has
// seen (the revision header of each write's reply, the revision of each
// article a reply carries) and sends it as min_revision on Get, GetBySlug
// and BatchGet when the call does not set one. The server then waits until
// it holds that revision and answers from what it has, without the round
// trip.
//
// The session belongs to the Client: every goroutine using it shares one
// floor, and the floor only grows. Writes that other clients made after
// this Client last wrote or read may not be seen yet; a read that needs
// them passes Linearizable(). Searches are linearizable either way.

// revisionHeader is the response header in which the server reports the
// store revision that includes a write (server.RevisionHeader).
const revisionHeader = "articles-revision"

// importMethod is the full name of ImportArticles, whose reply carries
// only counts: its revision comes from the header.
const importMethod = "/articles.v1.ArticleService/ImportArticles"

// session is the highest store revision a Client has seen.
type session struct {
	rev atomic.Int64
}

// WithReadYourWrites gives the Client a session: Get, GetBySlug and
// BatchGet read at least every revision this Client has written or read,
// instead of linearizably. The Client remembers the highest store
// revision in its replies (a write's articles-revision header, the
// revision of each article returned) and sends it as min_revision when a
// call sets none. The server waits until it holds that revision and
// answers from what it has; on etcd this saves the read's round trip to
// the leader. Every goroutine using the Client shares the floor, which
// only grows. Writes other clients made since this Client last wrote or
// read may not be seen yet: pass Linearizable() to a read that needs
// them. Searches are linearizable either way.
func WithReadYourWrites() Option {
	return optionFunc(func(c *config) { c.readYourWrites = true })
}

// Linearizable makes one read of a WithReadYourWrites Client linearizable
// again: it sees every write acknowledged before it began, whoever made
// it. It is MinRevision(0).
func Linearizable() GetOption { return MinRevision(0) }

// Revision returns the highest store revision this Client has seen in
// replies (0 without WithReadYourWrites): every write it made is at or
// below it. Mirror.WaitRevision accepts it.
func (c *Client) Revision() int64 {
	if c.session == nil {
		return 0
	}
	return c.session.rev.Load()
}

// see raises the floor to rev.
func (s *session) see(rev int64) {
	for {
		cur := s.rev.Load()
		if rev <= cur || s.rev.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// seeHeader raises the floor to the revision md reports, if any.
func (s *session) seeHeader(md metadata.MD) {
	for _, v := range md.Get(revisionHeader) {
		if rev, err := strconv.ParseInt(v, 10, 64); err == nil {
			s.see(rev)
		}
	}
}

// floor returns the min_revision a read sends: the caller's own, when it
// set one, or the session's.
func (c *Client) floor(o getOptions) int64 {
	if o.set || c.session == nil {
		return o.minRevision
	}
	return c.session.rev.Load()
}

// unary records the revision of every unary reply: its header, and the
// revision of the articles it carries.
func (s *session) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var md metadata.MD
	err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Header(&md))...)
	if err != nil {
		return err
	}
	s.seeHeader(md)
	switch r := reply.(type) {
	case *articlesv1.Article:
		s.see(r.GetRevision())
	case *articlesv1.BatchGetArticlesResponse:
		for _, a := range r.GetArticles() {
			s.see(a.GetRevision())
		}
	}
	return nil
}

// stream records the revision header of an import's reply.
func (s *session) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != importMethod {
		return cs, err
	}
	return &importStream{ClientStream: cs, s: s}, nil
}

// importStream is an import's client stream that records the revision
// header once the reply has arrived.
type importStream struct {
	grpc.ClientStream
	s *session
}

func (st *importStream) RecvMsg(m any) error {
	err := st.ClientStream.RecvMsg(m)
	if err == nil {
		if md, herr := st.Header(); herr == nil {
			st.s.seeHeader(md)
		}
	}
	return err
}
