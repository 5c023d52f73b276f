// Package seccomp turns the linux.seccomp object of a config.json into a seccomp
// filter: Validate checks it, Compile builds its BPF program (bpf.Program) and Cache
// keeps those programs so a profile is compiled once per host, Features says what this build and kernel support, and
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
// libseccomp, so everything Compile could reject short of the kernel is reported
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
