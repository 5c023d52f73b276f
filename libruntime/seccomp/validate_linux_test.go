package seccomp

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

func TestValidateFixture(t *testing.T) {
	warnings, err := Validate(loadFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	// libseccomp 2.5 predates a few syscalls Docker allows; they are skipped
	// with a warning naming where they are.
	for _, w := range warnings {
		if !strings.Contains(w, "linux.seccomp.syscalls[") || !strings.Contains(w, "unknown syscall") {
			t.Errorf("unexpected warning %q", w)
		}
	}
}

func TestValidateNil(t *testing.T) {
	if w, err := Validate(nil); err != nil || w != nil {
		t.Fatalf("Validate(nil) = %v, %v", w, err)
	}
}

func TestValidateErrors(t *testing.T) {
	allow := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}
	tests := []struct {
		name  string
		s     specs.LinuxSeccomp
		field string
		msg   string // part of the error text
	}{
		{"no default action", specs.LinuxSeccomp{},
			"linux.seccomp.defaultAction", "missing; set it to one of SCMP_ACT_ALLOW"},
		{"unknown default action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"},
			"linux.seccomp.defaultAction", `unknown action "SCMP_ACT_FOO"`},
		{"notify as default", specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/run/agent.sock"},
			"linux.seccomp.defaultAction", "cannot be the default action"},
		{"defaultErrnoRet with allow", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uintp(1)},
			"linux.seccomp.defaultErrnoRet", "SCMP_ACT_ALLOW returns no errno"},
		{"defaultErrnoRet too big", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(4096)},
			"linux.seccomp.defaultErrnoRet", "4096 is above 4094"},
		{"defaultErrnoRet 4095, which libseccomp refuses", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(4095)},
			"linux.seccomp.defaultErrnoRet", "4095 is above 4094"},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{allow, allow, allow,
			{Names: []string{"mkdir"}, Action: "SCMP_ACT_FOO"}}},
			"linux.seccomp.syscalls[3].action", `unknown action "SCMP_ACT_FOO"; use one of`},
		{"missing action", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}}}},
			"linux.seccomp.syscalls[0].action", "missing"},
		{"errnoRet with kill", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActKillProcess, ErrnoRet: uintp(1)}}},
			"linux.seccomp.syscalls[0].errnoRet", "SCMP_ACT_KILL_PROCESS returns no errno"},
		{"errnoRet with notify", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a", Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActNotify, ErrnoRet: uintp(1)}}},
			"linux.seccomp.syscalls[0].errnoRet", "SCMP_ACT_NOTIFY returns no errno"},
		{"trace value too big", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActTrace, ErrnoRet: uintp(0x10000)}}},
			"linux.seccomp.syscalls[0].errnoRet", "does not fit the 16 bits"},
		{"no names", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}},
			"linux.seccomp.syscalls[0].names", "empty"},
		{"empty name", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read", ""}, Action: specs.ActErrno}}},
			"linux.seccomp.syscalls[0].names[1]", "empty syscall name"},
		{"unknown architecture", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_Z80"}},
			"linux.seccomp.architectures[1]", `unknown architecture "SCMP_ARCH_Z80"; use one of`},
		{"architecture of the other byte order", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}},
			"linux.seccomp.architectures[0]", "another byte order"},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_FOO"}},
			"linux.seccomp.flags[1]", `unknown flag "SECCOMP_FILTER_FLAG_FOO"`},
		{"wait killable without notify", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
			"linux.seccomp.flags[0]", "only applies to a filter with a SCMP_ACT_NOTIFY rule"},
		{"bad operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}, {Index: 1, Op: "SCMP_CMP_ABOUT"}}}}},
			"linux.seccomp.syscalls[0].args[1].op", `unknown operator "SCMP_CMP_ABOUT"; use one of SCMP_CMP_EQ`},
		{"missing operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0}}}}},
			"linux.seccomp.syscalls[0].args[0].op", "missing"},
		{"argument index out of range", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
			"linux.seccomp.syscalls[0].args[0].index", "6 is out of range; a syscall has 6 arguments"},
		{"notify on write", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a", Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActNotify}}},
			"linux.seccomp.syscalls[0].names[1]", `SCMP_ACT_NOTIFY cannot be used for "write"`},
		{"notify without listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActNotify}}},
			"linux.seccomp.listenerPath", "missing, but a rule uses SCMP_ACT_NOTIFY"},
		{"metadata without listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"},
			"linux.seccomp.listenerMetadata", "set without listenerPath"},
		{"listener path too long", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/" + strings.Repeat("a", 107)},
			"linux.seccomp.listenerPath", "108 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Load below must fail; should it not, the filter dies with this
			// goroutine's thread instead of sticking to the test process.
			runtime.LockOSThread()
			_, err := Validate(&tt.s)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Validate: %v, want an *Error", err)
			}
			if e.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Validate: %q\nwant field %s and %q", err, tt.field, tt.msg)
			}
			// Compile refuses the same profile.
			if _, _, cerr := Compile(&tt.s); cerr == nil || cerr.Error() != err.Error() {
				t.Fatalf("Compile: %v, want %v", cerr, err)
			}
		})
	}
}

func TestValidateWarnings(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "no_such_syscall"}, Action: specs.ActAllow},
		{Names: []string{"read"}, Action: specs.ActLog},
		{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: 0, ValueTwo: 5}}},
		// Repeating the default action is fine and silent.
		{Names: []string{"mkdir"}, Action: specs.ActErrno},
		// The first rule is the default action and not added: this one holds.
		{Names: []string{"mkdir"}, Action: specs.ActAllow},
		// Same action, another errno: a conflict.
		{Names: []string{"rmdir"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
		{Names: []string{"rmdir"}, Action: specs.ActErrno, ErrnoRet: uintp(39)},
	}}
	warnings, err := Validate(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`linux.seccomp.syscalls[0].names[1]: unknown syscall "no_such_syscall" skipped`,
		`linux.seccomp.syscalls[1].names[0]: "read" already has its action from linux.seccomp.syscalls[0].names[0]`,
		`linux.seccomp.syscalls[2].args[0].valueTwo: valueTwo is only used by SCMP_CMP_MASKED_EQ`,
		`linux.seccomp.syscalls[6].names[0]: "rmdir" already has its action from linux.seccomp.syscalls[5].names[0]`,
	}
	if len(warnings) != len(want) {
		t.Fatalf("warnings:\n%s\nwant %d", strings.Join(warnings, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(warnings[i], want[i]) {
			t.Errorf("warning %d: %q\nwant prefix %q", i, warnings[i], want[i])
		}
	}
}

func TestFlagBits(t *testing.T) {
	notify := specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActNotify}
	tests := []struct {
		name  string
		s     specs.LinuxSeccomp
		flags uintptr
	}{
		{"none", specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, 0},
		{"tsync is ignored", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{flagTSYNC}}, 0},
		{"log and spec allow", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}},
			unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{"notify asks for a listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a",
			Syscalls: []specs.LinuxSyscall{notify}}, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
		{"wait killable", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/a",
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, Syscalls: []specs.LinuxSyscall{notify}},
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := compile(&tt.s)
			if err != nil {
				t.Fatal(err)
			}
			defer c.release()
			if c.flags != tt.flags {
				t.Fatalf("flags %s, want %s", bpf.FlagNames(c.flags), bpf.FlagNames(tt.flags))
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	f := Features()
	if f.Enabled == nil || !*f.Enabled {
		t.Error("not enabled")
	}
	wantActions := []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
		"SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}
	if !slices.Equal(f.Actions, wantActions) {
		t.Errorf("actions %v, want %v", f.Actions, wantActions)
	}
	wantOps := []string{"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}
	if !slices.Equal(f.Operators, wantOps) {
		t.Errorf("operators %v, want %v", f.Operators, wantOps)
	}
	wantFlags := []string{"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}
	if !slices.Equal(f.KnownFlags, wantFlags) {
		t.Errorf("known flags %v, want %v", f.KnownFlags, wantFlags)
	}
	// Linux 5.19 has them all.
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil && kernelAtLeast(unix.ByteSliceToString(uts.Release[:]), 5, 19) && !slices.Equal(f.SupportedFlags, wantFlags) {
		t.Errorf("supported flags %v, want %v", f.SupportedFlags, wantFlags)
	}
	// Validate refuses as unsupported exactly the architectures not listed.
	for name := range archs {
		_, err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{name}})
		listed := slices.Contains(f.Archs, string(name))
		var e *Error
		unsupported := errors.As(err, &e) && strings.Contains(e.Msg, "not supported by libseccomp")
		if listed == unsupported {
			t.Errorf("%s: listed %v, Validate %v", name, listed, err)
		}
	}
	for _, a := range []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} {
		if !slices.Contains(f.Archs, a) {
			t.Errorf("archs %v lack %s", f.Archs, a)
		}
	}
}

func kernelAtLeast(release string, major, minor int) bool {
	var ma, mi int
	for i, p := range strings.SplitN(release, ".", 3)[:2] {
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if i == 0 {
			ma = n
		} else {
			mi = n
		}
	}
	return ma > major || ma == major && mi >= minor
}
