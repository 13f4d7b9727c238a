//go:build !windows

package store

import "math"

// defaultMmapSize is 1 GiB where address space is plentiful (64-bit
// platforms: math.MaxInt>>62 is 1 there, 0 on 32-bit ones).
const defaultMmapSize = (math.MaxInt >> 62) << 30
