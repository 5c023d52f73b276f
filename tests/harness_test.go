//go:build linux

package tests

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// cmdTimeout bounds every runtime command, so a hang fails one test instead of
// blocking the suite until the go test timeout.
const cmdTimeout = 30 * time.Second

var (
	hullBinary   string       // absolute path of the runtime under test
	rootfsTmpl   string       // busybox rootfs, copied into every bundle
	cgroupPrefix string       // cgroupsPath = cgroupPrefix + id, "" for none
	cgroupRoot   string       // where cgroupsPath resolves, for the leftover check
	repoRoot     string       // the hull module root
	idSeq        atomic.Int64 // makes container ids unique within the run
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		// A precondition CI always has: failing, not skipping (internal/hulltest).
		fmt.Fprintln(os.Stderr, "tests: missing precondition: hull integration tests need root (containers create namespaces, mounts and devices); run them as root, e.g. `sudo make test`")
		return 1
	}
	tmp, err := os.MkdirTemp("", "hull-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	if err := setup(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "tests: setup:", err)
		return 1
	}
	return m.Run()
}

func setup(tmp string) error {
	var err error
	if repoRoot, err = filepath.Abs(".."); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err != nil {
		return fmt.Errorf("cannot find the repository root above the tests directory: %w", err)
	}

	if b := os.Getenv("HULL_BINARY"); b != "" {
		if hullBinary, err = filepath.Abs(b); err != nil {
			return err
		}
		if st, err := os.Stat(hullBinary); err != nil || st.Mode()&0o111 == 0 {
			return fmt.Errorf("HULL_BINARY=%s is not an executable file", b)
		}
	} else {
		hullBinary = filepath.Join(tmp, "hull")
		// Through the Makefile, so the tests run hull built exactly as users get it
		// (static, with the same tags and flags).
		cmd := exec.Command("make", "-s", "hull", "BIN="+hullBinary)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building hull: %v\n%s", err, out)
		}
	}

	cgroupPrefix = "/hulltest-"
	if v, ok := os.LookupEnv("HULL_TEST_CGROUP_PREFIX"); ok {
		cgroupPrefix = v
		if v == "none" {
			cgroupPrefix = ""
		}
	}
	cgroupRoot = os.Getenv("HULL_TEST_CGROUP_ROOT")
	if cgroupRoot == "" {
		var st unix.Statfs_t
		if unix.Statfs("/sys/fs/cgroup/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			cgroupRoot = "/sys/fs/cgroup/unified"
		} else if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			cgroupRoot = "/sys/fs/cgroup"
		}
	}

	rootfsTmpl = filepath.Join(tmp, "rootfs")
	return buildRootfs(rootfsTmpl)
}

// repoVersion is the content of the VERSION file, as the Makefile uses it.
func repoVersion() string {
	b, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	if err != nil {
		return "0.0.0"
	}
	return strings.TrimSpace(string(b))
}

// findBusybox returns a statically linked busybox: the rootfs has no libc.
func findBusybox() (string, error) {
	path, err := exec.LookPath("busybox")
	if err != nil {
		path = "/bin/busybox"
	}
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("need a static busybox (apt-get install busybox-static, or `make deps`): %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked; install busybox-static (`make deps`)", path)
		}
	}
	return path, nil
}

// buildRootfs makes the busybox root filesystem every bundle starts from:
// /bin/busybox, one symlink per applet, users root, hull (1000) and nobody.
func buildRootfs(dir string) error {
	bb, err := findBusybox()
	if err != nil {
		return err
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "root"), 0o700); err != nil {
		return err
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, "bin", "busybox")
	if err := os.WriteFile(target, data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(target, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "bin/busybox" {
			continue
		}
		link := filepath.Join(dir, filepath.Clean("/"+applet))
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", link); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"hull:x:1000:1000:hull:/tmp:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group": "root:x:0:\nhull:x:1000:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// baseSpec mirrors what `runc spec` writes, with terminal off and the given
// args. Tests change what they exercise on top of it. hull warns about nothing
// in it, so a test can tell hull's warnings from a clean run.
func baseSpec(args ...string) *specs.Spec {
	caps := func() []string { return []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"} }
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     args,
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "hull",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

// shell is the args of `sh -c script`.
func shell(script string) []string { return []string{"sh", "-c", script} }

// removeNamespace drops every namespace of type typ from s.
func removeNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) {
	var keep []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != typ {
			keep = append(keep, ns)
		}
	}
	s.Linux.Namespaces = keep
}

// joinPidNS makes s's pid namespace the one of process pid (another container's
// init, say), joined by path.
func joinPidNS(s *specs.Spec, pid int) {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.PIDNamespace {
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", pid)
		}
	}
}

// harness is one test's container: its bundle, id and state root.
type harness struct {
	t        *testing.T
	root     string // --root state directory
	ownsRoot bool   // false for siblings sharing another harness's root
	bundle   string
	rootfs   string
	id       string
	outDir   string // stdout/stderr files of runtime commands
	cleaned  bool
}

// newHarness gives the test a fresh bundle (a copy of the busybox rootfs), a
// state root and a container id, and registers the cleanup that deletes the
// container and asserts nothing was left behind.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, root: t.TempDir(), ownsRoot: true}
	h.init()
	return h
}

// sibling is a second container in the same state root (for list and
// duplicate-id tests), with its own bundle and id.
func (h *harness) sibling(t *testing.T) *harness {
	t.Helper()
	s := &harness{t: t, root: h.root}
	s.init()
	return s
}

func (h *harness) init() {
	t := h.t
	t.Helper()
	h.bundle = t.TempDir()
	h.outDir = t.TempDir()
	h.rootfs = filepath.Join(h.bundle, "rootfs")
	if out, err := exec.Command("cp", "-a", rootfsTmpl, h.rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copying rootfs: %v: %s", err, out)
	}
	h.id = newID(t)
	t.Cleanup(h.cleanup)
}

var idClean = regexp.MustCompile(`[^A-Za-z0-9]+`)

func newID(t *testing.T) string {
	name := strings.ToLower(idClean.ReplaceAllString(t.Name(), "-"))
	name = strings.Trim(name, "-")
	name = strings.TrimPrefix(name, "test")
	name = strings.Trim(name, "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("h%d-%s", idSeq.Add(1), name)
}

// result is what one runtime command did.
type result struct {
	args       []string
	stdout     string
	stderr     string
	exit       int // -1 when killed or timed out
	stdoutPath string
	timedOut   bool
}

func (r result) String() string {
	return fmt.Sprintf("`hull %s`: exit %d\nstdout: %q\nstderr: %q", strings.Join(r.args, " "), r.exit, r.stdout, r.stderr)
}

// readStdout re-reads the command's stdout file: after `create`, the
// container's own stdout keeps going there.
func (r result) readStdout() string {
	b, _ := os.ReadFile(r.stdoutPath)
	return string(b)
}

type cmdOpts struct {
	stdin  io.Reader
	extra  []*os.File // become fds 3, 4, ... of the runtime
	dir    string
	noRoot bool     // do not pass --root
	env    []string // NAME=value added to the test's environment
}

// hullOpts runs the runtime with --root and args under cmdTimeout. stdout and
// stderr go to files, not pipes: after `create` the container inherits them
// and a pipe would keep Wait blocked until the container exits.
func (h *harness) hullOpts(o cmdOpts, args ...string) result {
	h.t.Helper()
	res, err := h.runBinary(hullBinary, o, args...)
	if err != nil {
		h.t.Fatalf("hull %s: %v", strings.Join(res.args, " "), err)
	}
	return res
}

// runBinary is hullOpts for any runtime binary bin; it returns an error instead of
// failing the test when bin cannot be started at all.
func (h *harness) runBinary(bin string, o cmdOpts, args ...string) (result, error) {
	h.t.Helper()
	full := args
	if !o.noRoot {
		full = append([]string{"--root", h.root}, args...)
	}
	res := result{args: full, exit: -1}
	stdout, err := os.CreateTemp(h.outDir, "stdout-")
	if err != nil {
		h.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.CreateTemp(h.outDir, "stderr-")
	if err != nil {
		h.t.Fatal(err)
	}
	defer stderr.Close()
	res.stdoutPath = stdout.Name()

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Stdin = o.stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = o.extra
	cmd.Dir = o.dir
	if o.env != nil {
		cmd.Env = append(os.Environ(), o.env...)
	}
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.timedOut = true
		h.t.Errorf("%s %s: timed out after %s", filepath.Base(bin), strings.Join(full, " "), cmdTimeout)
	case err == nil:
		res.exit = 0
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	default:
		return res, err
	}
	res.stdout = readFile(stdout.Name())
	res.stderr = readFile(stderr.Name())
	return res, nil
}

// do runs the runtime with --root and args and returns the whole result.
func (h *harness) do(args ...string) result {
	h.t.Helper()
	return h.hullOpts(cmdOpts{}, args...)
}

// writeSpec writes s as the bundle's config.json, with this container's
// cgroupsPath.
func (h *harness) writeSpec(s *specs.Spec) {
	h.t.Helper()
	if s.Linux != nil && s.Linux.CgroupsPath == "" && cgroupPrefix != "" {
		s.Linux.CgroupsPath = cgroupPrefix + h.id
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.bundle, "config.json"), data, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// run writes s and runs the container in the foreground (`hull run`).
func (h *harness) run(s *specs.Spec, extraArgs ...string) result {
	h.t.Helper()
	h.writeSpec(s)
	args := append([]string{"run", "--bundle", h.bundle}, extraArgs...)
	return h.do(append(args, h.id)...)
}

// create writes s and creates the container.
func (h *harness) create(s *specs.Spec, extraArgs ...string) result {
	h.t.Helper()
	h.writeSpec(s)
	args := append([]string{"create", "--bundle", h.bundle}, extraArgs...)
	return h.do(append(args, h.id)...)
}

// runContainer runs s in a new harness and returns the result; the container
// must have produced it with hull run in the foreground.
func runContainer(t *testing.T, s *specs.Spec) result {
	t.Helper()
	return newHarness(t).run(s)
}

// mustExit fails the test now unless r exited with want.
func mustExit(t *testing.T, r result, want int) {
	t.Helper()
	if r.exit != want {
		t.Fatalf("want exit %d, got %s", want, r)
	}
}

// containerState is the JSON of `hull state`, as runc prints it.
type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

// state runs `hull state id`; ok is false when the command failed.
func (h *harness) state(id string) (st containerState, r result, ok bool) {
	h.t.Helper()
	r = h.do("state", id)
	if r.exit != 0 {
		return st, r, false
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		h.t.Fatalf("state %s: bad JSON: %v\n%s", id, err, r.stdout)
	}
	return st, r, true
}

func (h *harness) mustState(id string) containerState {
	h.t.Helper()
	st, r, ok := h.state(id)
	if !ok {
		h.t.Fatalf("state: %s", r)
	}
	return st
}

// waitStatus polls `hull state` until the status is want.
func (h *harness) waitStatus(id, want string, timeout time.Duration) containerState {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, r, ok := h.state(id)
		if ok && st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("container %s did not reach %q in %s; last state: %+v (%s)", id, want, timeout, st, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOutput polls a file until it contains want.
func waitOutput(t *testing.T, path, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := readFile(path)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q never appeared in the container's output; got %q", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgroupDir is where this container's cgroup would live on the host.
func (h *harness) cgroupDir() string {
	if cgroupPrefix == "" || cgroupRoot == "" {
		return ""
	}
	return filepath.Join(cgroupRoot, cgroupPrefix+h.id)
}

// needCgroupDir is cgroupDir for the tests about the container's cgroup. A run
// that asked for configs without a cgroupsPath (HULL_TEST_CGROUP_PREFIX=none, as
// for the runc reference) skips them; a host without a cgroup2 mount fails them,
// as every host and VM the tests run on has one.
func (h *harness) needCgroupDir() string {
	h.t.Helper()
	if cgroupPrefix == "" {
		h.t.Skip("HULL_TEST_CGROUP_PREFIX=none: this run writes no cgroupsPath")
	}
	if cgroupRoot == "" {
		hulltest.Require(h.t, "a cgroup2 mount (the host's /sys/fs/cgroup/unified, the VM's /sys/fs/cgroup)", errors.New("none at /sys/fs/cgroup or /sys/fs/cgroup/unified (or set HULL_TEST_CGROUP_ROOT)"))
	}
	return h.cgroupDir()
}

// cleanup deletes the container (whatever state it is in) and asserts that
// nothing is left of it.
func (h *harness) cleanup() {
	t := h.t
	if h.cleaned {
		return
	}
	h.cleaned = true
	if r := h.do("delete", "--force", h.id); r.exit != 0 {
		t.Errorf("cleanup: %s", r)
	}
	h.assertNothingLeft(h.ownsRoot)
}

// assertNothingLeft fails the test if the container left a state directory
// entry, a process, a mount or a cgroup, then removes such leftovers so the
// temporary directories can be deleted safely. With wholeRoot, any entry in
// the state root counts, not only the one named after the id, but for the
// seccomp cache and the written-out init stage, which outlive containers by design.
func (h *harness) assertNothingLeft(wholeRoot bool) {
	t := h.t
	t.Helper()

	if wholeRoot {
		entries, err := os.ReadDir(h.root)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("reading state root: %v", err)
		}
		for _, e := range entries {
			if e.Name() == seccompCacheDir || e.Name() == stageDir {
				continue
			}
			t.Errorf("left behind: state root entry %s", filepath.Join(h.root, e.Name()))
		}
	} else if _, err := os.Lstat(filepath.Join(h.root, h.id)); err == nil {
		t.Errorf("left behind: state dir %s", filepath.Join(h.root, h.id))
	}

	// Processes get a moment: a killed init may still be exiting.
	var procs []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs = h.bundleProcesses()
		if len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, p := range procs {
		t.Errorf("left behind: process %s", p)
		if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}

	mounts := mountsUnder(h.bundle)
	for _, m := range mounts {
		t.Errorf("left behind: host mount %s", m)
	}
	// Deepest first, detached: never let RemoveAll walk into a leaked mount.
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}

	if dir := h.cgroupDir(); dir != "" {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("left behind: cgroup %s", dir)
			time.Sleep(200 * time.Millisecond)
			_ = os.Remove(dir) // ours: named after this test's container id
		}
	}
}

// bundleProcesses lists processes whose root or cwd is in the bundle. A
// pivoted container's /proc/PID/root reads as "/", so the root is compared by
// device and inode with the bundle's rootfs as well as by path.
func (h *harness) bundleProcesses() []string {
	var rootSt unix.Stat_t
	haveRoot := unix.Stat(h.rootfs, &rootSt) == nil
	entries, _ := os.ReadDir("/proc")
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		why := ""
		for _, l := range []string{"root", "cwd"} {
			if target, err := os.Readlink(filepath.Join(dir, l)); err == nil && inDir(target, h.bundle) {
				why = l + " " + target
			}
		}
		var st unix.Stat_t
		if why == "" && haveRoot && unix.Stat(filepath.Join(dir, "root"), &st) == nil &&
			st.Dev == rootSt.Dev && st.Ino == rootSt.Ino {
			why = "root is the bundle rootfs"
		}
		if why != "" {
			comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
			found = append(found, fmt.Sprintf("%d (%s): %s", pid, strings.TrimSpace(string(comm)), why))
		}
	}
	return found
}

func inDir(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// mountsUnder lists host mount points at or below dir.
func mountsUnder(dir string) []string {
	var found []string
	for _, m := range parseMountinfo(readFile("/proc/self/mountinfo")) {
		if inDir(m.point, dir) {
			found = append(found, m.point)
		}
	}
	return found
}

type mountEntry struct {
	dev, root, point, opts, fstype, source, super string // dev: the superblock's major:minor
}

// parseMountinfo parses /proc/PID/mountinfo text.
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, s := range f {
			if s == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+4 {
			continue
		}
		out = append(out, mountEntry{
			dev: f[2], root: hosttest.UnescapeMount(f[3]), point: hosttest.UnescapeMount(f[4]), opts: f[5],
			fstype: f[sep+1], source: hosttest.UnescapeMount(f[sep+2]), super: f[sep+3],
		})
	}
	return out
}

// The helpers every suite shares (internal/hulltest), under the names these
// tests have always called them by.
var (
	readFile      = hulltest.ReadFile
	procStatus    = hulltest.ProcStatus
	waitFor       = hulltest.WaitFor
	pidAlive      = hulltest.PidAlive
	pidStaysAlive = hulltest.PidStaysAlive
)

// sections splits output on lines holding only "@@".
func sections(out string) []string {
	return strings.Split(out, "@@\n")
}

// testTool is a Go program of testdata built once per run, statically (the busybox
// rootfs has no libc), for tests to install into their bundles.
type testTool struct {
	pkg, name string
	once      sync.Once
	path      string
	err       error
}

func (tt *testTool) binary(t *testing.T) string {
	t.Helper()
	tt.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		tt.path = filepath.Join(filepath.Dir(rootfsTmpl), tt.name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-o", tt.path, tt.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			tt.err = fmt.Errorf("building %s: %v\n%s", tt.pkg, err, out)
		}
	})
	if tt.err != nil {
		t.Fatal(tt.err)
	}
	return tt.path
}

// install copies the tool into h's rootfs as /bin/<as>.
func (tt *testTool) install(t *testing.T, h *harness, as string) {
	t.Helper()
	data, err := os.ReadFile(tt.binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.rootfs, "bin", as), data, 0o755); err != nil {
		t.Fatal(err)
	}
}
