package server

import (
	"context"
	"log/slog"
	"path"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The access log: one line per finished call (method, code, duration,
// peer). With WithAccessLog(true) every call is logged at the level its
// code deserves (INFO for OK and the client's own mistakes, WARN and ERROR
// for the rest); otherwise calls that end well or by the client's fault
// are logged at DEBUG, and the per-call work of building the line is
// skipped unless the logger takes DEBUG. A call that fails at WARN or
// ERROR level is always logged.

// accessLevel is the level of a finished call's line.
func (s *Server) accessLevel(code codes.Code) logging.Level {
	lvl := logging.DefaultServerCodeToLevel(code)
	if !s.cfg.accessLog && lvl == logging.LevelInfo {
		return logging.LevelDebug
	}
	return lvl
}

// fullAccessLog reports whether calls go through the logging interceptor,
// which builds each call's fields: when every call is logged at a level
// the logger takes.
func (s *Server) fullAccessLog(ctx context.Context) bool {
	if s.cfg.accessLog {
		return s.log.Enabled(ctx, slog.LevelInfo)
	}
	return s.log.Enabled(ctx, slog.LevelDebug)
}

// logFailure logs a call that failed at WARN or ERROR level when the
// logging interceptor did not run, with the fields it would have.
func (s *Server) logFailure(ctx context.Context, method string, start time.Time, err error) {
	code := status.Code(err)
	lvl := slog.Level(s.accessLevel(code))
	if lvl < slog.LevelWarn || !s.log.Enabled(ctx, lvl) {
		return
	}
	attrs := []any{
		"grpc.component", "server",
		"grpc.service", path.Dir(method)[1:],
		"grpc.method", path.Base(method),
		"grpc.code", code.String(),
		"grpc.error", err.Error(),
		"grpc.time_ms", float32(time.Since(start).Microseconds()) / 1000,
	}
	if p, ok := peer.FromContext(ctx); ok {
		attrs = append(attrs, "peer.address", p.Addr.String())
	}
	s.log.Log(ctx, lvl, "finished call", attrs...)
}

// accessUnary is the unary access log interceptor.
func (s *Server) accessUnary(full grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if s.fullAccessLog(ctx) {
			return full(ctx, req, info, handler)
		}
		start := time.Now()
		resp, err := handler(ctx, req)
		if err != nil {
			s.logFailure(ctx, info.FullMethod, start, err)
		}
		return resp, err
	}
}

// accessStream is the streaming access log interceptor.
func (s *Server) accessStream(full grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		if s.fullAccessLog(ctx) {
			return full(srv, ss, info, handler)
		}
		start := time.Now()
		err := handler(srv, ss)
		if err != nil {
			s.logFailure(ctx, info.FullMethod, start, err)
		}
		return err
	}
}
