package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Defaults used by New when no option overrides them.
const (
	// DefaultTimeout bounds a unary call whose context has no deadline.
	DefaultTimeout = 10 * time.Second

	// DefaultMaxAttempts is how many times an idempotent read (and each
	// resume of Stream and Watch) is tried in all before its error is
	// returned. With the resume backoff, 5 attempts wait out about a
	// second of outage: a server restart, not a long failure.
	DefaultMaxAttempts = 5
)

// maxRetryAttempts is grpc-go's own cap on a retry policy's maxAttempts;
// asking for more is silently lowered by grpc, so New lowers it visibly.
const maxRetryAttempts = 5

// Client is a connection to an ArticleService. It is safe for concurrent
// use; Close releases it.
type Client struct {
	// conn is the one channel every call goes through.
	conn *grpc.ClientConn
	// rpc is the generated stub over conn.
	rpc articlesv1.ArticleServiceClient

	// timeout bounds unary calls that arrive without a deadline (0: none).
	timeout time.Duration
	// maxAttempts bounds consecutive Stream attempts that make no progress.
	maxAttempts int
	// backoff is the first pause before a Stream resume; it doubles up to
	// maxBackoff.
	backoff, maxBackoff time.Duration
	// session is the revision floor of WithReadYourWrites (nil without).
	session *session
}

// config collects what the options set, before New builds the Client.
type config struct {
	creds credentials.TransportCredentials
	// tls, set by WithTLS, becomes creds in New, once the client
	// certificates are known.
	tls         *tls.Config
	clientCerts []tls.Certificate
	token       string
	timeout     time.Duration
	maxAttempts int
	dialOpts    []grpc.DialOption
	// addresses, set by WithAddresses, are servers to balance over
	// (balance.go).
	addresses []string
	// readYourWrites, set by WithReadYourWrites, gives the Client a
	// session (session.go).
	readYourWrites bool
}

// Option configures a Client in New.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTransportCredentials makes the client use creds for the connection.
// The default is plaintext (insecure), which suits loopback and tests.
// It replaces an earlier WithTLS.
func WithTransportCredentials(creds credentials.TransportCredentials) Option {
	return optionFunc(func(c *config) { c.creds, c.tls = creds, nil })
}

// WithTLS makes the client connect over TLS with cfg (nil: the system's
// roots and default settings). cfg is copied; it replaces an earlier
// WithTransportCredentials.
func WithTLS(cfg *tls.Config) Option {
	return optionFunc(func(c *config) {
		if cfg == nil {
			c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			c.tls = cfg.Clone()
		}
		c.creds = nil
	})
}

// WithClientCertificate presents cert to the server during the TLS
// handshake, for servers that require client certificates (mTLS, articlesd
// --client-ca). It implies TLS: without WithTLS the server is verified
// against the system's roots. Combined with WithTransportCredentials, New
// fails, since those credentials are opaque to it; put the certificate in
// their own configuration instead.
func WithClientCertificate(cert tls.Certificate) Option {
	return optionFunc(func(c *config) { c.clientCerts = append(c.clientCerts, cert) })
}

// WithToken sends token as an "authorization: Bearer <token>" header on
// every call. New refuses to send a token in plaintext to anything but a
// loopback address, since anyone on the path could read and replay it.
func WithToken(token string) Option {
	return optionFunc(func(c *config) { c.token = token })
}

// WithTimeout sets the deadline given to unary calls whose context has
// none (default DefaultTimeout; 0 disables it). Streams are never given a
// default deadline: they last as long as the caller reads.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// WithRetry sets how many times, in all, an idempotent read (Get,
// GetBySlug, BatchGet, List, Search) is attempted when the server is
// UNAVAILABLE, and how many consecutive attempts Stream and Watch make to
// resume without receiving anything. 1 or less disables retries; grpc caps read
// retries at 5 attempts. The default is DefaultMaxAttempts.
func WithRetry(maxAttempts int) Option {
	return optionFunc(func(c *config) { c.maxAttempts = max(maxAttempts, 1) })
}

// WithDialOptions passes extra options to grpc.NewClient, after the ones
// New builds, so they win. It is an escape hatch: tests use it to dial an
// in-memory listener.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(c *config) { c.dialOpts = append(c.dialOpts, opts...) })
}

// New creates a client for the server at target, a grpc target such as
// "localhost:50051" or "dns:///articles.example.com:443". Like
// grpc.NewClient it does not connect: the first call does, so a server that
// is down shows up as UNAVAILABLE errors from calls, not from New.
//
// New fails if the options are inconsistent, e.g. a token over plaintext to
// a non-loopback address. ctx is not used to connect; it is accepted so
// that later versions may resolve or authenticate up front.
func New(ctx context.Context, target string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := config{timeout: DefaultTimeout, maxAttempts: DefaultMaxAttempts}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.timeout < 0 {
		return nil, fmt.Errorf("client: negative timeout %v", cfg.timeout)
	}
	creds := cfg.creds
	if len(cfg.clientCerts) > 0 {
		if creds != nil {
			return nil, errors.New("client: WithClientCertificate needs WithTLS, not WithTransportCredentials")
		}
		if cfg.tls == nil {
			cfg.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		cfg.tls.Certificates = append(cfg.tls.Certificates, cfg.clientCerts...)
	}
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	plaintext := creds.Info().SecurityProtocol == "insecure"

	dialTarget, resolveOpts, addrs, err := balancedTarget(target, cfg.addresses)
	if err != nil {
		return nil, err
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithChainUnaryInterceptor(timeoutInterceptor(cfg.timeout)),
		grpc.WithDefaultServiceConfig(serviceConfig(min(cfg.maxAttempts, maxRetryAttempts))),
	}
	dialOpts = append(dialOpts, resolveOpts...)
	var sess *session
	if cfg.readYourWrites {
		sess = &session{}
		dialOpts = append(dialOpts, grpc.WithChainUnaryInterceptor(sess.unary), grpc.WithChainStreamInterceptor(sess.stream))
	}
	if cfg.token != "" {
		if plaintext && !loopbackTargets(target, addrs) {
			return nil, fmt.Errorf("client: refusing to send a token in plaintext to %q: use WithTLS or a loopback address", target)
		}
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearerToken{token: cfg.token, secure: !plaintext}))
	}
	dialOpts = append(dialOpts, cfg.dialOpts...)

	conn, err := grpc.NewClient(dialTarget, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{
		conn:        conn,
		rpc:         articlesv1.NewArticleServiceClient(conn),
		timeout:     cfg.timeout,
		maxAttempts: cfg.maxAttempts,
		backoff:     100 * time.Millisecond,
		maxBackoff:  2 * time.Second,
		session:     sess,
	}, nil
}

// Close closes the connection. Calls in flight fail with codes.Canceled; the
// Client must not be used afterwards.
func (c *Client) Close() error {
	return c.conn.Close()
}

// Service returns the generated stub over the client's connection, for
// requests the typed methods do not cover (a BASIC view on GetArticle, say).
// Calls through it share the connection, the default timeout and retries.
func (c *Client) Service() articlesv1.ArticleServiceClient {
	return c.rpc
}

// timeoutInterceptor gives unary calls without a deadline one of d.
func timeoutInterceptor(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// retryServiceConfig is a grpc service config that retries the idempotent
// reads on UNAVAILABLE. Writes are left out on purpose: a create that
// reached the server before the connection broke must not run twice
// (callers who want safe create retries pass a request id and retry
// themselves).
func retryServiceConfig(maxAttempts int) string {
	const svc = "articles.v1.ArticleService"
	var names []string
	for _, m := range []string{"GetArticle", "BatchGetArticles", "ListArticles", "SearchArticles"} {
		names = append(names, fmt.Sprintf(`{"service":%q,"method":%q}`, svc, m))
	}
	return fmt.Sprintf(`{"methodConfig":[{"name":[%s],"retryPolicy":{"maxAttempts":%d,"initialBackoff":"0.05s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`,
		strings.Join(names, ","), maxAttempts)
}

// bearerToken is per-RPC credentials carrying a bearer token.
type bearerToken struct {
	token string
	// secure is whether the transport encrypts; when it does not, New has
	// checked that the target is loopback.
	secure bool
}

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearerToken) RequireTransportSecurity() bool { return b.secure }

// isLoopbackTarget reports whether a grpc target names this machine only:
// localhost, a loopback IP, or a unix socket.
func isLoopbackTarget(target string) bool {
	host := target
	if u, err := url.Parse(target); err == nil && u.Scheme != "" && (u.Opaque != "" || u.Host != "" || u.Path != "") {
		switch u.Scheme {
		case "unix", "unix-abstract":
			return true
		case "dns", "passthrough":
			host = strings.TrimPrefix(u.Path, "/")
			if u.Opaque != "" {
				host = u.Opaque
			}
		default:
			// "host:port" parses as scheme "host" with an opaque port.
			if u.Opaque == "" || strings.Contains(u.Opaque, "/") {
				return false
			}
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// errNilArticle is returned by the write methods when given no article.
var errNilArticle = errors.New("client: nil article")
