//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

// lockedByDatabase reports false: this system has no flock to ask.
func lockedByDatabase(string) bool { return false }
