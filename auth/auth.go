// Package auth checks bearer tokens on every gRPC call.
//
// # Basics
//
// A token file holds one token per line as "<role> <secret>": role is
// "read" (may call the read methods) or "write" (may call every method),
// and the secret is the token itself or "sha256:<64 hex digits>", the
// SHA-256 of the token, so the file need not hold usable secrets. Blank lines
// and lines starting with # are ignored. A malformed line is an error naming
// its line number.
//
// Clients send "authorization: Bearer <token>" metadata. A call without a
// token, or with one that is not in the file, fails with UNAUTHENTICATED; a
// read token on a write method fails with PERMISSION_DENIED. Health checks
// need no token.
//
// # Caveats
//
// Tokens are compared as SHA-256 digests in constant time, against every
// known digest, so timing tells nothing about which token nearly matched.
// Tokens never appear in errors or logs. Bearer tokens are only as safe as
// the transport: serve TLS when the network is not loopback.
package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Role is what a token may do.
type Role int

// The roles, from least to most allowed.
const (
	RoleNone  Role = iota // not a valid token
	RoleRead              // the read methods
	RoleWrite             // every method
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	}
	return "none"
}

// writeMethods are the methods that change data and need RoleWrite.
var writeMethods = map[string]bool{
	articlesv1.ArticleService_CreateArticle_FullMethodName:  true,
	articlesv1.ArticleService_UpdateArticle_FullMethodName:  true,
	articlesv1.ArticleService_DeleteArticle_FullMethodName:  true,
	articlesv1.ArticleService_ImportArticles_FullMethodName: true,
}

// publicPrefix is the service whose methods need no token.
const publicPrefix = "/grpc.health.v1.Health/"

type entry struct {
	digest [sha256.Size]byte
	role   Role
}

// Tokens is a parsed token file. The zero value knows no tokens.
type Tokens struct {
	entries []entry
}

// Load reads a token file from disk.
func Load(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads a token file. Its errors name the offending line number but
// never the secret.
func Parse(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("tokens line %d: want \"<role> <secret>\"", n)
		}
		var e entry
		switch fields[0] {
		case "read":
			e.role = RoleRead
		case "write":
			e.role = RoleWrite
		default:
			return nil, fmt.Errorf("tokens line %d: role must be read or write", n)
		}
		secret := fields[1]
		if hexDigest, ok := strings.CutPrefix(secret, "sha256:"); ok {
			b, err := hex.DecodeString(hexDigest)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("tokens line %d: sha256: must be followed by 64 hex digits", n)
			}
			copy(e.digest[:], b)
		} else {
			e.digest = sha256.Sum256([]byte(secret))
		}
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return t, nil
}

// Len returns the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Role returns the role of token, or RoleNone if it is not known. It takes
// the same time whichever entry matches.
func (t *Tokens) Role(token string) Role {
	d := sha256.Sum256([]byte(token))
	role := RoleNone
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(d[:], e.digest[:]) == 1 && e.role > role {
			role = e.role
		}
	}
	return role
}

// authorize checks the call's token against method.
func (t *Tokens) authorize(ctx context.Context, method string) error {
	if strings.HasPrefix(method, publicPrefix) {
		return nil
	}
	token, ok := bearer(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "missing bearer token: send \"authorization: Bearer <token>\"")
	}
	role := t.Role(token)
	switch {
	case role == RoleNone:
		return status.Error(codes.Unauthenticated, "unknown bearer token")
	case writeMethods[method] && role < RoleWrite:
		return status.Error(codes.PermissionDenied, "a read token cannot call "+method)
	}
	return nil
}

func bearer(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, token, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(token) != "" {
			return strings.TrimSpace(token), true
		}
	}
	return "", false
}

// UnaryServerInterceptor checks the token of every unary call.
func (t *Tokens) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := t.authorize(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor checks the token of every streaming call.
func (t *Tokens) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := t.authorize(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
