//go:build linux && !386 && !arm

package process

import "golang.org/x/sys/unix"

// The architectures without legacy 16-bit id syscalls use the plain numbers.
const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetresgid = unix.SYS_SETRESGID
	sysSetresuid = unix.SYS_SETRESUID
)
