package devenv

import "syscall"

// sysProcAttr returns the attributes for a service child: its own process
// group (so a terminal's Ctrl-C reaches only us, and we stop it in order),
// the parent-death signal, and, when cred is not nil, the user to run as.
func sysProcAttr(deathSig syscall.Signal, cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  deathSig,
		Credential: cred,
	}
}
