//go:build linux

package tests

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

var capNumbers = map[string]int{
	"CAP_CHOWN": unix.CAP_CHOWN, "CAP_DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
	"CAP_DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "CAP_FOWNER": unix.CAP_FOWNER,
	"CAP_FSETID": unix.CAP_FSETID, "CAP_KILL": unix.CAP_KILL, "CAP_SETGID": unix.CAP_SETGID,
	"CAP_SETUID": unix.CAP_SETUID, "CAP_SETPCAP": unix.CAP_SETPCAP,
	"CAP_LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"CAP_NET_BROADCAST": unix.CAP_NET_BROADCAST, "CAP_NET_ADMIN": unix.CAP_NET_ADMIN,
	"CAP_NET_RAW": unix.CAP_NET_RAW, "CAP_IPC_LOCK": unix.CAP_IPC_LOCK, "CAP_IPC_OWNER": unix.CAP_IPC_OWNER,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE, "CAP_SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"CAP_SYS_CHROOT": unix.CAP_SYS_CHROOT, "CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_SYS_PACCT": unix.CAP_SYS_PACCT, "CAP_SYS_ADMIN": unix.CAP_SYS_ADMIN,
	"CAP_SYS_BOOT": unix.CAP_SYS_BOOT, "CAP_SYS_NICE": unix.CAP_SYS_NICE,
	"CAP_SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "CAP_SYS_TIME": unix.CAP_SYS_TIME,
	"CAP_SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "CAP_MKNOD": unix.CAP_MKNOD, "CAP_LEASE": unix.CAP_LEASE,
	"CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE, "CAP_AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL,
	"CAP_SETFCAP": unix.CAP_SETFCAP, "CAP_MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"CAP_MAC_ADMIN": unix.CAP_MAC_ADMIN, "CAP_SYSLOG": unix.CAP_SYSLOG, "CAP_WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"CAP_BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "CAP_AUDIT_READ": unix.CAP_AUDIT_READ,
	"CAP_PERFMON": unix.CAP_PERFMON, "CAP_BPF": unix.CAP_BPF, "CAP_CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// capMask is the /proc/PID/status bit mask of the named capabilities.
func capMask(t *testing.T, names []string) uint64 {
	t.Helper()
	var m uint64
	for _, n := range names {
		bit, ok := capNumbers[n]
		if !ok {
			t.Fatalf("unknown capability %s in the test table", n)
		}
		m |= 1 << uint(bit)
	}
	return m
}

// TestCapabilities compares the five capability sets in /proc/self/status
// with the configured ones. The sets are chosen so the kernel's execve rules
// keep them as configured: for root, permitted and effective equal bounding;
// for a non-root user, only ambient capabilities survive execve, so
// effective = permitted = inheritable = ambient.
func TestCapabilities(t *testing.T) {
	t.Parallel()
	type capSets struct{ bnd, eff, prm, inh, amb []string }
	tests := []struct {
		name string
		user specs.User
		caps capSets
		want capSets
	}{
		{
			// runc's default: ambient without inheritable cannot be raised, so
			// the kernel leaves the ambient set empty.
			name: "runc-default",
			caps: capSets{
				bnd: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				eff: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				prm: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				amb: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			},
			want: capSets{
				bnd: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				eff: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				prm: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			},
		},
		{
			name: "root-inheritable-ambient",
			caps: capSets{
				bnd: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN", "CAP_NET_RAW"},
				eff: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN", "CAP_NET_RAW"},
				prm: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN", "CAP_NET_RAW"},
				inh: []string{"CAP_KILL", "CAP_CHOWN"},
				amb: []string{"CAP_KILL"},
			},
		},
		{
			name: "user-1000-ambient",
			user: specs.User{UID: 1000, GID: 1000},
			caps: capSets{
				bnd: []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"},
				eff: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				prm: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				inh: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
				amb: []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
			},
		},
		{
			name: "root-none",
			caps: capSets{bnd: []string{}, eff: []string{}, prm: []string{}, inh: []string{}, amb: []string{}},
		},
		{
			name: "root-all-but-sys-resource",
			caps: func() capSets {
				var all []string
				for n := range capNumbers {
					if n != "CAP_SYS_RESOURCE" { // this host's root lacks it
						all = append(all, n)
					}
				}
				return capSets{bnd: all, eff: all, prm: all}
			}(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := baseSpec("cat", "/proc/self/status")
			s.Process.User = tc.user
			s.Process.Capabilities = &specs.LinuxCapabilities{
				Bounding: tc.caps.bnd, Effective: tc.caps.eff, Permitted: tc.caps.prm,
				Inheritable: tc.caps.inh, Ambient: tc.caps.amb,
			}
			r := h.run(s)
			mustExit(t, r, 0)
			st := procStatus(r.stdout)
			want := tc.want
			if want.bnd == nil && want.eff == nil && want.prm == nil {
				want = tc.caps
			}
			for _, set := range []struct {
				key  string
				want []string
			}{
				{"CapBnd", want.bnd}, {"CapEff", want.eff}, {"CapPrm", want.prm},
				{"CapInh", want.inh}, {"CapAmb", want.amb},
			} {
				if got, w := hulltest.StatusHex(t, st, set.key), capMask(t, set.want); got != w {
					t.Errorf("%s = %016x, want %016x (%v)", set.key, got, w, set.want)
				}
			}
		})
	}
}

var limitLine = regexp.MustCompile(`^(Max [a-zA-Z ]+?)\s{2,}(\S+)\s+(\S+)`)

// TestRlimits reads /proc/self/limits for configured soft and hard limits.
func TestRlimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		typ, row   string
		soft, hard uint64
	}{
		{"RLIMIT_NOFILE", "Max open files", 1000, 2000},
		{"RLIMIT_CORE", "Max core file size", 1024, 4096},
		{"RLIMIT_NPROC", "Max processes", 500, 600},
		{"RLIMIT_MSGQUEUE", "Max msgqueue size", 4096, 8192},
		{"RLIMIT_STACK", "Max stack size", 4 << 20, 8 << 20},
	}
	s := baseSpec("cat", "/proc/self/limits")
	s.Process.Rlimits = nil
	for _, tc := range tests {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: tc.typ, Soft: tc.soft, Hard: tc.hard})
	}
	r := h.run(s)
	mustExit(t, r, 0)
	rows := map[string][2]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if m := limitLine.FindStringSubmatch(line); m != nil {
			rows[m[1]] = [2]string{m[2], m[3]}
		}
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			got, ok := rows[tc.row]
			if !ok {
				t.Fatalf("no %q row in /proc/self/limits:\n%s", tc.row, r.stdout)
			}
			want := [2]string{strconv.FormatUint(tc.soft, 10), strconv.FormatUint(tc.hard, 10)}
			if got != want {
				t.Errorf("%s: soft/hard %v, want %v", tc.typ, got, want)
			}
		})
	}
}

func TestUserAndProcessAttributes(t *testing.T) {
	t.Parallel()
	umask := func(v uint32) *uint32 { return &v }
	oom := func(v int) *int { return &v }
	ownOOM := strings.TrimSpace(readFile("/proc/self/oom_score_adj"))
	statusField := func(key, want string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			if got := procStatus(out)[key]; got != want {
				t.Errorf("%s: %q, want %q", key, got, want)
			}
		}
	}
	idStatus := "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status"
	userCheck := func(idOut, uid, gid, groups string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			first, rest, _ := strings.Cut(out, "\n")
			if !strings.HasPrefix(first, idOut) {
				t.Errorf("id: %q, want it to start with %q", first, idOut)
			}
			st := procStatus(rest)
			for _, f := range []struct{ key, want string }{
				{"Uid", strings.Repeat(uid+"\t", 3) + uid},
				{"Gid", strings.Repeat(gid+"\t", 3) + gid},
				{"Groups", groups},
			} {
				if got := st[f.key]; got != f.want {
					t.Errorf("%s: %q, want %q", f.key, got, f.want)
				}
			}
		}
	}
	runCases(t, []runCase{
		{name: "user-root", args: shell(idStatus),
			check: userCheck("uid=0(root) gid=0(root)", "0", "0", "")},
		{name: "user-1000-groups", args: shell(idStatus),
			mutate: func(s *specs.Spec, _ *harness) {
				s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{65534, 10}}
			},
			check: userCheck("uid=1000(hull) gid=1000(hull)", "1000", "1000", "10 65534")},
		{name: "user-nobody", args: shell(idStatus),
			mutate: func(s *specs.Spec, _ *harness) { s.Process.User = specs.User{UID: 65534, GID: 65534} },
			check:  userCheck("uid=65534(nobody) gid=65534(nogroup)", "65534", "65534", "")},
		{name: "user-uid-without-passwd-entry", args: shell(idStatus),
			mutate: func(s *specs.Spec, _ *harness) { s.Process.User = specs.User{UID: 4242, GID: 4343} },
			check:  userCheck("uid=4242 gid=4343", "4242", "4343", "")},
		{name: "umask-default", args: shell("umask"), want: "0022\n"},
		{name: "umask-077", args: shell("umask"), want: "0077\n",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.User.Umask = umask(0o077) }},
		{name: "umask-0", args: shell("umask"), want: "0000\n",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.User.Umask = umask(0) }},
		{name: "no-new-privs-on", args: []string{"cat", "/proc/self/status"},
			mutate: func(s *specs.Spec, _ *harness) { s.Process.NoNewPrivileges = true },
			check:  statusField("NoNewPrivs", "1")},
		{name: "no-new-privs-off", args: []string{"cat", "/proc/self/status"},
			mutate: func(s *specs.Spec, _ *harness) { s.Process.NoNewPrivileges = false },
			check:  statusField("NoNewPrivs", "0")},
		{name: "oom-score-adj-500", args: []string{"cat", "/proc/self/oom_score_adj"}, want: "500\n",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.OOMScoreAdj = oom(500) }},
		{name: "oom-score-adj-1000", args: []string{"cat", "/proc/self/oom_score_adj"}, want: "1000\n",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.OOMScoreAdj = oom(1000) }},
		{name: "oom-score-adj-unset-inherits", args: []string{"cat", "/proc/self/oom_score_adj"},
			want: ownOOM + "\n"},
		{name: "non-root-cannot-read-root-files", args: shell("cat /root/.x 2>&1; ls /root 2>&1 >/dev/null; echo rc=$?"),
			mutate: func(s *specs.Spec, _ *harness) { s.Process.User = specs.User{UID: 1000, GID: 1000} },
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "Permission denied") || strings.Contains(out, "rc=0") {
					t.Errorf("uid 1000 read /root (mode 0700): %q", out)
				}
			}},
	})
}
