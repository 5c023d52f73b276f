package console

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// Thin wrappers: errors as *os.PathError or *os.SyscallError.

func openat(dir int, path string, flags int, mode uint32) (int, error) {
	fd, err := linux.Openat(dir, path, flags, mode)
	if err != nil {
		return -1, &os.PathError{Op: "openat", Path: path, Err: err}
	}
	return fd, nil
}

func fstat(fd int, st *unix.Stat_t) error {
	if err := linux.Fstat(fd, st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	return nil
}

func fstatat(dir int, path string, st *unix.Stat_t, flags int) error {
	if err := linux.Fstatat(dir, path, st, flags); err != nil {
		return &os.PathError{Op: "fstatat", Path: path, Err: err}
	}
	return nil
}

func unlinkat(dir int, path string) error {
	if err := linux.Unlinkat(dir, path, 0); err != nil {
		return &os.PathError{Op: "unlinkat", Path: path, Err: err}
	}
	return nil
}

func ioctlSetInt(fd int, req uint, v int) error {
	if err := linux.IoctlSetInt(fd, req, v); err != nil {
		return os.NewSyscallError("ioctl", err)
	}
	return nil
}

func ioctlSetPointerInt(fd int, req uint, v int) error {
	if err := linux.IoctlSetPointerInt(fd, req, v); err != nil {
		return os.NewSyscallError("ioctl", err)
	}
	return nil
}

// ioctlPeer is TIOCGPTPEER: it opens the peer of master fd with flags and
// returns the new descriptor.
func ioctlPeer(fd int, flags int) (int, error) {
	var peer int
	err := linux.Retry(func() error {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, uintptr(flags))
		if errno != 0 {
			return errno
		}
		peer = int(r)
		return nil
	})
	if err != nil {
		return -1, os.NewSyscallError("ioctl TIOCGPTPEER", err)
	}
	return peer, nil
}

func ioctlWinsize(f *os.File, ws *unix.Winsize) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		ioErr = linux.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws)
	}); err != nil {
		return err
	}
	if ioErr != nil {
		return os.NewSyscallError("ioctl TIOCSWINSZ", ioErr)
	}
	return nil
}

func dupAbove(fd, min int) (int, error) {
	nfd, err := linux.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, min)
	if err != nil {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	return nfd, nil
}

func dup3(oldfd, newfd int) error {
	if err := linux.Dup3(oldfd, newfd, 0); err != nil {
		return os.NewSyscallError("dup3", err)
	}
	return nil
}

func openTree(dir int, path string, flags uint) (int, error) {
	fd, err := linux.OpenTree(dir, path, flags)
	if err != nil {
		return -1, os.NewSyscallError("open_tree", err)
	}
	return fd, nil
}

func moveMount(from int, fromPath string, to int, toPath string, flags int) error {
	if err := linux.MoveMount(from, fromPath, to, toPath, flags); err != nil {
		return os.NewSyscallError("move_mount", err)
	}
	return nil
}
