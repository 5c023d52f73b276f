// Package seccomp turns the linux.seccomp object of a config.json into a seccomp
// filter: Validate checks it, Load installs it on the calling thread, Features says
// what this build and kernel support, and SendNotifyFd hands a notify fd to a
// seccomp agent.
//
// The filter is built with libseccomp (cgo; hull links it statically) but loaded
// by hand with seccomp(2): hull prepends a short program that answers ENOSYS for
// syscalls newer than any the profile names, as runc does, so that libc falls
// back (clone3 to clone, faccessat2 to faccessat, ...) instead of failing with the
// profile's default errno.
package seccomp

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Error is a problem with the linux.seccomp object, or with loading it.
type Error struct {
	Field string // JSON path, e.g. "linux.seccomp.syscalls[3].action"
	Msg   string // what is wrong
	Fix   string // what to do about it; may be empty
	Err   error  // underlying cause (libseccomp, the kernel); may be nil
}

func (e *Error) Error() string {
	if e.Fix == "" {
		return e.Field + ": " + e.Msg
	}
	return e.Field + ": " + e.Msg + "; " + e.Fix
}

func (e *Error) Unwrap() error { return e.Err }

// Validate checks s without loading anything: it builds the whole filter with
// libseccomp, so everything Load could reject short of the kernel is reported
// here. The error is an *Error naming the JSON field. Syscall names libseccomp
// does not know are not errors (a profile lists syscalls of every architecture
// and kernel): they are skipped, and each is returned as a warning. A nil s is
// valid.
func Validate(s *specs.LinuxSeccomp) (warnings []string, err error) {
	if s == nil {
		return nil, nil
	}
	p, warnings, err := compile(s)
	if err != nil {
		return warnings, err
	}
	p.release()
	return warnings, nil
}

// Load builds the filter described by s and installs it on the calling thread,
// with the flags of s (SECCOMP_FILTER_FLAG_TSYNC is accepted and ignored, see
// below). It returns the notify fd (close-on-exec) when some rule uses
// SCMP_ACT_NOTIFY, else -1, and the warnings of Validate.
//
// The caller must have locked its goroutine to the OS thread (runtime.LockOSThread)
// and execve from that thread: the filter applies to this thread and is inherited
// by the new program. Other threads of the Go runtime are left alone because
// execve ends them; filtering them (TSYNC) would only make the runtime's own
// syscalls fail before the execve.
//
// Load does not set no_new_privs: without it the kernel requires CAP_SYS_ADMIN,
// so call Load before dropping capabilities, or after process.SetNoNewPrivs.
// Between Load and execve the thread runs under the filter, and the notify fd
// must reach the agent through a syscall no rule notifies (Validate refuses
// SCMP_ACT_NOTIFY on write for that reason, as runc does).
func Load(s *specs.LinuxSeccomp) (notifyFd int, warnings []string, err error) {
	if s == nil {
		return -1, nil, &Error{Field: root, Msg: "no seccomp configuration to load"}
	}
	p, warnings, err := compile(s)
	if err != nil {
		return -1, warnings, err
	}
	defer p.release()
	prog, err := p.program()
	if err != nil {
		return -1, warnings, err
	}
	fd, err := install(prog, p.flags)
	if err != nil {
		return -1, warnings, err
	}
	return fd, warnings, nil
}

// Install loads a program from Program on the calling thread; see install.
func Install(prog []unix.SockFilter, flags uintptr) (int, error) { return install(prog, flags) }

// install loads prog on the calling thread with seccomp(2) and returns the
// listener fd when flags ask for one, else -1.
func install(prog []unix.SockFilter, flags uintptr) (int, error) {
	if len(prog) == 0 || len(prog) > bpfMaxInsns {
		return -1, &Error{Field: root,
			Msg: fmt.Sprintf("the filter has %d BPF instructions; the kernel accepts 1 to %d", len(prog), bpfMaxInsns),
			Fix: "merge syscalls that share an action into one entry, or drop argument conditions"}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(&fprog)
	if errno != 0 {
		e := &Error{Field: root, Msg: "load the filter: " + errno.Error(), Err: os.NewSyscallError("seccomp", errno)}
		switch {
		case errors.Is(errno, unix.EACCES):
			e.Fix = "the calling thread needs no_new_privs or CAP_SYS_ADMIN"
		case errors.Is(errno, unix.EINVAL):
			e.Fix = "the kernel refused the program or the flags " + flagNames(flags)
		}
		return -1, e
	}
	if flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
		return -1, nil
	}
	return int(r), nil
}

// Program builds the filter described by s without loading it: the BPF program and
// the flags for seccomp(2), NEW_LISTENER included when some rule notifies. For a
// process that loads it itself with a raw seccomp(2) (exec's final child, which has no
// Go runtime and no libseccomp), so nothing runs between the load and execve.
func Program(s *specs.LinuxSeccomp) (prog []unix.SockFilter, flags uintptr, err error) {
	if s == nil {
		return nil, 0, &Error{Field: root, Msg: "no seccomp configuration to load"}
	}
	p, _, err := compile(s)
	if err != nil {
		return nil, 0, err
	}
	defer p.release()
	if prog, err = p.program(); err != nil {
		return nil, 0, err
	}
	if len(prog) == 0 || len(prog) > bpfMaxInsns {
		return nil, 0, &Error{Field: root,
			Msg: fmt.Sprintf("the filter has %d BPF instructions; the kernel accepts 1 to %d", len(prog), bpfMaxInsns),
			Fix: "merge syscalls that share an action into one entry, or drop argument conditions"}
	}
	return prog, p.flags, nil
}

// HasNotify reports whether some rule of s notifies (SCMP_ACT_NOTIFY): the filter then
// comes with a listener fd for the agent at listenerPath.
func HasNotify(s *specs.LinuxSeccomp) bool {
	if s == nil {
		return false
	}
	for _, sc := range s.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}
