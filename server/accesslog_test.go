package server_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"github.com/seed9c1868aa/articles/server"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		level  slog.Level
		opts   []server.Option
		wantOK bool // a line for a successful call
	}{
		{"InfoByDefault", slog.LevelInfo, nil, false},
		{"InfoWithAccessLog", slog.LevelInfo, []server.Option{server.WithAccessLog(true)}, true},
		{"Debug", slog.LevelDebug, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: tt.level}))
			fs := &fakeStore{Store: openStore(t)}
			fs.get = func(ctx context.Context, id string) (*articlesv1.Article, error) {
				if id == "boom" {
					return nil, errBoom
				}
				return fs.Store.Get(ctx, id)
			}
			e := newEnv(t, fs, append(tt.opts, server.WithLogger(logger))...)
			if _, err := e.client.CreateArticle(testCtx(t), &articlesv1.CreateArticleRequest{Article: &articlesv1.Article{Title: "Logged or not"}}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "grpc.method=CreateArticle"); got != tt.wantOK {
				t.Errorf("a line for a successful call: %v, want %v; log:\n%s", got, tt.wantOK, logs)
			}
			// A server fault is logged at every level, with its fields.
			_, err := getByID(testCtx(t), e, "boom")
			wantCode(t, err, codes.Internal)
			for _, want := range []string{"level=ERROR", "grpc.method=GetArticle", "grpc.code=Internal", "grpc.time_ms=", "peer.address="} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs)
				}
			}
		})
	}
}
