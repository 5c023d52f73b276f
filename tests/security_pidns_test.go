//go:build linux

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The attacker of TestSecurityPidnsExposure: testdata/pidwatch, built once
// per run into the suite's temporary directory and copied into bundles as
// /bin/pidwatch.
var pidwatch = &testTool{pkg: "./testdata/pidwatch", name: "pidwatch"}

func pwInstall(t *testing.T, h *harness) {
	t.Helper()
	pidwatch.install(t, h, "pidwatch")
}

// pwDevIno is path's "dev:ino" as the watcher prints it.
func pwDevIno(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// pwAddPtrace gives the container's process CAP_SYS_PTRACE in every set:
// it lets the attacker past ptrace_may_access, the dumpable check included,
// on the runtime's processes (same uid, no user namespace).
func pwAddPtrace(s *specs.Spec) {
	c := s.Process.Capabilities
	const ptrace = "CAP_SYS_PTRACE"
	c.Bounding = append(c.Bounding, ptrace)
	c.Effective = append(c.Effective, ptrace)
	c.Permitted = append(c.Permitted, ptrace)
	c.Inheritable = append(c.Inheritable, ptrace)
	c.Ambient = append(c.Ambient, ptrace)
}

// pwRec is one REC line of the watcher: something it saw of one process.
type pwRec struct {
	pid                             int
	what, kind, id, target, cmd, fs string
}

func (r pwRec) String() string {
	fs := ""
	if r.fs != "" {
		fs = " on " + r.fs
	}
	return fmt.Sprintf("pid %d %s %s -> %q (%s%s) [%s]", r.pid, r.what, r.kind, r.target, r.id, fs, r.cmd)
}

// fd is the descriptor number of an fd/N record, -1 for anything else.
func (r pwRec) fd() int {
	n, err := strconv.Atoi(strings.TrimPrefix(r.what, "fd/"))
	if err != nil || !strings.HasPrefix(r.what, "fd/") {
		return -1
	}
	return n
}

type pwResult struct {
	recs []pwRec
	vals map[string]string
	out  string
}

func (p pwResult) count(t *testing.T, name string) int {
	t.Helper()
	n, err := strconv.Atoi(p.vals[name])
	if err != nil {
		t.Fatalf("the watcher did not report %s: %q\n%s", name, p.vals[name], p.out)
	}
	return n
}

func pwParse(t *testing.T, out string) pwResult {
	t.Helper()
	res := pwResult{vals: secResults(out), out: out}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if f[0] != "REC" {
			continue
		}
		if len(f) != 8 {
			t.Fatalf("bad watcher line %q", line)
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("bad watcher line %q", line)
		}
		target, err1 := strconv.Unquote(f[5])
		cmd, err2 := strconv.Unquote(f[6])
		if err1 != nil || err2 != nil {
			t.Fatalf("bad watcher line %q", line)
		}
		res.recs = append(res.recs, pwRec{pid: pid, what: f[2], kind: f[3], id: f[4], target: target, cmd: cmd, fs: f[7]})
	}
	return res
}

// pwFindings sorts what the watcher saw into the escapes: the host's runtime
// binary as a process's exe; a directory held open (O_PATH is enough to walk
// it); a file outside the container above stdio (a host cgroup file, a state
// dir file, a namespace that is not the container's, a sealed copy of the
// binary); a cwd or root outside the container; for a waiting init, anything
// beyond stdio and the exec fifo (initExtra). stray descriptors, files inside
// the container above stdio, are only logged: every Go program opens some
// while it starts (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size, its
// cgroup in /proc/self), so a runtime that still runs Go code in the
// container's pid namespace would show them now and then, and they give the
// container nothing it does not have.
type pwFindings struct {
	hostExe, hostDir, hostFile, rootCwd, initExtra []pwRec
	stray                                          []pwRec
}

type pwGroup struct {
	name string
	recs []pwRec
}

func (f pwFindings) groups() []pwGroup {
	return []pwGroup{
		{"host binary (exe)", f.hostExe}, {"host directory (fd)", f.hostDir}, {"file outside the container (fd)", f.hostFile},
		{"root or cwd outside the container", f.rootCwd}, {"init holding more than stdio and the exec fifo", f.initExtra},
	}
}

func (f pwFindings) total() int {
	return len(f.hostExe) + len(f.hostDir) + len(f.hostFile) + len(f.rootCwd) + len(f.initExtra)
}

func pwClassify(res pwResult, allowFd func(r pwRec) bool) pwFindings {
	var f pwFindings
	for _, r := range res.recs {
		n := r.fd()
		switch {
		case r.what == "exe" && r.kind == "host":
			f.hostExe = append(f.hostExe, r)
		case (r.what == "cwd" || r.what == "root") && r.kind == "out":
			f.rootCwd = append(f.rootCwd, r)
		case n < 0 || strings.HasPrefix(r.kind, "err:"):
		case allowFd != nil && allowFd(r):
		case r.kind == "dir":
			f.hostDir = append(f.hostDir, r)
		case n <= 2:
			// stdio is what the caller of the runtime chose to give the
			// process (here the test's output files).
		case r.kind == "pipe" || r.kind == "socket" || r.kind == "anon":
		case r.fs == "0x9041934":
			// On the anonymous-inode filesystem (an fs context or a mount being
			// made, caught mid-set-up, whose link may read "/"): no file behind it.
		case strings.HasPrefix(r.kind, "in-"):
			f.stray = append(f.stray, r)
		default:
			f.hostFile = append(f.hostFile, r)
		}
	}
	return f
}

// pwWaiterAllowed is what a process waiting for start (mine says which) may hold
// besides stdio: the exec fifo, the container's own procfs root (through which it
// reopens the fifo when start comes: the same /proc every process of the container
// has), and, in a Go init, the runtime's poller (an epoll and its wake-up eventfd,
// made at the first file init opens, which nothing may close under the runtime, and
// which lead to no file).
func pwWaiterAllowed(t *testing.T, mine func(pwRec) bool) func(pwRec) bool {
	t.Helper()
	var hostProc unix.Stat_t
	if err := unix.Stat("/proc", &hostProc); err != nil {
		t.Fatal(err)
	}
	hostProcDev := fmt.Sprintf("%d:", hostProc.Dev)
	return func(r pwRec) bool {
		switch {
		case pwIsExecFifo(r):
			return true
		case !mine(r):
			return false
		case r.kind == "dir" && r.fs == "proc" && r.target == "/proc" && !strings.HasPrefix(r.id, hostProcDev):
			return true
		case r.kind == "anon" && (r.target == "anon_inode:[eventpoll]" || r.target == "anon_inode:[eventfd]"):
			return true
		}
		return false
	}
}

// pwIsExecFifo is the exec fifo a created container's init holds open until
// start: the one host file the start protocol needs it to have.
func pwIsExecFifo(r pwRec) bool {
	return r.kind == "out-fifo" && strings.HasSuffix(r.target, "/exec.fifo")
}

var pwDigits = regexp.MustCompile(`[0-9]+`)

// pwLog logs the watcher's counters, every finding (up to a limit), and a
// digest of everything else it saw, grouped with numbers blanked out, so that
// a failure explains itself without thousands of lines.
func pwLog(t *testing.T, res pwResult, f pwFindings) {
	t.Helper()
	var b strings.Builder
	for _, k := range []string{"selfexe", "selfdir", "seconds", "loops", "inspections", "pids", "exeopened", "fdopened", "hostexe"} {
		fmt.Fprintf(&b, "%s=%s ", k, res.vals[k])
	}
	t.Logf("watcher: %s", b.String())
	// Per kind, so that hundreds of one kind do not hide the others.
	const limit = 25
	for _, group := range f.groups() {
		for i, r := range group.recs {
			if i == limit {
				t.Logf("FINDING %s: ... and %d more", group.name, len(group.recs)-limit)
				break
			}
			t.Logf("FINDING %s: %s", group.name, r)
		}
	}
	for i, r := range f.stray {
		if i == 20 {
			t.Logf("note: ... and %d more stray descriptors", len(f.stray)-i)
			break
		}
		t.Logf("note: stray descriptor (inside the container, not counted): %s", r)
	}
	digest := map[string]int{}
	example := map[string]pwRec{}
	for _, r := range res.recs {
		key := r.what + " " + r.kind + " " + pwDigits.ReplaceAllString(r.target, "N")
		digest[key]++
		if _, ok := example[key]; !ok {
			example[key] = r
		}
	}
	keys := make([]string, 0, len(digest))
	for k := range digest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.Reset()
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %4d x %s   (e.g. pid %d: %s)", digest[k], k, example[k].pid, example[k].cmd)
	}
	t.Logf("everything the watcher saw (count x what kind target):%s", b.String())
}

// pwFail reports the findings as one error naming what was found, counted in
// distinct processes, the way the issue counted them.
func pwFail(t *testing.T, what string, f pwFindings) {
	t.Helper()
	if f.total() == 0 {
		return
	}
	pids := func(rs []pwRec) int {
		m := map[int]bool{}
		for _, r := range rs {
			m[r.pid] = true
		}
		return len(m)
	}
	var found []string
	for _, g := range f.groups() {
		if len(g.recs) > 0 {
			found = append(found, fmt.Sprintf("%s %d times in %d processes", g.name, len(g.recs), pids(g.recs)))
		}
	}
	t.Errorf("ATTACK SUCCEEDED: %s: a process in the container's pid namespace with CAP_SYS_PTRACE found: %s",
		what, strings.Join(found, "; "))
}

// pwCheckSelf fails the test unless the watcher's own checks prove it can see
// what it looks for: a host-side dev:ino matches its fstat of an exe, and it
// recognises a directory descriptor.
func pwCheckSelf(t *testing.T, h *harness, res pwResult) {
	t.Helper()
	if want := pwDevIno(t, filepath.Join(h.rootfs, "bin", "pidwatch")); res.vals["selfexe"] != want {
		t.Fatalf("the watcher's own exe is %q inside, %s on the host: it cannot recognise the host binary, the test is broken", res.vals["selfexe"], want)
	}
	if res.vals["selfdir"] != "true" {
		t.Fatalf("the watcher did not see its own /proc handle as a directory: the test is broken\n%s", res.out)
	}
}

// pwStartWatcher creates and starts a container whose process is the watcher
// (pid 1 of its pid namespace, with CAP_SYS_PTRACE), and waits until it has
// made its first pass. It returns the container's init pid on the host and a
// function that stops the watcher and returns what it saw.
func pwStartWatcher(t *testing.T, h *harness, hostExe string) (int, func() pwResult) {
	t.Helper()
	pwInstall(t, h)
	const stop = "/tmp/pidwatch.stop"
	s := baseSpec("/bin/pidwatch", "-hostexe", hostExe, "-stop", stop, "-max", "50s")
	pwAddPtrace(s)
	cr := h.create(s)
	mustExit(t, cr, 0)
	mustExit(t, h.do("start", h.id), 0)
	waitOutput(t, cr.stdoutPath, "READY", 20*time.Second)
	pid := h.mustState(h.id).Pid
	return pid, func() pwResult {
		t.Helper()
		if err := os.WriteFile(filepath.Join(h.rootfs, stop), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		res := pwParse(t, waitOutput(t, cr.stdoutPath, "DONE", 20*time.Second))
		pwCheckSelf(t, h, res)
		return res
	}
}

// TestSecurityPidnsExposure: a process in a container with CAP_SYS_PTRACE (no
// user namespace) watches its pid namespace and, for every process that
// appears, opens /proc/<pid>/exe and everything under /proc/<pid>/fd. The
// runtime puts processes of its own there: hull exec's helper, the init of a
// container that joins this pid namespace, a created container's init
// waiting for start. None of them may show the host's hull binary (which the
// attacker could keep open and write once hull has exited, CVE-2019-5736) or
// hold a host directory or runtime file (a way out of the container's root,
// CVE-2024-21626) at any moment the attacker can see it. The watcher is a
// compiled loop because these windows last microseconds; each scenario also
// checks the watcher really saw the runtime's processes, so the test cannot
// pass by looking too slowly.
func TestSecurityPidnsExposure(t *testing.T) {
	t.Parallel()
	// Not a private copy: what counts is the binary the runtime really runs.
	hostExe := pwDevIno(t, hullBinary)

	// Subtests run one at a time: each watcher keeps a core busy.
	t.Run("exec", func(t *testing.T) {
		const execs = 200
		h := newHarness(t)
		_, stop := pwStartWatcher(t, h, hostExe)
		done := 0
		start := time.Now()
		deadline := time.Now().Add(35 * time.Second)
		for ; done < execs && time.Now().Before(deadline); done++ {
			mustExit(t, h.do("exec", h.id, "true"), 0)
		}
		t.Logf("%d execs in %s", done, time.Since(start).Round(time.Millisecond))
		res := stop()
		f := pwClassify(res, nil)
		pwLog(t, res, f)
		if pids, fds := res.count(t, "pids"), res.count(t, "fdopened"); pids < done/2 || fds < done/2 {
			t.Fatalf("poller saw nothing: the test is broken: %d execs, the watcher saw %d new processes and read the fds of %d", done, pids, fds)
		}
		pwFail(t, fmt.Sprintf("%d hull exec", done), f)
	})

	// Both ways hull builds a container that joins a pid namespace: from outside it,
	// forking only the container's process in (the default where procfs takes
	// pidns=), and handing over to a second stage forked in after pivot_root (here
	// forced by a startContainer hook, which needs a Go init inside).
	for _, variant := range []string{"join-pidns", "join-pidns-handover"} {
		t.Run(variant, func(t *testing.T) {
			const creates = 20
			h := newHarness(t)
			initPid, stop := pwStartWatcher(t, h, hostExe)
			sib := h.sibling(t)
			s := baseSpec("sleep", "1001")
			joinPidNS(s, initPid)
			if variant == "join-pidns-handover" {
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
			}
			// An lxcfs-style file over /proc/uptime: handed to the second stage as
			// a detached mount, the one host file it holds, which the container
			// reads through /proc/uptime anyway.
			uptime := filepath.Join(t.TempDir(), "uptime")
			if err := os.WriteFile(uptime, []byte("4242.00 1.00\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/uptime", Type: "bind", Source: uptime, Options: []string{"bind", "ro"}})
			uptimeID := pwDevIno(t, uptime)
			sib.writeSpec(s)
			for i := 0; i < creates; i++ {
				mustExit(t, sib.do("create", "--bundle", sib.bundle, sib.id), 0)
				mustExit(t, sib.do("delete", "--force", sib.id), 0)
			}
			res := stop()
			// The sibling's processes: everything but the watcher's own container's
			// init (pid 1) and the watcher. Its root and cwd are the sibling's own
			// root filesystem, nothing else; the second stage is started from hull's
			// sealed init stage (a read-only overlay: no way to write the file).
			// The second stage works in the sibling's own tree: its directories and
			// the procfs and sysfs it mounted (not the host's) are the sibling's.
			mine := func(r pwRec) bool { return r.pid != 1 && !strings.Contains(r.cmd, "pidwatch") }
			waiter := pwWaiterAllowed(t, mine)
			sibFiles := map[string]bool{}
			_ = filepath.WalkDir(sib.rootfs, func(path string, d os.DirEntry, err error) error {
				var st unix.Stat_t
				if err == nil && unix.Lstat(path, &st) == nil {
					sibFiles[fmt.Sprintf("%d:%d", st.Dev, st.Ino)] = true
				}
				return nil
			})
			// Every filesystem the host has mounted; the sibling's own procfs,
			// sysfs and tmpfs instances are not among them.
			hostDev := map[string]bool{}
			for _, line := range strings.Split(readFile("/proc/self/mountinfo"), "\n") {
				f := strings.Fields(line)
				if len(f) < 3 {
					continue
				}
				if maj, min, ok := strings.Cut(f[2], ":"); ok {
					a, _ := strconv.ParseUint(maj, 10, 32)
					b, _ := strconv.ParseUint(min, 10, 32)
					hostDev[fmt.Sprintf("%d", unix.Mkdev(uint32(a), uint32(b)))] = true
				}
			}
			allowed := func(r pwRec) bool {
				if waiter(r) {
					return true
				}
				if !mine(r) {
					return false
				}
				dev, _, _ := strings.Cut(r.id, ":")
				switch {
				case r.kind == "out-file" && r.fs == "overlay" && (r.target == "/"+filepath.Base(hullBinary) || strings.HasPrefix(r.target, "/hull-init-")):
					return true
				case sibFiles[r.id], r.id == uptimeID:
					return true
				case (r.fs == "proc" || r.fs == "sysfs" || r.fs == "tmpfs") && !hostDev[dev]:
					return true
				}
				return false
			}
			f := pwClassify(res, allowed)
			sibRoot := pwDevIno(t, sib.rootfs)
			var rootCwd []pwRec
			for _, r := range f.rootCwd {
				if r.id != sibRoot {
					rootCwd = append(rootCwd, r)
				}
			}
			f.rootCwd = rootCwd
			pwLog(t, res, f)
			// Every create leaves a process waiting in this pid namespace until
			// the delete: a watcher that missed many of them is not watching.
			if pids, fds := res.count(t, "pids"), res.count(t, "fdopened"); pids < creates/2 || fds < creates/2 {
				t.Fatalf("poller saw nothing: the test is broken: %d creates, the watcher saw %d new processes and read the fds of %d", creates, pids, fds)
			}
			pwFail(t, fmt.Sprintf("%d hull create joining the pid namespace (%s)", creates, variant), f)
		})
	}

	t.Run("created-init", func(t *testing.T) {
		h := newHarness(t)
		pwInstall(t, h)
		s := baseSpec("sleep", "1001")
		pwAddPtrace(s)
		h.writeSpec(s)
		// A descriptor the caller of hull create leaves open (inherited, not
		// close-on-exec) on a host directory: nothing of it may reach init.
		hostDir := t.TempDir()
		dir, err := os.Open(hostDir)
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		cr, err := secHull(h, hullBinary, cmdOpts{extra: []*os.File{dir}}, "create", "--bundle", h.bundle, h.id)
		if err != nil {
			t.Fatal(err)
		}
		mustExit(t, cr, 0)
		st := h.mustState(h.id)
		if st.Status != "created" {
			t.Fatalf("status %q after create", st.Status)
		}
		t.Logf("init (host pid %d) fds as the host sees them:%s", st.Pid, pwHostFds(st.Pid))

		r := h.do("exec", "--detach", h.id, "/bin/pidwatch", "-hostexe", hostExe, "-max", "300ms")
		mustExit(t, r, 0)
		res := pwParse(t, waitOutput(t, r.stdoutPath, "DONE", 20*time.Second))
		pwCheckSelf(t, h, res)

		// init may hold stdio, the exec fifo, the container's own procfs (its
		// root, through which it reopens the fifo when start comes: the same
		// /proc every process of the container has) and the Go runtime's
		// poller (an epoll and its wake-up eventfd, made at the first file
		// init opens, which nothing may close under the runtime, and which
		// lead to no file); nothing else, not even a pipe.
		allowed := pwWaiterAllowed(t, func(r pwRec) bool { return r.pid == 1 })
		f := pwClassify(res, allowed)
		var stray []pwRec
		for _, rec := range f.stray {
			if rec.pid == 1 {
				f.initExtra = append(f.initExtra, rec)
			} else {
				stray = append(stray, rec)
			}
		}
		f.stray = stray
		seen := map[int]bool{}
		for _, rec := range res.recs {
			if rec.pid != 1 || strings.HasPrefix(rec.kind, "err:") {
				continue
			}
			n := rec.fd()
			seen[n] = true
			if n > 2 && (rec.kind == "pipe" || rec.kind == "socket" || rec.kind == "anon") && !allowed(rec) {
				f.initExtra = append(f.initExtra, rec)
			}
		}
		pwLog(t, res, f)
		if !seen[0] || !seen[1] || !seen[2] {
			t.Fatalf("poller saw nothing: the test is broken: no record of init's stdio\n%s", res.out)
		}
		dirID := pwDevIno(t, hostDir)
		for _, rec := range res.recs {
			if rec.id == dirID {
				t.Errorf("ATTACK SUCCEEDED: the host directory hull create's caller left open reached pid %d as %s", rec.pid, rec.what)
			}
		}
		pwFail(t, "a created container's init", f)
	})
}

// pwHostFds lists pid's descriptors from the host, for the log.
func pwHostFds(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return " " + err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "\n  %s -> %s", e.Name(), target)
	}
	return b.String()
}
