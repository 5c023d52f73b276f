// Package bpf is a compiled seccomp filter: the classic BPF program and the seccomp(2)
// flags it is loaded with, its encodings (the init protocol, hull's cache files) and
// its loading. It has no libseccomp: init and exec's helper load a program `hull create`
// compiled, and neither links a path into the compiler.
package bpf

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Root is the config field every seccomp error names.
const Root = "linux.seccomp"

// MaxInsns is BPF_MAXINSNS, the longest program the kernel loads.
const MaxInsns = 4096

// Error is a problem with the linux.seccomp object, or with loading its filter.
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

// flagNames are the seccomp(2) flags a program may carry. hull never asks for TSYNC,
// so a program with it was not made by hull: Install filters the thread that goes
// on to execve, which ends the Go runtime's other threads, and filtering those too
// would only make the runtime's own syscalls fail before the execve.
var flagNames = map[uintptr]string{
	unix.SECCOMP_FILTER_FLAG_LOG:                "SECCOMP_FILTER_FLAG_LOG",
	unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW:         "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	unix.SECCOMP_FILTER_FLAG_NEW_LISTENER:       "SECCOMP_FILTER_FLAG_NEW_LISTENER",
	unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
}

// KnownFlags is every flag bit a program may carry.
const KnownFlags = unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW |
	unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

// FlagNames renders seccomp(2) flag bits for error messages.
func FlagNames(bits uintptr) string {
	var names []string
	for bit, name := range flagNames {
		if bits&bit != 0 {
			names = append(names, name)
		}
	}
	if rest := bits &^ KnownFlags; rest != 0 {
		names = append(names, fmt.Sprintf("%#x", rest))
	}
	if len(names) == 0 {
		return "(none)"
	}
	sort.Strings(names)
	return strings.Join(names, "|")
}

// Program is a filter ready for seccomp(2).
type Program struct {
	Insns []unix.SockFilter
	Flags uintptr // NEW_LISTENER included when some rule notifies
}

// Notify reports whether loading the program gives a listener fd for a seccomp agent.
func (p *Program) Notify() bool {
	return p != nil && p.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
}

// Check returns an *Error if the kernel could not load p as it is: no instruction,
// more than MaxInsns, or a flag hull never sets.
func (p *Program) Check() error {
	if n := len(p.Insns); n == 0 || n > MaxInsns {
		return &Error{Field: Root,
			Msg: fmt.Sprintf("the filter has %d BPF instructions; the kernel accepts 1 to %d", n, MaxInsns),
			Fix: "merge syscalls that share an action into one entry, or drop argument conditions"}
	}
	if p.Flags&^KnownFlags != 0 {
		return &Error{Field: Root, Msg: "the filter has unknown seccomp(2) flags " + FlagNames(p.Flags&^KnownFlags)}
	}
	return nil
}

// Bytes returns the instructions as struct sock_filter records in host byte order,
// the layout libseccomp exports and the kernel reads.
func (p *Program) Bytes() []byte {
	out := make([]byte, 0, len(p.Insns)*unix.SizeofSockFilter)
	for _, in := range p.Insns {
		out = binary.NativeEndian.AppendUint16(out, in.Code)
		out = append(out, in.Jt, in.Jf)
		out = binary.NativeEndian.AppendUint32(out, in.K)
	}
	return out
}

// Decode parses struct sock_filter records in host byte order.
func Decode(raw []byte) ([]unix.SockFilter, error) {
	if len(raw)%unix.SizeofSockFilter != 0 {
		return nil, fmt.Errorf("%d bytes, not a whole number of %d-byte BPF instructions", len(raw), unix.SizeofSockFilter)
	}
	prog := make([]unix.SockFilter, 0, len(raw)/unix.SizeofSockFilter)
	for b := raw; len(b) > 0; b = b[unix.SizeofSockFilter:] {
		prog = append(prog, unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:2]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:8]),
		})
	}
	return prog, nil
}

// wire is a Program in JSON: the instructions as base64 of their bytes, four times
// shorter than a list of objects and decoded without reflection.
type wire struct {
	BPF   string  `json:"bpf"`
	Flags uintptr `json:"flags"`
}

func (p *Program) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{BPF: base64.StdEncoding.EncodeToString(p.Bytes()), Flags: p.Flags})
}

// UnmarshalJSON decodes and checks a program: what does not pass Check is an error.
func (p *Program) UnmarshalJSON(data []byte) error {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(w.BPF)
	if err != nil {
		return fmt.Errorf("seccomp program: %w", err)
	}
	insns, err := Decode(raw)
	if err != nil {
		return fmt.Errorf("seccomp program: %w", err)
	}
	q := Program{Insns: insns, Flags: w.Flags}
	if err := q.Check(); err != nil {
		return err
	}
	*p = q
	return nil
}

// Install loads p on the calling thread with seccomp(2) and returns the listener fd
// (close-on-exec) when p's flags ask for one, else -1. The filter binds this thread
// and what it execs; the caller must have locked its goroutine to it. Without
// no_new_privs the kernel wants CAP_SYS_ADMIN. Between Install and execve the
// thread runs under the filter: the listener fd must reach the agent through a
// syscall no rule notifies (seccomp.Validate refuses SCMP_ACT_NOTIFY on write and
// sendmsg for that reason, as runc does).
func Install(p *Program) (int, error) {
	if err := p.Check(); err != nil {
		return -1, err
	}
	prog := p.Insns
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.Flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	runtime.KeepAlive(&fprog)
	if errno != 0 {
		e := &Error{Field: Root, Msg: "load the filter: " + errno.Error(), Err: os.NewSyscallError("seccomp", errno)}
		switch {
		case errors.Is(errno, unix.EACCES):
			e.Fix = "the calling thread needs no_new_privs or CAP_SYS_ADMIN"
		case errors.Is(errno, unix.EINVAL):
			e.Fix = "the kernel refused the program or the flags " + FlagNames(p.Flags)
		}
		return -1, e
	}
	if !p.Notify() {
		return -1, nil
	}
	return int(r), nil
}
