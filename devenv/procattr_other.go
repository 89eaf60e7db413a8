//go:build !linux

package devenv

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; Stop still
// shuts the child down.
func sysProcAttr(_ syscall.Signal, cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Credential: cred,
	}
}
