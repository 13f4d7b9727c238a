//go:build !linux

package etcdtest

import "os/exec"

// dieWithParent does nothing where the parent-death signal is not
// available: Close must stop the members.
func dieWithParent(*exec.Cmd) {}
