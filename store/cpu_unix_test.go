//go:build unix

package store_test

import (
	"syscall"
	"time"
)

// processCPU returns the processor time the process has used, in user
// and kernel mode: a measure of work that other processes on the machine
// do not skew, as they skew wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
