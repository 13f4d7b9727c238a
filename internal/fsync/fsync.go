// Package fsync makes files and directory entries durable: the two calls
// every writer of a crash-safe file needs, in one place.
package fsync

import (
	"errors"
	"os"
)

// Dir makes the entries of directory dir durable, such as a file just
// created or renamed in it. Systems that cannot sync a directory
// (Windows) are not an error.
func Dir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}
