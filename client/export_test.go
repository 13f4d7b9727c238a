package client

import "google.golang.org/grpc/metadata"

// SessionFloor returns the floor of a new session after it has seen the
// given values of the revision header, in one reply.
func SessionFloor(values ...string) int64 {
	s := &session{}
	md := metadata.MD{}
	for _, v := range values {
		md.Append(revisionHeader, v)
	}
	s.seeHeader(md)
	return s.rev.Load()
}
