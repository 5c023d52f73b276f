// Package seccomp turns the linux.seccomp object of a config.json into a seccomp
// filter: Validate checks it, Compile builds its BPF program (bpf.Program) and Cache
// keeps those programs so a profile is compiled once per host, Load installs it on
// the calling thread, Features says what this build and kernel support, and
// SendNotifyFd hands a notify fd to a seccomp agent.
//
// Only `hull create` (and `hull check`) compile: init and exec's helper get the
// program and load it with the bpf package, which has no libseccomp.
//
// The filter is built with libseccomp (cgo; hull links it statically) but loaded
// by hand with seccomp(2): hull prepends a short program that answers ENOSYS for
// syscalls newer than any the profile names, as runc does, so that libc falls
// back (clone3 to clone, faccessat2 to faccessat, ...) instead of failing with the
// profile's default errno.
package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// Error is a problem with the linux.seccomp object, or with loading it.
type Error = bpf.Error

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
	prog, warnings, err := Compile(s)
	if err != nil {
		return -1, warnings, err
	}
	fd, err := bpf.Install(prog)
	if err != nil {
		return -1, warnings, err
	}
	return fd, warnings, nil
}

// Compile builds the filter described by s without loading it: the BPF program and
// the flags for seccomp(2), NEW_LISTENER included when some rule notifies, for a
// process that loads it with bpf.Install and needs no libseccomp (init, exec's
// helper). Its warnings and errors are Validate's; an error is also returned for a
// program the kernel could not load (too long).
func Compile(s *specs.LinuxSeccomp) (prog *bpf.Program, warnings []string, err error) {
	if s == nil {
		return nil, nil, &Error{Field: root, Msg: "no seccomp configuration to load"}
	}
	p, warnings, err := compile(s)
	if err != nil {
		return nil, warnings, err
	}
	defer p.release()
	insns, err := p.program()
	if err != nil {
		return nil, warnings, err
	}
	prog = &bpf.Program{Insns: insns, Flags: p.flags}
	if err := prog.Check(); err != nil {
		return nil, warnings, err
	}
	return prog, warnings, nil
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
