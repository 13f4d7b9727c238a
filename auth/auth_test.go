package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/seed9c1868aa/articles/auth"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
)

func sha(s string) string {
	d := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(d[:])
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		wantErr string // substring; empty: no error
		roles   map[string]auth.Role
	}{
		{
			name: "raw and hashed",
			file: "# readers\nread r-secret\n\n  write w-secret  \nread " + sha("hashed") + "\n",
			roles: map[string]auth.Role{
				"r-secret": auth.RoleRead, "w-secret": auth.RoleWrite, "hashed": auth.RoleRead,
				"unknown": auth.RoleNone, "": auth.RoleNone, "sha256:x": auth.RoleNone,
			},
		},
		{name: "empty", file: "", roles: map[string]auth.Role{"x": auth.RoleNone}},
		{name: "unknown role", file: "read a\nadmin b\n", wantErr: "line 2: role"},
		{name: "missing secret", file: "\n\nwrite\n", wantErr: "line 3"},
		{name: "three fields", file: "read a b\n", wantErr: "line 1"},
		{name: "bad digest", file: "read sha256:abc\n", wantErr: "line 1: sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := auth.Parse(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret-value") {
					t.Errorf("error leaks a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for token, want := range tt.roles {
				if got := tok.Role(token); got != want {
					t.Errorf("Role(%q) = %v, want %v", token, got, want)
				}
			}
		})
	}
}

// articles answers one read and one write method, enough to exercise the
// interceptors' role checks over a real gRPC connection.
type articles struct {
	articlesv1.UnimplementedArticleServiceServer
}

func (articles) GetArticle(context.Context, *articlesv1.GetArticleRequest) (*articlesv1.Article, error) {
	return &articlesv1.Article{Id: "a"}, nil
}

func (articles) DeleteArticle(context.Context, *articlesv1.DeleteArticleRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (articles) WatchArticles(_ *articlesv1.WatchArticlesRequest, s grpc.ServerStreamingServer[articlesv1.ArticleEvent]) error {
	return s.Send(&articlesv1.ArticleEvent{Type: articlesv1.ArticleEvent_PROGRESS})
}

func TestInterceptors(t *testing.T) {
	t.Parallel()
	tok, err := auth.Parse(strings.NewReader("read reader\nwrite writer\n"))
	if err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer(grpc.UnaryInterceptor(tok.UnaryServerInterceptor()), grpc.StreamInterceptor(tok.StreamServerInterceptor()))
	articlesv1.RegisterArticleServiceServer(g, articles{})
	healthpb.RegisterHealthServer(g, health.NewServer())
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rpc := articlesv1.NewArticleServiceClient(conn)

	with := func(header string) context.Context {
		if header == "" {
			return context.Background()
		}
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", header)
	}
	calls := map[string]func(context.Context) error{
		"get": func(ctx context.Context) error {
			_, err := rpc.GetArticle(ctx, &articlesv1.GetArticleRequest{})
			return err
		},
		"delete": func(ctx context.Context) error {
			_, err := rpc.DeleteArticle(ctx, &articlesv1.DeleteArticleRequest{})
			return err
		},
		"watch": func(ctx context.Context) error {
			s, err := rpc.WatchArticles(ctx, &articlesv1.WatchArticlesRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
		"backup": func(ctx context.Context) error {
			s, err := rpc.Backup(ctx, &articlesv1.BackupRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
		"health": func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		},
	}
	tests := []struct {
		call, header string
		want         codes.Code
	}{
		{"get", "", codes.Unauthenticated},
		{"get", "Bearer nope", codes.Unauthenticated},
		{"get", "Basic reader", codes.Unauthenticated},
		{"get", "Bearer reader", codes.OK},
		{"get", "bearer writer", codes.OK},
		{"delete", "Bearer reader", codes.PermissionDenied},
		{"delete", "Bearer writer", codes.OK},
		{"delete", "", codes.Unauthenticated},
		{"watch", "", codes.Unauthenticated},
		{"watch", "Bearer reader", codes.OK},
		{"backup", "Bearer reader", codes.PermissionDenied},
		{"backup", "Bearer writer", codes.Unimplemented}, // past auth, into the test's handler
		{"health", "", codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.call+"/"+tt.header, func(t *testing.T) {
			err := calls[tt.call](with(tt.header))
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "reader") && tt.want != codes.PermissionDenied || strings.Contains(err.Error(), "writer")) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("read a\nwrite b\n# c\n\nread " + sha("x"))
	f.Add("write sha256:zz")
	f.Fuzz(func(t *testing.T, file string) {
		tok, err := auth.Parse(strings.NewReader(file))
		if err != nil {
			return
		}
		if tok.Role("") != auth.RoleNone && !strings.Contains(file, sha("")) {
			t.Fatalf("empty token accepted")
		}
	})
}
