package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// WithDefaultTimeout gives every unary call that arrives without a deadline
// one of d, so a client that sets none cannot hold a handler (and the store
// transactions it opens) forever. A call that has a deadline keeps its own,
// even a longer one: the client asked for it. Streams get no default: they
// last as long as the client reads, and their other limits are
// MaxConcurrentStreams and the shutdown grace period. d <= 0 (the default)
// means no default deadline.
func WithDefaultTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.defaultTimeout = d })
}

// UnaryDefaultTimeout returns the interceptor WithDefaultTimeout installs:
// it wraps the context of a unary call that has no deadline in one that
// ends after d. With d <= 0 it passes calls through unchanged. It is
// exported for servers built without GRPCServer.
func UnaryDefaultTimeout(d time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if _, ok := ctx.Deadline(); ok || d <= 0 {
			return handler(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return handler(ctx, req)
	}
}
