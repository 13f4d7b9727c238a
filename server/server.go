package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Server implements articlesv1.ArticleServiceServer over a Store.
//
// Build one with New, serve it with GRPCServer, and end it with
// GracefulStop. A Server does not own its Store: closing the store is the
// caller's job, after GracefulStop returns.
type Server struct {
	// Embedded for forward compatibility only: every method is implemented.
	articlesv1.UnimplementedArticleServiceServer

	store  Store
	log    *slog.Logger
	cfg    config
	tokens tokenCodec
	valid  validator
	hub    *hub
	health *health.Server

	// shutdown is cancelled by GracefulStop; open StreamArticles streams
	// watch it and end with UNAVAILABLE.
	shutdown     context.Context
	stopStreams  context.CancelFunc
	mu           sync.Mutex     // guards the fields below
	grpcServers  []*grpc.Server // built by GRPCServer, stopped by GracefulStop
	shutdownOnce bool           // GracefulStop has run
}

// New returns a Server over st. It reads the store's token key, with which
// page tokens and stream cursors are signed, so a store must be open.
func New(ctx context.Context, st Store, opts ...Option) (*Server, error) {
	if st == nil {
		return nil, errors.New("server: nil Store")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	key, err := st.TokenKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: reading the token key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("server: token key has %d bytes, want at least 32", len(key))
	}
	s := &Server{
		store:  st,
		log:    cfg.logger,
		cfg:    cfg,
		tokens: tokenCodec{key: append([]byte(nil), key...)},
		valid:  validator{maxBodyBytes: cfg.maxBodyBytes},
		health: health.NewServer(),
	}
	s.shutdown, s.stopStreams = context.WithCancel(context.Background())
	s.hub = newHub(s.store, s.log, s.cfg)
	return s, nil
}

// GRPCServer returns a grpc.Server that serves s, health checks
// (grpc.health.v1, SERVING for "" and "articles.v1.ArticleService") and,
// unless WithReflection(false), server reflection. Requests pass through
// the access log (method, code, duration, peer; see WithAccessLog) and
// panic recovery (a panic is logged with its stack and answered with
// INTERNAL "internal error"). A unary call without a deadline gets one
// with WithDefaultTimeout. opts are added after the server's own, so the
// caller's interceptors run inside them.
//
// The caller serves the returned server on its listener; GracefulStop stops
// it. Each call builds a new grpc.Server.
func (s *Server) GRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		s.log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(s.accessLevel)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		s.log.ErrorContext(ctx, "panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})}
	// The logging interceptors build their fields for every call, so they
	// run only when every call's line would be kept (accesslog.go).
	unaryLog := s.accessUnary(logging.UnaryServerInterceptor(logger, logOpts...))
	streamLog := s.accessStream(logging.StreamServerInterceptor(logger, logOpts...))
	all := append([]grpc.ServerOption{
		// Fewer, larger socket writes for streams (the change feed to
		// many watchers above all); the buffer is only held while a
		// connection writes.
		grpc.WriteBufferSize(256 << 10),
		grpc.SharedWriteBuffer(true),
		grpc.ForceServerCodecV2(newUTF8Codec()),
		grpc.ChainUnaryInterceptor(
			unaryLog,
			recovery.UnaryServerInterceptor(recoverOpts...),
			checkUTF8Unary,
			UnaryDefaultTimeout(s.cfg.defaultTimeout),
		),
		grpc.ChainStreamInterceptor(
			streamLog,
			recovery.StreamServerInterceptor(recoverOpts...),
			checkUTF8Stream,
		),
	}, opts...)
	gs := grpc.NewServer(all...)
	gs.RegisterService(serviceDesc, s)
	healthpb.RegisterHealthServer(gs, s.health)
	if s.cfg.reflection {
		reflection.Register(gs)
	}

	s.mu.Lock()
	stopped := s.shutdownOnce
	if !stopped {
		s.grpcServers = append(s.grpcServers, gs)
	}
	s.mu.Unlock()
	if stopped {
		gs.Stop() // built after GracefulStop: refuse everything
		return gs
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(articlesv1.ArticleService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return gs
}

// serviceDesc is the generated description of ArticleService with
// GetArticle's handler replaced by one that may reply with the article's
// stored encoding (getArticleReply), which the typed method cannot return.
var serviceDesc = func() *grpc.ServiceDesc {
	d := articlesv1.ArticleService_ServiceDesc
	d.Methods = slices.Clone(d.Methods)
	for i := range d.Methods {
		if d.Methods[i].MethodName == "GetArticle" {
			d.Methods[i].Handler = getArticleHandler
		}
	}
	return &d
}()

// getArticleHandler is the generated GetArticle handler, calling
// getArticleReply.
func getArticleHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(articlesv1.GetArticleRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	s := srv.(*Server)
	if interceptor == nil {
		return s.getArticleReply(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: articlesv1.ArticleService_GetArticle_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return s.getArticleReply(ctx, req.(*articlesv1.GetArticleRequest))
	})
}

// GracefulStop shuts the server down: health checks turn NOT_SERVING, open
// StreamArticles and WatchArticles streams end with UNAVAILABLE, new RPCs
// are refused and in-flight ones may finish. If ctx ends first, remaining
// RPCs are cancelled (grpc.Server.Stop). It returns once every grpc.Server
// built by GRPCServer has stopped.
//
// GracefulStop is meant to be called once; later calls return at once.
//
// # Caveats
//
// A client's open health Watch stream holds up a graceful stop until ctx
// ends, as does a stream whose client stopped reading; give ctx a deadline.
func (s *Server) GracefulStop(ctx context.Context) {
	s.mu.Lock()
	if s.shutdownOnce {
		s.mu.Unlock()
		return
	}
	s.shutdownOnce = true
	servers := s.grpcServers
	s.mu.Unlock()

	s.health.Shutdown()
	s.stopStreams()
	s.hub.close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, gs := range servers {
			wg.Go(gs.GracefulStop)
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		for _, gs := range servers {
			gs.Stop()
		}
		<-done
	}
}
