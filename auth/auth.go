// Package auth checks bearer tokens on every gRPC call.
//
// # Basics
//
// A token file holds one token per line as "<role> <secret>": role is
// "read" (may call the methods that need RoleRead) or "write" (may call
// every method with a declared role),
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
// Authorization fails closed: the role each method needs is declared once,
// in the table behind Required, for every method the server registers
// (articles.v1, grpc.health.v1 and server reflection). A method missing
// from the table is refused with PERMISSION_DENIED whatever the token, so a
// new RPC stays closed until someone declares its role; a test checks the
// table against the service descriptors.
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
	"maps"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

// Role is what a token may do.
type Role int

// The roles, from least to most allowed.
const (
	RoleNone  Role = iota // not a valid token; as a need (Required): no token
	RoleRead              // the methods that need no more
	RoleWrite             // every method with a declared role
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

// methodRoles is the least role each method needs; RoleNone means any
// caller, even without a token. A method that is not here is refused.
var methodRoles = map[string]Role{
	articlesv1.ArticleService_GetArticle_FullMethodName:       RoleRead,
	articlesv1.ArticleService_BatchGetArticles_FullMethodName: RoleRead,
	articlesv1.ArticleService_ListArticles_FullMethodName:     RoleRead,
	articlesv1.ArticleService_StreamArticles_FullMethodName:   RoleRead,
	articlesv1.ArticleService_WatchArticles_FullMethodName:    RoleRead,
	articlesv1.ArticleService_SearchArticles_FullMethodName:   RoleRead,
	articlesv1.ArticleService_CreateArticle_FullMethodName:    RoleWrite,
	articlesv1.ArticleService_UpdateArticle_FullMethodName:    RoleWrite,
	articlesv1.ArticleService_DeleteArticle_FullMethodName:    RoleWrite,
	articlesv1.ArticleService_ImportArticles_FullMethodName:   RoleWrite,
	// A backup holds every article, and reading the whole file is heavy.
	articlesv1.ArticleService_Backup_FullMethodName: RoleWrite,

	// Load balancers and orchestrators probe health without credentials.
	healthpb.Health_Check_FullMethodName: RoleNone,
	healthpb.Health_List_FullMethodName:  RoleNone,
	healthpb.Health_Watch_FullMethodName: RoleNone,

	// Reflection describes the API, not the data: any valid token.
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      RoleRead,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: RoleRead,
}

// Required returns the least role a call of method ("/package.Service/Method")
// needs, and false when the method has no declared role, which the
// interceptors refuse. RoleNone means the method needs no token.
func Required(method string) (Role, bool) {
	r, ok := methodRoles[method]
	return r, ok
}

// Methods returns every method with a declared role, mapped to the role.
// The map is a copy.
func Methods() map[string]Role {
	return maps.Clone(methodRoles)
}

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

// authorize checks the call's token against the role method needs.
func (t *Tokens) authorize(ctx context.Context, method string) error {
	need, declared := methodRoles[method]
	if declared && need == RoleNone {
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
	case !declared:
		return status.Error(codes.PermissionDenied, "no role may call "+method)
	case role < need:
		return status.Error(codes.PermissionDenied, "a "+role.String()+" token cannot call "+method)
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
