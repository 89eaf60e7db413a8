package chaos

import "syscall"

// procAttr makes a child die with the test process, so that a crashed test
// leaves no api or worker behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
