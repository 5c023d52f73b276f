//go:build linux

package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// The seccomp tests run busybox (and a tiny static probe that makes one raw
// system call and prints its raw result) under linux.seccomp profiles, and
// check from inside the container what each filtered syscall returned, the
// Seccomp lines of /proc/self/status and how processes died, and from the host
// what was (not) created, what a seccomp agent received, and that nothing was
// left behind.

// dockerProfilePath is the Docker-like profile: an allow-list with EPERM as
// the default, written for the x86 architectures.
const dockerProfilePath = "testdata/seccomp/docker-default.json"

// seccompCacheDir is where hull caches compiled profiles, under --root: a name
// no container id can have.
const seccompCacheDir = ".seccomp-cache"

// requireAMD64 skips tests whose profiles or syscall numbers are x86_64's.
func requireAMD64(t *testing.T) {
	t.Helper()
	hulltest.OnlyArch(t, "amd64", dockerProfilePath+" lists the x86 architectures only and the probes use x86_64 syscall numbers")
}

// dockerProfile loads the Docker-like profile.
func dockerProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile(dockerProfilePath)
	if err != nil {
		t.Fatal(err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", dockerProfilePath, err)
	}
	if p.DefaultAction != specs.ActErrno || len(p.Syscalls) == 0 {
		t.Fatalf("%s is not an allow-list with an errno default", dockerProfilePath)
	}
	return &p
}

// without removes names from every rule of p, and the rules left with no name.
func without(p *specs.LinuxSeccomp, names ...string) *specs.LinuxSeccomp {
	var keep []specs.LinuxSyscall
	for _, sc := range p.Syscalls {
		sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool { return slices.Contains(names, n) })
		if len(sc.Names) > 0 {
			keep = append(keep, sc)
		}
	}
	p.Syscalls = keep
	return p
}

// hasName reports whether some rule of p names the syscall.
func hasName(p *specs.LinuxSeccomp, name string) bool {
	for _, sc := range p.Syscalls {
		if slices.Contains(sc.Names, name) {
			return true
		}
	}
	return false
}

func errnoRet(v uint) *uint { return &v }

// mkdirNames are the syscalls behind busybox mkdir (glibc calls mkdir on
// x86_64, mkdirat elsewhere).
var mkdirNames = []string{"mkdir", "mkdirat"}

// mkdirRule gives both mkdir syscalls the action.
func mkdirRule(action specs.LinuxSeccompAction, ret *uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: mkdirNames, Action: action, ErrnoRet: ret}
}

// allowAll is a profile that allows everything but what the rules say.
func allowAll(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rules}
}

// dockerDenyingMkdir is the Docker-like profile in which mkdir fails with EXDEV.
func dockerDenyingMkdir(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	p := without(dockerProfile(t), mkdirNames...)
	p.Syscalls = append(p.Syscalls, mkdirRule(specs.ActErrno, errnoRet(uint(unix.EXDEV))))
	return p
}

// seccompSpec is baseSpec with a writable root, so that a mkdir that the
// filter lets through succeeds and shows up on the host, and profile p.
func seccompSpec(p *specs.LinuxSeccomp, args ...string) *specs.Spec {
	s := baseSpec(args...)
	s.Root.Readonly = false
	s.Linux.Seccomp = p
	return s
}

// statusScript prints the seccomp-related lines of the status of the process
// that runs it (grep, a child of the shell, with the same filter).
const statusScript = `grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status`

// checkSeccompStatus checks the NoNewPrivs, Seccomp and Seccomp_filters fields
// of /proc/PID/status text.
func checkSeccompStatus(t *testing.T, who, text string, nnp, mode, filters string) {
	t.Helper()
	st := procStatus(text)
	for _, f := range []struct{ key, want string }{
		{"NoNewPrivs", nnp}, {"Seccomp", mode}, {"Seccomp_filters", filters},
	} {
		if got, ok := st[f.key]; !ok || got != f.want {
			t.Errorf("%s: %s: %q, want %q\n%s", who, f.key, got, f.want, text)
		}
	}
}

// exists reports whether path exists on the host.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// The probe: testdata/seccomp/probe, built once per run into the suite's
// temporary directory (removed by TestMain) and copied into bundles as
// /bin/probe.
var seccompProbe = &testTool{pkg: "./testdata/seccomp/probe", name: "seccomp-probe"}

func installProbe(t *testing.T, h *harness) {
	t.Helper()
	seccompProbe.install(t, h, "probe")
}

// probeCall is the shell text that runs the probe for syscall nr and prints
// "LABEL RESULT rc=STATUS", RESULT being the probe's errno=N or ret=N (empty
// when the probe was killed).
func probeCall(label string, nr int, args ...string) string {
	return fmt.Sprintf(`out=$(probe %d %s); echo "%s $out rc=$?"`, nr, strings.Join(args, " "), label)
}

// killedBySIGSYS is probeCall's result for a probe killed by seccomp.
const killedBySIGSYS = " rc=159"

// TestSeccompDockerProfile runs ordinary busybox work under the Docker-like
// profile: forks, pipes, background jobs, files, the personalities the profile
// allows by argument, and checks the filter is really there.
func TestSeccompDockerProfile(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	h := newHarness(t)
	script := strings.Join([]string{
		`echo hello`,
		`(echo subshell)`,
		`echo piped | tr a-z A-Z`,
		`sleep 0 & wait $! && echo background`,
		`mkdir /tmp/d && echo mkdir`,
		`echo data >/tmp/d/f && cat /tmp/d/f`,
		`chmod 600 /tmp/d/f && stat -c %a /tmp/d/f`,
		`linux32 uname -m`,
		`linux64 uname -m`,
		`hostname`,
		`id -u`,
		statusScript,
		// The profile's argument conditions, raw: personality allows PER_LINUX32
		// and the query, not ADDR_NO_RANDOMIZE; socket allows AF_UNIX, not AF_VSOCK.
		probeCall("personality-linux32", unix.SYS_PERSONALITY, "8"),
		probeCall("personality-query", unix.SYS_PERSONALITY, "0xffffffff"),
		probeCall("personality-addr-no-randomize", unix.SYS_PERSONALITY, "0x0040000"),
		`out=$(probe ` + fmt.Sprint(unix.SYS_SOCKET) + ` 1 1 0); echo "socket-unix ${out%%=*}"`,
		probeCall("socket-vsock", unix.SYS_SOCKET, "40", "1", "0"),
		// Not in the profile at all: the default errno.
		probeCall("setns", unix.SYS_SETNS, "-1", "0"),
	}, "\n")
	installProbe(t, h)
	r := h.run(seccompSpec(dockerProfile(t), shell(script)...))
	t.Logf("stderr: %q", r.stderr)
	mustExit(t, r, 0)
	want := "hello\nsubshell\nPIPED\nbackground\nmkdir\ndata\n600\ni686\nx86_64\nhull\n0\n" +
		"NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n" +
		"personality-linux32 ret=0 rc=0\npersonality-query ret=0 rc=0\npersonality-addr-no-randomize errno=1 rc=0\n" +
		"socket-unix ret\nsocket-vsock errno=1 rc=0\nsetns errno=1 rc=0\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if !exists(filepath.Join(h.rootfs, "tmp", "d", "f")) {
		t.Errorf("the container's /tmp/d/f is not in the bundle's rootfs")
	}
}

// TestSeccompActions gives mkdir each action and checks what busybox mkdir and
// the raw syscall (the probe) got, and whether the directory was made.
func TestSeccompActions(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	tests := []struct {
		name    string
		rule    specs.LinuxSyscall
		msg     string // busybox mkdir's error text, "" when it succeeded
		rc      int    // busybox mkdir's exit status as the shell saw it
		probe   string // the probe's result and status; "" to not run it (actions that kill one thread of it)
		created bool   // the directories exist afterwards
	}{
		{name: "errno-default-eperm", rule: mkdirRule(specs.ActErrno, nil),
			msg: "Operation not permitted", rc: 1, probe: "errno=1 rc=0"},
		{name: "errno-enosys", rule: mkdirRule(specs.ActErrno, errnoRet(uint(unix.ENOSYS))),
			msg: "Function not implemented", rc: 1, probe: "errno=38 rc=0"},
		{name: "errno-exdev", rule: mkdirRule(specs.ActErrno, errnoRet(uint(unix.EXDEV))),
			msg: "Invalid cross-device link", rc: 1, probe: "errno=18 rc=0"},
		{name: "errno-enotsup", rule: mkdirRule(specs.ActErrno, errnoRet(uint(unix.ENOTSUP))),
			msg: "Operation not supported", rc: 1, probe: "errno=95 rc=0"},
		{name: "errno-4094", rule: mkdirRule(specs.ActErrno, errnoRet(4094)),
			msg: "Unknown error 4094", rc: 1, probe: "errno=4094 rc=0"},
		// errnoRet 0 is not "unset": the syscall "succeeds" without running.
		{name: "errno-zero", rule: mkdirRule(specs.ActErrno, errnoRet(0)),
			rc: 0, probe: "ret=0 rc=0"},
		// Without a tracer attached, SECCOMP_RET_TRACE fails the syscall with ENOSYS.
		{name: "trace-without-tracer", rule: mkdirRule(specs.ActTrace, nil),
			msg: "Function not implemented", rc: 1, probe: "errno=38 rc=0"},
		{name: "kill-process", rule: mkdirRule(specs.ActKillProcess, nil), rc: 128 + 31, probe: killedBySIGSYS},
		{name: "kill", rule: mkdirRule(specs.ActKill, nil), rc: 128 + 31},
		{name: "kill-thread", rule: mkdirRule(specs.ActKillThread, nil), rc: 128 + 31},
		{name: "trap", rule: mkdirRule(specs.ActTrap, nil), rc: 128 + 31},
		{name: "log", rule: mkdirRule(specs.ActLog, nil), rc: 0, probe: "ret=0 rc=0", created: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			installProbe(t, h)
			script := `out=$(mkdir /tmp/busybox 2>&1); echo "mkdir rc=$? ${out##*: }"`
			want := fmt.Sprintf("mkdir rc=%d %s\n", tc.rc, tc.msg)
			if tc.probe != "" {
				script += "\n" + probeCall("probe", unix.SYS_MKDIR, "s:/tmp/probe", "0755")
				want += "probe " + tc.probe + "\n"
			}
			s := seccompSpec(allowAll(tc.rule), shell(script)...)
			r := h.run(s)
			mustExit(t, r, 0)
			if r.stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s\nstderr: %q", r.stdout, want, r.stderr)
			}
			paths := []string{"busybox"}
			if tc.probe != "" {
				paths = append(paths, "probe")
			}
			for _, p := range paths {
				if got := exists(filepath.Join(h.rootfs, "tmp", p)); got != tc.created {
					t.Errorf("/tmp/%s exists on the host: %v, want %v", p, got, tc.created)
				}
			}
		})
	}
}

// TestSeccompErrnoLimit: hull documents errno values 0 to 4095 (the kernel's
// MAX_ERRNO) as valid. 4095 must either reach the container exactly or be
// refused at create with an error naming the errnoRet field and the value;
// anything else (a misleading libseccomp message, another field) fails.
func TestSeccompErrnoLimit(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	tests := []struct {
		name    string
		profile func(*testing.T) *specs.LinuxSeccomp
		field   string
		script  string
		want    string
	}{
		{"rule-errnoRet", func(*testing.T) *specs.LinuxSeccomp { return allowAll(mkdirRule(specs.ActErrno, errnoRet(4095))) },
			"linux.seccomp.syscalls[0].errnoRet", probeCall("mkdir", unix.SYS_MKDIR, "s:/tmp/d", "0755"), "mkdir errno=4095 rc=0\n"},
		{"defaultErrnoRet", func(t *testing.T) *specs.LinuxSeccomp {
			p := dockerProfile(t)
			p.DefaultErrnoRet = errnoRet(4095)
			return p
		}, "linux.seccomp.defaultErrnoRet", probeCall("setns", unix.SYS_SETNS, "-1", "0"), "setns errno=4095 rc=0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			installProbe(t, h)
			r := h.run(seccompSpec(tc.profile(t), shell(tc.script)...))
			switch {
			case r.exit == 0:
				if r.stdout != tc.want {
					t.Errorf("stdout %q, want %q", r.stdout, tc.want)
				}
			case !strings.Contains(r.stderr, tc.field) || !strings.Contains(r.stderr, "4095"):
				t.Errorf("errno 4095 neither reached the container nor was refused naming %s and the value: %s", tc.field, r)
			}
			h.assertNothingLeft(true)
		})
	}
}

// TestSeccompKillsContainer makes the container's own process hit a killing
// action: `hull run` must exit 128+SIGSYS, for a single-threaded busybox and
// for the multi-threaded probe under SCMP_ACT_KILL_PROCESS.
func TestSeccompKillsContainer(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	tests := []struct {
		name   string
		action specs.LinuxSeccompAction
		args   []string
	}{
		{"kill-process-busybox", specs.ActKillProcess, []string{"mkdir", "/tmp/d"}},
		{"kill-process-threaded-probe", specs.ActKillProcess, []string{"probe", fmt.Sprint(unix.SYS_MKDIR), "s:/tmp/d", "0755"}},
		{"kill-busybox", specs.ActKill, []string{"mkdir", "/tmp/d"}},
		{"trap-busybox", specs.ActTrap, []string{"mkdir", "/tmp/d"}},
		{"kill-process-after-exec", specs.ActKillProcess, shell("echo before; exec mkdir /tmp/d; echo after")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			installProbe(t, h)
			r := h.run(seccompSpec(allowAll(mkdirRule(tc.action, nil)), tc.args...))
			mustExit(t, r, 128+int(unix.SIGSYS))
			if tc.args[0] == "sh" && r.stdout != "before\n" {
				t.Errorf("stdout %q, want %q", r.stdout, "before\n")
			}
			if exists(filepath.Join(h.rootfs, "tmp", "d")) {
				t.Errorf("/tmp/d was created")
			}
		})
	}
}

// TestSeccompFlags: each filter flag is accepted and the filter still applies.
func TestSeccompFlags(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	for _, fl := range []specs.LinuxSeccompFlag{
		specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC",
	} {
		t.Run(string(fl), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := dockerDenyingMkdir(t)
			p.Flags = []specs.LinuxSeccompFlag{fl}
			r := h.run(seccompSpec(p, shell(statusScript+"\n"+`out=$(mkdir /tmp/d 2>&1); echo "mkdir rc=$? ${out##*: }"`)...))
			mustExit(t, r, 0)
			checkSeccompStatus(t, "container", r.stdout, "1", "2", "1")
			if want := "mkdir rc=1 Invalid cross-device link\n"; !strings.HasSuffix(r.stdout, want) {
				t.Errorf("stdout %q, want it to end with %q", r.stdout, want)
			}
		})
	}
}

// TestSeccompArgs filters kill(2) on its signal (and pid) argument: each
// operator must deny exactly the signals it matches. The shell, pid 1, and its
// child ignore the signals used, and signal 0 only checks the target exists,
// so an allowed kill succeeds without effect and a denied one fails with the
// rule's errno.
func TestSeccompArgs(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	arg := func(index uint, op specs.LinuxSeccompOperator, v, v2 uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: index, Op: op, Value: v, ValueTwo: v2}
	}
	denyKill := func(args ...specs.LinuxSeccompArg) func(*testing.T) *specs.LinuxSeccomp {
		return func(*testing.T) *specs.LinuxSeccomp {
			return allowAll(specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActErrno,
				ErrnoRet: errnoRet(uint(unix.EXDEV)), Args: args})
		}
	}
	const exdev, eperm = "Invalid cross-device link", "Operation not permitted"
	signals := []int{0, 1, 10, 12, 15}
	tests := []struct {
		name    string
		profile func(*testing.T) *specs.LinuxSeccomp
		denied  []string // "init/SIG" or "child/SIG" pairs the filter must refuse
		msg     string
	}{
		{"eq", denyKill(arg(1, specs.OpEqualTo, 10, 0)), []string{"init/10", "child/10"}, exdev},
		{"ne", denyKill(arg(1, specs.OpNotEqual, 0, 0)), both(1, 10, 12, 15), exdev},
		{"gt", denyKill(arg(1, specs.OpGreaterThan, 10, 0)), both(12, 15), exdev},
		{"ge", denyKill(arg(1, specs.OpGreaterEqual, 10, 0)), both(10, 12, 15), exdev},
		{"lt", denyKill(arg(1, specs.OpLessThan, 10, 0)), both(0, 1), exdev},
		{"le", denyKill(arg(1, specs.OpLessEqual, 10, 0)), both(0, 1, 10), exdev},
		{"masked-eq-even", denyKill(arg(1, specs.OpMaskedEqual, 1, 0)), both(0, 10, 12), exdev},
		{"masked-eq-0xa", denyKill(arg(1, specs.OpMaskedEqual, 0xa, 0xa)), both(10, 15), exdev},
		// Conditions on different arguments must all match: only pid 1 with SIGUSR1.
		{"two-args-and", denyKill(arg(0, specs.OpEqualTo, 1, 0), arg(1, specs.OpEqualTo, 10, 0)), []string{"init/10"}, exdev},
		// Two conditions on one argument: either may match (runc's behaviour).
		{"same-arg-twice-or", denyKill(arg(1, specs.OpEqualTo, 1, 0), arg(1, specs.OpEqualTo, 15, 0)), both(1, 15), exdev},
		// An allow-list allowing kill for signal 0 only: the others get the default EPERM.
		{"allowlist-only-signal-0", func(t *testing.T) *specs.LinuxSeccomp {
			p := without(dockerProfile(t), "kill")
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{arg(1, specs.OpEqualTo, 0, 0)}})
			return p
		}, both(1, 10, 12, 15), eperm},
	}
	script := `trap '' HUP USR1 USR2 TERM
sleep 1000 &
child=$!
for target in init child; do
	pid=1; [ $target = child ] && pid=$child
	for sig in ` + strings.Trim(fmt.Sprint(signals), "[]") + `; do
		out=$(kill -$sig $pid 2>&1)
		echo "$target/$sig $?:${out##*: }"
	done
done
[ -d /proc/$child ] && echo child-alive`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			r := h.run(seccompSpec(tc.profile(t), shell(script)...))
			mustExit(t, r, 0)
			var want strings.Builder
			for _, target := range []string{"init", "child"} {
				for _, sig := range signals {
					pair := fmt.Sprintf("%s/%d", target, sig)
					if slices.Contains(tc.denied, pair) {
						fmt.Fprintf(&want, "%s 1:%s\n", pair, tc.msg)
					} else {
						fmt.Fprintf(&want, "%s 0:\n", pair)
					}
				}
			}
			want.WriteString("child-alive\n")
			if r.stdout != want.String() {
				t.Errorf("stdout:\n%s\nwant:\n%s\nstderr: %q", r.stdout, want.String(), r.stderr)
			}
		})
	}
}

// both lists "init/SIG" and "child/SIG" for each signal.
func both(sigs ...int) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, fmt.Sprintf("init/%d", s), fmt.Sprintf("child/%d", s))
	}
	return out
}

// newSyscalls are the syscalls numbered from clone3 (435) on, to make a
// profile written before clone3 existed.
var newSyscalls = map[string]int{
	"clone3": unix.SYS_CLONE3, "close_range": unix.SYS_CLOSE_RANGE, "openat2": unix.SYS_OPENAT2,
	"pidfd_getfd": unix.SYS_PIDFD_GETFD, "faccessat2": unix.SYS_FACCESSAT2,
	"process_madvise": unix.SYS_PROCESS_MADVISE, "epoll_pwait2": unix.SYS_EPOLL_PWAIT2,
	"mount_setattr": unix.SYS_MOUNT_SETATTR, "quotactl_fd": unix.SYS_QUOTACTL_FD,
	"landlock_create_ruleset": unix.SYS_LANDLOCK_CREATE_RULESET, "landlock_add_rule": unix.SYS_LANDLOCK_ADD_RULE,
	"landlock_restrict_self": unix.SYS_LANDLOCK_RESTRICT_SELF, "memfd_secret": unix.SYS_MEMFD_SECRET,
	"process_mrelease": unix.SYS_PROCESS_MRELEASE, "futex_waitv": unix.SYS_FUTEX_WAITV,
	"set_mempolicy_home_node": unix.SYS_SET_MEMPOLICY_HOME_NODE, "cachestat": unix.SYS_CACHESTAT,
	"fchmodat2": unix.SYS_FCHMODAT2, "map_shadow_stack": unix.SYS_MAP_SHADOW_STACK,
	"futex_wake": unix.SYS_FUTEX_WAKE, "futex_wait": unix.SYS_FUTEX_WAIT, "futex_requeue": unix.SYS_FUTEX_REQUEUE,
	"statmount": unix.SYS_STATMOUNT, "listmount": unix.SYS_LISTMOUNT,
	"lsm_get_self_attr": unix.SYS_LSM_GET_SELF_ATTR, "lsm_set_self_attr": unix.SYS_LSM_SET_SELF_ATTR,
	"lsm_list_modules": unix.SYS_LSM_LIST_MODULES, "mseal": unix.SYS_MSEAL,
	"setxattrat": unix.SYS_SETXATTRAT, "getxattrat": unix.SYS_GETXATTRAT,
	"listxattrat": unix.SYS_LISTXATTRAT, "removexattrat": unix.SYS_REMOVEXATTRAT,
	"open_tree_attr": unix.SYS_OPEN_TREE_ATTR,
}

// legacyProfile is the Docker-like profile as written before clone3: without
// clone3's rule and every newer syscall, so the newest it names is pidfd_open
// (434).
func legacyProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	var drop []string
	for name, nr := range newSyscalls {
		if nr < unix.SYS_CLONE3 {
			t.Fatalf("newSyscalls: %s is %d, older than clone3", name, nr)
		}
		drop = append(drop, name)
	}
	p := without(dockerProfile(t), drop...)
	if !hasName(p, "pidfd_open") || hasName(p, "clone3") {
		t.Fatalf("the legacy profile must name pidfd_open and not clone3")
	}
	return p
}

// TestSeccompENOSYS checks the raw results of syscalls a profile does not name:
// newer than anything it names, they get ENOSYS (so libc falls back, clone3 to
// clone), older ones the default errno. Busybox forks in every case.
func TestSeccompENOSYS(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	const (
		enosys = "errno=38 rc=0"
		eperm  = "errno=1 rc=0"
	)
	tests := []struct {
		name    string
		profile func(*testing.T) *specs.LinuxSeccomp
		// raw results without a filter: clone3(NULL, 0) EINVAL, faccessat2(-1,
		// NULL, 0, 0) EFAULT, setns(-1, 0) EBADF.
		clone3, faccessat2, setns string
	}{
		{"no-profile", func(*testing.T) *specs.LinuxSeccomp { return nil }, "errno=22 rc=0", "errno=14 rc=0", "errno=9 rc=0"},
		{"allow-default-no-stub", func(*testing.T) *specs.LinuxSeccomp { return allowAll(mkdirRule(specs.ActErrno, nil)) },
			"errno=22 rc=0", "errno=14 rc=0", "errno=9 rc=0"},
		// clone3 has an explicit ENOSYS rule; faccessat2 is allowed; setns is not named.
		{"docker", dockerProfile, enosys, "errno=14 rc=0", eperm},
		// Only the stub answers ENOSYS here; setns (308) is below pidfd_open (434).
		{"legacy-stub", legacyProfile, enosys, enosys, eperm},
		{"legacy-default-enosys", func(t *testing.T) *specs.LinuxSeccomp {
			p := legacyProfile(t)
			p.DefaultErrnoRet = errnoRet(uint(unix.ENOSYS))
			return p
		}, enosys, enosys, enosys},
		// The stub answers before the default action: clone3 is not killed.
		{"legacy-default-kill", func(t *testing.T) *specs.LinuxSeccomp {
			p := legacyProfile(t)
			p.DefaultAction, p.DefaultErrnoRet = specs.ActKillProcess, nil
			return p
		}, enosys, enosys, killedBySIGSYS},
	}
	script := strings.Join([]string{
		probeCall("clone3", unix.SYS_CLONE3, "0", "0"),
		probeCall("faccessat2", unix.SYS_FACCESSAT2, "-1", "0", "0", "0"),
		probeCall("setns", unix.SYS_SETNS, "-1", "0"),
		`(echo forked)`,
	}, "\n")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			installProbe(t, h)
			r := h.run(seccompSpec(tc.profile(t), shell(script)...))
			mustExit(t, r, 0)
			want := fmt.Sprintf("clone3 %s\nfaccessat2 %s\nsetns %s\nforked\n", tc.clone3, tc.faccessat2, tc.setns)
			if r.stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s\nstderr: %q", r.stdout, want, r.stderr)
			}
		})
	}
}

// TestSeccompNoNewPrivs checks the filter is there with and without
// no_new_privs, for root and for a user without capabilities (without nnp the
// filter must be loaded before the user switch drops CAP_SYS_ADMIN).
func TestSeccompNoNewPrivs(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	tests := []struct {
		name    string
		profile bool
		nnp     bool
		uid     uint32
	}{
		{"no-profile-control", false, true, 0},
		{"nnp-root", true, true, 0},
		{"no-nnp-root", true, false, 0},
		{"nnp-user", true, true, 1000},
		{"no-nnp-user", true, false, 1000},
	}
	script := statusScript + "\nid -u\n" + `out=$(mkdir /tmp/d 2>&1); echo "mkdir rc=$? ${out##*: }"`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var p *specs.LinuxSeccomp
			if tc.profile {
				p = dockerDenyingMkdir(t)
			}
			s := seccompSpec(p, shell(script)...)
			s.Process.NoNewPrivileges = tc.nnp
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			r := h.run(s)
			mustExit(t, r, 0)
			nnp, mode, filters, mkdir := "0", "0", "0", "mkdir rc=0 \n"
			if tc.nnp {
				nnp = "1"
			}
			if tc.profile {
				mode, filters, mkdir = "2", "1", "mkdir rc=1 Invalid cross-device link\n"
			}
			checkSeccompStatus(t, "container", r.stdout, nnp, mode, filters)
			if !strings.Contains(r.stdout, fmt.Sprintf("\n%d\n", tc.uid)) || !strings.HasSuffix(r.stdout, mkdir) {
				t.Errorf("stdout:\n%s\nwant uid %d and %q", r.stdout, tc.uid, mkdir)
			}
			if got := exists(filepath.Join(h.rootfs, "tmp", "d")); got == tc.profile {
				t.Errorf("/tmp/d exists on the host: %v", got)
			}
		})
	}
}

// TestSeccompExec checks that exec'd processes run under the container's
// filter (one filter, not stacked) whatever their user and no_new_privs, and
// that the container's init has it as seen from the host.
func TestSeccompExec(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	tests := []struct {
		name     string
		profile  bool
		initNNP  bool
		execArgs []string
		nnp      string
		uid      string
	}{
		{"no-profile-control", false, true, nil, "1", "0"},
		{"nnp", true, true, nil, "1", "0"},
		{"nnp-user", true, true, []string{"--user", "1000:1000"}, "1", "1000"},
		{"no-nnp", true, false, nil, "0", "0"},
		{"no-nnp-user", true, false, []string{"--user", "1000:1000"}, "0", "1000"},
		{"no-nnp-exec-with-nnp", true, false, []string{"--no-new-privs", "--user", "1000:1000"}, "1", "1000"},
	}
	script := statusScript + "\nid -u\n" + `out=$(mkdir /tmp/e 2>&1); echo "mkdir rc=$? ${out##*: }"`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var p *specs.LinuxSeccomp
			mode, filters, mkdir := "0", "0", "mkdir rc=0 \n"
			if tc.profile {
				p = dockerDenyingMkdir(t)
				mode, filters, mkdir = "2", "1", "mkdir rc=1 Invalid cross-device link\n"
			}
			s := seccompSpec(p, "sleep", "1001")
			s.Process.NoNewPrivileges = tc.initNNP
			st := h.startContainer(s)

			initNNP := "0"
			if tc.initNNP {
				initNNP = "1"
			}
			checkSeccompStatus(t, "init from the host", readFile(fmt.Sprintf("/proc/%d/status", st.Pid)), initNNP, mode, filters)

			args := append([]string{"exec"}, tc.execArgs...)
			r := h.do(append(args, h.id, "sh", "-c", script)...)
			mustExit(t, r, 0)
			checkSeccompStatus(t, "exec", r.stdout, tc.nnp, mode, filters)
			if !strings.Contains(r.stdout, "\n"+tc.uid+"\n") || !strings.HasSuffix(r.stdout, mkdir) {
				t.Errorf("exec stdout:\n%s\nwant uid %s and %q", r.stdout, tc.uid, mkdir)
			}
			if got := exists(filepath.Join(h.rootfs, "tmp", "e")); got == tc.profile {
				t.Errorf("/tmp/e exists on the host: %v", got)
			}
		})
	}
}

// seccompNotif and seccompNotifResp are struct seccomp_notif and
// seccomp_notif_resp of <linux/seccomp.h>.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  struct {
		Nr                 int32
		Arch               uint32
		InstructionPointer uint64
		Args               [6]uint64
	}
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// agentConn is what the agent got on one connection.
type agentConn struct {
	raw   []byte                      // the JSON payload
	state specs.ContainerProcessState // raw, decoded
	fds   int                         // how many fds came with it
	fd    int                         // the first of them, or -1; owned by the agent
	link  string                      // readlink of that fd
	err   error                       // reading or decoding failed
}

// agentCall is one notification the agent answered.
type agentCall struct {
	pid   int
	nr    int32
	arch  uint32
	path  string
	pidNS string // the caller's pid namespace
	err   error
}

// seccompAgent is a test seccomp agent: it accepts the runtime's connections
// on a unix socket, records the state and fd each brings, and answers the
// notifications of each fd from a table of mkdir paths.
type seccompAgent struct {
	path    string
	ln      *net.UnixListener
	answers map[string]seccompNotifResp // by path; the ID is filled in
	conns   chan agentConn
	calls   chan agentCall
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startAgent(t *testing.T, answers map[string]seccompNotifResp) *seccompAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "hull-agent-")
	if err != nil {
		t.Fatal(err)
	}
	a := &seccompAgent{path: filepath.Join(dir, "agent.sock"), answers: answers,
		conns: make(chan agentConn, 16), calls: make(chan agentCall, 64), stop: make(chan struct{})}
	a.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: a.path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(func() {
		close(a.stop)
		a.ln.Close()
		a.wg.Wait() // every fd is closed by its serve
		os.RemoveAll(dir)
	})
	return a
}

func (a *seccompAgent) accept() {
	defer a.wg.Done()
	for {
		conn, err := a.ln.AcceptUnix()
		if err != nil {
			return // closed by cleanup
		}
		c := a.receive(conn)
		conn.Close()
		if c.fd >= 0 {
			a.wg.Add(1)
			go a.serve(c.fd) // which closes it
		}
		select {
		case a.conns <- c:
		case <-a.stop:
			return
		}
	}
}

// receive reads one connection: the fd comes with the first bytes, the rest
// of the JSON may follow until the runtime closes it.
func (a *seccompAgent) receive(conn *net.UnixConn) agentConn {
	c := agentConn{fd: -1}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	first, fds, err := hulltest.RecvFds(conn, 0, 1<<16)
	if err != nil {
		c.err = fmt.Errorf("recvmsg: %w", err)
		return c
	}
	rest, err := io.ReadAll(conn)
	if err != nil {
		c.err = fmt.Errorf("reading the rest: %w", err)
	}
	c.raw = append(first[:len(first):len(first)], rest...) //nolint:gocritic // a new slice: first's capacity is cut
	if c.fds = len(fds); c.fds > 0 {
		c.fd = fds[0]
		hulltest.CloseFds(fds[1:])
	}
	if c.fd >= 0 {
		c.link, _ = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", c.fd))
	}
	if err := json.Unmarshal(c.raw, &c.state); err != nil {
		c.err = errors.Join(c.err, fmt.Errorf("state JSON: %w", err))
	}
	return c
}

// serve answers the notifications of fd until the filter has no user left or
// the test ends.
func (a *seccompAgent) serve(fd int) {
	defer a.wg.Done()
	defer unix.Close(fd)
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue // the Go runtime's signals interrupt poll often
		}
		if err != nil {
			a.calls <- agentCall{err: fmt.Errorf("poll: %w", err)}
			return
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: every process of the filter is gone
		}
		var req seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			if e == unix.ENOENT || e == unix.EINTR {
				continue // the caller died, or a signal
			}
			a.calls <- agentCall{err: fmt.Errorf("SECCOMP_IOCTL_NOTIF_RECV: %w", e)}
			return
		}
		call := agentCall{pid: int(req.Pid), nr: req.Data.Nr, arch: req.Data.Arch}
		call.pidNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", req.Pid))
		addr := req.Data.Args[0]
		if req.Data.Nr == unix.SYS_MKDIRAT {
			addr = req.Data.Args[1]
		}
		call.path, call.err = readString(int(req.Pid), addr)
		// The path is only trustworthy if the caller still waits for this answer.
		id := req.ID
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id))); e != 0 {
			call.err = errors.Join(call.err, fmt.Errorf("SECCOMP_IOCTL_NOTIF_ID_VALID: %w", e))
		}
		resp, ok := a.answers[call.path]
		if !ok || call.err != nil {
			resp = seccompNotifResp{Error: -int32(unix.EACCES)}
		}
		resp.ID = req.ID
		// Recorded before the answer, so it is there by the time the caller
		// (and the test, which waits for the caller) sees the result.
		a.calls <- call
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp))); e != 0 {
			a.calls <- agentCall{pid: call.pid, path: call.path, err: fmt.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %w", e)}
		}
	}
}

// readString reads a NUL-terminated string at addr in process pid's memory.
func readString(pid int, addr uint64) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	var out []byte
	for len(out) < 4096 {
		// Never read across a page boundary in one go: the next page may be unmapped.
		chunk := 4096 - (addr+uint64(len(out)))%4096
		buf := make([]byte, min(chunk, 256))
		n, err := f.ReadAt(buf, int64(addr)+int64(len(out)))
		if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		if err != nil {
			return "", fmt.Errorf("reading pid %d's memory at %#x: %w", pid, addr, err)
		}
		out = append(out, buf[:n]...)
	}
	return "", fmt.Errorf("no NUL in 4096 bytes at %#x", addr)
}

func (a *seccompAgent) nextConn(t *testing.T) agentConn {
	t.Helper()
	select {
	case c := <-a.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("the seccomp agent got no connection on %s", a.path)
	}
	panic("unreachable")
}

// takeCalls returns the notifications answered so far.
func (a *seccompAgent) takeCalls() []agentCall {
	var out []agentCall
	for {
		select {
		case c := <-a.calls:
			out = append(out, c)
		default:
			return out
		}
	}
}

// checkConn checks what the agent got against the spec's "container process
// state": the version, the fd's name, the process, the metadata and the
// container's state.
func checkConn(t *testing.T, who string, c agentConn, pid, initPid int, status specs.ContainerState, h *harness, metadata string) {
	t.Helper()
	if c.err != nil {
		t.Errorf("%s: %v\n%s", who, c.err, c.raw)
	}
	if c.fds != 1 || c.link != "anon_inode:seccomp notify" {
		t.Errorf("%s: got %d fds, the first %q; want one seccomp notify fd", who, c.fds, c.link)
	}
	var raw map[string]any
	if err := json.Unmarshal(c.raw, &raw); err == nil {
		if _, ok := raw["ociVersion"]; !ok {
			t.Errorf("%s: no ociVersion in %s", who, c.raw)
		}
	}
	st := c.state
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"ociVersion", st.Version, specs.Version},
		{"fds", strings.Join(st.Fds, ","), specs.SeccompFdName},
		{"pid", st.Pid, pid},
		{"metadata", st.Metadata, metadata},
		{"state.id", st.State.ID, h.id},
		{"state.status", st.State.Status, status},
		{"state.pid", st.State.Pid, initPid},
		{"state.bundle", st.State.Bundle, h.bundle},
	} {
		if f.got != f.want {
			t.Errorf("%s: %s is %v, want %v\n%s", who, f.name, f.got, f.want, c.raw)
		}
	}
}

// TestSeccompNotify lets a test agent answer the container's mkdir calls:
// with an errno, with a fake success, and by letting the call continue; and
// the same agent gets the fd of an exec'd process.
func TestSeccompNotify(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	tests := []struct {
		name  string
		nnp   bool
		uid   uint32
		flags []specs.LinuxSeccompFlag
	}{
		{name: "nnp-root", nnp: true},
		// Without nnp the filter, and so the fd hand-over, comes before the user switch.
		{name: "no-nnp-root", nnp: false},
		{name: "no-nnp-user", nnp: false, uid: 1000},
		{name: "nnp-user-wait-killable-recv", nnp: true, uid: 1000,
			flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			a := startAgent(t, map[string]seccompNotifResp{
				"/tmp/notify-errno":    {Error: -int32(unix.EXDEV)},
				"/tmp/notify-fake":     {Val: 0},
				"/tmp/notify-continue": {Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE},
				"/tmp/notify-exec":     {Error: -int32(unix.ENOTSUP)},
			})
			const metadata = "agent metadata: {\"x\": 1}"
			p := allowAll(mkdirRule(specs.ActNotify, nil))
			p.ListenerPath = a.path
			p.ListenerMetadata = metadata
			p.Flags = tc.flags
			script := strings.Join([]string{
				`out=$(mkdir /tmp/notify-errno 2>&1); echo "errno rc=$? ${out##*: }"`,
				`mkdir /tmp/notify-fake; echo "fake rc=$?"; [ -d /tmp/notify-fake ] && echo fake-exists || echo fake-absent`,
				`mkdir /tmp/notify-continue; echo "continue rc=$?"; [ -d /tmp/notify-continue ] && echo continue-exists`,
				`echo done`,
				`exec sleep 1001`,
			}, "\n")
			s := seccompSpec(p, shell(script)...)
			s.Process.NoNewPrivileges = tc.nnp
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			cr := h.create(s)
			mustExit(t, cr, 0)
			initPid := h.mustState(h.id).Pid
			checkConn(t, "create", a.nextConn(t), initPid, initPid, specs.StateCreating, h, metadata)

			mustExit(t, h.do("start", h.id), 0)
			out := waitOutput(t, cr.stdoutPath, "done\n", 10*time.Second)
			want := "errno rc=1 Invalid cross-device link\nfake rc=0\nfake-absent\ncontinue rc=0\ncontinue-exists\ndone\n"
			if out != want {
				t.Errorf("container output:\n%s\nwant:\n%s", out, want)
			}
			for name, want := range map[string]bool{"notify-errno": false, "notify-fake": false, "notify-continue": true} {
				if got := exists(filepath.Join(h.rootfs, "tmp", name)); got != want {
					t.Errorf("/tmp/%s exists on the host: %v, want %v", name, got, want)
				}
			}
			// CONTINUE ran the container's own mkdir, with its credentials.
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(h.rootfs, "tmp", "notify-continue"), &st); err == nil && st.Uid != tc.uid {
				t.Errorf("/tmp/notify-continue is owned by uid %d, want %d", st.Uid, tc.uid)
			}
			// The notify fd init got from seccomp(2) is hull's: it must not survive execve.
			if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", initPid)); err != nil {
				t.Errorf("listing init's fds: %v", err)
			} else {
				for _, fd := range fds {
					link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", initPid, fd.Name()))
					if strings.Contains(link, "seccomp") {
						t.Errorf("the container's init still holds fd %s -> %s", fd.Name(), link)
					}
				}
			}
			initNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
			calls := a.takeCalls()
			var paths []string
			for _, c := range calls {
				paths = append(paths, c.path)
				if c.err != nil {
					t.Errorf("agent: pid %d: %v", c.pid, c.err)
				}
				if c.nr != unix.SYS_MKDIR && c.nr != unix.SYS_MKDIRAT || c.arch != unix.AUDIT_ARCH_X86_64 {
					t.Errorf("agent: notified of syscall %d, arch %#x; want mkdir(at), x86_64", c.nr, c.arch)
				}
				if c.pidNS != initNS || c.pid == initPid {
					t.Errorf("agent: caller %d in %q; want a child of the container's init %d in %q", c.pid, c.pidNS, initPid, initNS)
				}
			}
			if !slices.Equal(paths, []string{"/tmp/notify-errno", "/tmp/notify-fake", "/tmp/notify-continue"}) {
				t.Errorf("agent answered %q", paths)
			}

			// An exec'd process gets the container's filter and its own notify fd.
			r := h.do("exec", h.id, "mkdir", "/tmp/notify-exec")
			if r.exit != 1 || !strings.Contains(r.stderr, "Operation not supported") {
				t.Errorf("exec mkdir: want exit 1 and ENOTSUP from the agent, got %s", r)
			}
			c := a.nextConn(t)
			calls = a.takeCalls()
			if len(calls) != 1 || calls[0].path != "/tmp/notify-exec" {
				t.Fatalf("agent answered %+v for the exec", calls)
			}
			checkConn(t, "exec", c, calls[0].pid, initPid, specs.StateRunning, h, metadata)
			if exists(filepath.Join(h.rootfs, "tmp", "notify-exec")) {
				t.Errorf("/tmp/notify-exec was created")
			}
		})
	}
}

// TestSeccompBadProfile makes create fail on malformed profiles with an error
// naming the field, and leave nothing behind.
func TestSeccompBadProfile(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	addRule := func(sc specs.LinuxSyscall) func(*specs.LinuxSeccomp) {
		return func(p *specs.LinuxSeccomp) { p.Syscalls = append(p.Syscalls, sc) }
	}
	// notifyMkdir moves mkdir from the allow-list to a SCMP_ACT_NOTIFY rule.
	notifyMkdir := func(listener string) func(*specs.LinuxSeccomp) {
		return func(p *specs.LinuxSeccomp) {
			without(p, mkdirNames...)
			p.ListenerPath = listener
			p.Syscalls = append(p.Syscalls, mkdirRule(specs.ActNotify, nil))
		}
	}
	tests := []struct {
		name   string
		mutate func(p *specs.LinuxSeccomp)
		want   []string // stderr must contain all of these
	}{
		{"unknown-default-action", func(p *specs.LinuxSeccomp) { p.DefaultAction = "SCMP_ACT_BOGUS" },
			[]string{"linux.seccomp.defaultAction", "SCMP_ACT_BOGUS"}},
		{"missing-default-action", func(p *specs.LinuxSeccomp) { p.DefaultAction = "" },
			[]string{"linux.seccomp.defaultAction", "missing"}},
		{"unknown-rule-action", func(p *specs.LinuxSeccomp) { p.Syscalls[1].Action = "SCMP_ACT_NOPE" },
			[]string{"linux.seccomp.syscalls[1].action", "SCMP_ACT_NOPE"}},
		{"unknown-arch", func(p *specs.LinuxSeccomp) { p.Architectures = append(p.Architectures, "SCMP_ARCH_VAX") },
			[]string{"linux.seccomp.architectures[3]", "SCMP_ARCH_VAX"}},
		{"bad-operator", addRule(specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_LIKE"}}}),
			[]string{"linux.seccomp.syscalls[19].args[0].op", "SCMP_CMP_LIKE"}},
		{"missing-operator", addRule(specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 9}}}),
			[]string{"linux.seccomp.syscalls[19].args[0].op", "missing"}},
		{"arg-index-out-of-range", addRule(specs.LinuxSyscall{Names: []string{"kill"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}),
			[]string{"linux.seccomp.syscalls[19].args[0].index", "6"}},
		{"unknown-flag", func(p *specs.LinuxSeccomp) { p.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_BOGUS"} },
			[]string{"linux.seccomp.flags[0]", "SECCOMP_FILTER_FLAG_BOGUS"}},
		{"wait-killable-recv-without-notify", func(p *specs.LinuxSeccomp) {
			p.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}
		}, []string{"linux.seccomp.flags[0]", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
		{"errno-too-large", addRule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: errnoRet(4096)}),
			[]string{"linux.seccomp.syscalls[19].errnoRet", "4096"}},
		{"default-errno-too-large", func(p *specs.LinuxSeccomp) { p.DefaultErrnoRet = errnoRet(70000) },
			[]string{"linux.seccomp.defaultErrnoRet", "70000"}},
		{"errno-with-allow", addRule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActAllow, ErrnoRet: errnoRet(1)}),
			[]string{"linux.seccomp.syscalls[19].errnoRet"}},
		{"empty-names", addRule(specs.LinuxSyscall{Action: specs.ActAllow}),
			[]string{"linux.seccomp.syscalls[19].names"}},
		{"notify-default-action", func(p *specs.LinuxSeccomp) { p.DefaultAction, p.DefaultErrnoRet = specs.ActNotify, nil },
			[]string{"linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY"}},
		{"notify-without-listener", notifyMkdir(""),
			[]string{"linux.seccomp.listenerPath"}},
		{"notify-write", func(p *specs.LinuxSeccomp) {
			p.ListenerPath = "/run/agent.sock"
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"getpid", "write"}, Action: specs.ActNotify})
		}, []string{"linux.seccomp.syscalls[19].names[1]", "write"}},
		{"metadata-without-listener", func(p *specs.LinuxSeccomp) { p.ListenerMetadata = "x" },
			[]string{"linux.seccomp.listenerMetadata"}},
		{"listener-path-too-long", notifyMkdir("/" + strings.Repeat("a", 120)),
			[]string{"linux.seccomp.listenerPath", "121 bytes"}},
		// Found only once init has loaded the filter: hull must undo the whole create.
		{"listener-not-listening", notifyMkdir("/nonexistent-hull-agent.sock"),
			[]string{"linux.seccomp.listenerPath", "/nonexistent-hull-agent.sock"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := dockerProfile(t)
			if len(p.Syscalls) != 19 || len(p.Architectures) != 3 {
				t.Fatalf("%s changed: the indexes in the wanted fields assume 19 rules and 3 architectures", dockerProfilePath)
			}
			tc.mutate(p)
			r := h.create(seccompSpec(p, "sleep", "60"))
			t.Logf("stderr: %s", strings.TrimSpace(r.stderr))
			if r.exit == 0 {
				t.Errorf("create succeeded, want a failure: %s", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q: %s", w, r)
				}
			}
			h.assertNothingLeft(true)
		})
	}
}

// TestSeccompUnknownSyscall: a name libseccomp does not know is skipped with a
// warning naming it, as with runc, and the rest of the profile applies.
func TestSeccompUnknownSyscall(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	h := newHarness(t)
	p := allowAll(specs.LinuxSyscall{Names: []string{"mkdir", "no_such_syscall_hull", "mkdirat"},
		Action: specs.ActErrno, ErrnoRet: errnoRet(uint(unix.EXDEV))})
	r := h.run(seccompSpec(p, shell(`out=$(mkdir /tmp/d 2>&1); echo "mkdir rc=$? ${out##*: }"`)...))
	mustExit(t, r, 0)
	if want := "mkdir rc=1 Invalid cross-device link\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	for _, w := range []string{"no_such_syscall_hull", "linux.seccomp.syscalls[0].names[1]"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("no warning mentioning %q: %s", w, r)
		}
	}
}

// TestSeccompDeniesRuntimeSyscalls: a profile that denies what a runtime might call
// after loading it (close_range, which allow-lists written before 2020 lack; getcwd,
// which runtime-tools' own test profile denies) must not break the container: hull
// marks fds close-on-exec and checks the cwd before the filter, and with
// no_new_privs loads it as the last step before execve, in init and in exec.
func TestSeccompDeniesRuntimeSyscalls(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	eperm := errnoRet(uint(unix.EPERM))
	profile := allowAll(specs.LinuxSyscall{Names: []string{"close_range", "getcwd"}, Action: specs.ActErrno, ErrnoRet: eperm})
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("nnp=%v", nnp), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := seccompSpec(profile, "sh", "-c", "echo ran; sleep 1001")
			s.Process.NoNewPrivileges = nnp
			s.Process.Cwd = "/tmp"
			h.startContainer(s)
			r := h.do("exec", h.id, "sh", "-c", "echo exec ran")
			mustExit(t, r, 0)
			if r.stdout != "exec ran\n" {
				t.Errorf("exec stdout %q, stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

// TestSeccompWithAddressSpaceLimit: with RLIMIT_AS well below what a Go runtime reserves
// and a seccomp profile, create works: the filter is compiled before the limit is set
// and loaded as plain BPF, with nothing to allocate.
func TestSeccompWithAddressSpaceLimit(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	for _, nnp := range []bool{true, false} {
		t.Run(fmt.Sprintf("nnp=%v", nnp), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := seccompSpec(dockerDenyingMkdir(t), "sh", "-c", "grep 'Max address space' /proc/self/limits; sleep 1001")
			s.Process.NoNewPrivileges = nnp
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: 1 << 30, Hard: 1 << 30})
			st := h.startContainer(s)
			if l := readFile(fmt.Sprintf("/proc/%d/limits", st.Pid)); !strings.Contains(l, "Max address space         1073741824") {
				t.Errorf("the container's limits: %q", l)
			}
			// exec's helper applies the same limit before it plans the process.
			r := h.do("exec", h.id, "sh", "-c", "grep 'Max address space' /proc/self/limits")
			mustExit(t, r, 0)
			if !strings.Contains(r.stdout, "1073741824") {
				t.Errorf("exec limits: %q, stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

// mkdirScript tries a mkdir and prints how it went: "mkdir rc=1 Invalid
// cross-device link" under dockerDenyingMkdir.
const mkdirScript = `out=$(mkdir /tmp/d 2>&1); echo "mkdir rc=$? ${out##*: }"`

const mkdirDenied = "mkdir rc=1 Invalid cross-device link\n"

// cacheFiles lists the entries of the state root's seccomp cache, checking the
// directory is root's alone and each entry a 0600 file.
func cacheFiles(t *testing.T, root string) []string {
	t.Helper()
	dir := filepath.Join(root, seccompCacheDir)
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		t.Fatalf("seccomp cache: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o7777 != 0o700 || st.Uid != 0 {
		t.Errorf("seccomp cache %s: mode %#o, uid %d; want a directory, 0700, root's", dir, st.Mode, st.Uid)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if err := unix.Lstat(filepath.Join(dir, e.Name()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o7777 != 0o600 {
			t.Errorf("cache entry %s: mode %#o, %v; want a 0600 file", e.Name(), st.Mode, err)
		}
	}
	return names
}

// TestSeccompCache: create compiles a profile once and keeps it under --root; the
// next container with that profile reads it; a damaged entry is compiled again and
// replaced, and the container still gets its filter (asserted from inside: mkdir is
// denied); another profile is another entry; list, state and delete never take the
// cache for a container.
func TestSeccompCache(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	h := newHarness(t)
	listTable, listJSON := h.do("list"), h.do("list", "--format", "json")
	mustExit(t, listTable, 0)
	mustExit(t, listJSON, 0)

	// runOne runs the profile in a new container of the same root and returns
	// create's debug log.
	runOne := func(what string, p *specs.LinuxSeccomp) string {
		t.Helper()
		c := h.sibling(t)
		c.writeSpec(seccompSpec(p, shell(mkdirScript)...))
		r := c.do("--debug", "run", "--bundle", c.bundle, c.id)
		mustExit(t, r, 0)
		if r.stdout != mkdirDenied {
			t.Errorf("%s: stdout %q, want %q", what, r.stdout, mkdirDenied)
		}
		return r.stderr
	}

	profile := dockerDenyingMkdir(t)
	if log := runOne("first", profile); !strings.Contains(log, "seccomp: filter compiled") || !strings.Contains(log, "not in the cache") {
		t.Errorf("first container: no compile logged: %s", log)
	}
	entries := cacheFiles(t, h.root)
	if len(entries) != 1 {
		t.Fatalf("cache after one profile: %q", entries)
	}
	entry := filepath.Join(h.root, seccompCacheDir, entries[0])
	if log := runOne("second", profile); !strings.Contains(log, "seccomp: filter "+entries[0][:12]+" from the cache") {
		t.Errorf("second container: the cache was not used: %s", log)
	}

	for _, damage := range []struct {
		name string
		f    func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/3] }},
		{"garbled", func(b []byte) []byte {
			// An instruction's byte, deep in the base64 of the program.
			b[len(b)/2] ^= 0x04
			return b
		}},
		{"empty", func([]byte) []byte { return nil }},
	} {
		data, err := os.ReadFile(entry)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(entry, damage.f(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if log := runOne(damage.name, profile); !strings.Contains(log, "seccomp: filter compiled") || !strings.Contains(log, "cache entry "+entries[0]) {
			t.Errorf("%s entry: not compiled again: %s", damage.name, log)
		}
		if log := runOne(damage.name+" replaced", profile); !strings.Contains(log, "from the cache") {
			t.Errorf("%s entry: not replaced: %s", damage.name, log)
		}
	}

	other := allowAll(mkdirRule(specs.ActErrno, errnoRet(uint(unix.EXDEV))))
	runOne("other profile", other)
	if got := cacheFiles(t, h.root); len(got) != 2 {
		t.Errorf("cache after two profiles: %q", got)
	}

	// Only the cache is left in the root: list prints what it printed for an
	// empty root.
	if r := h.do("list"); r.stdout != listTable.stdout || r.exit != 0 {
		t.Errorf("list with the cache:\n%s\nwithout:\n%s", r, listTable)
	}
	if r := h.do("list", "--format", "json"); r.stdout != listJSON.stdout || r.exit != 0 {
		t.Errorf("list --format json with the cache: %s, without: %s", r, listJSON)
	}
	if r := h.do("list", "-q"); r.stdout != "" {
		t.Errorf("list -q: %q", r.stdout)
	}
	for _, cmd := range [][]string{{"state"}, {"delete"}, {"delete", "--force"}, {"kill"}} {
		if r := h.do(append(cmd, seccompCacheDir)...); r.exit == 0 {
			t.Errorf("%s %s succeeded: %s", cmd, seccompCacheDir, r)
		}
	}
	if got := cacheFiles(t, h.root); len(got) != 2 {
		t.Errorf("cache after state/delete/kill of its name: %q", got)
	}
	// With a container, list shows it alone.
	c := h.sibling(t)
	mustExit(t, c.create(seccompSpec(profile, "sleep", "1001")), 0)
	if r := h.do("list", "-q"); r.stdout != c.id+"\n" {
		t.Errorf("list -q with one container: %q, want %q", r.stdout, c.id+"\n")
	}
	var states []map[string]any
	if r := h.do("list", "--format", "json"); json.Unmarshal([]byte(r.stdout), &states) != nil || len(states) != 1 || states[0]["id"] != c.id {
		t.Errorf("list --format json with one container: %s", r)
	}
	mustExit(t, h.do("delete", "--force", c.id), 0)
	if got := cacheFiles(t, h.root); len(got) != 2 {
		t.Errorf("cache after delete of a container: %q", got)
	}
}

// TestSeccompExecStoredFilter: exec gives its helper the filter create stored in the
// container's state dir (0600), compiling nothing and never touching the cache; a
// damaged stored filter is compiled again from the recorded config, with a warning.
func TestSeccompExecStoredFilter(t *testing.T) {
	t.Parallel()
	requireAMD64(t)
	h := newHarness(t)
	st := h.startContainer(seccompSpec(dockerDenyingMkdir(t), "sleep", "1001"))
	stored := filepath.Join(h.root, h.id, "seccomp.bpf")
	var fst unix.Stat_t
	if err := unix.Lstat(stored, &fst); err != nil || fst.Mode&0o7777 != 0o600 || fst.Uid != 0 {
		t.Fatalf("stored filter %s: mode %#o uid %d, %v; want root's 0600", stored, fst.Mode, fst.Uid, err)
	}
	if err := os.RemoveAll(filepath.Join(h.root, seccompCacheDir)); err != nil {
		t.Fatal(err)
	}
	checkExec := func(what string) string {
		t.Helper()
		r := h.do("--debug", "exec", h.id, "sh", "-c", statusScript+"\n"+mkdirScript)
		mustExit(t, r, 0)
		checkSeccompStatus(t, what, r.stdout, "1", "2", "1")
		if !strings.HasSuffix(r.stdout, mkdirDenied) {
			t.Errorf("%s: stdout %q, want it to end with %q", what, r.stdout, mkdirDenied)
		}
		if exists(filepath.Join(h.root, seccompCacheDir)) {
			t.Errorf("%s: exec made the seccomp cache", what)
		}
		return r.stderr
	}
	if log := checkExec("exec"); !strings.Contains(log, "seccomp: the filter create stored") || strings.Contains(log, "compiled") {
		t.Errorf("exec did not use the stored filter: %s", log)
	}
	data, err := os.ReadFile(stored)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x04
	if err := os.WriteFile(stored, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if log := checkExec("exec with a damaged stored filter"); !strings.Contains(log, "level=warning") || !strings.Contains(log, "compiling linux.seccomp again") {
		t.Errorf("no warning about the damaged filter: %s", log)
	}
	checkSeccompStatus(t, "init", readFile(fmt.Sprintf("/proc/%d/status", st.Pid)), "1", "2", "1")
}
