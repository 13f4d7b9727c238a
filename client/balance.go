package client

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Several servers behind one Client.
//
// A Client may talk to several articlesd processes (on one etcd cluster,
// so they serve the same articles): give New a comma-separated list of
// addresses ("10.0.0.1:8080,10.0.0.2:8080"), pass WithAddresses, or give a
// DNS name whose records list them ("dns:///articles.internal:8080"). The
// channel connects to every address and spreads calls over the ready ones
// round robin (grpc's round_robin policy, set in the default service
// config, for every target). When a server goes away, its connection
// leaves the ready set; an idempotent read that fails on it with
// UNAVAILABLE is retried (up to WithRetry attempts) and lands on another
// server. Writes are not retried (see retryServiceConfig), so a write in
// flight to a server that goes away fails with UNAVAILABLE and is the
// caller's to retry, with a request id for creates.

// addressesScheme is the scheme of the manual resolver New uses for a list
// of addresses; the resolver is the Client's own (grpc.WithResolvers), so
// clients do not share it.
const addressesScheme = "articles-addresses"

// WithAddresses makes the Client balance over the servers at addrs
// ("host:port" each), round robin; New's target is then only a label used
// in errors and may be empty. A comma-separated target does the same.
func WithAddresses(addrs ...string) Option {
	return optionFunc(func(c *config) { c.addresses = append(c.addresses, addrs...) })
}

// balancedTarget returns the target to dial and the dial options that
// resolve it: for a list of addresses (from WithAddresses, or target
// itself when it is a comma-separated list without a scheme) a manual
// resolver that yields them; otherwise target unchanged. It also returns
// the addresses (nil for an ordinary target).
func balancedTarget(target string, addrs []string) (string, []grpc.DialOption, []string, error) {
	if len(addrs) == 0 && strings.Contains(target, ",") && !strings.Contains(target, "://") {
		addrs = strings.Split(target, ",")
	}
	if len(addrs) == 0 {
		return target, nil, nil, nil
	}
	var clean []string
	state := resolver.State{}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if strings.Contains(a, "://") || strings.Contains(a, ",") {
			return "", nil, nil, fmt.Errorf("client: address %q: want host:port", a)
		}
		clean = append(clean, a)
		state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	if len(clean) == 0 {
		return "", nil, nil, errors.New("client: empty address list")
	}
	r := manual.NewBuilderWithScheme(addressesScheme)
	r.InitialState(state)
	return addressesScheme + ":///articles", []grpc.DialOption{grpc.WithResolvers(r)}, clean, nil
}

// loopbackTargets reports whether target, or every address of a list,
// names this machine only.
func loopbackTargets(target string, addrs []string) bool {
	if len(addrs) == 0 {
		return isLoopbackTarget(target)
	}
	for _, a := range addrs {
		if !isLoopbackTarget(a) {
			return false
		}
	}
	return true
}

// serviceConfig is the default service config of every Client: round robin
// over the resolved addresses, and, with maxAttempts > 1, retries of the
// idempotent reads (retryServiceConfig).
func serviceConfig(maxAttempts int) string {
	const lb = `"loadBalancingConfig":[{"round_robin":{}}]`
	if maxAttempts <= 1 {
		return "{" + lb + "}"
	}
	retry := retryServiceConfig(maxAttempts)
	return "{" + lb + "," + strings.TrimPrefix(retry, "{")
}
