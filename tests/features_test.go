//go:build linux

package tests

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestFeatures runs `hull features` and checks each claim of the document by
// trying it: what is listed works in a container, and what is claimed
// unsupported is refused by create rather than ignored.
func TestFeatures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.hullOpts(cmdOpts{noRoot: true}, "--version"); !strings.HasPrefix(r.stdout, "hull version ") {
		// runc's document claims its own build's features (AppArmor, SELinux,
		// systemd), which this test cannot try.
		t.Skipf("the runtime under test is not hull (%s): its features are not hull's", r)
	}
	r := h.hullOpts(cmdOpts{noRoot: true}, "features")
	mustExit(t, r, 0)
	if r.stderr != "" {
		t.Errorf("features wrote to stderr: %q", r.stderr)
	}
	// runc's layout: four-space indentation, one value per line.
	if !strings.HasPrefix(r.stdout, "{\n    \"ociVersionMin\": ") || !strings.HasSuffix(r.stdout, "\n}\n") {
		t.Errorf("features output is not runc's 4-space indented JSON:\n%s", r.stdout)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields() // ociVersionMax 1.3.0 allows no other properties
	var doc features.Features
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("features output does not parse as a runtime-spec features document: %v\n%s", err, r.stdout)
	}
	if doc.Linux == nil {
		t.Fatalf("features has no linux object:\n%s", r.stdout)
	}
	if r := h.hullOpts(cmdOpts{noRoot: true}, "features", "extra"); r.exit == 0 {
		t.Errorf("features with an argument: %s; want a usage error", r)
	}

	t.Run("versions", func(t *testing.T) { t.Parallel(); featVersions(t, &doc) })
	t.Run("annotations", func(t *testing.T) { t.Parallel(); featAnnotations(t, &doc) })
	t.Run("hooks", func(t *testing.T) { t.Parallel(); featHooks(t, &doc) })
	t.Run("namespaces", func(t *testing.T) { t.Parallel(); featNamespaces(t, &doc) })
	t.Run("capabilities", func(t *testing.T) { t.Parallel(); featCapabilities(t, &doc) })
	t.Run("mountOptions", func(t *testing.T) { t.Parallel(); featMountOptions(t, &doc) })
	t.Run("seccomp", func(t *testing.T) { t.Parallel(); featSeccomp(t, &doc) })
	t.Run("seccompArchs", func(t *testing.T) { t.Parallel(); featSeccompArchs(t, &doc) })
	t.Run("cgroup", func(t *testing.T) { t.Parallel(); featCgroup(t, &doc) })
	t.Run("lsm", func(t *testing.T) { t.Parallel(); featLSM(t, &doc) })
	t.Run("idmap", func(t *testing.T) { t.Parallel(); featIDMap(t, &doc) })
}

// featVersions: a config of ociVersionMin runs (ociVersionMax is what every
// other config here uses), and the next minor version after the maximum is
// refused.
func featVersions(t *testing.T, doc *features.Features) {
	if doc.OCIVersionMin != "1.0.0" || doc.OCIVersionMax != "1.3.0" {
		t.Errorf("ociVersionMin %q, ociVersionMax %q; want 1.0.0 and 1.3.0", doc.OCIVersionMin, doc.OCIVersionMax)
	}
	if doc.OCIVersionMax != specs.Version {
		t.Errorf("ociVersionMax %q, but the configs of these tests are %s", doc.OCIVersionMax, specs.Version)
	}
	s := baseSpec("true")
	s.Version = doc.OCIVersionMin
	mustExit(t, newHarness(t).run(s), 0)

	major, rest, _ := strings.Cut(doc.OCIVersionMax, ".")
	minor, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(minor)
	if err != nil {
		t.Fatalf("ociVersionMax %q: %v", doc.OCIVersionMax, err)
	}
	// A newer minor of the same major runs (runtime-spec is compatible within a major:
	// an engine built on a newer one must not break every container); a newer major
	// does not. ociVersionMax is the newest hull knows.
	s = baseSpec("true")
	s.Version = fmt.Sprintf("%s.%d.0", major, n+1)
	mustExit(t, newHarness(t).run(s), 0)
	s = baseSpec("true")
	m, _ := strconv.Atoi(major)
	s.Version = fmt.Sprintf("%d.0.0", m+1)
	if r := newHarness(t).create(s); r.exit == 0 {
		t.Errorf("create accepted ociVersion %s, a major above ociVersionMax %s: %s", s.Version, doc.OCIVersionMax, r)
	}
}

// featAnnotations: hull names its version, commit and libseccomp.
func featAnnotations(t *testing.T, doc *features.Features) {
	h := newHarness(t)
	r := h.hullOpts(cmdOpts{noRoot: true}, "--version")
	mustExit(t, r, 0)
	var commit string
	for _, l := range strings.Split(r.stdout, "\n") {
		if c, ok := strings.CutPrefix(l, "commit: "); ok {
			commit = c
		}
	}
	want := map[string]string{
		"io.github.hull.version": repoVersion(),
		"io.github.hull.commit":  commit,
	}
	for k, v := range want {
		if doc.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q (from hull --version)", k, doc.Annotations[k], v)
		}
	}
	v := doc.Annotations["io.github.hull.libseccomp.version"]
	if f := strings.Split(v, "."); len(f) != 3 || f[0] != "2" {
		t.Errorf("annotation io.github.hull.libseccomp.version = %q, want libseccomp's 2.x.y", v)
	}
	// hull acts on no annotation of a config: the list is present and empty.
	if doc.PotentiallyUnsafeConfigAnnotations == nil || len(doc.PotentiallyUnsafeConfigAnnotations) != 0 {
		t.Errorf("potentiallyUnsafeConfigAnnotations = %#v, want []", doc.PotentiallyUnsafeConfigAnnotations)
	}
}

// featHookScript appends its first argument to the file named by its second.
const featHookScript = "#!/bin/sh\necho \"$1\" >> \"$2\"\n"

// featHooks runs one container with one hook of every listed kind, each
// logging its kind, and checks every one ran exactly once.
func featHooks(t *testing.T, doc *features.Features) {
	h := newHarness(t)
	logDir := t.TempDir()
	hostScript := filepath.Join(h.bundle, "hook.sh")
	for _, p := range []string{hostScript, filepath.Join(h.rootfs, "hook.sh")} {
		if err := os.WriteFile(p, []byte(featHookScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := baseSpec("true")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
	s.Hooks = &specs.Hooks{}
	host := func(kind string) []specs.Hook {
		return []specs.Hook{{Path: hostScript, Args: []string{"hook.sh", kind, filepath.Join(logDir, "log")}}}
	}
	for _, kind := range doc.Hooks {
		switch kind {
		case "prestart":
			s.Hooks.Prestart = host(kind) // deprecated, still listed and run
		case "createRuntime":
			s.Hooks.CreateRuntime = host(kind)
		case "createContainer":
			s.Hooks.CreateContainer = host(kind)
		case "startContainer":
			// Runs in the container: its paths are the container's.
			s.Hooks.StartContainer = []specs.Hook{{Path: "/hook.sh", Args: []string{"hook.sh", kind, "/hooklog/log"}}}
		case "poststart":
			s.Hooks.Poststart = host(kind)
		case "poststop":
			s.Hooks.Poststop = host(kind)
		default:
			t.Errorf("hook kind %q is listed, but this test does not know it", kind)
		}
	}
	if len(doc.Hooks) != 6 {
		t.Errorf("hooks %q, want the six kinds", doc.Hooks)
	}
	mustExit(t, h.run(s), 0)
	got := strings.Fields(readFile(filepath.Join(logDir, "log")))
	for _, kind := range doc.Hooks {
		if n := strings.Count(" "+strings.Join(got, " ")+" ", " "+kind+" "); n != 1 {
			t.Errorf("hook %s ran %d times; log %q", kind, n, got)
		}
	}
}

// featNSFiles maps namespace types to their /proc/<pid>/ns file.
var featNSFiles = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// featNamespaces runs one container per listed namespace type with that
// namespace new, and checks from inside that it is not the host's.
func featNamespaces(t *testing.T, doc *features.Features) {
	if len(doc.Linux.Namespaces) != len(featNSFiles) {
		t.Errorf("namespaces %q, want all %d types", doc.Linux.Namespaces, len(featNSFiles))
	}
	for _, name := range doc.Linux.Namespaces {
		typ := specs.LinuxNamespaceType(name)
		file, ok := featNSFiles[typ]
		if !ok {
			t.Errorf("namespace %q is listed, but this test does not know it", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			hostNS, err := os.Readlink("/proc/self/ns/" + file)
			if err != nil {
				t.Fatalf("%s is listed, but the host has no /proc/self/ns/%s: %v", name, file, err)
			}
			h := newHarness(t)
			args := []string{"readlink", "/proc/self/ns/" + file}
			s := baseSpec(args...)
			if typ == specs.UserNamespace {
				s = usernsSpec(args...)
				prepareUserns(t, h, usernsHostID, usernsHostID)
			}
			s.Version = doc.OCIVersionMin
			removeNamespace(s, typ)
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ})
			r := h.run(s)
			mustExit(t, r, 0)
			in := strings.TrimSpace(r.stdout)
			if !strings.HasPrefix(in, file+":[") || in == hostNS {
				t.Errorf("/proc/self/ns/%s inside is %q, host %q: want a new namespace", file, in, hostNS)
			}
		})
	}
}

// featCapabilities: every listed capability, in all five sets, is what the
// container process gets; the list is every capability of this kernel.
func featCapabilities(t *testing.T, doc *features.Features) {
	caps := doc.Linux.Capabilities
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// hull knows capabilities up to CAP_CHECKPOINT_RESTORE (40).
	if want := min(last, unix.CAP_CHECKPOINT_RESTORE) + 1; len(caps) != want {
		t.Errorf("%d capabilities listed, cap_last_cap is %d: want %d", len(caps), last, want)
	}
	mask := capMask(t, caps)
	if mask != 1<<uint(len(caps))-1 {
		t.Errorf("capabilities %q are not CAP_CHOWN up to the kernel's last (mask %x)", caps, mask)
	}

	s := baseSpec("cat", "/proc/self/status")
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Inheritable: caps, Permitted: caps, Ambient: caps,
	}
	r := newHarness(t).run(s)
	mustExit(t, r, 0)
	// The container cannot get what hull itself lacks (hull warns about those).
	own := hulltest.StatusHex(t, procStatus(readFile("/proc/self/status")), "CapBnd")
	st := procStatus(r.stdout)
	for _, k := range []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"} {
		if got := hulltest.StatusHex(t, st, k); got != mask&own {
			t.Errorf("%s inside %x, want every listed capability %x that hull has (%x)", k, got, mask, own)
		}
	}
}

// featMountOptions: a sample of options has its effect, and a container with
// one mount per listed option runs.
func featMountOptions(t *testing.T, doc *features.Features) {
	opts := doc.MountOptions
	for _, o := range []string{"nosuid", "nodev", "noexec", "ro", "rbind", "rprivate", "rshared"} {
		if !slices.Contains(opts, o) {
			t.Errorf("mountOptions lacks %q", o)
		}
	}

	t.Run("sample", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		src := t.TempDir()
		s := baseSpec("cat", "/proc/self/mountinfo")
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/feat/tmpfs", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "nodev", "noexec", "ro", "mode=755", "size=1m"}},
			specs.Mount{Destination: "/feat/private", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}},
			specs.Mount{Destination: "/feat/shared", Type: "bind", Source: src, Options: []string{"rbind", "rshared"}},
		)
		r := h.run(s)
		mustExit(t, r, 0)
		byPoint := featMountinfo(r.stdout)
		shared := func(p string) bool { return strings.Contains(byPoint[p].optional, "shared:") }
		tm, ok := byPoint["/feat/tmpfs"]
		if !ok {
			t.Fatalf("no /feat/tmpfs inside:\n%s", r.stdout)
		}
		for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
			if !hulltest.HasOpt(tm.opts, o) {
				t.Errorf("/feat/tmpfs options %s, want %s", tm.opts, o)
			}
		}
		if tm.fstype != "tmpfs" || !hulltest.HasOpt(tm.super, "size=1024k") || !hulltest.HasOpt(tm.super, "mode=755") {
			t.Errorf("/feat/tmpfs: %s %s, want tmpfs with size=1024k,mode=755", tm.fstype, tm.super)
		}
		if _, ok := byPoint["/feat/private"]; !ok || shared("/feat/private") {
			t.Errorf("/feat/private: present %v, shared %v; want a private bind", ok, shared("/feat/private"))
		}
		if _, ok := byPoint["/feat/shared"]; !ok || !shared("/feat/shared") {
			t.Errorf("/feat/shared: present %v, shared %v; want a shared bind", ok, shared("/feat/shared"))
		}
	})

	t.Run("each", func(t *testing.T) {
		t.Parallel()
		src := t.TempDir()
		point := func(i int, o string) string { return fmt.Sprintf("/feat/%d-%s", i, o) }
		mount := func(i int, o string) specs.Mount {
			if o == "bind" || o == "rbind" {
				return specs.Mount{Destination: point(i, o), Type: "bind", Source: src, Options: []string{o}}
			}
			if o == "idmap" || o == "ridmap" {
				// Id-mapped mounts are bind mounts; without a user
				// namespace they need a mapping of their own.
				m := []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
				return specs.Mount{Destination: point(i, o), Type: "bind", Source: src, Options: []string{"rbind", o},
					UIDMappings: m, GIDMappings: m}
			}
			return specs.Mount{Destination: point(i, o), Type: "tmpfs", Source: "tmpfs", Options: []string{o, "size=64k"}}
		}
		s := baseSpec("cat", "/proc/self/mountinfo")
		for i, o := range opts {
			s.Mounts = append(s.Mounts, mount(i, o))
		}
		h := newHarness(t)
		r := h.run(s)
		if r.exit != 0 {
			t.Errorf("a container with one mount per listed option failed: %s", r)
			// Find which options fail, one container each.
			for i, o := range opts {
				s := baseSpec("true")
				s.Mounts = append(s.Mounts, mount(i, o))
				if r := h.sibling(t).run(s); r.exit != 0 {
					t.Errorf("mount option %q is listed, but a mount with it fails: %s", o, r)
				}
			}
			return
		}
		mounts := featMountinfo(r.stdout)
		for i, o := range opts {
			m, ok := mounts[point(i, o)]
			if !ok {
				t.Errorf("option %q: no mount at %s inside", o, point(i, o))
				continue
			}
			if want := featOptionShows[o]; want != "" && !hulltest.HasOpt(m.opts, want) && !strings.Contains(" "+m.optional+" ", " "+want) {
				t.Errorf("option %q: mount %s has options %q, optional fields %q; want %q", o, m.point, m.opts, m.optional, want)
			}
		}
	})
}

// featOptionShows is what a mount option makes /proc/self/mountinfo show, in
// the per-mount options or, for propagation, the optional fields.
var featOptionShows = map[string]string{
	"ro": "ro", "rro": "ro", "nosuid": "nosuid", "rnosuid": "nosuid", "nodev": "nodev", "rnodev": "nodev",
	"noexec": "noexec", "rnoexec": "noexec", "noatime": "noatime", "rnoatime": "noatime",
	"nodiratime": "nodiratime", "rnodiratime": "nodiratime", "nosymfollow": "nosymfollow", "rnosymfollow": "nosymfollow",
	"shared": "shared:", "rshared": "shared:", "unbindable": "unbindable", "runbindable": "unbindable",
	"idmap": "idmapped", "ridmap": "idmapped",
}

type featMount struct {
	mountEntry
	optional string // the optional fields, space-separated (shared:N, master:N, unbindable)
}

// featMountinfo parses mountinfo text by mount point, the last (visible) mount
// at each point winning.
func featMountinfo(text string) map[string]featMount {
	out := map[string]featMount{}
	for _, line := range strings.Split(text, "\n") {
		ms := parseMountinfo(line)
		if len(ms) != 1 {
			continue
		}
		var opt []string
		f := strings.Fields(line)
		for i := 6; i < len(f) && f[i] != "-"; i++ {
			opt = append(opt, f[i])
		}
		out[ms[0].point] = featMount{ms[0], strings.Join(opt, " ")}
	}
	return out
}

// featSeccompSyscalls are harmless syscalls the container never makes, one
// per action (sethostname, which busybox hostname makes, shows ERRNO works).
var featSeccompSyscalls = map[string]string{
	"SCMP_ACT_KILL":         "vhangup",
	"SCMP_ACT_KILL_PROCESS": "acct",
	"SCMP_ACT_KILL_THREAD":  "swapoff",
	"SCMP_ACT_TRAP":         "syslog",
	"SCMP_ACT_ERRNO":        "sethostname",
	"SCMP_ACT_TRACE":        "quotactl",
	"SCMP_ACT_ALLOW":        "getpid",
	"SCMP_ACT_LOG":          "kcmp",
	"SCMP_ACT_NOTIFY":       "delete_module",
}

// featSeccomp runs a container under a profile using every listed action,
// operator and supported flag, with the native architecture, and a seccomp
// agent for SCMP_ACT_NOTIFY.
func featSeccomp(t *testing.T, doc *features.Features) {
	sc := doc.Linux.Seccomp
	if sc == nil || sc.Enabled == nil || !*sc.Enabled {
		t.Fatalf("seccomp %+v: want enabled (hull links libseccomp)", sc)
	}
	if len(sc.Actions) == 0 || len(sc.Operators) == 0 || len(sc.Archs) == 0 {
		t.Fatalf("seccomp lists no actions, operators or archs: %+v", sc)
	}
	for _, f := range sc.SupportedFlags {
		if !slices.Contains(sc.KnownFlags, f) {
			t.Errorf("supported flag %s is not among the known flags %q", f, sc.KnownFlags)
		}
	}

	const errnoRet = uint(unix.EXDEV)
	prof := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	notify := false
	for _, a := range sc.Actions {
		name, ok := featSeccompSyscalls[a]
		if !ok {
			t.Errorf("action %s is listed, but this test has no syscall for it", a)
			continue
		}
		rule := specs.LinuxSyscall{Names: []string{name}, Action: specs.LinuxSeccompAction(a)}
		if a == string(specs.ActErrno) {
			e := errnoRet
			rule.ErrnoRet = &e
		}
		notify = notify || a == string(specs.ActNotify)
		prof.Syscalls = append(prof.Syscalls, rule)
	}
	for _, op := range sc.Operators {
		prof.Syscalls = append(prof.Syscalls, specs.LinuxSyscall{
			Names:  []string{"swapon"},
			Action: specs.ActErrno,
			Args:   []specs.LinuxSeccompArg{{Index: 1, Value: 0x8000, ValueTwo: 0x8000, Op: specs.LinuxSeccompOperator(op)}},
		})
	}
	for _, f := range sc.SupportedFlags {
		prof.Flags = append(prof.Flags, specs.LinuxSeccompFlag(f))
	}
	var agent <-chan featAgentMsg
	if notify {
		dir := t.TempDir()
		prof.ListenerPath = filepath.Join(dir, "agent.sock")
		prof.ListenerMetadata = "features-test"
		agent = featAgent(t, prof.ListenerPath)
	}

	s := baseSpec(shell("hostname feat-test 2>&1; echo rc=$?; grep '^Seccomp:' /proc/self/status")...)
	s.Linux.Seccomp = prof
	r := newHarness(t).run(s)
	mustExit(t, r, 0)
	// busybox prints strerror: "hostname: sethostname: Invalid cross-device link".
	if !strings.Contains(strings.ToLower(r.stdout), unix.Errno(errnoRet).Error()+"\nrc=1\nseccomp:\t2\n") {
		t.Errorf("container output %q; want sethostname to fail with %q and a filter in /proc/self/status (Seccomp: 2)", r.stdout, unix.Errno(errnoRet).Error())
	}
	if notify {
		select {
		case m := <-agent:
			if m.err != nil || m.fds != 1 || m.state.Metadata != "features-test" || len(m.state.Fds) != 1 {
				t.Errorf("seccomp agent got %+v; want one notify fd with the container process state", m)
			}
		case <-time.After(10 * time.Second):
			t.Error("the seccomp agent never got a notify fd")
		}
	}
}

type featAgentMsg struct {
	state specs.ContainerProcessState
	fds   int
	err   error
}

// featAgent accepts one connection on a unix socket at path, as a seccomp
// agent, and reports the state and the number of fds it got; it closes them.
func featAgent(t *testing.T, path string) <-chan featAgentMsg {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan featAgentMsg, 1)
	go func() {
		var m featAgentMsg
		defer func() { ch <- m }()
		c, err := l.AcceptUnix()
		if err != nil {
			m.err = err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(cmdTimeout))
		first, fds, err := hulltest.RecvFds(c, cmdTimeout, 1<<16)
		if err != nil {
			m.err = err
			return
		}
		hulltest.CloseFds(fds)
		m.fds = len(fds)
		// The payload may come in more than one read; it ends at EOF.
		data := first
		buf := make([]byte, 1<<16)
		for {
			k, err := c.Read(buf)
			data = append(data, buf[:k]...)
			if err != nil {
				break
			}
		}
		m.err = json.Unmarshal(bytes.TrimSpace(data), &m.state)
	}()
	return ch
}

// featBigEndian are the seccomp architectures of big-endian ABIs: a filter
// holds one byte order, so on a little-endian host they can only be refused.
var featBigEndian = map[string]bool{
	"SCMP_ARCH_MIPS": true, "SCMP_ARCH_MIPS64": true, "SCMP_ARCH_MIPS64N32": true,
	"SCMP_ARCH_PPC": true, "SCMP_ARCH_PPC64": true, "SCMP_ARCH_S390": true, "SCMP_ARCH_S390X": true,
	"SCMP_ARCH_PARISC": true, "SCMP_ARCH_PARISC64": true, "SCMP_ARCH_M68K": true, "SCMP_ARCH_SHEB": true,
}

// featSeccompArchs: a profile with every listed architecture of the host's
// byte order runs; one of the other byte order is refused for that reason,
// never as unknown.
func featSeccompArchs(t *testing.T, doc *features.Features) {
	if doc.Linux.Seccomp == nil {
		t.Fatal("no seccomp object")
	}
	var native, other []string
	hostBig := featHostBigEndian()
	for _, a := range doc.Linux.Seccomp.Archs {
		if featBigEndian[a] == hostBig {
			native = append(native, a)
		} else {
			other = append(other, a)
		}
	}
	profile := func(archs ...string) *specs.LinuxSeccomp {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"vhangup"}, Action: specs.ActErrno}}}
		for _, a := range archs {
			p.Architectures = append(p.Architectures, specs.Arch(a))
		}
		return p
	}
	s := baseSpec("true")
	s.Linux.Seccomp = profile(native...)
	mustExit(t, newHarness(t).run(s), 0)

	for _, a := range other {
		s := baseSpec("true")
		s.Linux.Seccomp = profile(a)
		r := newHarness(t).create(s)
		if r.exit == 0 || !strings.Contains(r.stderr, "byte order") {
			t.Errorf("architecture %s (other byte order): %s; want create to refuse it for its byte order", a, r)
		}
	}
}

func featHostBigEndian() bool {
	return binary.NativeEndian.Uint16([]byte{0, 1}) == 1
}

// featCgroup: cgroup v2 is used (the container's cgroup is a directory of the
// unified hierarchy, its process in it), cgroup v1 is not.
func featCgroup(t *testing.T, doc *features.Features) {
	cg := doc.Linux.Cgroup
	if cg == nil || cg.V1 == nil || cg.V2 == nil || *cg.V1 || !*cg.V2 {
		t.Fatalf("cgroup %+v: want v1 false, v2 true", cg)
	}
	if cg.Systemd == nil || *cg.Systemd || cg.SystemdUser == nil || *cg.SystemdUser {
		t.Errorf("cgroup systemd %v, systemdUser %v: hull has no systemd driver", cg.Systemd, cg.SystemdUser)
	}
	h := newHarness(t)
	h.needCgroupDir()
	mustExit(t, h.create(baseSpec("sleep", "60")), 0)
	st := h.mustState(h.id)
	procs := readFile(filepath.Join(h.cgroupDir(), "cgroup.procs"))
	if !slices.Contains(strings.Fields(procs), strconv.Itoa(st.Pid)) {
		t.Errorf("init %d is not in %s/cgroup.procs (%q)", st.Pid, h.cgroupDir(), procs)
	}
	for _, line := range strings.Split(readFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid)), "\n") {
		if !strings.HasPrefix(line, "0::") && strings.Contains(line, h.id) {
			t.Errorf("init is in a cgroup v1 hierarchy the container made: %s", line)
		}
	}
	mustExit(t, h.do("delete", "--force", h.id), 0)
}

// featIDMap: linux.mountExtensions.idmap, which containerd reads before it
// runs Kubernetes pods in user namespaces. When enabled, an id-mapped bind in
// a user-namespaced container shows host root's files as root's; when not,
// create refuses one rather than ignore the mapping.
func featIDMap(t *testing.T, doc *features.Features) {
	l := doc.Linux
	enabled := featEnabled(l.MountExtensions != nil && l.MountExtensions.IDMap != nil, func() *bool { return l.MountExtensions.IDMap.Enabled })
	if enabled == nil {
		t.Fatalf("features does not say whether mountExtensions.idmap is enabled")
	}
	for _, o := range []string{"idmap", "ridmap"} {
		if slices.Contains(doc.MountOptions, o) != *enabled {
			t.Errorf("mountOptions lists %q: %v, but mountExtensions.idmap.enabled is %v", o, !*enabled, *enabled)
		}
	}
	h := newHarness(t)
	s := usernsSpec("stat", "-c", "%u:%g", "/idmapped/hostfile")
	prepareUserns(t, h, usernsHostID, usernsHostID)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hostfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/idmapped", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}})
	if !*enabled {
		if r := h.create(s); r.exit == 0 || !strings.Contains(r.stderr, "id-map") {
			t.Errorf("mountExtensions.idmap is disabled, but create does not refuse an idmap mount: %s", r)
		}
		return
	}
	r := h.run(s)
	mustExit(t, r, 0)
	if r.stdout != "0:0\n" {
		t.Errorf("host root's file through an idmap mount: owner %q inside, want 0:0", r.stdout)
	}
}

// featEnabled returns get() when present, else nil.
func featEnabled(present bool, get func() *bool) *bool {
	if !present {
		return nil
	}
	return get()
}
