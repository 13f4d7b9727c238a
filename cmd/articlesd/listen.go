package main

import (
	"context"
	"fmt"
	"net"
)

// listeners are the bound ports of one serve. serve binds them all before
// it opens or seeds the database: an address in use fails the start before
// anything is written, and a client that connects early waits in the
// kernel's accept queue until the server is ready, so it never sees a
// half-seeded database.
type listeners struct {
	grpc    net.Listener
	metrics net.Listener // nil without --metrics-listen
	http    net.Listener // nil without --http-listen
}

// listen binds the addresses cfg names.
func listen(ctx context.Context, cfg config) (*listeners, error) {
	var lc net.ListenConfig
	l := &listeners{}
	var err error
	if l.grpc, err = lc.Listen(ctx, "tcp", cfg.listen); err != nil {
		return nil, err // "listen tcp ...: bind: address already in use"
	}
	if cfg.metricsListen != "" {
		if l.metrics, err = lc.Listen(ctx, "tcp", cfg.metricsListen); err != nil {
			l.close()
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	if cfg.httpListen != "" {
		if l.http, err = lc.Listen(ctx, "tcp", cfg.httpListen); err != nil {
			l.close()
			return nil, fmt.Errorf("--http-listen: %w", err)
		}
	}
	return l, nil
}

// close closes every listener. Closing one that a server already closed
// is harmless.
func (l *listeners) close() {
	for _, lis := range []net.Listener{l.grpc, l.metrics, l.http} {
		if lis != nil {
			_ = lis.Close()
		}
	}
}
