package main

import (
	"errors"
	"math"
	"net"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Defaults of the connection limits. They are ceilings against runaway or
// hostile clients, meant to be far above what a well-behaved fleet of
// callers needs.
const (
	defaultMaxStreams       = 1024
	defaultMaxConns         = 1024
	defaultIdleTimeout      = 15 * time.Minute
	defaultDefaultTimeout   = 30 * time.Second
	defaultKeepaliveMinTime = 30 * time.Second

	// handshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
	// grpc's default of 120 s would let a client that connects and says
	// nothing hold one of the --max-conns slots for two minutes.
	handshakeTimeout = 20 * time.Second
)

// addLimitFlags registers the connection and call limit flags.
func addLimitFlags(f *pflag.FlagSet, cfg *config) {
	f.IntVar(&cfg.maxStreams, "max-streams", defaultMaxStreams, "most concurrent streams (calls) per connection; more wait for a free one")
	f.IntVar(&cfg.maxConns, "max-conns", defaultMaxConns, "most open client connections; more wait unaccepted until one closes (0: no limit)")
	f.DurationVar(&cfg.idleTimeout, "idle-timeout", defaultIdleTimeout, "close a connection without calls for this long (GOAWAY; clients reconnect; 0: never)")
	f.DurationVar(&cfg.defaultTimeout, "default-timeout", defaultDefaultTimeout, "deadline of a unary call that arrives without one (0: none)")
	f.DurationVar(&cfg.keepaliveMinTime, "keepalive-min-time", defaultKeepaliveMinTime, "a client pinging more often than this is sent GOAWAY too_many_pings and disconnected")
	f.BoolVar(&cfg.keepaliveNoStreamOK, "keepalive-permit-without-stream", true, "allow keepalive pings on connections without calls (still at most one per --keepalive-min-time)")
}

// checkLimits validates the limit flags.
func (c config) checkLimits() error {
	switch {
	case c.maxStreams <= 0 || int64(c.maxStreams) > math.MaxUint32:
		return errors.New("--max-streams must be positive")
	case c.maxConns < 0:
		return errors.New("--max-conns must not be negative")
	case c.idleTimeout < 0:
		return errors.New("--idle-timeout must not be negative")
	case c.defaultTimeout < 0:
		return errors.New("--default-timeout must not be negative")
	case c.keepaliveMinTime < 0:
		return errors.New("--keepalive-min-time must not be negative")
	}
	return nil
}

// limitOptions returns the gRPC server options enforcing the limits that
// live in the transport.
func (c config) limitOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.maxRecvBytes),
		grpc.MaxConcurrentStreams(uint32(c.maxStreams)),
		grpc.ConnectionTimeout(handshakeTimeout), // experimental in grpc-go, stable in practice
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             c.keepaliveMinTime,
			PermitWithoutStream: c.keepaliveNoStreamOK,
		}),
		// MaxConnectionIdle 0 is grpc's "infinity".
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: c.idleTimeout}),
	}
}

// limitListener bounds the connections served at once. Connections over
// the limit are not refused but left in the kernel's accept queue until
// one closes: a burst waits instead of failing, and the server never holds
// more than n connections' buffers and goroutines.
func (c config) limitListener(lis net.Listener) net.Listener {
	if c.maxConns <= 0 {
		return lis
	}
	return netutil.LimitListener(lis, c.maxConns)
}
