//go:build !windows

package store

import "math"

// defaultMmapSize is 16 GiB where address space is plentiful (64-bit
// platforms: math.MaxInt>>62 is 1 there, 0 on 32-bit ones): the
// write-ahead log keeps its pin while the file is under half of it.
const defaultMmapSize = (math.MaxInt >> 62) << 34
