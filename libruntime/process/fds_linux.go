package process

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// CloseExecFrom marks every open file descriptor >= minFd close-on-exec, so
// that none of them reaches the container's program. It uses
// close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11) and falls back to walking
// /proc/self/fd where that is missing.
func CloseExecFrom(minFd int) error {
	if minFd < 0 {
		return fmt.Errorf("close-on-exec from fd %d: negative fd", minFd)
	}
	err := linux.CloseRange(uint(minFd), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// ENOSYS: no close_range; EINVAL: close_range without the CLOEXEC flag
	// (5.9, 5.10).
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close-on-exec from fd %d: %w", minFd, os.NewSyscallError("close_range", err))
	}
	return closeExecWalk(minFd)
}

// closeExecWalk is CloseExecFrom for kernels without close_range.
func closeExecWalk(minFd int) error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("close-on-exec from fd %d: %w", minFd, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("close-on-exec from fd %d: %w", minFd, err)
	}
	self := int(d.Fd())
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < minFd || fd == self {
			continue
		}
		if err := setCloexec(fd); err != nil {
			// The directory listing is a snapshot; a descriptor closed
			// since then needs nothing.
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("close-on-exec fd %d: %w", fd, err)
		}
	}
	return nil
}

func setCloexec(fd int) error {
	flags, err := linux.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	if flags&unix.FD_CLOEXEC != 0 {
		return nil
	}
	if _, err := linux.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	return nil
}
