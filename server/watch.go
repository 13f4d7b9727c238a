package server

import (
	"log/slog"

	articlesv1 "github.com/seed9c1868aa/articles/proto/articles/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// hub fans the store's change log out to watch streams. (Stub: the full
// implementation follows.)
type hub struct {
	st  Store
	log *slog.Logger
	cfg config
}

// newHub returns a hub tailing st.
func newHub(st Store, log *slog.Logger, cfg config) *hub {
	return &hub{st: st, log: log, cfg: cfg}
}

// close ends every watch stream with UNAVAILABLE and stops the tailer.
func (h *hub) close() {}

// WatchArticles streams the change feed.
func (s *Server) WatchArticles(req *articlesv1.WatchArticlesRequest, stream grpc.ServerStreamingServer[articlesv1.ArticleEvent]) error {
	return status.Error(codes.Unimplemented, "WatchArticles is not implemented yet")
}
