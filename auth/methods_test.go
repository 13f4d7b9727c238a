package auth_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/seed9c1868aa/articles/auth"
	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
	"github.com/seed9c1868aa/articles/store"
)

// descriptorMethods returns the full method name of every method of every
// service in files.
func descriptorMethods(files ...protoreflect.FileDescriptor) []string {
	var out []string
	for _, f := range files {
		for i := range f.Services().Len() {
			svc := f.Services().Get(i)
			for j := range svc.Methods().Len() {
				out = append(out, "/"+string(svc.FullName())+"/"+string(svc.Methods().Get(j).Name()))
			}
		}
	}
	return out
}

// TestEveryMethodHasARole checks the role table against the descriptors of
// every service the server can register, in both directions: no method
// goes undeclared, and no entry names a method that does not exist.
func TestEveryMethodHasARole(t *testing.T) {
	t.Parallel()
	methods := descriptorMethods(
		articlesv1.File_articles_v1_articles_proto,
		healthpb.File_grpc_health_v1_health_proto,
		reflectionv1.File_grpc_reflection_v1_reflection_proto,
		reflectionv1alpha.File_grpc_reflection_v1alpha_reflection_proto,
	)
	if len(methods) < 12 {
		t.Fatalf("only %d methods in the descriptors: %v", len(methods), methods)
	}
	table := auth.Methods()
	for _, m := range methods {
		if _, ok := auth.Required(m); !ok {
			t.Errorf("%s has no declared role", m)
		}
		delete(table, m)
	}
	for m := range table {
		t.Errorf("role declared for %s, which no service has", m)
	}
}

// TestServedMethodsHaveARole checks the table against what the real server
// registers on its grpc.Server, so a service added there is caught too.
func TestServedMethodsHaveARole(t *testing.T) {
	t.Parallel()
	db, err := store.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, err := server.New(t.Context(), db, server.WithReflection(true))
	if err != nil {
		t.Fatal(err)
	}
	gs := srv.GRPCServer()
	t.Cleanup(gs.Stop)
	n := 0
	for name, info := range gs.GetServiceInfo() {
		for _, m := range info.Methods {
			n++
			if _, ok := auth.Required("/" + name + "/" + m.Name); !ok {
				t.Errorf("/%s/%s is served but has no declared role", name, m.Name)
			}
		}
	}
	if n < 12 {
		t.Fatalf("only %d methods served", n)
	}
}

func TestRequiredRoles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		method string
		want   auth.Role
	}{
		{articlesv1.ArticleService_GetArticle_FullMethodName, auth.RoleRead},
		{articlesv1.ArticleService_WatchArticles_FullMethodName, auth.RoleRead},
		{articlesv1.ArticleService_SearchArticles_FullMethodName, auth.RoleRead},
		{articlesv1.ArticleService_CreateArticle_FullMethodName, auth.RoleWrite},
		{articlesv1.ArticleService_UpdateArticle_FullMethodName, auth.RoleWrite},
		{articlesv1.ArticleService_DeleteArticle_FullMethodName, auth.RoleWrite},
		{articlesv1.ArticleService_ImportArticles_FullMethodName, auth.RoleWrite},
		{articlesv1.ArticleService_Backup_FullMethodName, auth.RoleWrite},
		{healthpb.Health_Check_FullMethodName, auth.RoleNone},
		{reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName, auth.RoleRead},
	} {
		t.Run(tt.method, func(t *testing.T) {
			got, ok := auth.Required(tt.method)
			if !ok || got != tt.want {
				t.Errorf("Required = %v, %v; want %v, true", got, ok, tt.want)
			}
		})
	}
	if r, ok := auth.Required("/articles.v1.ArticleService/Nope"); ok {
		t.Errorf("Required of an unknown method = %v, true; want false", r)
	}
}

// TestUndeclaredMethodRefused serves a method the table does not know and
// checks that no token, not even a write token, may call it.
func TestUndeclaredMethodRefused(t *testing.T) {
	t.Parallel()
	tok, err := auth.Parse(strings.NewReader("read reader\nwrite writer\n"))
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan struct{}, 10)
	desc := grpc.ServiceDesc{
		ServiceName: "articles.v1.ArticleService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Undeclared",
			Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(context.Context, any) (any, error) { called <- struct{}{}; return new(emptypb.Empty), nil }
				return icpt(ctx, in, &grpc.UnaryServerInfo{FullMethod: "/articles.v1.ArticleService/Undeclared"}, h)
			},
		}},
	}
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer(grpc.UnaryInterceptor(tok.UnaryServerInterceptor()))
	g.RegisterService(&desc, struct{}{})
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, tt := range []struct {
		header string
		want   codes.Code
	}{
		{"", codes.Unauthenticated},
		{"Bearer nope", codes.Unauthenticated},
		{"Bearer reader", codes.PermissionDenied},
		{"Bearer writer", codes.PermissionDenied},
	} {
		t.Run(tt.header, func(t *testing.T) {
			ctx := t.Context()
			if tt.header != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.header)
			}
			err := conn.Invoke(ctx, "/articles.v1.ArticleService/Undeclared", new(emptypb.Empty), new(emptypb.Empty))
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	if len(called) != 0 {
		t.Errorf("the undeclared method's handler ran %d times", len(called))
	}
}
