// Package linux is hull's one layer over the system calls of golang.org/x/sys/unix
// that a signal can interrupt: each function has the name and signature of the
// call it wraps, and repeats it while it fails with EINTR. The Go runtime
// preempts threads with SIGURG, and a stopped or traced process (SIGSTOP,
// SIGCONT) or a FUSE or NFS filesystem can make a slow call return EINTR at any
// time; a runtime that failed then would fail at random.
//
// Errors are the bare errno, as from unix: the caller wraps them with what it
// knows (os.PathError with the path it shows, os.NewSyscallError), so its error
// texts are its own.
//
// nsenter's raw, nosplit code between fork and exec cannot call Go functions and
// keeps its own loops.
package linux

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Retry calls fn until it fails with something other than EINTR, for calls
// that have no wrapper here (raw syscalls).
func Retry(fn func() error) error {
	for {
		if err := fn(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// retry2 is Retry for a call that also returns a value.
func retry2[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if !errors.Is(err, unix.EINTR) {
			return v, err
		}
	}
}

// WriteValue writes value to the kernel file fd (a cgroup or procfs file) in
// one write(2): such files parse each write on its own, so a value split over
// two writes would be two values, and a partial write is an error, not
// something to continue. Errors are *os.PathError naming the file as name.
func WriteValue(fd int, name, value string) error {
	n, err := Write(fd, []byte(value))
	if err != nil {
		return &os.PathError{Op: "write", Path: name, Err: err}
	}
	if n != len(value) {
		return &os.PathError{Op: "write", Path: name, Err: io.ErrShortWrite}
	}
	return nil
}

// Files.

func Open(path string, flags int, mode uint32) (int, error) {
	return retry2(func() (int, error) { return unix.Open(path, flags, mode) })
}

func Openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	return retry2(func() (int, error) { return unix.Openat(dirfd, path, flags, mode) })
}

func Openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	return retry2(func() (int, error) { return unix.Openat2(dirfd, path, how) })
}

func Read(fd int, p []byte) (int, error) {
	return retry2(func() (int, error) { return unix.Read(fd, p) })
}

func Write(fd int, p []byte) (int, error) {
	return retry2(func() (int, error) { return unix.Write(fd, p) })
}

func Readlinkat(dirfd int, path string, buf []byte) (int, error) {
	return retry2(func() (int, error) { return unix.Readlinkat(dirfd, path, buf) })
}

func Fstat(fd int, st *unix.Stat_t) error {
	return Retry(func() error { return unix.Fstat(fd, st) })
}

func Fstatat(dirfd int, path string, st *unix.Stat_t, flags int) error {
	return Retry(func() error { return unix.Fstatat(dirfd, path, st, flags) })
}

func Fstatfs(fd int, st *unix.Statfs_t) error {
	return Retry(func() error { return unix.Fstatfs(fd, st) })
}

func Statfs(path string, st *unix.Statfs_t) error {
	return Retry(func() error { return unix.Statfs(path, st) })
}

func Statx(dirfd int, path string, flags, mask int, stx *unix.Statx_t) error {
	return Retry(func() error { return unix.Statx(dirfd, path, flags, mask, stx) })
}

func Faccessat(dirfd int, path string, mode uint32, flags int) error {
	return Retry(func() error { return unix.Faccessat(dirfd, path, mode, flags) })
}

func Mkdir(path string, mode uint32) error {
	return Retry(func() error { return unix.Mkdir(path, mode) })
}

func Rmdir(path string) error {
	return Retry(func() error { return unix.Rmdir(path) })
}

func Unlinkat(dirfd int, path string, flags int) error {
	return Retry(func() error { return unix.Unlinkat(dirfd, path, flags) })
}

func Fchown(fd, uid, gid int) error {
	return Retry(func() error { return unix.Fchown(fd, uid, gid) })
}

func Setxattr(path, attr string, data []byte, flags int) error {
	return Retry(func() error { return unix.Setxattr(path, attr, data, flags) })
}

func Getxattr(path, attr string, dest []byte) (int, error) {
	return retry2(func() (int, error) { return unix.Getxattr(path, attr, dest) })
}

func MemfdCreate(name string, flags int) (int, error) {
	return retry2(func() (int, error) { return unix.MemfdCreate(name, flags) })
}

// File descriptors.

func FcntlInt(fd uintptr, cmd, arg int) (int, error) {
	return retry2(func() (int, error) { return unix.FcntlInt(fd, cmd, arg) })
}

func Dup3(oldfd, newfd, flags int) error {
	return Retry(func() error { return unix.Dup3(oldfd, newfd, flags) })
}

func CloseRange(first, last uint, flags uint) error {
	return Retry(func() error { return unix.CloseRange(first, last, flags) })
}

func Flock(fd, how int) error {
	return Retry(func() error { return unix.Flock(fd, how) })
}

// Poll repeats the call with the same timeout after EINTR: for an unbounded
// wait (timeout -1), or where a late return costs nothing.
func Poll(fds []unix.PollFd, timeout int) (int, error) {
	return retry2(func() (int, error) { return unix.Poll(fds, timeout) })
}

func Recvfrom(fd int, p []byte, flags int) (int, unix.Sockaddr, error) {
	for {
		n, from, err := unix.Recvfrom(fd, p, flags)
		if !errors.Is(err, unix.EINTR) {
			return n, from, err
		}
	}
}

func SendmsgN(fd int, p, oob []byte, to unix.Sockaddr, flags int) (int, error) {
	return retry2(func() (int, error) { return unix.SendmsgN(fd, p, oob, to, flags) })
}

func IoctlSetInt(fd int, req uint, value int) error {
	return Retry(func() error { return unix.IoctlSetInt(fd, req, value) })
}

func IoctlSetPointerInt(fd int, req uint, value int) error {
	return Retry(func() error { return unix.IoctlSetPointerInt(fd, req, value) })
}

func IoctlSetWinsize(fd int, req uint, ws *unix.Winsize) error {
	return Retry(func() error { return unix.IoctlSetWinsize(fd, req, ws) })
}

func IoctlGetTermios(fd int, req uint) (*unix.Termios, error) {
	return retry2(func() (*unix.Termios, error) { return unix.IoctlGetTermios(fd, req) })
}

func IoctlSetTermios(fd int, req uint, t *unix.Termios) error {
	return Retry(func() error { return unix.IoctlSetTermios(fd, req, t) })
}

// Mounts.

func Mount(source, target, fstype string, flags uintptr, data string) error {
	return Retry(func() error { return unix.Mount(source, target, fstype, flags, data) })
}

func Unmount(target string, flags int) error {
	return Retry(func() error { return unix.Unmount(target, flags) })
}

func OpenTree(dirfd int, path string, flags uint) (int, error) {
	return retry2(func() (int, error) { return unix.OpenTree(dirfd, path, flags) })
}

func MoveMount(fromDirfd int, fromPath string, toDirfd int, toPath string, flags int) error {
	return Retry(func() error { return unix.MoveMount(fromDirfd, fromPath, toDirfd, toPath, flags) })
}

func MountSetattr(dirfd int, path string, flags uint, attr *unix.MountAttr) error {
	return Retry(func() error { return unix.MountSetattr(dirfd, path, flags, attr) })
}

// Processes.

func Kill(pid int, sig unix.Signal) error {
	return Retry(func() error { return unix.Kill(pid, sig) })
}

func Waitid(idType int, id int, info *unix.Siginfo, options int, rusage *unix.Rusage) error {
	return Retry(func() error { return unix.Waitid(idType, id, info, options, rusage) })
}

func Prctl(option int, arg2, arg3, arg4, arg5 uintptr) error {
	return Retry(func() error { return unix.Prctl(option, arg2, arg3, arg4, arg5) })
}

func PrctlRetInt(option int, arg2, arg3, arg4, arg5 uintptr) (int, error) {
	return retry2(func() (int, error) { return unix.PrctlRetInt(option, arg2, arg3, arg4, arg5) })
}

func Prlimit(pid, resource int, newLimit, old *unix.Rlimit) error {
	return Retry(func() error { return unix.Prlimit(pid, resource, newLimit, old) })
}

func Capget(hdr *unix.CapUserHeader, data *unix.CapUserData) error {
	return Retry(func() error { return unix.Capget(hdr, data) })
}

func Capset(hdr *unix.CapUserHeader, data *unix.CapUserData) error {
	return Retry(func() error { return unix.Capset(hdr, data) })
}

func SchedSetAttr(pid int, attr *unix.SchedAttr, flags uint) error {
	return Retry(func() error { return unix.SchedSetAttr(pid, attr, flags) })
}

func KeyctlInt(cmd, arg2, arg3, arg4, arg5 int) (int, error) {
	return retry2(func() (int, error) { return unix.KeyctlInt(cmd, arg2, arg3, arg4, arg5) })
}

func KeyctlJoinSessionKeyring(name string) (int, error) {
	return retry2(func() (int, error) { return unix.KeyctlJoinSessionKeyring(name) })
}

func KeyctlString(cmd, id int) (string, error) {
	return retry2(func() (string, error) { return unix.KeyctlString(cmd, id) })
}

func KeyctlSetperm(id int, perm uint32) error {
	return Retry(func() error { return unix.KeyctlSetperm(id, perm) })
}
