package main

import (
	"context"
	"errors"
	"testing"
)

func TestEtcdIndexLag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		rev     int64
		err     error
		indexed int64
		want    int64
	}{
		{"Behind", 10, nil, 7, 3},
		{"CaughtUp", 10, nil, 10, 0},
		{"Rebuilding", 10, nil, 0, 10},
		{"AheadOfARevisionReadEarlier", 10, nil, 12, 0},
		{"Unreachable", 0, errors.New("etcd down"), 5, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := etcdIndexLag(t.Context(), func(ctx context.Context) (int64, error) {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("the revision read has no deadline")
				}
				return tt.rev, tt.err
			}, tt.indexed)
			if got != tt.want {
				t.Errorf("etcdIndexLag = %d, want %d", got, tt.want)
			}
		})
	}
}
