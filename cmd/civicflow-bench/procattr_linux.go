package main

import "syscall"

// childAttr asks the kernel to stop a child when the bench dies, so an
// interrupted run leaves no API or worker behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
