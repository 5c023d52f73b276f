package seccomp

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// atFdcwd is AT_FDCWD as a syscall argument.
const atFdcwd = ^uintptr(99) // -100

func TestDockerProfileRunsBusybox(t *testing.T) {
	requireAMD64(t)
	res := runChild(t, childArg{
		Profile: loadFixture(t),
		Argv:    []string{"sh", "-c", "ls /; cat /proc/self/status"},
	})
	res.mustSucceed(t)
	if !strings.Contains(res.stdout, "proc\n") {
		t.Errorf("ls / did not list proc:\n%s", res.stdout)
	}
	st := hulltest.ProcStatus(res.stdout)
	// Seccomp 2 is filter mode; NoNewPrivs 0 shows the filter went in on the
	// strength of CAP_SYS_ADMIN alone, as it must for setuid programs to work.
	for k, want := range map[string]string{"Seccomp": "2", "Seccomp_filters": "1", "NoNewPrivs": "0"} {
		if st[k] != want {
			t.Errorf("%s: %q, want %q", k, st[k], want)
		}
	}
}

// TestSyscallResults checks the exact return of raw syscalls under a profile.
// Each syscall is chosen so that, unfiltered, it fails in a way no rule
// produces (see the "no filter" case).
func TestSyscallResults(t *testing.T) {
	requireAMD64(t)
	mkdiratNull := call{Nr: unix.SYS_MKDIRAT, Args: [6]uintptr{atFdcwd, 0, 0o755}} // EFAULT unfiltered
	reboot0 := call{Nr: unix.SYS_REBOOT}                                           // EINVAL unfiltered (bad magic)
	clone3Null := call{Nr: unix.SYS_CLONE3}                                        // EINVAL unfiltered (size 0)
	fchmodat2Null := call{Nr: unix.SYS_FCHMODAT2, Args: [6]uintptr{atFdcwd}}       // EFAULT unfiltered
	personality := func(p uintptr) call { return call{Nr: unix.SYS_PERSONALITY, Args: [6]uintptr{p}} }

	withRule := func(rule specs.LinuxSyscall) *specs.LinuxSeccomp {
		s := without(loadFixture(t), rule.Names...)
		s.Syscalls = append(s.Syscalls, rule)
		return s
	}
	allowAll := func(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
	}
	customDefault := loadFixture(t)
	customDefault.DefaultErrnoRet = uintp(uint(unix.EACCES))
	// The fixture without every syscall numbered like clone3 or later: its
	// highest syscall is then below clone3, which must get ENOSYS from the stub.
	oldProfile := loadFixture(t)
	var newer []string
	for _, sc := range oldProfile.Syscalls {
		for _, n := range sc.Names {
			if nr, ok := amd64Nr(n); ok && nr >= unix.SYS_CLONE3 {
				newer = append(newer, n)
			}
		}
	}
	oldProfile = without(oldProfile, newer...)

	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		calls   []call
		want    []result
	}{
		{"no filter", nil,
			[]call{mkdiratNull, reboot0, clone3Null, fchmodat2Null},
			[]result{{Errno: unix.EFAULT}, {Errno: unix.EINVAL}, {Errno: unix.EINVAL}, {Errno: unix.EFAULT}}},
		{"errnoRet 38", withRule(specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)}),
			[]call{mkdiratNull}, []result{{Errno: unix.ENOSYS}}},
		{"custom errnoRet", withRule(specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV))}),
			[]call{mkdiratNull}, []result{{Errno: unix.EXDEV}}},
		{"errno defaults to EPERM", withRule(specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActErrno}),
			[]call{mkdiratNull}, []result{{Errno: unix.EPERM}}},
		{"errnoRet 0 fakes success", allowAll(specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(0)}),
			[]call{mkdiratNull}, []result{{Ret: 0}}},
		{"default errno of the profile", loadFixture(t),
			[]call{reboot0}, []result{{Errno: unix.EPERM}}},
		{"custom defaultErrnoRet", customDefault,
			[]call{reboot0}, []result{{Errno: unix.EACCES}}},
		// Docker's profile answers clone3 with ENOSYS explicitly; fchmodat2 is
		// newer than anything it names, so the stub answers.
		{"docker: clone3 and newer syscalls", loadFixture(t),
			[]call{clone3Null, fchmodat2Null}, []result{{Errno: unix.ENOSYS}, {Errno: unix.ENOSYS}}},
		{"clone3 not named gets ENOSYS", oldProfile,
			[]call{clone3Null, fchmodat2Null, reboot0}, []result{{Errno: unix.ENOSYS}, {Errno: unix.ENOSYS}, {Errno: unix.EPERM}}},
		{"defaultErrnoRet ENOSYS", func() *specs.LinuxSeccomp {
			s := loadFixture(t)
			s.DefaultErrnoRet = uintp(uint(unix.ENOSYS))
			return s
		}(), []call{reboot0, fchmodat2Null}, []result{{Errno: unix.ENOSYS}, {Errno: unix.ENOSYS}}},
		// A permissive default gets no stub: new syscalls just run.
		{"allow default has no stub", allowAll(specs.LinuxSyscall{Names: []string{"reboot"}, Action: specs.ActErrno}),
			[]call{fchmodat2Null, reboot0}, []result{{Errno: unix.EFAULT}, {Errno: unix.EPERM}}},
		{"personality as docker allows it", loadFixture(t),
			[]call{personality(0xffffffff), personality(0x0400000)}, []result{{Ret: 0}, {Errno: unix.EPERM}}},
		// Without a tracer the kernel fails a SCMP_ACT_TRACE syscall with ENOSYS.
		{"trace without tracer", allowAll(specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActTrace, ErrnoRet: uintp(7)}),
			[]call{mkdiratNull}, []result{{Errno: unix.ENOSYS}}},
		{"log runs the syscall", withRule(specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActLog}),
			[]call{mkdiratNull}, []result{{Errno: unix.EFAULT}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runChild(t, childArg{Profile: tt.profile, Calls: tt.calls}).results(t)
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("syscall %d: got %v, want %v", tt.calls[i].Nr, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestKillActions(t *testing.T) {
	requireAMD64(t)
	uname := func(a specs.LinuxSeccompAction) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: a}}}
	}
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		killed  bool
	}{
		{"control", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, false},
		{"SCMP_ACT_KILL_PROCESS", uname(specs.ActKillProcess), true},
		{"SCMP_ACT_KILL_THREAD", uname(specs.ActKillThread), true},
		{"SCMP_ACT_KILL", uname(specs.ActKill), true},
		// No SIGSYS handler in busybox: the trap kills it just the same.
		{"SCMP_ACT_TRAP", uname(specs.ActTrap), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runChild(t, childArg{Profile: tt.profile, Argv: []string{"uname", "-s"}})
			if !tt.killed {
				res.mustSucceed(t)
				return
			}
			if !res.status.Signaled() || res.status.Signal() != syscall.SIGSYS {
				t.Fatalf("busybox uname: %s, want killed by SIGSYS\nstdout: %s\nstderr: %s", describe(res.status), res.stdout, res.stderr)
			}
		})
	}
}

// TestArgumentConditions runs getpgid and getpriority under rules that answer
// EXDEV when their conditions match; unfiltered, neither ever fails with EXDEV.
func TestArgumentConditions(t *testing.T) {
	requireAMD64(t)
	arg := func(i uint, op specs.LinuxSeccompOperator, v, v2 uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Op: op, Value: v, ValueTwo: v2}
	}
	tests := []struct {
		name      string
		nr        uintptr
		args      []specs.LinuxSeccompArg
		match     [][2]uintptr
		dontMatch [][2]uintptr
	}{
		{"EQ", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 2, 0)}, [][2]uintptr{{2}}, [][2]uintptr{{1}, {3}}},
		{"NE", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpNotEqual, 2, 0)}, [][2]uintptr{{1}, {3}}, [][2]uintptr{{2}}},
		{"LT", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpLessThan, 2, 0)}, [][2]uintptr{{1}}, [][2]uintptr{{2}, {3}}},
		{"LE", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpLessEqual, 2, 0)}, [][2]uintptr{{1}, {2}}, [][2]uintptr{{3}}},
		{"GT", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpGreaterThan, 2, 0)}, [][2]uintptr{{3}}, [][2]uintptr{{1}, {2}}},
		{"GE", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpGreaterEqual, 2, 0)}, [][2]uintptr{{2}, {3}}, [][2]uintptr{{1}}},
		{"MASKED_EQ", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpMaskedEqual, 0xf0, 0x10)}, [][2]uintptr{{0x10}, {0x1f}}, [][2]uintptr{{0x20}, {0x01}}},
		{"64-bit value", unix.SYS_GETPGID, []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 0x1_0000_0002, 0)}, [][2]uintptr{{0x1_0000_0002}}, [][2]uintptr{{2}}},
		// Two conditions on one argument become two rules (runc's semantics):
		// either matches.
		{"same argument twice: OR", unix.SYS_GETPGID,
			[]specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 1, 0), arg(0, specs.OpEqualTo, 3, 0)},
			[][2]uintptr{{1}, {3}}, [][2]uintptr{{2}}},
		// Conditions on different arguments form one rule: both must match.
		{"two arguments: AND", unix.SYS_GETPRIORITY,
			[]specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 7, 0), arg(1, specs.OpEqualTo, 9, 0)},
			[][2]uintptr{{7, 9}}, [][2]uintptr{{7, 8}, {6, 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := map[uintptr]string{unix.SYS_GETPGID: "getpgid", unix.SYS_GETPRIORITY: "getpriority"}[tt.nr]
			profile := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EXDEV)), Args: tt.args},
			}}
			var calls []call
			for _, a := range append(slices.Clone(tt.match), tt.dontMatch...) {
				calls = append(calls, call{Nr: tt.nr, Args: [6]uintptr{a[0], a[1]}})
			}
			got := runChild(t, childArg{Profile: profile, Calls: calls}).results(t)
			for i, c := range calls {
				matched := got[i].Errno == unix.EXDEV
				if want := i < len(tt.match); matched != want {
					t.Errorf("%s(%#x, %#x): %v; rule matched %v, want %v", name, c.Args[0], c.Args[1], got[i], matched, want)
				}
			}
		})
	}
}

// TestLoadWithoutNoNewPrivs: Load never sets no_new_privs itself, so without
// it the thread needs CAP_SYS_ADMIN.
func TestLoadWithoutNoNewPrivs(t *testing.T) {
	requireAMD64(t)
	t.Run("no CAP_SYS_ADMIN", func(t *testing.T) {
		res := runChild(t, childArg{DropSysAdmin: true, Profile: loadFixture(t), Argv: []string{"true"}})
		if msg := res.childErr(); !strings.Contains(msg, "permission denied") || !strings.Contains(msg, "no_new_privs or CAP_SYS_ADMIN") {
			t.Fatalf("Load without CAP_SYS_ADMIN: %s, stderr %q; want the EACCES explained", describe(res.status), res.stderr)
		}
	})
	t.Run("no CAP_SYS_ADMIN, no_new_privs", func(t *testing.T) {
		res := runChild(t, childArg{DropSysAdmin: true, NoNewPrivs: true, Profile: loadFixture(t), Argv: []string{"cat", "/proc/self/status"}})
		res.mustSucceed(t)
		st := hulltest.ProcStatus(res.stdout)
		if st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
			t.Fatalf("Seccomp %q NoNewPrivs %q, want 2 and 1", st["Seccomp"], st["NoNewPrivs"])
		}
	})
}

func TestLoadFlags(t *testing.T) {
	requireAMD64(t)
	s := loadFixture(t)
	s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, flagTSYNC}
	res := runChild(t, childArg{Profile: s, Argv: []string{"cat", "/proc/self/status"}})
	res.mustSucceed(t)
	if st := hulltest.ProcStatus(res.stdout); st["Seccomp"] != "2" {
		t.Fatalf("Seccomp %q, want 2", st["Seccomp"])
	}
}

func TestCompileNil(t *testing.T) {
	if _, _, err := Compile(nil); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
}

// amd64Nr is the x86_64 number of a syscall name, from libseccomp.
func amd64Nr(name string) (int, bool) {
	nr, err := nrByArch(name, archs[specs.ArchX86_64])
	return nr, err == nil && nr >= 0
}
