//go:build !linux

package fsync

import "os"

// Data flushes f to the disk: a full fsync where fdatasync(2) is not
// available.
func Data(f *os.File) error { return f.Sync() }
