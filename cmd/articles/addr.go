package main

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultPort is the port of an --addr that names none; articlesd listens
// there by default.
const defaultPort = "50051"

// target is a parsed --addr: what to hand to the client, and whether the
// address itself asked for TLS (https://, grpcs://).
type target struct {
	// dial is the gRPC target: host:port, or a gRPC resolver target
	// (dns:///, unix:) passed through as given.
	dial string
	// hosts are the host names or IPs of a host:port target or list, none
	// for a resolver target.
	hosts []string
	// tls is set by an https:// or grpcs:// address.
	tls bool
	// plaintext is set by an http:// or grpc:// address, which --tls and
	// the certificate flags contradict.
	plaintext bool
}

// resolverSchemes are gRPC target schemes that --addr passes through to
// the client as they are.
var resolverSchemes = map[string]bool{"dns": true, "unix": true, "unix-abstract": true, "passthrough": true}

// parseAddr parses --addr. It accepts host:port, a bare host (port 50051),
// a URL whose scheme says plaintext (http://, grpc://) or TLS (https://,
// grpcs://, port 443 by default), a comma-separated list of those (servers
// to balance over), and gRPC resolver targets (dns:///, unix:). Anything
// else is a usage error, so that a mistyped address fails at once rather
// than being dialled and retried.
func parseAddr(s string) (target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return target{}, usagef("--addr must not be empty")
	}
	if scheme, rest, ok := strings.Cut(s, ":"); ok && resolverSchemes[strings.ToLower(scheme)] && rest != "" {
		return target{dial: s}, nil
	}
	if strings.Contains(s, ",") {
		return parseAddrList(s)
	}
	return parseOneAddr(s)
}

// parseAddrList parses a comma-separated list of addresses, which must
// agree on TLS.
func parseAddrList(s string) (target, error) {
	var list target
	var dials []string
	for i, part := range strings.Split(s, ",") {
		t, err := parseOneAddr(strings.TrimSpace(part))
		if err != nil {
			return target{}, err
		}
		if i > 0 && (t.tls != list.tls || t.plaintext != list.plaintext) {
			return target{}, usagef("--addr %q: the addresses of a list must all use TLS or all not", s)
		}
		list.tls, list.plaintext = t.tls, t.plaintext
		list.hosts = append(list.hosts, t.hosts...)
		dials = append(dials, t.dial)
	}
	list.dial = strings.Join(dials, ",")
	return list, nil
}

// parseOneAddr parses one address of --addr, without a resolver scheme.
func parseOneAddr(s string) (target, error) {
	if s == "" {
		return target{}, usagef("--addr: empty address in the list")
	}
	hostport := s
	var t target
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		u, err := url.Parse(s)
		if err != nil {
			return target{}, usagef("--addr %q is not a valid address: want host:port or http(s)://host:port", s)
		}
		port := defaultPort
		switch strings.ToLower(scheme) {
		case "http", "grpc":
			t.plaintext = true
		case "https", "grpcs":
			t.tls, port = true, "443"
		default:
			return target{}, usagef("--addr %q: unknown scheme %q: want host:port, http://, https://, grpc:// or grpcs://", s, scheme)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
			return target{}, usagef("--addr %q: want only a host and port after %s://, not %q", s, scheme, rest)
		}
		hostport = u.Host
		if u.Port() == "" {
			hostport = net.JoinHostPort(u.Hostname(), port)
		}
	}
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return target{}, usagef("--addr %q: %v", s, err)
	}
	t.hosts = []string{host}
	t.dial = net.JoinHostPort(host, port)
	return t, nil
}

// splitHostPort splits host[:port], defaulting the port; a bare IPv6
// address may come with or without brackets.
func splitHostPort(s string) (host, port string, err error) {
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host, port = s[1:len(s)-1], ""
	case strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "["):
		host, port = s, "" // a bare IPv6 address
	case strings.Contains(s, ":"):
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", "", errors.New("want host:port")
		}
	default:
		host = s
	}
	if host == "" {
		return "", "", errors.New("no host: want host:port")
	}
	if strings.ContainsAny(host, "/?#@[] ") {
		return "", "", errors.New("not a host name: want host:port")
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return "", "", errors.New("not an IPv6 address: want [ip]:port")
	}
	if port == "" {
		return host, defaultPort, nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", errors.New("the port must be a number from 1 to 65535")
	}
	return host, port, nil
}

// errUnknownHost is the cause reported when --addr names a host that the
// resolver says does not exist.
var errUnknownHost = errors.New("unknown host")

// checkHosts looks up host names before the first call, so that a host
// that does not exist fails once, with the resolver's answer, instead of
// through gRPC's retries. Temporary resolver failures and IP addresses
// pass: gRPC resolves again and reports what it finds.
func checkHosts(ctx context.Context, hosts []string) error {
	for _, h := range hosts {
		if err := checkHost(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// checkHost is checkHosts for one host.
func checkHost(ctx context.Context, host string) error {
	if host == "" || net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return errUnknownHost
	}
	return nil
}

// addrHint ends every connection error.
const addrHint = "check --addr or ARTICLES_ADDR"

// connectionError rewrites an error that means the server could not be
// reached into one line naming the address and the cause, with a hint at
// --addr; other errors are returned as they are.
func connectionError(err error, addr string) error {
	if errors.Is(err, errUnknownHost) {
		return status.Errorf(codes.Unavailable, "cannot reach %s: unknown host; %s", addr, addrHint)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return err
	}
	cause, ok := dialCause(st.Message())
	if !ok {
		return err // the server answered UNAVAILABLE itself (shutting down, say)
	}
	return status.Errorf(codes.Unavailable, "cannot reach %s: %s; %s", addr, cause, addrHint)
}

// dialCause extracts why grpc could not connect from the message of an
// UNAVAILABLE status, and reports whether the message was about
// connecting at all. grpc's messages nest ("max retries exhausted: ...
// connection error: desc = \"transport: Error while dialing: dial tcp
// 127.0.0.1:1: connect: connection refused\""); the cause is their end.
func dialCause(msg string) (string, bool) {
	switch {
	case strings.Contains(msg, "no children to pick from"), strings.Contains(msg, "produced zero addresses"),
		strings.Contains(msg, "no such host"):
		return "unknown host", true
	case !strings.Contains(msg, "connection error") && !strings.Contains(msg, "Error while dialing") &&
		!strings.Contains(msg, "name resolver error") && !strings.Contains(msg, "handshake"):
		return "", false
	}
	cause := msg
	if i := strings.LastIndex(cause, "desc = "); i >= 0 {
		cause = cause[i+len("desc = "):]
	}
	cause = strings.Trim(cause, `"`)
	cause = strings.TrimPrefix(cause, "transport: ")
	cause = strings.TrimPrefix(cause, "Error while dialing: ")
	cause = strings.TrimPrefix(cause, "authentication handshake failed: ")
	// "dial tcp 127.0.0.1:1: connect: connection refused": the address is
	// already in the line.
	if i := strings.LastIndex(cause, ": "); i >= 0 && strings.HasPrefix(cause, "dial ") {
		cause = cause[i+2:]
	}
	switch {
	case strings.Contains(cause, "connection refused"):
		cause = "connection refused (is articlesd running there?)"
	case strings.Contains(cause, "first record does not look like a TLS handshake"):
		cause = "the server does not speak TLS (drop --tls or use http://)"
	case strings.Contains(cause, "server gave HTTP response") || strings.Contains(cause, "http2: frame too large"):
		cause = "the server speaks TLS (use --tls or https://)"
	}
	return oneLine(cause), true
}
