package process

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// explainedError replaces the text of err with a message that says what to
// change, while errors.Is and errors.As still see err.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

func prctl(option int, arg2, arg3, arg4, arg5 uintptr) error {
	if err := linux.Prctl(option, arg2, arg3, arg4, arg5); err != nil {
		return os.NewSyscallError("prctl", err)
	}
	return nil
}

func prctlInt(option int, arg2, arg3, arg4, arg5 uintptr) (int, error) {
	ret, err := linux.PrctlRetInt(option, arg2, arg3, arg4, arg5)
	if err != nil {
		return 0, os.NewSyscallError("prctl", err)
	}
	return ret, nil
}

// rawIDSyscall runs one of the id-changing syscalls directly. Go's
// syscall.Setresuid and friends use allthreadssyscall to change every thread
// of the process; here only the calling thread must change.
func rawIDSyscall(name string, trap, a1, a2, a3 uintptr) error {
	err := linux.Retry(func() error {
		_, _, errno := unix.RawSyscall(trap, a1, a2, a3)
		if errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return os.NewSyscallError(name, err)
	}
	return nil
}

func setresuid(uid uint32) error {
	return rawIDSyscall("setresuid", sysSetresuid, uintptr(uid), uintptr(uid), uintptr(uid))
}

func setresgid(gid uint32) error {
	return rawIDSyscall("setresgid", sysSetresgid, uintptr(gid), uintptr(gid), uintptr(gid))
}

// setgroups replaces the supplementary groups; an empty list clears them.
func setgroups(gids []uint32) error {
	err := linux.Retry(func() error {
		var errno unix.Errno
		if len(gids) == 0 {
			_, _, errno = unix.RawSyscall(sysSetgroups, 0, 0, 0)
		} else {
			// The pointer conversion stays inside the call expression so the
			// array is kept alive and in place for the syscall.
			_, _, errno = unix.RawSyscall(sysSetgroups, uintptr(len(gids)), uintptr(unsafe.Pointer(&gids[0])), 0)
		}
		if errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return os.NewSyscallError("setgroups", err)
	}
	return nil
}
