package server

// Watchers returns how many WatchArticles streams are open: a stream counts
// from the moment its request has been checked (a watch refused with
// INVALID_ARGUMENT or OUT_OF_RANGE never counts) until its handler returns,
// which happens shortly after the client cancels or the connection breaks.
// It is meant for monitoring, such as an open-watchers gauge.
func (s *Server) Watchers() int {
	return int(s.hub.watchers.Load())
}
