//go:build !race

package main_test

// raceEnabled is true when the tests run under the race detector, so that
// TestMain builds the daemon with it too.
const raceEnabled = false
