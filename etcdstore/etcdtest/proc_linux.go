package etcdtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the member process die when the test process does,
// so a crashed or killed test leaves no etcd behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
