package server

import (
	"log/slog"
	"time"
)

// Default settings of a Server; each can be changed with an Option.
const (
	// DefaultMaxBodyBytes is the largest article body accepted, in bytes.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultProgressInterval is how often an idle watch stream gets a
	// PROGRESS event.
	DefaultProgressInterval = 10 * time.Second
	// DefaultWatchBuffer is how many events a watcher may fall behind the
	// live feed before it is switched to catching up from the log.
	DefaultWatchBuffer = 1024
)

// An Option configures a Server built by New.
type Option interface {
	apply(*config)
}

// config is what the options set. It is copied into the Server at New and
// never changed afterwards, so it is read without locking.
type config struct {
	logger           *slog.Logger
	maxBodyBytes     int
	progressInterval time.Duration
	watchBuffer      int
	watchRate        int // bytes/s of the whole change feed; 0: no limit
	reflection       bool
	defaultTimeout   time.Duration // unary calls without a deadline; 0: none (limits.go)
	searcher         Searcher      // answers SearchArticles; nil: unimplemented
	accessLog        bool          // log every call at INFO (accesslog.go)
}

func defaultConfig() config {
	return config{
		logger:           slog.New(slog.DiscardHandler),
		maxBodyBytes:     DefaultMaxBodyBytes,
		progressInterval: DefaultProgressInterval,
		watchBuffer:      DefaultWatchBuffer,
		reflection:       true,
	}
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the logger for request logs and internal errors. The
// default discards everything. A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithAccessLog logs every finished call at INFO (WARN or ERROR when it
// fails on the server's side). Without it, calls that succeed or fail by
// the client's fault are logged at DEBUG, and only failures at WARN and
// ERROR reach an INFO logger: a line per call is work on every write.
func WithAccessLog(on bool) Option {
	return optionFunc(func(c *config) { c.accessLog = on })
}

// WithMaxBodyBytes sets the largest article body accepted, in bytes
// (default DefaultMaxBodyBytes). Values below 1 keep the default. The gRPC
// message size limit (grpc.MaxRecvMsgSize) must be set to match by the
// caller of GRPCServer.
func WithMaxBodyBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxBodyBytes = n
		}
	})
}

// WithProgressInterval sets how often an idle watch stream receives a
// PROGRESS event (default DefaultProgressInterval). Values below 1 keep the
// default.
func WithProgressInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.progressInterval = d
		}
	})
}

// WithWatchBuffer sets how many live events each watcher buffers before it
// falls back to reading the change log (default DefaultWatchBuffer). Values
// below 1 keep the default.
func WithWatchBuffer(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.watchBuffer = n
		}
	})
}

// WithWatchRate caps the change feed's output: all watch streams together
// send at most bytesPerSecond bytes of events per second (PROGRESS events
// are not counted). 0, the default, means no cap.
//
// Feeding many watchers costs the server about as much CPU per delivered
// event as the write cost once (mostly the kernel's copy into each
// socket), so with enough watchers an uncapped feed takes the CPU from the
// writers. Capped, the feed takes at most its share and the watchers fall
// behind instead, catching up from the log when writes ease (or getting
// OUT_OF_RANGE if they fall behind the retained history); writers never
// wait for it either way.
func WithWatchRate(bytesPerSecond int) Option {
	return optionFunc(func(c *config) {
		c.watchRate = max(bytesPerSecond, 0)
	})
}

// WithReflection turns gRPC server reflection on or off (default on), which
// lets tools such as grpcurl discover the API without its .proto files.
func WithReflection(on bool) Option {
	return optionFunc(func(c *config) { c.reflection = on })
}

// WithSearcher sets the full-text index that answers SearchArticles (a
// *fulltext.Engine following the same store). Without one, SearchArticles
// returns UNIMPLEMENTED.
func WithSearcher(sr Searcher) Option {
	return optionFunc(func(c *config) { c.searcher = sr })
}
