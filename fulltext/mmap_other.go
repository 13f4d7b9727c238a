//go:build !windows

package fulltext

import "math"

// mmapSize is how much of the index file bbolt maps from the start: 16
// GiB where address space is plentiful (64-bit platforms: math.MaxInt>>62
// is 1 there, 0 on 32-bit ones, which keep bbolt's default). A file that
// outgrows its mapping is mapped anew, and the write transaction that
// grew it then copies every node it touched (whole segment chunks
// included) out of the old mapping, after waiting for every search's
// read transaction to end.
const mmapSize = (math.MaxInt >> 62) << 34
