package main

import (
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestParseAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		dial      string
		tls       bool
		plaintext bool
		wantErr   string
	}{
		{in: "localhost:50051", dial: "localhost:50051"},
		{in: "127.0.0.1", dial: "127.0.0.1:50051"},
		{in: "example.com:8443", dial: "example.com:8443"},
		{in: "example.com:", dial: "example.com:50051"},
		{in: "[::1]:7000", dial: "[::1]:7000"},
		{in: "[::1]", dial: "[::1]:50051"},
		{in: "::1", dial: "[::1]:50051"},
		{in: " localhost ", dial: "localhost:50051"},
		{in: "http://localhost:8080", dial: "localhost:8080", plaintext: true},
		{in: "http://localhost/", dial: "localhost:50051", plaintext: true},
		{in: "grpc://10.0.0.1", dial: "10.0.0.1:50051", plaintext: true},
		{in: "https://articles.example.com", dial: "articles.example.com:443", tls: true},
		{in: "HTTPS://articles.example.com:8443", dial: "articles.example.com:8443", tls: true},
		{in: "grpcs://[2001:db8::1]", dial: "[2001:db8::1]:443", tls: true},
		{in: "dns:///articles.example.com:443", dial: "dns:///articles.example.com:443"},
		{in: "unix:///run/articles.sock", dial: "unix:///run/articles.sock"},
		{in: "h1:50051,h2", dial: "h1:50051,h2:50051"},
		{in: "https://h1, https://h2:8443", dial: "h1:443,h2:8443", tls: true},
		{in: "h1,https://h2", wantErr: "all use TLS or all not"},
		{in: "h1,,h2", wantErr: "empty address"},
		{in: "h1,dns:///h2", wantErr: "unknown scheme"},
		{in: "", wantErr: "must not be empty"},
		{in: "ftp://host", wantErr: `unknown scheme "ftp"`},
		{in: "tcp://host:1", wantErr: "unknown scheme"},
		{in: "http://host:1/v1/articles", wantErr: "only a host and port"},
		{in: "https://user@host", wantErr: "only a host and port"},
		{in: "http://", wantErr: "only a host and port"},
		{in: "host:http", wantErr: "port must be a number"},
		{in: "host:0", wantErr: "port must be a number"},
		{in: "host:65536", wantErr: "port must be a number"},
		{in: ":50051", wantErr: "no host"},
		{in: "host/path:1", wantErr: "not a host name"},
		{in: "a:b:c", wantErr: "not an IPv6 address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseAddr(tt.in)
			if tt.wantErr != "" {
				var ue usageError
				if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAddr(%q) = %+v, %v; want a usage error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAddr(%q): %v", tt.in, err)
			}
			if got.dial != tt.dial || got.tls != tt.tls || got.plaintext != tt.plaintext {
				t.Errorf("parseAddr(%q) = %+v, want dial %q, tls %v, plaintext %v", tt.in, got, tt.dial, tt.tls, tt.plaintext)
			}
		})
	}
}

// FuzzParseAddr checks that parseAddr never panics and that what it
// accepts is a target gRPC can dial: host:port with a valid port, or a
// resolver target passed through.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"localhost", "[::1]:1", "https://h", "http://h:1/", "dns:///h:1", "::1", "a:b:c", "http://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseAddr(s)
		if err != nil {
			if !errors.As(err, new(usageError)) {
				t.Fatalf("parseAddr(%q) error %v is not a usage error", s, err)
			}
			return
		}
		if len(got.hosts) == 0 {
			if !strings.Contains(got.dial, ":") || got.tls || got.plaintext {
				t.Fatalf("parseAddr(%q) = %+v: a pass-through target must keep its scheme", s, got)
			}
			return
		}
		dials := strings.Split(got.dial, ",")
		if len(dials) != len(got.hosts) {
			t.Fatalf("parseAddr(%q) = %+v: %d addresses for %d hosts", s, got, len(dials), len(got.hosts))
		}
		for i, d := range dials {
			host, port, err := net.SplitHostPort(d)
			if err != nil || host != got.hosts[i] || port == "" {
				t.Fatalf("parseAddr(%q) = %+v: %q is not host:port (%v)", s, got, d, err)
			}
		}
		if got.tls && got.plaintext {
			t.Fatalf("parseAddr(%q) = %+v: both TLS and plaintext", s, got)
		}
	})
}

func TestConnectionError(t *testing.T) {
	t.Parallel()
	const hint = "; check --addr or ARTICLES_ADDR"
	tests := []struct {
		name string
		err  error
		want string // errorLine of the result
	}{
		{"Refused", status.Error(codes.Unavailable, `max retries exhausted: failed after 5 attempts: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`),
			"UNAVAILABLE: cannot reach h:1: connection refused (is articlesd running there?)" + hint},
		{"NoChildren", status.Error(codes.Unavailable, "max retries exhausted: failed after 5 attempts: rpc error: code = Unavailable desc = no children to pick from"),
			"UNAVAILABLE: cannot reach h:1: unknown host" + hint},
		{"ZeroAddresses", status.Error(codes.Unavailable, "name resolver error: produced zero addresses"),
			"UNAVAILABLE: cannot reach h:1: unknown host" + hint},
		{"CheckedHost", errUnknownHost, "UNAVAILABLE: cannot reach h:1: unknown host" + hint},
		{"NotTLS", status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`),
			"UNAVAILABLE: cannot reach h:1: the server does not speak TLS (drop --tls or use http://)" + hint},
		{"Timeout", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 192.0.2.1:1: i/o timeout"`),
			"UNAVAILABLE: cannot reach h:1: i/o timeout" + hint},
		{"ServerUnavailable", status.Error(codes.Unavailable, "server is shutting down"), "UNAVAILABLE: server is shutting down"},
		{"OtherCode", status.Error(codes.NotFound, "connection error: no"), "NOT_FOUND: connection error: no"},
		{"Plain", errors.New("open x: no such file"), "open x: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errorLine(connectionError(tt.err, "h:1")); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
