package fsync

import (
	"os"
	"syscall"
)

// Data flushes f's data to the disk, with only the metadata needed to
// read it back (its size): fdatasync(2).
func Data(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
