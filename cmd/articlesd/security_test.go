package main_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Secrets of the token files the tests write. They must never show up in
// the daemon's log.
const (
	readSecret   = "read-secret-7f3a9c"
	writeSecret  = "write-secret-2b8e41"
	hashedSecret = "hashed-secret-c0d4e5"
)

// writeTokens writes a token file with content and returns its path.
func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// goodTokens is a token file with a read token, a write token and a write
// token given as its SHA-256.
func goodTokens(t *testing.T) string {
	t.Helper()
	return writeTokens(t, "# test tokens\n\nread "+readSecret+"\nwrite "+writeSecret+"\n  write sha256:"+hashedDigest()+"\n")
}

// hashedDigest is the hex SHA-256 of hashedSecret, as the token file holds
// it: knowing the file's content must not be enough to call.
func hashedDigest() string {
	sum := sha256.Sum256([]byte(hashedSecret))
	return hex.EncodeToString(sum[:])
}

// withToken returns a call context carrying token as a bearer token (none
// when token is empty).
func withToken(t *testing.T, token string) context.Context {
	t.Helper()
	ctx := callCtx(t)
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// healthServing calls the health service on cc and returns the error.
func healthServing(t *testing.T, cc *grpc.ClientConn) error {
	t.Helper()
	resp, err := healthpb.NewHealthClient(cc).Check(callCtx(t), &healthpb.HealthCheckRequest{})
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, want SERVING", resp.GetStatus())
	}
	return err
}

// wantStatusCode fails the test unless err carries code want.
func wantStatusCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, want)
	}
}

// TestTLS serves TLS and checks who gets in: TLS clients that trust the
// CA, not plaintext clients nor clients trusting another CA.
func TestTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "test CA")
	other := newPKI(t, "other CA")
	d := start(t, newDB(t), nil, append(p.serverArgs(), "--no-seed")...)
	if !strings.Contains(d.logs.String(), "tls=true") || !strings.Contains(d.logs.String(), "mtls=false") {
		t.Errorf("listening line does not say tls=true mtls=false; log:\n%s", d.logs)
	}
	tests := []struct {
		name string
		conn func() *grpc.ClientConn
		want codes.Code
	}{
		{name: "TLS", conn: func() *grpc.ClientConn { return d.tlsConn(p.roots) }, want: codes.OK},
		{name: "TLSWithUnneededClientCert", conn: func() *grpc.ClientConn { return d.tlsConn(p.roots, p.client) }, want: codes.OK},
		{name: "Plaintext", conn: d.conn, want: codes.Unavailable},
		{name: "UntrustedServer", conn: func() *grpc.ClientConn { return d.tlsConn(other.roots) }, want: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := tt.conn()
			wantStatusCode(t, "health", healthServing(t, cc), tt.want)
			_, err := articlesv1.NewArticleServiceClient(cc).ListArticles(callCtx(t), &articlesv1.ListArticlesRequest{})
			wantStatusCode(t, "ListArticles", err, tt.want)
		})
	}
}

// TestMTLS requires client certificates and checks that only clients with
// one signed by the --client-ca get in.
func TestMTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "test CA")
	other := newPKI(t, "other CA")
	d := start(t, newDB(t), nil, append(p.serverArgs(), "--client-ca", p.caFile, "--no-seed")...)
	if !strings.Contains(d.logs.String(), "mtls=true") {
		t.Errorf("listening line does not say mtls=true; log:\n%s", d.logs)
	}
	tests := []struct {
		name  string
		certs []tls.Certificate
		want  codes.Code
	}{
		{name: "ClientCert", certs: []tls.Certificate{p.client}, want: codes.OK},
		{name: "NoClientCert", want: codes.Unavailable},
		{name: "ClientCertFromOtherCA", certs: []tls.Certificate{other.client}, want: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := d.tlsConn(p.roots, tt.certs...)
			// Even health checks need the certificate: it is the transport.
			wantStatusCode(t, "health", healthServing(t, cc), tt.want)
			_, err := articlesv1.NewArticleServiceClient(cc).CreateArticle(callCtx(t), &articlesv1.CreateArticleRequest{
				Article: &articlesv1.Article{Title: "mTLS " + tt.name, Body: "Body."},
			})
			wantStatusCode(t, "CreateArticle", err, tt.want)
		})
	}
}

// TestTokens serves with --tokens on loopback plaintext and checks each
// kind of token against read, write and stream methods and health checks.
func TestTokens(t *testing.T) {
	t.Parallel()
	d := start(t, newDB(t), nil, "--tokens", goodTokens(t))
	if !strings.Contains(d.logs.String(), "tokens=3") {
		t.Errorf("listening line does not count the 3 tokens; log:\n%s", d.logs)
	}
	c := d.client()
	n := 0
	create := func(ctx context.Context) error {
		n++
		_, err := c.CreateArticle(ctx, &articlesv1.CreateArticleRequest{
			Article: &articlesv1.Article{Title: "Token test " + strings.Repeat("x", n), Body: "Body."},
		})
		return err
	}
	list := func(ctx context.Context) error {
		_, err := c.ListArticles(ctx, &articlesv1.ListArticlesRequest{PageSize: 1})
		return err
	}
	stream := func(ctx context.Context) error {
		s, err := c.StreamArticles(ctx, &articlesv1.StreamArticlesRequest{})
		if err != nil {
			return err
		}
		for range 1000 { // the seeds are far fewer
			if _, err := s.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
		return nil
	}
	importOne := func(ctx context.Context) error {
		s, err := c.ImportArticles(ctx)
		if err != nil {
			return err
		}
		if err := s.Send(&articlesv1.ImportArticlesRequest{Article: &articlesv1.Article{Title: "Imported with a token", Body: "Body."}}); err != nil {
			_, err = s.CloseAndRecv()
			return err
		}
		_, err = s.CloseAndRecv()
		return err
	}
	health := func(ctx context.Context) error {
		_, err := healthpb.NewHealthClient(d.conn()).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	tests := []struct {
		name  string
		token string
		call  func(context.Context) error
		want  codes.Code
	}{
		{"HealthNoToken", "", health, codes.OK},
		{"ListNoToken", "", list, codes.Unauthenticated},
		{"StreamNoToken", "", stream, codes.Unauthenticated},
		{"CreateNoToken", "", create, codes.Unauthenticated},
		{"ListUnknownToken", "not-a-token", list, codes.Unauthenticated},
		{"ListFileDigestAsToken", hashedDigest(), list, codes.Unauthenticated},
		{"ListRead", readSecret, list, codes.OK},
		{"StreamRead", readSecret, stream, codes.OK},
		{"CreateRead", readSecret, create, codes.PermissionDenied},
		{"ImportRead", readSecret, importOne, codes.PermissionDenied},
		{"CreateWrite", writeSecret, create, codes.OK},
		{"ImportWrite", writeSecret, importOne, codes.OK},
		{"ListWrite", writeSecret, list, codes.OK},
		{"CreateHashedWrite", hashedSecret, create, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatusCode(t, tt.name, tt.call(withToken(t, tt.token)), tt.want)
		})
	}
	logs := d.logs.String()
	if strings.Contains(logs, "accessible to other users") {
		t.Errorf("a 0600 token file was reported as accessible to others; log:\n%s", logs)
	}
	for _, secret := range []string{readSecret, writeSecret, hashedSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the secret %q:\n%s", secret, logs)
		}
	}
}

// TestTokensFileMode checks that a token file others can read is served
// but warned about.
func TestTokensFileMode(t *testing.T) {
	t.Parallel()
	path := goodTokens(t)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	d := start(t, newDB(t), nil, "--no-seed", "--tokens", path)
	if !strings.Contains(d.logs.String(), "accessible to other users") {
		t.Errorf("no warning about a 0644 token file; log:\n%s", d.logs)
	}
	_, err := d.client().ListArticles(withToken(t, readSecret), &articlesv1.ListArticlesRequest{})
	wantStatusCode(t, "ListArticles", err, codes.OK)
}

// TestTokensStartup checks the startup checks of --tokens: a malformed or
// missing file stops articlesd (exit 1) naming the line, and tokens on a
// plaintext listener beyond loopback are refused before the database is
// opened or anything listens, unless --insecure-allow-tokens or TLS.
func TestTokensStartup(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "test CA")
	malformed := writeTokens(t, "# ok so far\nread "+readSecret+"\nadmin "+writeSecret+"\n")
	badHash := writeTokens(t, "write sha256:abc\n")
	// 192.0.2.1 (TEST-NET-1) is not loopback and not on this machine: a
	// start that gets past the token check fails to bind instead, so the
	// tests never listen beyond loopback.
	const remote = "192.0.2.1:0"
	tests := []struct {
		name     string
		env      []string
		args     []string
		want     string // in stderr
		wantNot  string // not in stderr
		opensDB  bool   // got as far as opening the database (ports are bound first, so never)
		wantCode int
	}{
		{name: "Malformed", args: []string{"--tokens", malformed}, want: "line 3", wantNot: writeSecret, wantCode: 1},
		{name: "MalformedFromEnv", env: []string{"ARTICLES_TOKENS=" + malformed}, want: "line 3", wantNot: writeSecret, wantCode: 1},
		{name: "BadHash", args: []string{"--tokens", badHash}, want: "line 1", wantCode: 1},
		{name: "Missing", args: []string{"--tokens", filepath.Join(t.TempDir(), "absent")}, want: "no such file", wantCode: 1},
		{name: "Empty", args: []string{"--tokens", writeTokens(t, "# nobody\n")}, want: "no tokens", wantCode: 1},
		{name: "PlaintextAllInterfaces", args: []string{"--tokens", goodTokens(t), "--listen", "0.0.0.0:0"}, want: "refusing --tokens on plaintext", wantCode: 1},
		{name: "PlaintextNoHost", args: []string{"--tokens", goodTokens(t), "--listen", ":0"}, want: "refusing --tokens on plaintext", wantCode: 1},
		{name: "PlaintextRemote", args: []string{"--tokens", goodTokens(t), "--listen", remote}, want: "refusing --tokens on plaintext", wantCode: 1},
		{name: "PlaintextRemoteFromEnv", env: []string{"ARTICLES_TOKENS=" + goodTokens(t), "ARTICLES_LISTEN=" + remote}, want: "refusing --tokens on plaintext", wantCode: 1},
		{name: "PlaintextRemoteAllowed", args: []string{"--tokens", goodTokens(t), "--listen", remote, "--insecure-allow-tokens"}, want: "bind", wantNot: "refusing", wantCode: 1},
		{name: "PlaintextRemoteAllowedFromEnv", env: []string{"ARTICLES_INSECURE_ALLOW_TOKENS=true"}, args: []string{"--tokens", goodTokens(t), "--listen", remote}, want: "bind", wantNot: "refusing", wantCode: 1},
		{name: "TLSRemote", args: append(p.serverArgs(), "--tokens", goodTokens(t), "--listen", remote), want: "bind", wantNot: "refusing", wantCode: 1},
		{name: "CertWithoutKey", args: []string{"--tls-cert", p.serverCert}, want: "--tls-cert and --tls-key", wantCode: 2},
		{name: "ClientCAWithoutTLS", args: []string{"--client-ca", p.caFile}, want: "--client-ca needs", wantCode: 2},
		{name: "KeyMismatch", args: []string{"--tls-cert", p.serverCert, "--tls-key", p.clientKey}, want: "--tls-cert/--tls-key", wantCode: 1},
		{name: "ClientCANotPEM", args: append(p.serverArgs(), "--client-ca", p.serverKey), want: "no PEM certificates", wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			args := append([]string{"--db", db, "--no-seed"}, tt.args...)
			// An explicit --listen is needed only when the case sets none,
			// so the environment's ARTICLES_LISTEN can apply.
			if !hasFlag(tt.args, "--listen") && !hasEnv(tt.env, "ARTICLES_LISTEN") {
				args = append(args, "--listen", "127.0.0.1:0")
			}
			code, _, stderr := runCmd(t, tt.env, args...)
			if code != tt.wantCode {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr does not contain %q:\n%s", tt.want, stderr)
			}
			if tt.wantNot != "" && strings.Contains(stderr, tt.wantNot) {
				t.Errorf("stderr contains %q:\n%s", tt.wantNot, stderr)
			}
			if strings.Contains(stderr, "msg=listening") {
				t.Errorf("articlesd listened:\n%s", stderr)
			}
			if _, err := os.Stat(db); (err == nil) != tt.opensDB {
				t.Errorf("database file exists = %v, want %v", err == nil, tt.opensDB)
			}
		})
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

func hasEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// TestReflection checks that reflection is served by default and hidden
// by --no-reflection (and its environment fallback).
func TestReflection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		args []string
		want codes.Code
	}{
		{name: "Default", want: codes.OK},
		{name: "NoReflection", args: []string{"--no-reflection"}, want: codes.Unimplemented},
		{name: "NoReflectionFromEnv", env: []string{"ARTICLES_NO_REFLECTION=true"}, want: codes.Unimplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := start(t, newDB(t), tt.env, append([]string{"--no-seed"}, tt.args...)...)
			services, err := listServices(t, d.conn())
			wantStatusCode(t, "reflection", err, tt.want)
			if tt.want == codes.OK && !strings.Contains(strings.Join(services, ","), articlesv1.ArticleService_ServiceDesc.ServiceName) {
				t.Errorf("reflection lists %q, want %s among them", services, articlesv1.ArticleService_ServiceDesc.ServiceName)
			}
		})
	}
}

// listServices asks the reflection service which services are served.
func listServices(t *testing.T, cc *grpc.ClientConn) ([]string, error) {
	t.Helper()
	s, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(callCtx(t))
	if err != nil {
		return nil, err
	}
	if err := s.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""},
	}); err != nil {
		_, err = s.Recv()
		return nil, err
	}
	resp, err := s.Recv()
	if err != nil {
		return nil, err
	}
	_ = s.CloseSend()
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	return names, nil
}

// TestCLIOverMTLSWithTokens drives the articles CLI against a daemon that
// requires a client certificate and a token: with --tls --ca-file --cert
// --key --token it creates and reads an article; missing any one of them
// fails with exit code 1 and the reason.
func TestCLIOverMTLSWithTokens(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "test CA")
	d := start(t, newDB(t), nil, append(p.serverArgs(), "--client-ca", p.caFile, "--tokens", goodTokens(t), "--no-seed")...)
	tlsArgs := []string{"--tls", "--ca-file", p.caFile, "--cert", p.clientCert, "--key", p.clientKey}
	// The server certificate names 127.0.0.1, the address start listens on.
	withArgs := func(token string, args ...string) []string {
		return append(append(append([]string{}, tlsArgs...), "--token", token), args...)
	}

	created := decodeOne(t, mustCLI(t, d.addr, "", withArgs(writeSecret, "create", "--title", "Over mTLS", "--body", "Sent with a certificate and a token.", "-o", "jsonl")...))
	if created.ID == "" || created.Title != "Over mTLS" {
		t.Fatalf("create printed %+v", created)
	}
	got := decodeOne(t, mustCLI(t, d.addr, "", withArgs(readSecret, "get", created.ID, "-o", "jsonl")...))
	if got.Body != "Sent with a certificate and a token." {
		t.Errorf("get returned body %q", got.Body)
	}

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{name: "ReadTokenWrites", args: withArgs(readSecret, "create", "--title", "Refused", "--body", "x"), want: "PERMISSION_DENIED"},
		{name: "NoToken", args: append(append([]string{}, tlsArgs...), "get", created.ID), want: "UNAUTHENTICATED"},
		{name: "NoClientCert", args: []string{"--ca-file", p.caFile, "--token", readSecret, "get", created.ID}, want: "UNAVAILABLE"},
		{name: "Plaintext", args: []string{"--token", readSecret, "get", created.ID}, want: "UNAVAILABLE"},
		// The CLI refuses before dialling, so the address is never contacted.
		{name: "TokenInPlaintextToRemote", args: []string{"--addr", "192.0.2.1:50051", "--token", readSecret, "get", created.ID}, want: "refusing to send a token in plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := cli(t, d.addr, "", append(tt.args, "--timeout", "10s")...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %s", code, stderr, tt.want)
			}
		})
	}
	t.Run("CertWithoutKey", func(t *testing.T) {
		t.Parallel()
		code, _, stderr := cli(t, d.addr, "", "--ca-file", p.caFile, "--cert", p.clientCert, "get", created.ID)
		if code != 2 || !strings.Contains(stderr, "--cert and --key") {
			t.Errorf("exit %d, stderr %q; want exit 2 naming --cert and --key", code, stderr)
		}
	})
}
