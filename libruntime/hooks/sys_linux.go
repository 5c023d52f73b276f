package hooks

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

func memfdCreate(name string) (*os.File, error) {
	fd, err := linux.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// waitNoReap blocks until pid has exited, leaving it for exec.Cmd.Wait to reap.
func waitNoReap(pid int) error {
	var info unix.Siginfo
	return os.NewSyscallError("waitid", linux.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil))
}

// killGroup SIGKILLs the process group led by pid.
func killGroup(pid int) error {
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return os.NewSyscallError("kill", err)
	}
	return nil
}
