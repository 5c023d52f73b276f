//go:build linux

package tests

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// chkFinding is one element of `hull check --format json`.
type chkFinding struct {
	Field    string `json:"field"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// line is the finding as the text format prints it.
func (f chkFinding) line() string {
	s := f.Severity + ": "
	if f.Field != "" {
		s += f.Field + ": "
	}
	s += f.Message
	if f.Fix != "" {
		s += "; " + f.Fix
	}
	return s
}

// chkCleanSpec is a bundle check finds nothing in.
func chkCleanSpec() *specs.Spec {
	return baseSpec("sh", "-c", "true")
}

// chkMaxLine bounds every line check prints and every error create fails
// with: a few values, cut, and the text around them.
const chkMaxLine = 4096

// chkRun runs `hull check` on the bundle in both formats, checks that they
// agree and that the JSON parses, and returns the findings and exit status.
func chkRun(t *testing.T, h *harness) ([]chkFinding, int) {
	t.Helper()
	text := h.do("check", "--bundle", h.bundle)
	js := h.do("check", "--bundle", h.bundle, "--format", "json")
	if text.exit != js.exit {
		t.Errorf("text and json exit statuses differ: %s\n%s", text, js)
	}
	if text.stderr != "" || js.stderr != "" {
		t.Errorf("check wrote to stderr: %q %q", text.stderr, js.stderr)
	}
	var fs []chkFinding
	if err := json.Unmarshal([]byte(js.stdout), &fs); err != nil {
		t.Fatalf("check --format json: not a JSON array of findings: %v\n%s", err, js.stdout)
	}
	if fs == nil {
		t.Fatalf("check --format json printed %q, want an array ([] when clean)", js.stdout)
	}
	var lines []string
	for _, f := range fs {
		lines = append(lines, f.line())
		if n := len(f.line()); n > chkMaxLine {
			t.Errorf("finding of %d bytes, want at most %d: %.300s...", n, chkMaxLine, f.line())
		}
		if f.Severity != "error" && f.Severity != "warning" {
			t.Errorf("finding with severity %q: %+v", f.Severity, f)
		}
		if f.Message == "" || f.Fix == "" {
			t.Errorf("finding without message or fix: %+v", f)
		}
	}
	want := strings.Join(lines, "\n")
	if want != "" {
		want += "\n"
	}
	if text.stdout != want {
		t.Errorf("text output does not match the JSON findings\ntext: %q\njson: %q", text.stdout, want)
	}
	return fs, text.exit
}

// chkSnapshot lists every path of the bundle and host-side traces of a
// container, to show that check created nothing.
func chkSnapshot(t *testing.T, h *harness) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(h.bundle, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	entries, _ := os.ReadDir(h.root)
	for _, e := range entries {
		out = append(out, "state:"+e.Name())
	}
	for _, m := range mountsUnder(h.bundle) {
		out = append(out, "mount:"+m)
	}
	if dir := h.cgroupDir(); dir != "" {
		if _, err := os.Stat(dir); err == nil {
			out = append(out, "cgroup:"+dir)
		}
	}
	return out
}

// chkLogMsg extracts the error of a failed hull command from its stderr:
// the msg of its logfmt error line, or the plain line.
func chkLogMsg(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, `level=error msg=`); i >= 0 {
			if s, err := strconv.Unquote(l[i+len(`level=error msg=`):]); err == nil {
				return s
			}
		}
	}
	return strings.TrimSpace(stderr)
}

// chkHostCaps returns the capability sets of this process (the test runs
// hull with the same ones).
func chkHostCaps(t *testing.T) (bnd, eff uint64) {
	st := procStatus(readFile("/proc/self/status"))
	bnd, err1 := strconv.ParseUint(st["CapBnd"], 16, 64)
	eff, err2 := strconv.ParseUint(st["CapEff"], 16, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("cannot read own capabilities: %v %v", err1, err2)
	}
	return bnd, eff
}

var chkCapNames = map[int]string{
	unix.CAP_SYS_RESOURCE: "CAP_SYS_RESOURCE", unix.CAP_SYS_ADMIN: "CAP_SYS_ADMIN",
	unix.CAP_SYS_TIME: "CAP_SYS_TIME", unix.CAP_SYS_MODULE: "CAP_SYS_MODULE",
	unix.CAP_MAC_ADMIN: "CAP_MAC_ADMIN", unix.CAP_SYS_BOOT: "CAP_SYS_BOOT",
	unix.CAP_BPF: "CAP_BPF", unix.CAP_PERFMON: "CAP_PERFMON",
}

// chkMissingCap names a capability outside this process's bounding set, or
// "" if it has all of chkCapNames.
func chkMissingCap(t *testing.T) string {
	bnd, _ := chkHostCaps(t)
	nums := make([]int, 0, len(chkCapNames))
	for n := range chkCapNames {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	for _, n := range nums {
		if bnd&(1<<uint(n)) == 0 {
			return chkCapNames[n]
		}
	}
	return ""
}

func chkHasSysResource(t *testing.T) bool {
	_, eff := chkHostCaps(t)
	return eff&(1<<unix.CAP_SYS_RESOURCE) != 0
}

// chkWriteFile writes a small shell script at path with mode.
func chkWriteFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func chkSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// chkCase is a bundle with one thing wrong and the finding check must give.
type chkCase struct {
	name string
	// mutate breaks chkCleanSpec or the bundle; with raw it writes
	// config.json itself.
	mutate func(t *testing.T, s *specs.Spec, h *harness)
	raw    bool
	// skip returns why the case does not apply to this host, or "".
	skip func(t *testing.T) string

	field, severity, msg string // msg is a substring of the message
	// also lists the fields of the other findings the bundle must give;
	// any finding not expected fails the case.
	also []string
}

func chkCases() []chkCase {
	intp := func(v int) *int { return &v }
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	addNS := func(s *specs.Spec, ns specs.LinuxNamespace) { s.Linux.Namespaces = append(s.Linux.Namespaces, ns) }
	joinNet := func(path string) func(*testing.T, *specs.Spec, *harness) {
		return func(_ *testing.T, s *specs.Spec, _ *harness) {
			removeNamespace(s, specs.NetworkNamespace)
			addNS(s, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
		}
	}
	userns := func(s *specs.Spec, uids, gids []specs.LinuxIDMapping) {
		addNS(s, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings, s.Linux.GIDMappings = uids, gids
	}
	full := []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
	notifySpec := func(listener string) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			ListenerPath:  listener,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}},
		}
	}

	return []chkCase{
		// What config.ValidateAll finds.
		{name: "unknown-namespace",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { addNS(s, specs.LinuxNamespace{Type: "foo"}) },
			field:  "linux.namespaces[5].type", severity: "error", msg: `unknown namespace type "foo"`},
		{name: "duplicate-namespace",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				addNS(s, specs.LinuxNamespace{Type: specs.PIDNamespace})
			},
			field: "linux.namespaces[5].type", severity: "error", msg: `duplicate namespace type "pid"`},
		{name: "no-mount-namespace",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				removeNamespace(s, specs.MountNamespace)
				s.Root.Readonly = false
				s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			},
			field: "mounts", severity: "error", msg: "without a mount namespace of the container's it would be mounted in the host's mount table"},
		{name: "bad-oci-version",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Version = "2.0.0" },
			field:  "ociVersion", severity: "error", msg: "version 2.0.0 is not supported"},
		{name: "newer-oci-minor",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Version = "1.4.0" },
			field:  "ociVersion", severity: "warning", msg: "newer than runtime-spec 1.3"},
		{name: "missing-rootfs",
			mutate: func(_ *testing.T, _ *specs.Spec, h *harness) { os.RemoveAll(h.rootfs) },
			field:  "root.path", severity: "error", msg: "does not exist"},
		{name: "unknown-capability",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NOPE")
			},
			field: "process.capabilities.bounding[3]", severity: "warning", msg: `unknown capability "CAP_NOPE"`},
		{name: "unknown-capability-lowercase",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "net_admin")
			},
			field: "process.capabilities.effective[3]", severity: "warning", msg: `unknown capability "net_admin"`},
		{name: "unknown-rlimit",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1})
			},
			field: "process.rlimits[1].type", severity: "error", msg: `unknown rlimit "RLIMIT_BOGUS"`},
		{name: "rlimit-soft-above-hard",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2048, Hard: 1024}}
			},
			field: "process.rlimits[0].soft", severity: "error", msg: "soft limit 2048 is above hard limit 1024"},
		{name: "relative-cwd",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Cwd = "tmp" },
			field:  "process.cwd", severity: "error", msg: `"tmp" is not absolute`},
		{name: "oom-score-adj-out-of-range",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.OOMScoreAdj = intp(2000) },
			field:  "process.oomScoreAdj", severity: "error", msg: "2000 is out of range"},
		{name: "apparmor-profile-host-off",
			mutate: func(t *testing.T, s *specs.Spec, _ *harness) {
				requireNoAppArmor(t)
				s.Process.ApparmorProfile = "docker-default"
			},
			field: "process.apparmorProfile", severity: "error", msg: "AppArmor is not enabled on this host"},
		{name: "apparmor-profile-newline",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.ApparmorProfile = "a\nb" },
			field:  "process.apparmorProfile", severity: "error", msg: "contains a NUL byte or a newline"},
		{name: "selinux-label-host-off",
			mutate: func(t *testing.T, s *specs.Spec, _ *harness) {
				requireNoSELinux(t)
				s.Process.SelinuxLabel = "system_u:system_r:container_t:s0"
			},
			field: "process.selinuxLabel", severity: "error", msg: "SELinux is not enabled on this host"},
		{name: "mount-label-host-off",
			mutate: func(t *testing.T, s *specs.Spec, _ *harness) {
				requireNoSELinux(t)
				s.Linux.MountLabel = "system_u:object_r:container_file_t:s0"
			},
			field: "linux.mountLabel", severity: "error", msg: "SELinux is not enabled on this host"},
		{name: "mount-label-quote",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Linux.MountLabel = `x",size=1` },
			field:  "linux.mountLabel", severity: "error", msg: "contains a quote"},
		{name: "hostname-without-uts",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { removeNamespace(s, specs.UTSNamespace) },
			field:  "hostname", severity: "error", msg: "needs a new uts namespace"},
		{name: "hostname-joining-host-uts",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				removeNamespace(s, specs.UTSNamespace)
				addNS(s, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/self/ns/uts"})
			},
			field: "hostname", severity: "error", msg: "joins the host's"},
		{name: "hostname-and-sysctl",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Sysctl = map[string]string{"kernel.hostname": "other"}
			},
			field: `linux.sysctl."kernel.hostname"`, severity: "error", msg: `conflicts with "hostname"`},
		{name: "domainname-and-sysctl",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Domainname = "example.org"
				s.Linux.Sysctl = map[string]string{"kernel/domainname": "other.org"}
			},
			field: `linux.sysctl."kernel/domainname"`, severity: "error", msg: `conflicts with "domainname"`},
		{name: "relative-mount-destination",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs"})
			},
			field: "mounts[6].destination", severity: "error", msg: `"mnt/rel" is not absolute`},
		{name: "overlapping-uid-mappings",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				userns(s, []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536), idMap(1000, 300000, 10)}, full)
			},
			field: "linux.uidMappings[1].containerID", severity: "error", msg: "overlap"},
		{name: "non-namespaced-sysctl",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} },
			field:  `linux.sysctl."kernel.panic"`, severity: "error", msg: "not a namespaced sysctl"},
		{name: "additional-gids-above-ngroups-max",
			// Without the check this failed only in init, with every id in the error.
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.User.AdditionalGids = make([]uint32, 100000)
				for i := range s.Process.User.AdditionalGids {
					s.Process.User.AdditionalGids[i] = uint32(i)
				}
			},
			field: "process.user.additionalGids", severity: "error", msg: "100000 groups, the kernel accepts at most 65536"},
		{name: "bad-device-type",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/weird", Type: "z", Major: 1, Minor: 3}}
			},
			field: "linux.devices[0].type", severity: "error", msg: `unknown device type "z"`},

		// Huge values (a config may be 16 MiB) are cut: chkRun bounds every
		// finding, TestCheckAgreesWithCreate create's error line.
		{name: "huge-env-entry",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Env[0] = strings.Repeat("x", 1<<20) },
			field:  "process.env[0]", severity: "error", msg: "is not of the form NAME=value"},
		{name: "huge-path-env",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Args = []string{"no-such-binary"}
				s.Process.Env = []string{"PATH=" + strings.Repeat("/nowhere:", 1<<12)}
			},
			field: "process.args[0]", severity: "error", msg: `exec: "no-such-binary": executable file not found in $PATH`},

		// process.cwd and process.args[0] in the rootfs.
		{name: "cwd-missing",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Cwd = "/no/such/dir" },
			field:  "process.cwd", severity: "error", msg: "/no/such/dir does not exist in the container's root filesystem"},
		{name: "cwd-not-a-directory",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Cwd = "/etc/passwd" },
			field:  "process.cwd", severity: "error", msg: "/etc/passwd is not a directory"},
		{name: "cwd-symlink-to-host-only-dir",
			// /usr/share exists on the host, not in the rootfs: the rootfs's
			// symlink must be followed inside the rootfs.
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				chkSymlink(t, "/usr/share", filepath.Join(h.rootfs, "hostshare"))
				s.Process.Cwd = "/hostshare"
			},
			field: "process.cwd", severity: "error", msg: "/hostshare does not exist in the container's root filesystem"},
		{name: "program-not-in-path",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Args = []string{"no-such-binary"} },
			field:  "process.args[0]", severity: "error", msg: `exec: "no-such-binary": executable file not found in $PATH`},
		{name: "program-path-missing",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Args = []string{"/opt/app/run"} },
			field:  "process.args[0]", severity: "error", msg: `exec: "/opt/app/run": stat /opt/app/run: no such file or directory`},
		{name: "program-not-executable",
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				chkWriteFile(t, filepath.Join(h.rootfs, "bin", "script"), 0o644)
				s.Process.Args = []string{"/bin/script"}
			},
			field: "process.args[0]", severity: "error", msg: `exec: "/bin/script": permission denied (it has no execute permission`},
		{name: "program-symlink-to-host-only-file",
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				self, err := os.Executable() // exists on the host
				if err != nil {
					t.Fatal(err)
				}
				chkSymlink(t, self, filepath.Join(h.rootfs, "bin", "hostprog"))
				s.Process.Args = []string{"hostprog"}
			},
			field: "process.args[0]", severity: "error", msg: `exec: "hostprog": executable file not found in $PATH`},
		{name: "program-not-in-env-path",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Env = []string{"PATH=/usr/local/bin:/nothing"}
			},
			field: "process.args[0]", severity: "error", msg: `exec: "sh": executable file not found in $PATH (PATH /usr/local/bin:/nothing`},

		// Hooks.
		{name: "prestart-hook-missing",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) {
				s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: filepath.Join(h.outDir, "no-such-hook")}}}
			},
			field: "hooks.prestart[0].path", severity: "error", msg: "no-such-hook does not exist on the host"},
		{name: "create-runtime-hook-not-executable",
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				p := filepath.Join(h.outDir, "hook.sh")
				chkWriteFile(t, p, 0o644)
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: p}}}
			},
			field: "hooks.createRuntime[0].path", severity: "error", msg: "hook.sh is not executable on the host"},
		{name: "start-container-hook-only-on-host",
			// startContainer hooks run after pivot_root: a host path is not enough.
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				p := filepath.Join(h.outDir, "hook.sh")
				chkWriteFile(t, p, 0o755)
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: p}}}
			},
			field: "hooks.startContainer[0].path", severity: "error", msg: "does not exist in the container's root filesystem"},
		{name: "poststop-hook-missing",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) {
				s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: filepath.Join(h.outDir, "no-such-hook")}}}
			},
			field: "hooks.poststop[0].path", severity: "warning", msg: "does not exist on the host: the hook would fail, which is only logged"},

		// Seccomp.
		{name: "seccomp-unknown-action",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}
			},
			field: "linux.seccomp.defaultAction", severity: "error", msg: `unknown action "SCMP_ACT_NOPE"`},
		{name: "seccomp-unknown-syscall",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_syscall"}, Action: specs.ActErrno}}}
			},
			field: "linux.seccomp.syscalls[0].names[0]", severity: "warning", msg: `unknown syscall "no_such_syscall"`},
		{name: "seccomp-listener-missing",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) {
				s.Linux.Seccomp = notifySpec(filepath.Join(h.outDir, "agent.sock"))
			},
			field: "linux.seccomp.listenerPath", severity: "error", msg: "agent.sock does not exist: no seccomp agent listens there"},

		// Resources and cgroups.
		{name: "memory-swap-below-limit",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(32 << 20)}}
			},
			field: "linux.resources.memory.swap", severity: "error", msg: "is below the memory limit"},
		{name: "memory-swappiness-ignored",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}
			},
			field: "linux.resources.memory.swappiness", severity: "warning", msg: "cgroup v2 has no per-cgroup swappiness"},
		{name: "controller-missing",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Resources = &specs.LinuxResources{Unified: map[string]string{"nosuchctl.max": "1"}}
			},
			field: `linux.resources.unified["nosuchctl.max"]`, severity: "error", msg: "nosuchctl controller not available in cgroup2 at "},
		{name: "device-rule-without-access",
			// runc refuses it too: read as "rwm", it would allow every device.
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true}}}
			},
			field: "linux.resources.devices[1].access", severity: "error", msg: "missing"},
		{name: "cgroups-path-climbs-out",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Linux.CgroupsPath = "/../../x" },
			field:  "linux.cgroupsPath", severity: "error", msg: "climbs out of the cgroup2 hierarchy"},

		// Namespaces and id mappings on this host.
		{name: "namespace-path-missing", mutate: joinNet("/proc/999999999/ns/net"),
			field: "linux.namespaces[4].path", severity: "error", msg: "/proc/999999999/ns/net does not exist"},
		{name: "namespace-path-not-nsfs", mutate: joinNet("/etc/hostname"),
			field: "linux.namespaces[4].path", severity: "error", msg: "/etc/hostname is not a namespace file"},
		{name: "namespace-path-wrong-type", mutate: joinNet("/proc/self/ns/ipc"),
			field: "linux.namespaces[4].path", severity: "error", msg: "/proc/self/ns/ipc is a namespace of type ipc, not network"},
		{name: "userns-without-root-mapping",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				userns(s, []specs.LinuxIDMapping{idMap(1000, usernsHostID, 1000)}, full)
			},
			field: "linux.uidMappings", severity: "error", msg: "no mapping for uid 0 of the container"},
		{name: "idmap-not-bind",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs",
					Options: []string{"idmap"}, UIDMappings: full, GIDMappings: full})
			},
			field: "mounts[6].options[0]", severity: "error", msg: `id-mapped mounts are only supported for bind mounts, not type "tmpfs"`},
		{name: "idmap-uid-mappings-only",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: h.outDir,
					Options: []string{"rbind", "idmap"}, UIDMappings: full})
			},
			field: "mounts[6].gidMappings", severity: "error", msg: "missing: the mount has uidMappings"},
		{name: "idmap-mappings-without-option",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: h.outDir,
					Options: []string{"rbind"}, UIDMappings: full, GIDMappings: full})
			},
			field: "mounts[6].options", severity: "warning", msg: "without an idmap or ridmap option"},

		// Capabilities, rlimits and oom_score_adj against hull's own.
		{name: "capability-outside-bounding-set",
			skip: func(t *testing.T) string {
				if chkMissingCap(t) == "" {
					return "hull's bounding set has every capability this test could ask for"
				}
				return ""
			},
			mutate: func(t *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, chkMissingCap(t))
			},
			field: "process.capabilities.bounding[3]", severity: "warning", msg: "is not in hull's own bounding set: the container runs without it"},
		{name: "effective-not-permitted",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "CAP_CHOWN")
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_CHOWN")
			},
			field: "process.capabilities.effective[3]", severity: "warning", msg: "CAP_CHOWN is not in process.capabilities.permitted"},
		{name: "ambient-not-inheritable",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.Capabilities.Ambient = []string{"CAP_KILL"} },
			field:  "process.capabilities.ambient[0]", severity: "warning", msg: "CAP_KILL is not both permitted and inheritable"},
		{name: "rlimit-above-host-hard-limit",
			skip: func(t *testing.T) string {
				var l unix.Rlimit
				if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Max == unix.RLIM_INFINITY {
					return "no finite hard RLIMIT_NOFILE here"
				}
				if chkHasSysResource(t) {
					return "hull has CAP_SYS_RESOURCE here and can raise any hard limit"
				}
				return ""
			},
			mutate: func(t *testing.T, s *specs.Spec, _ *harness) {
				var l unix.Rlimit
				if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
					t.Fatal(err)
				}
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: l.Max + 10000}}
			},
			field: "process.rlimits[0].hard", severity: "error", msg: "RLIMIT_NOFILE hard limit"},
		{name: "negative-oom-score-adj",
			skip: func(t *testing.T) string {
				if chkHasSysResource(t) {
					return "hull has CAP_SYS_RESOURCE here and may lower oom_score_adj"
				}
				if strings.TrimSpace(readFile("/proc/self/oom_score_adj")) != "0" {
					return "this test runs with an oom_score_adj other than 0"
				}
				return ""
			},
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) { s.Process.OOMScoreAdj = intp(-500) },
			field:  "process.oomScoreAdj", severity: "error", msg: "-500 is below hull's own oom_score_adj 0"},

		// config.json that cannot be read.
		{name: "malformed-json", raw: true,
			mutate: func(t *testing.T, _ *specs.Spec, h *harness) {
				if err := os.WriteFile(filepath.Join(h.bundle, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			field: "", severity: "error", msg: "malformed JSON at line 1"},
		{name: "missing-config", raw: true,
			mutate: func(_ *testing.T, _ *specs.Spec, h *harness) { os.Remove(filepath.Join(h.bundle, "config.json")) },
			field:  "", severity: "error", msg: "config.json not found"},
	}
}

// chkPrepare makes the case's bundle in h.
func chkPrepare(t *testing.T, h *harness, tc chkCase) {
	t.Helper()
	s := chkCleanSpec()
	h.writeSpec(s)
	tc.mutate(t, s, h)
	if !tc.raw {
		h.writeSpec(s)
	}
}

// TestCheck runs `hull check` on bundles with one problem each: it must give
// exactly the expected finding (and the listed others), exit 1 with an error
// and 2 with warnings only, print the same findings as text and JSON, and
// create nothing.
func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range chkCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.skip != nil {
				if why := tc.skip(t); why != "" {
					hulltest.HostLimit(t, "%s; runs where root lacks CAP_SYS_RESOURCE and some capability (the CI host)", why)
				}
			}
			h := newHarness(t)
			chkPrepare(t, h, tc)
			before := chkSnapshot(t, h)
			fs, exit := chkRun(t, h)
			if after := chkSnapshot(t, h); !slices.Equal(before, after) {
				t.Errorf("check changed the bundle or the host:\nbefore %q\nafter  %q", before, after)
			}

			var got *chkFinding
			for i, f := range fs {
				if f.Field == tc.field && f.Severity == tc.severity && strings.Contains(f.Message, tc.msg) {
					got = &fs[i]
				} else if !slices.Contains(tc.also, f.Field) {
					t.Errorf("unexpected finding: %s", f.line())
				}
			}
			if got == nil {
				t.Fatalf("no %s finding for %s with a message containing %q; got %q", tc.severity, tc.field, tc.msg, fs)
			}
			t.Logf("%.1000s", got.line())
			if len(fs) != 1+len(tc.also) {
				t.Errorf("got %d findings, want %d", len(fs), 1+len(tc.also))
			}
			want := 2
			if tc.severity == "error" {
				want = 1
			}
			if exit != want {
				t.Errorf("exit status %d, want %d", exit, want)
			}
		})
	}
}

// TestCheckAgreesWithCreate: for every bundle check reports an error for,
// `hull create` fails too, with exactly the text check prints for its first
// error (after "error: "), as create gets it from check.Errors.
func TestCheckAgreesWithCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range chkCases() {
		if tc.severity != "error" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.skip != nil {
				if why := tc.skip(t); why != "" {
					hulltest.HostLimit(t, "%s; runs where root lacks CAP_SYS_RESOURCE and some capability (the CI host)", why)
				}
			}
			h := newHarness(t)
			chkPrepare(t, h, tc)
			fs, exit := chkRun(t, h)
			if exit != 1 || len(fs) == 0 || fs[0].Severity != "error" {
				t.Fatalf("check: exit %d, findings %q; want an error first", exit, fs)
			}
			first := fs[0]
			r := h.do("create", "--bundle", h.bundle, h.id)
			if r.exit == 0 {
				t.Fatalf("check reports %q, but create succeeded", first.line())
			}
			msg := chkLogMsg(r.stderr)
			if len(r.stderr) > 2*chkMaxLine {
				t.Fatalf("create wrote %d bytes to stderr, want at most %d: %.300s...", len(r.stderr), 2*chkMaxLine, r.stderr)
			}
			if !strings.Contains(msg, first.Field) || !strings.Contains(msg, first.Message) {
				t.Errorf("create failed with\n  %q\nnot with check's field and message\n  %q", msg, first.line())
			}
			if want := strings.TrimPrefix(first.line(), "error: "); msg != want {
				t.Errorf("create's error is not check's text exactly:\n  create: %q\n  check:  %q", msg, want)
			}
		})
	}
}

// TestCreateLateErrorsBounded: for values check cannot judge, create fails
// only in init, and its error line still cuts the value.
func TestCreateLateErrorsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		field  string // the error names it
	}{
		// Longer than PATH_MAX: check cannot tell (it may come from a mount),
		// chdir(2) refuses it.
		{name: "cwd-longer-than-path-max", field: "process.cwd",
			mutate: func(s *specs.Spec) { s.Process.Cwd = strings.Repeat("/d", 1<<19) }},
		{name: "hostname-longer-than-the-kernel-takes", field: "hostname",
			mutate: func(s *specs.Spec) { s.Hostname = strings.Repeat("h", 1<<20) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := chkCleanSpec()
			tc.mutate(s)
			r := h.create(s)
			if r.exit == 0 {
				t.Fatalf("create succeeded")
			}
			msg := chkLogMsg(r.stderr)
			if len(r.stderr) > 2*chkMaxLine || !strings.Contains(msg, tc.field) {
				t.Errorf("create's error: %d bytes of stderr (want at most %d) naming %q: %.300s...",
					len(r.stderr), 2*chkMaxLine, tc.field, r.stderr)
			}
		})
	}
}

// TestCheckClean: bundles that are fine give no finding, no output in text,
// "[]" in JSON and exit 0, including programs and working directories that
// only mounts or the rootfs's own symlinks provide.
func TestCheckClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *specs.Spec, h *harness)
	}{
		{name: "base"},
		{name: "program-through-rootfs-symlink",
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				// An absolute symlink, resolved inside the rootfs.
				chkSymlink(t, "/bin/busybox", filepath.Join(h.rootfs, "opt", "tools", "bb"))
				s.Process.Env = []string{"PATH=/nothing:/opt/tools"}
				s.Process.Args = []string{"bb", "true"}
			}},
		{name: "program-relative-to-cwd",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Process.Cwd = "/bin"
				s.Process.Args = []string{"./busybox", "true"}
			}},
		{name: "cwd-and-program-from-mounts",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) {
				s.Mounts = append(s.Mounts,
					specs.Mount{Destination: "/work", Type: "tmpfs", Source: "tmpfs"},
					specs.Mount{Destination: "/opt/app", Type: "bind", Source: h.outDir, Options: []string{"rbind", "ro"}})
				s.Process.Cwd = "/work/sub"
				s.Process.Args = []string{"/opt/app/run"}
			}},
		{name: "existing-hooks",
			mutate: func(t *testing.T, s *specs.Spec, h *harness) {
				p := filepath.Join(h.outDir, "hook.sh")
				chkWriteFile(t, p, 0o755)
				s.Hooks = &specs.Hooks{
					CreateRuntime:  []specs.Hook{{Path: p}},
					Poststop:       []specs.Hook{{Path: p}},
					StartContainer: []specs.Hook{{Path: "/bin/true"}},
				}
			}},
		{name: "join-own-network-namespace",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				removeNamespace(s, specs.NetworkNamespace)
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"})
			}},
		{name: "user-namespace-mapping-root",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
			}},
		{name: "seccomp-and-devices",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}}}
				s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := chkCleanSpec()
			if tc.mutate != nil {
				tc.mutate(t, s, h)
			}
			h.writeSpec(s)
			before := chkSnapshot(t, h)
			fs, exit := chkRun(t, h)
			for _, f := range fs {
				t.Errorf("unexpected finding: %s", f.line())
			}
			if exit != 0 {
				t.Errorf("exit status %d, want 0", exit)
			}
			if after := chkSnapshot(t, h); !slices.Equal(before, after) {
				t.Errorf("check changed the bundle or the host:\nbefore %q\nafter  %q", before, after)
			}
			if r := h.do("check", "--bundle", h.bundle, "--format", "json"); strings.TrimSpace(r.stdout) != "[]" {
				t.Errorf("json output of a clean bundle: %q, want []", r.stdout)
			}
		})
	}
}

// TestCheckCLI: the command's own errors, and the current directory as the
// default bundle.
func TestCheckCLI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.writeSpec(chkCleanSpec())
	tests := []struct {
		name  string
		args  []string
		dir   string
		exit  int
		inErr string
	}{
		{name: "default-bundle-is-cwd", args: []string{"check"}, dir: h.bundle, exit: 0},
		{name: "short-flags", args: []string{"check", "-b", h.bundle, "-f", "json"}, exit: 0},
		{name: "bad-format", args: []string{"check", "--bundle", h.bundle, "--format", "yaml"}, exit: 1, inErr: "invalid format"},
		{name: "extra-argument", args: []string{"check", "--bundle", h.bundle, "someid"}, exit: 1, inErr: "requires 0 argument"},
		{name: "missing-bundle", args: []string{"check", "--bundle", filepath.Join(h.bundle, "nope")}, exit: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.hullOpts(cmdOpts{dir: tc.dir}, tc.args...)
			if r.exit != tc.exit {
				t.Fatalf("want exit %d: %s", tc.exit, r)
			}
			if tc.inErr != "" && !strings.Contains(r.stderr, tc.inErr) {
				t.Errorf("stderr does not contain %q: %s", tc.inErr, r)
			}
			if tc.name == "missing-bundle" && !strings.HasPrefix(r.stdout, "error: bundle ") {
				t.Errorf("want the unreadable bundle as an error finding: %s", r)
			}
		})
	}
}

// chkWarnings returns the msg of every level=warning line of hull's text log.
func chkWarnings(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, `level=warning msg=`); i >= 0 {
			if s, err := strconv.Unquote(l[i+len(`level=warning msg=`):]); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// TestCreateLogsCheckWarnings: create goes on where check only warns, and
// logs each of check's warnings once, in check's text, so that what check
// predicts is what a user of create sees. Capabilities that cannot be
// granted are reported by init instead, from what it actually got: those
// must appear once, naming the field, and not a second time in check's words.
func TestCreateLogsCheckWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range chkCases() {
		if tc.severity != "warning" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.skip != nil {
				if why := tc.skip(t); why != "" {
					hulltest.HostLimit(t, "%s; runs where root lacks CAP_SYS_RESOURCE and some capability (the CI host)", why)
				}
			}
			h := newHarness(t)
			chkPrepare(t, h, tc)
			fs, exit := chkRun(t, h)
			if exit != 2 || len(fs) == 0 {
				t.Fatalf("check: exit %d, findings %q; want warnings only", exit, fs)
			}
			r := h.do("create", "--bundle", h.bundle, h.id)
			if r.exit != 0 {
				t.Fatalf("check only warns, but create failed: %s", r)
			}
			got := chkWarnings(r.stderr)
			for _, f := range fs {
				want := strings.TrimPrefix(f.line(), "warning: ")
				if strings.HasPrefix(f.Field, "process.capabilities.") {
					set := f.Field[:strings.LastIndexByte(f.Field, '[')]
					n := 0
					for _, w := range got {
						if w == want {
							t.Errorf("create logged check's capability warning, which init reports too: %q", w)
						}
						if strings.HasPrefix(w, "capabilities not granted") && strings.Contains(w, set+" ") {
							n++
						}
					}
					if n != 1 {
						t.Errorf("init's warning about %s logged %d times, want once; stderr:\n%s", set, n, r.stderr)
					}
					continue
				}
				if f.Field == "ociVersion" {
					// A newer 1.x: create says it only at --debug (TestNewerSpecMinorRuns).
					if slices.Contains(got, want) {
						t.Errorf("create warned about a newer ociVersion, which it tells only at --debug: %q", want)
					}
					continue
				}
				if n := slices.Index(got, want); n < 0 {
					t.Errorf("create did not log check's warning\n  %q\nstderr:\n%s", want, r.stderr)
				} else if slices.Contains(got[n+1:], want) {
					t.Errorf("create logged check's warning more than once: %q", want)
				}
			}
		})
	}
}

// TestCreateWarnsCgroupV1Only: a cgroup-v1-only resource field is not
// applied on cgroup v2; create says so in its --log, names the field, and
// creates the container.
func TestCreateWarnsCgroupV1Only(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := chkCleanSpec()
	swappiness := uint64(10)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: &swappiness}}
	log := filepath.Join(h.outDir, "hull.log")
	h.writeSpec(s)
	r := h.do("--log", log, "--log-format", "json", "create", "--bundle", h.bundle, h.id)
	if r.exit != 0 {
		t.Fatalf("create: %s", r)
	}
	var warnings []string
	for _, l := range strings.Split(strings.TrimSpace(readFile(log)), "\n") {
		if l == "" {
			continue
		}
		var e struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if e.Level == "warning" {
			warnings = append(warnings, e.Msg)
		}
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "linux.resources.memory.swappiness: ") {
		t.Fatalf("create's warnings: %q; want one about linux.resources.memory.swappiness", warnings)
	}
	if st := h.mustState(h.id); st.Status != "created" {
		t.Errorf("status %q, want created", st.Status)
	}
}

// TestCreateQuietOnBaseSpec: the bundle every test starts from gives no
// warning, so that create's warnings mean something in any test's stderr.
func TestCreateQuietOnBaseSpec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run(baseSpec("true"))
	mustExit(t, r, 0)
	if r.stderr != "" {
		t.Errorf("hull run of baseSpec wrote to stderr:\n%s", r.stderr)
	}
}
