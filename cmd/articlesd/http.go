package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"connectrpc.com/vanguard/vanguardgrpc"
	"github.com/rs/cors"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The HTTP listener (--http-listen) serves the grpc.Server that serves
// gRPC, through vanguard's transcoder: the Connect protocol (JSON and
// binary), gRPC-Web, plain gRPC over HTTP/2, and the REST routes that
// articles.proto declares with google.api.http. Each call becomes a call of
// the grpc.Server's ServeHTTP, so its interceptors (logging, recovery,
// metrics, tokens, default deadline) and its message size limit apply as
// they do to gRPC; gRPC codes become HTTP statuses (NOT_FOUND is 404).
//
// grpc-go cannot drain calls served through ServeHTTP: its graceful stop
// cancels them. So at shutdown serve first waits, within the grace period,
// for the unary HTTP calls in flight (inflight), and only then stops the
// gRPC server, which ends open streams as it does for gRPC clients.

// httpMinMessageBytes is the least the transcoder buffers of one message.
// Requests are bounded again by --max-recv-bytes inside the grpc.Server;
// responses, such as a page of full articles in JSON, can be larger.
const httpMinMessageBytes = 64 << 20

// corsHeaders are the request headers browsers may send cross-origin: what
// the Connect, gRPC-Web and REST clients send, and the bearer token.
var corsHeaders = []string{
	"Authorization", "Content-Type", "Accept", "Accept-Encoding", "Content-Encoding",
	"Connect-Protocol-Version", "Connect-Timeout-Ms", "Connect-Accept-Encoding", "Connect-Content-Encoding",
	"Grpc-Timeout", "Grpc-Accept-Encoding", "Grpc-Encoding", "X-Grpc-Web", "X-User-Agent",
}

// corsExposed are the response headers cross-origin callers may read: the
// gRPC-Web status trailers-in-headers and the encodings.
var corsExposed = []string{
	"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
	"Content-Encoding", "Connect-Content-Encoding", "Grpc-Encoding",
}

// addHTTPFlags registers the HTTP listener's flags.
func addHTTPFlags(f *pflag.FlagSet, cfg *config) {
	f.StringVar(&cfg.httpListen, "http-listen", "", "also serve the API over HTTP on this `address`: Connect (JSON and binary), gRPC-Web and REST (/v1/articles...); TLS when --tls-cert is set (empty: no HTTP listener)")
	f.StringSliceVar(&cfg.corsOrigins, "cors-origin", nil, "allow browser calls on --http-listen from this `origin` (https://app.example.com; repeatable or comma-separated; * allows any)")
}

// checkHTTP validates the HTTP flags.
func (c config) checkHTTP() error {
	if len(c.corsOrigins) > 0 && c.httpListen == "" {
		return errors.New("--cors-origin needs --http-listen")
	}
	for _, o := range c.corsOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return fmt.Errorf("--cors-origin %q: want * or an origin such as https://app.example.com", o)
		}
	}
	return nil
}

// httpHandler returns the handler of the HTTP listener over gs, whose
// services must all be registered. Unary calls are counted in calls.
func httpHandler(gs *grpc.Server, c config, calls *inflight) (http.Handler, error) {
	buf := uint32(min(max(c.maxRecvBytes, httpMinMessageBytes), math.MaxUint32))
	t, err := vanguardgrpc.NewTranscoder(gs,
		vanguard.WithDefaultServiceOptions(vanguard.WithMaxMessageBufferBytes(buf)),
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			return jsonCodec{vanguard.NewJSONCodec(res)}
		}),
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			return protoCodec{vanguard.NewProtoCodec(res)}
		}))
	if err != nil {
		return nil, fmt.Errorf("--http-listen: %w", err)
	}
	h := calls.track(connectHeader(t), streamingMethods(gs))
	if len(c.corsOrigins) == 0 {
		return h, nil
	}
	return cors.New(cors.Options{
		AllowedOrigins: c.corsOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: corsHeaders,
		ExposedHeaders: corsExposed,
		MaxAge:         7200,
	}).Handler(h), nil
}

// streamingMethods returns the paths (/package.Service/Method) of gs's
// streaming methods.
func streamingMethods(gs *grpc.Server) map[string]bool {
	m := map[string]bool{}
	for svc, info := range gs.GetServiceInfo() {
		for _, mi := range info.Methods {
			if mi.IsClientStream || mi.IsServerStream {
				m["/"+svc+"/"+mi.Name] = true
			}
		}
	}
	return m
}

// inflight counts the unary HTTP calls being served. Streams are left
// out: they last as long as clients want, and the server's graceful stop
// ends them.
type inflight struct{ n atomic.Int64 }

// track counts the requests to next whose path is not in streaming; every
// REST route is unary.
func (f *inflight) track(next http.Handler, streaming map[string]bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !streaming[r.URL.Path] {
			f.n.Add(1)
			defer f.n.Add(-1)
		}
		next.ServeHTTP(w, r)
	})
}

// drainPoll is how often wait checks for calls still in flight.
const drainPoll = 10 * time.Millisecond

// wait returns once no unary call is in flight, or when ctx ends. The HTTP
// server must have stopped accepting requests (Shutdown), or new calls
// could keep it waiting until ctx ends.
func (f *inflight) wait(ctx context.Context) {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for f.n.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// connectHeader adds "Connect-Protocol-Version: 1" to unary Connect calls
// that lack it (POST /package.Service/Method with a JSON or binary
// protobuf body), as curl users and some clients send them. connect-go
// servers accept such calls; vanguard would take them for REST calls and
// answer 404, since no REST route is /package.Service/Method.
func connectHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Connect-Protocol-Version") == "" && isRPCPath(r.URL.Path) {
			ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
			if ct = strings.TrimSpace(strings.ToLower(ct)); ct == "application/json" || ct == "application/proto" {
				r.Header.Set("Connect-Protocol-Version", "1")
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isRPCPath reports whether path has the form /package.Service/Method.
func isRPCPath(path string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return ok && strings.Contains(svc, ".") && method != "" && !strings.Contains(method, "/")
}

// newHTTPServer returns the HTTP server of --http-listen: HTTP/1.1 and
// HTTP/2 (over TLS when tc is not nil, else cleartext with prior
// knowledge), with the gRPC listener's stream and idle limits.
func newHTTPServer(h http.Handler, c config, tc *tls.Config, log *slog.Logger) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(tc == nil)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		TLSConfig:         tc,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: c.maxStreams},
		ReadHeaderTimeout: handshakeTimeout,
		IdleTimeout:       c.idleTimeout,
		// No WriteTimeout: watch and stream calls last as long as clients want.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveHTTP serves hs on lis until ctx ends, then shuts it down, waiting up
// to grace for requests in flight. It returns nil after a shutdown, or the
// error that ended serving.
func serveHTTP(ctx context.Context, hs *http.Server, lis net.Listener, grace time.Duration) error {
	served := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			served <- hs.ServeTLS(lis, "", "")
		} else {
			served <- hs.Serve(lis)
		}
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close() // a stream still open after the grace period
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving http: %w", err)
	}
	return nil
}

// A request body that does not decode is the caller's error. vanguard's
// codecs return the decoder's error as is, which grpc-go reports as
// UNKNOWN (HTTP 500); jsonCodec and protoCodec make it INVALID_ARGUMENT
// (HTTP 400), whichever side of the transcoder reports it.

// jsonCodec is vanguard's JSON codec with decoding errors marked as bad
// requests.
type jsonCodec struct{ *vanguard.JSONCodec }

func (c jsonCodec) Unmarshal(data []byte, msg proto.Message) error {
	return badRequest("JSON", c.JSONCodec.Unmarshal(data, msg))
}

func (c jsonCodec) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	return badRequest("JSON", c.JSONCodec.UnmarshalField(data, msg, field))
}

// protoCodec is vanguard's binary codec with decoding errors marked as bad
// requests.
type protoCodec struct{ *vanguard.ProtoCodec }

func (c protoCodec) Unmarshal(data []byte, msg proto.Message) error {
	return badRequest("protobuf", c.ProtoCodec.Unmarshal(data, msg))
}

// badRequest wraps a decoding error (nil stays nil) as INVALID_ARGUMENT
// for both grpc-go (GRPCStatus) and vanguard (a *connect.Error inside).
func badRequest(format string, err error) error {
	if err == nil {
		return nil
	}
	msg := "invalid " + format + " request body: " + err.Error()
	return badRequestError{connect.NewError(connect.CodeInvalidArgument, errors.New(msg)), msg}
}

type badRequestError struct {
	ce  *connect.Error
	msg string
}

func (e badRequestError) Error() string { return e.msg }

func (e badRequestError) Unwrap() error { return e.ce }

func (e badRequestError) GRPCStatus() *status.Status { return status.New(codes.InvalidArgument, e.msg) }
