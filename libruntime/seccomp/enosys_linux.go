package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// A profile is an allow-list written against the syscalls its author knew. A
// syscall added to the kernel since then hits the default action, typically
// EPERM, and libc takes EPERM as "forbidden" where ENOSYS would have made it fall
// back to the older syscall (clone3 -> clone, faccessat2 -> faccessat, ...). So,
// as runc does, hull puts a stub in front of libseccomp's program that returns
// ENOSYS, per architecture, for syscall numbers above the highest the profile
// names, and passes everything else on to libseccomp's program.
//
// Syscall numbers only approximate age: a syscall below that highest number
// that the profile leaves out still gets the default action, and so do new
// syscalls of x32, whose table has compat entries at 512 and up.

// Offsets of struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// x32Bit marks an x32 syscall in an AUDIT_ARCH_X86_64 syscall number.
const x32Bit = 0x40000000

const retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

const (
	bpfLd   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgt  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	bpfJset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfJa   = unix.BPF_JMP | unix.BPF_JA
	bpfRet  = unix.BPF_RET | unix.BPF_K
)

// noSyscall is an archLimit for an ABI of which the profile names no syscall.
const noSyscall = -1

// archLimit holds the highest syscall numbers the profile names for one
// AUDIT_ARCH value, or noSyscall.
type archLimit struct {
	audit  uint32
	max    int64
	x32Max int64 // AUDIT_ARCH_X86_64 only: the x32 ABI, whose numbers carry x32Bit
}

// program returns the BPF program to load: libseccomp's, behind the ENOSYS
// stub when the profile calls for one.
func (c *compiled) program() ([]unix.SockFilter, error) {
	prog, err := exportBPF(c.filter)
	if err != nil {
		return nil, &Error{Field: root, Msg: "export the filter from libseccomp: " + err.Error(), Err: err}
	}
	if !c.enosys {
		return prog, nil
	}
	return append(enosysStub(c.limits()), prog...), nil
}

// limits finds, per architecture of the filter, the highest syscall number
// among the profile's names. Names that are pseudo-syscalls on an architecture
// (negative numbers, e.g. socketcall on x86_64) do not count.
func (c *compiled) limits() []archLimit {
	var out []archLimit
	index := map[uint32]int{}
	for _, a := range c.archs {
		i, ok := index[a.audit]
		if !ok {
			i = len(out)
			index[a.audit] = i
			out = append(out, archLimit{audit: a.audit, max: noSyscall, x32Max: noSyscall})
		}
		highest := int64(noSyscall)
		for _, name := range c.names {
			nr, err := libseccomp.GetSyscallFromNameByArch(name, a.scmp)
			if err == nil && int64(nr) > highest {
				highest = int64(nr)
			}
		}
		if a.scmp == libseccomp.ArchX32 {
			out[i].x32Max = highest
		} else {
			out[i].max = highest
		}
	}
	return out
}

// stub is a BPF program under construction whose jumps to "the filter" (the
// first instruction after the stub) are resolved at the end.
type stub struct {
	insns    []unix.SockFilter
	toFilter []int
}

func (b *stub) op(code uint16, jt, jf uint8, k uint32) {
	b.insns = append(b.insns, unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k})
}

func (b *stub) jumpToFilter() {
	b.toFilter = append(b.toFilter, len(b.insns))
	b.op(bpfJa, 0, 0, 0)
}

func (b *stub) add(o *stub) {
	base := len(b.insns)
	b.insns = append(b.insns, o.insns...)
	for _, i := range o.toFilter {
		b.toFilter = append(b.toFilter, base+i)
	}
}

// guard answers ENOSYS to a loaded syscall number above max and sends the rest
// to the filter; without a max, everything goes to the filter.
func (b *stub) guard(max int64) {
	if max == noSyscall {
		b.jumpToFilter()
		return
	}
	b.op(bpfJgt, 0, 1, uint32(max))
	b.op(bpfRet, 0, 0, retENOSYS)
	b.jumpToFilter()
}

// enosysStub builds the stub, or nothing when no architecture has a limit.
// Each architecture's section is a handful of instructions, so the 8-bit
// conditional jumps always reach; only the jumps to the filter, which are
// unconditional and 32-bit, cross the whole stub.
func enosysStub(limits []archLimit) []unix.SockFilter {
	b := &stub{}
	b.op(bpfLd, 0, 0, offArch)
	for _, l := range limits {
		if l.max == noSyscall && l.x32Max == noSyscall {
			continue
		}
		body := &stub{}
		body.op(bpfLd, 0, 0, offNr)
		switch l.audit {
		case unix.AUDIT_ARCH_X86_64:
			native := &stub{}
			native.guard(l.max)
			body.op(bpfJset, uint8(len(native.insns)), 0, x32Bit)
			body.add(native)
			body.guard(l.x32Max)
		case unix.AUDIT_ARCH_S390, unix.AUDIT_ARCH_S390X:
			// s390 passes a syscall number the kernel does not know as 0
			// (the long gone setup(2)), so that one gets ENOSYS too.
			body.op(bpfJeq, 0, 1, 0)
			body.op(bpfRet, 0, 0, retENOSYS)
			body.guard(l.max)
		default:
			body.guard(l.max)
		}
		b.op(bpfJeq, 0, uint8(len(body.insns)), l.audit)
		b.add(body)
	}
	if len(b.insns) == 1 {
		return nil
	}
	for _, i := range b.toFilter {
		b.insns[i].K = uint32(len(b.insns) - i - 1)
	}
	return b.insns
}

// exportBPF returns libseccomp's program. libseccomp 2.5 exports only to an fd;
// a memfd needs no writable filesystem (Load runs after pivot_root) and, unlike
// a pipe, no reader running alongside.
func exportBPF(f *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	fd, err := unix.MemfdCreate("hull-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	file := os.NewFile(uintptr(fd), "hull-seccomp")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, err
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(file)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errors.New("libseccomp exported an empty program")
	}
	prog, err := bpf.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("libseccomp exported %w", err)
	}
	return prog, nil
}
