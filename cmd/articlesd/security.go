package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/seed9c1868aa/articles/auth"
)

// addSecurityFlags registers the transport security and token flags.
func addSecurityFlags(f *pflag.FlagSet, cfg *config) {
	f.StringVar(&cfg.tlsCert, "tls-cert", "", "serve TLS with the certificate chain in this PEM `file` (needs --tls-key)")
	f.StringVar(&cfg.tlsKey, "tls-key", "", "private key `file` (PEM) of --tls-cert")
	f.StringVar(&cfg.clientCA, "client-ca", "", "require client certificates signed by a CA in this PEM `file` (mTLS; needs --tls-cert)")
	f.StringVar(&cfg.tokensFile, "tokens", "", "require bearer tokens listed in this `file`, one \"<role> <secret>\" per line (role read or write)")
	f.BoolVar(&cfg.insecureAllowTokens, "insecure-allow-tokens", false, "allow --tokens on a plaintext listener that is not loopback (tokens cross the network readable)")
	f.BoolVar(&cfg.noReflection, "no-reflection", false, "do not serve gRPC server reflection")
}

// checkSecurity validates the combinations of the security flags.
func (c config) checkSecurity() error {
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key must be given together")
	case c.clientCA != "" && c.tlsCert == "":
		return errors.New("--client-ca needs --tls-cert and --tls-key: client certificates are only checked over TLS")
	}
	return nil
}

// useTLS reports whether the listener serves TLS.
func (c config) useTLS() bool { return c.tlsCert != "" }

// security is the loaded security setup: what serve passes to the gRPC
// server, and what it logs (never the secrets).
type security struct {
	opts   []grpc.ServerOption
	tls    *tls.Config // nil: plaintext
	tokens int         // how many tokens the file holds; 0 without --tokens
	mtls   bool        // client certificates are required
	// warnings are worth logging but not worth refusing to start over.
	warnings []string
}

// loadSecurity reads the certificates and the token file, and refuses
// tokens on a plaintext listener reachable from other machines. It runs
// before the database is opened and long before the listener, so a bad
// setup exposes nothing.
func loadSecurity(ctx context.Context, c config) (*security, error) {
	sec := &security{}
	if c.useTLS() {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		sec.tls = tc
		sec.opts = append(sec.opts, grpc.Creds(credentials.NewTLS(tc.Clone())))
		sec.mtls = tc.ClientAuth == tls.RequireAndVerifyClientCert
	}
	if c.tokensFile != "" {
		toks, err := auth.Load(c.tokensFile)
		if err != nil {
			// auth's errors name the line ("tokens line 3: ...") but never a secret.
			return nil, fmt.Errorf("--tokens %s: %w", c.tokensFile, err)
		}
		if toks.Len() == 0 {
			return nil, fmt.Errorf("--tokens %s: no tokens in the file: every call would be refused", c.tokensFile)
		}
		for _, addr := range []string{c.listen, c.httpListen} {
			if addr == "" || c.useTLS() || c.insecureAllowTokens {
				continue
			}
			loop, err := isLoopbackListen(ctx, addr)
			if err != nil {
				return nil, err
			}
			if !loop {
				return nil, fmt.Errorf("refusing --tokens on plaintext address %q, which is not loopback: serve TLS (--tls-cert, --tls-key) or pass --insecure-allow-tokens", addr)
			}
		}
		if fi, err := os.Stat(c.tokensFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			sec.warnings = append(sec.warnings, fmt.Sprintf("--tokens %s is accessible to other users (mode %v): chmod 600 it, or store sha256: digests", c.tokensFile, fi.Mode().Perm()))
		}
		sec.tokens = toks.Len()
		sec.opts = append(sec.opts,
			grpc.ChainUnaryInterceptor(toks.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(toks.StreamServerInterceptor()),
		)
	}
	return sec, nil
}

// tlsConfig builds the server's TLS configuration from the PEM files.
func (c config) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if c.clientCA != "" {
		pem, err := os.ReadFile(c.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca %s: no PEM certificates in it", c.clientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// isLoopbackListen reports whether a --listen address accepts connections
// from this machine only: its host is localhost, a loopback IP, or a name
// all of whose addresses are loopback. An empty host or an unspecified IP
// (":50051", "0.0.0.0:50051") listens on every interface.
func isLoopbackListen(ctx context.Context, addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "" {
		return false, nil
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false, fmt.Errorf("--listen %q: %w", addr, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}
