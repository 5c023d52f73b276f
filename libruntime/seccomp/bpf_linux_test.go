package seccomp

import (
	"encoding/binary"
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The kernel only runs a filter for the calling process's own ABI, so the
// x86 and x32 paths of a loaded filter cannot be exercised from this test.
// Instead the generated program runs here on a small classic-BPF interpreter.

type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.NativeEndian.PutUint32(b[0:], d.nr)
	binary.NativeEndian.PutUint32(b[4:], d.arch)
	for i, a := range d.args {
		binary.NativeEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runBPF interprets the subset of classic BPF seccomp programs use.
func runBPF(prog []unix.SockFilter, d seccompData) (uint32, error) {
	data := d.bytes()
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if int(in.K)+4 > len(data) {
				return 0, fmt.Errorf("pc %d: load beyond seccomp_data", pc)
			}
			a = binary.NativeEndian.Uint32(data[in.K:])
		case unix.BPF_LD | unix.BPF_IMM:
			a = in.K
		case unix.BPF_LD | unix.BPF_MEM:
			a = mem[in.K]
		case unix.BPF_LDX | unix.BPF_IMM:
			x = in.K
		case unix.BPF_LDX | unix.BPF_MEM:
			x = mem[in.K]
		case unix.BPF_ST:
			mem[in.K] = a
		case unix.BPF_STX:
			mem[in.K] = x
		case unix.BPF_MISC | unix.BPF_TAX:
			x = a
		case unix.BPF_MISC | unix.BPF_TXA:
			a = x
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_ALU | unix.BPF_OR | unix.BPF_K:
			a |= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(a == in.K)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			jump(a > in.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(a >= in.K)
		case unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			jump(a&in.K != 0)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_X:
			jump(a == x)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_X:
			jump(a > x)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_X:
			jump(a >= x)
		case unix.BPF_RET | unix.BPF_K:
			return in.K, nil
		case unix.BPF_RET | unix.BPF_A:
			return a, nil
		default:
			return 0, fmt.Errorf("pc %d: opcode %#x not interpreted", pc, in.Code)
		}
	}
	return 0, fmt.Errorf("ran off the end of the program")
}

func nrByArch(name string, a arch) (int, error) {
	nr, err := libseccomp.GetSyscallFromNameByArch(name, a.scmp)
	return int(nr), err
}

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = unix.SECCOMP_RET_KILL_THREAD
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

func TestDockerProgram(t *testing.T) {
	requireAMD64(t)
	c, _, err := compile(loadFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	prog, err := c.program()
	if err != nil {
		t.Fatal(err)
	}
	const x32 = x32Bit
	tests := []struct {
		name string
		arch uint32
		nr   uint32
		args [6]uint64
		want uint32
	}{
		{"x86_64 read", unix.AUDIT_ARCH_X86_64, 0, [6]uint64{}, retAllow},
		{"x86_64 reboot (not allowed, below the highest)", unix.AUDIT_ARCH_X86_64, 169, [6]uint64{}, retEPERM},
		{"x86_64 clone3 (named: ERRNO 38)", unix.AUDIT_ARCH_X86_64, 435, [6]uint64{}, retENOSYS},
		{"x86_64 fchmodat2 (newer than the profile)", unix.AUDIT_ARCH_X86_64, 452, [6]uint64{}, retENOSYS},
		{"x86_64 unassigned number", unix.AUDIT_ARCH_X86_64, 5000, [6]uint64{}, retENOSYS},
		{"x86_64 personality query", unix.AUDIT_ARCH_X86_64, 135, [6]uint64{0xffffffff}, retAllow},
		{"x86_64 personality other", unix.AUDIT_ARCH_X86_64, 135, [6]uint64{0x400000}, retEPERM},
		{"x86_64 socket AF_INET", unix.AUDIT_ARCH_X86_64, 41, [6]uint64{2}, retAllow},
		{"x86_64 socket AF_VSOCK", unix.AUDIT_ARCH_X86_64, 41, [6]uint64{40}, retEPERM},
		{"x86_64 clone thread", unix.AUDIT_ARCH_X86_64, 56, [6]uint64{0x3d0f00}, retAllow},
		{"x86_64 clone new namespace", unix.AUDIT_ARCH_X86_64, 56, [6]uint64{unix.CLONE_NEWNS}, retEPERM},
		{"x86 read", unix.AUDIT_ARCH_I386, 3, [6]uint64{}, retAllow},
		{"x86 socketcall", unix.AUDIT_ARCH_I386, 102, [6]uint64{}, retAllow},
		{"x86 reboot", unix.AUDIT_ARCH_I386, 88, [6]uint64{}, retEPERM},
		{"x86 fchmodat2", unix.AUDIT_ARCH_I386, 452, [6]uint64{}, retENOSYS},
		{"x32 read", unix.AUDIT_ARCH_X86_64, x32 | 0, [6]uint64{}, retAllow}, //nolint:staticcheck // x32|nr, as in the next row
		{"x32 reboot", unix.AUDIT_ARCH_X86_64, x32 | 169, [6]uint64{}, retEPERM},
		{"x32 above its compat table", unix.AUDIT_ARCH_X86_64, x32 | 600, [6]uint64{}, retENOSYS},
		{"arm64 (not in the filter)", unix.AUDIT_ARCH_AARCH64, 63, [6]uint64{}, retKill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runBPF(prog, seccompData{nr: tt.nr, arch: tt.arch, args: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("returned %#x, want %#x", got, tt.want)
			}
		})
	}
}

// TestEnosysStub runs the stub alone in front of a stand-in filter that
// returns a marker.
func TestEnosysStub(t *testing.T) {
	const marker = unix.SECCOMP_RET_TRAP
	tail := []unix.SockFilter{{Code: bpfRet, K: marker}}
	tests := []struct {
		name   string
		limits []archLimit
		arch   uint32
		nr     uint32
		want   uint32
	}{
		{"at the limit", []archLimit{{unix.AUDIT_ARCH_AARCH64, 100, noSyscall}}, unix.AUDIT_ARCH_AARCH64, 100, marker},
		{"above the limit", []archLimit{{unix.AUDIT_ARCH_AARCH64, 100, noSyscall}}, unix.AUDIT_ARCH_AARCH64, 101, retENOSYS},
		{"other arch passes", []archLimit{{unix.AUDIT_ARCH_AARCH64, 100, noSyscall}}, unix.AUDIT_ARCH_ARM, 101, marker},
		{"second arch", []archLimit{{unix.AUDIT_ARCH_AARCH64, 100, noSyscall}, {unix.AUDIT_ARCH_ARM, 50, noSyscall}}, unix.AUDIT_ARCH_ARM, 51, retENOSYS},
		{"second arch below", []archLimit{{unix.AUDIT_ARCH_AARCH64, 100, noSyscall}, {unix.AUDIT_ARCH_ARM, 50, noSyscall}}, unix.AUDIT_ARCH_ARM, 50, marker},
		{"s390x setup(0)", []archLimit{{unix.AUDIT_ARCH_S390X, 100, noSyscall}}, unix.AUDIT_ARCH_S390X, 0, retENOSYS},
		{"s390x in range", []archLimit{{unix.AUDIT_ARCH_S390X, 100, noSyscall}}, unix.AUDIT_ARCH_S390X, 1, marker},
		{"x86_64 without x32", []archLimit{{unix.AUDIT_ARCH_X86_64, 100, noSyscall}}, unix.AUDIT_ARCH_X86_64, x32Bit | 1000, marker},
		{"x86_64 native above", []archLimit{{unix.AUDIT_ARCH_X86_64, 100, noSyscall}}, unix.AUDIT_ARCH_X86_64, 101, retENOSYS},
		{"x32 only", []archLimit{{unix.AUDIT_ARCH_X86_64, noSyscall, x32Bit | 100}}, unix.AUDIT_ARCH_X86_64, 1000, marker},
		{"x32 only, above", []archLimit{{unix.AUDIT_ARCH_X86_64, noSyscall, x32Bit | 100}}, unix.AUDIT_ARCH_X86_64, x32Bit | 101, retENOSYS},
		{"both, x32 below", []archLimit{{unix.AUDIT_ARCH_X86_64, 200, x32Bit | 100}}, unix.AUDIT_ARCH_X86_64, x32Bit | 100, marker},
		{"both, native below", []archLimit{{unix.AUDIT_ARCH_X86_64, 200, x32Bit | 100}}, unix.AUDIT_ARCH_X86_64, 150, marker},
		{"arch with no names", []archLimit{{unix.AUDIT_ARCH_AARCH64, noSyscall, noSyscall}}, unix.AUDIT_ARCH_AARCH64, 1000, marker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := append(enosysStub(tt.limits), tail...)
			got, err := runBPF(prog, seccompData{nr: tt.nr, arch: tt.arch})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("returned %#x, want %#x", got, tt.want)
			}
		})
	}
	if s := enosysStub([]archLimit{{unix.AUDIT_ARCH_AARCH64, noSyscall, noSyscall}}); s != nil {
		t.Errorf("stub without limits: %d instructions, want none", len(s))
	}
}

func TestNoStubForPermissiveDefaults(t *testing.T) {
	for _, a := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog, specs.ActTrace} {
		c, _, err := compile(&specs.LinuxSeccomp{DefaultAction: a, Syscalls: []specs.LinuxSyscall{{Names: []string{"reboot"}, Action: specs.ActErrno}}})
		if err != nil {
			t.Fatal(err)
		}
		if c.enosys {
			t.Errorf("%s: ENOSYS stub requested", a)
		}
		c.release()
	}
}
