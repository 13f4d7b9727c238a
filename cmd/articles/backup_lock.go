//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"errors"
	"os"
	"syscall"
)

// lockedByDatabase reports whether path is a file that a process holds
// with an exclusive lock, as bbolt (and so a running articlesd) holds its
// database file. Renaming a backup over such a file would unlink the
// live database from under its server.
func lockedByDatabase(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close() // closing releases a lock taken below
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	return errors.Is(err, syscall.EWOULDBLOCK)
}
