//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// podman is podman with every directory it writes under dir: storage (--root),
// run state (--runroot), --tmpdir, image copies, network configs, events log.
// It runs in the sandbox, which gives it a cgroup v2-only view, so it uses
// cgroup v2 with the cgroupfs manager. Podman passes hull no --root: hull's
// state is in its default /run/hull, on the sandbox's tmpfs.
type podman struct {
	dir    string
	env    []string
	global []string
}

func newPodman(dir string) (*podman, error) {
	p := &podman{dir: dir}
	for _, d := range []string{"root", "runroot", "tmp", "vartmp", "net", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	var extra []string
	if !sb.HasController("pids") {
		// podman asks for pids.max 2048 by default; pids_limit 0 asks for none.
		extra = append(extra, "pids_limit = 0")
	}
	if !hasCap(unix.CAP_SYS_RESOURCE) {
		// Rootful podman asks for RLIMIT_NOFILE and RLIMIT_NPROC 1048576;
		// raising a hard limit needs CAP_SYS_RESOURCE, which this machine
		// withholds (runc fails the same way).
		var nofile, nproc unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
		_ = unix.Getrlimit(unix.RLIMIT_NPROC, &nproc)
		// podman lowers its own RLIMIT_NPROC to pid_max, which conmon and
		// hull inherit.
		if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
			if pm, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && pm < nproc.Max {
				nproc.Max = pm
			}
		}
		extra = append(extra, fmt.Sprintf("default_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]", nofile.Max, nofile.Max, nproc.Max, nproc.Max))
	}
	conf := fmt.Sprintf(`[containers]
netns = "none"
%s

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
tmp_dir = %q
image_copy_tmp_dir = %q

[network]
network_config_dir = %q
`, strings.Join(extra, "\n"), filepath.Join(dir, "events.log"), filepath.Join(dir, "tmp"),
		filepath.Join(dir, "vartmp"), filepath.Join(dir, "net"))
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "runroot"))
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storage), 0o600); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "home")
	p.env = append(append([]string{}, baseEnv[0], "LANG=C"),
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local/share"),
		"TMPDIR="+filepath.Join(dir, "vartmp"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
	)
	p.global = []string{
		"--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(dir, "runroot"),
		"--tmpdir", filepath.Join(dir, "tmp"),
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "file",
		"--runtime", wrapper,
	}
	if r := p.podman("load", "-i", imageTar); r.exit != 0 {
		return nil, fmt.Errorf("podman load: %s", r)
	}
	return p, nil
}

// hasCap reports whether this process has capability c in its effective set.
func hasCap(c int) bool {
	for _, line := range strings.Split(hulltest.ReadFile("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && bits&(1<<uint(c)) != 0
		}
	}
	return false
}

func (p *podman) podman(args ...string) result {
	return runSandboxed(p.env, "podman", append(append([]string{}, p.global...), args...)...)
}

func (p *podman) podmanPTY(args ...string) result {
	return runPTY(p.env, "podman", append(append([]string{}, p.global...), args...)...)
}

// close removes every container left (each test removes its own).
func (p *podman) close() error {
	if r := p.podman("rm", "--all", "--force", "--time", "0"); r.exit != 0 {
		return fmt.Errorf("podman rm --all: %s", r)
	}
	return nil
}

func needPodman(t *testing.T) *podman {
	t.Helper()
	switch {
	case podSkip != "":
		hosttest.EngineMissing(t, podSkip)
	case podErr != nil:
		t.Fatalf("podman is installed but could not be used: %v", podErr)
	}
	return pod
}

// inspect returns podman inspect --format format for name.
func (p *podman) inspect(t *testing.T, name, format string) string {
	t.Helper()
	r := p.podman("inspect", "--format", format, name)
	if r.exit != 0 {
		t.Fatalf("podman inspect: %s", r)
	}
	return strings.TrimSpace(r.stdout)
}

// track registers the cleanup of container name (full id from idOf): removed
// if still there, then no hull state, cgroup or process of it may remain, and
// every `hull delete` of it must have exited 0.
func (p *podman) track(t *testing.T, name string, idOf func() string) {
	t.Helper()
	t.Cleanup(func() {
		id := idOf()
		if r := p.podman("ps", "--all", "--quiet", "--no-trunc"); id != "" && strings.Contains(r.stdout, id) {
			if r := p.podman("rm", "--force", "--time", "0", id); r.exit != 0 {
				t.Errorf("cleanup: %s", r)
			}
		}
		if id == "" {
			return
		}
		if _, err := os.Lstat(sb.Path("/run/hull/" + id)); err == nil {
			t.Errorf("left behind: hull state directory /run/hull/%s (in the sandbox)", id)
		}
		cg := filepath.Join(sb.CG, "libpod_parent", "libpod-"+id)
		hulltest.WaitFor(10*time.Second, func() bool { _, err := os.Stat(cg); return err != nil })
		if _, err := os.Stat(cg); err == nil {
			t.Errorf("left behind: cgroup %s (processes: %v)", cg, sb.CgroupProcs(filepath.Join("libpod_parent", "libpod-"+id)))
		}
		checkDeletes(t, id)
		checkV1(t)
		logCalls(t, id)
	})
}

// TestPodmanRunRm: `podman run --rm` prints the container's output and exits
// with its code; the container has its own cgroup namespace (podman's
// default on cgroup v2) rooted at the cgroup podman chose.
func TestPodmanRunRm(t *testing.T) {
	p := needPodman(t)
	cidfile := filepath.Join(t.TempDir(), "cid")
	idOf := func() string { return strings.TrimSpace(hulltest.ReadFile(cidfile)) }
	p.track(t, "", idOf)
	r := p.podman("run", "--rm", "--cidfile", cidfile, imageName, "sh", "-c", "echo hello from hull; cat /proc/self/cgroup; exit 7")
	if r.exit != 7 {
		t.Fatalf("want exit 7, got %s", r)
	}
	if !strings.Contains(r.stdout, "hello from hull") {
		t.Errorf("the container's output did not reach podman: %s", r)
	}
	if !strings.Contains(r.stdout, "0::/\n") {
		t.Errorf("the container's cgroup namespace is not rooted at its cgroup: %s", r)
	}
	id := idOf()
	if id == "" {
		t.Fatal("podman wrote no container id")
	}
	got := subs(id)
	if len(got) < 3 || got[0] != "create" || got[1] != "start" || !strings.HasPrefix(got[len(got)-1], "delete") {
		t.Errorf("hull calls: %v; want create, start, ..., delete", got)
	}
	for _, cl := range callsFor(id) {
		if cl.Exit != 0 {
			t.Errorf("%s", cl)
		}
	}
	if r := p.podman("ps", "--all", "--quiet", "--no-trunc"); strings.Contains(r.stdout, id) {
		t.Errorf("run --rm left the container: %s", r.stdout)
	}
}

// TestPodmanLifecycle: run -d, ps, exec (plain and -t), pause/unpause,
// stop (SIGTERM, trapped: exit 3), rm.
func TestPodmanLifecycle(t *testing.T) {
	p := needPodman(t)
	name := newID("plife")
	var id string
	p.track(t, name, func() string { return id })
	r := p.podman("run", "-d", "--name", name, imageName, "sh", "-c", lifecycleScript)
	if r.exit != 0 {
		t.Fatalf("podman run -d: %s", r)
	}
	id = strings.TrimSpace(r.stdout)

	if r := p.podman("ps", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(r.stdout, name+" Up") {
		t.Errorf("podman ps does not show %s up: %s", name, r)
	}
	if r := p.podman("exec", name, "sh", "-c", "echo exec-out; tr '\\0' ' ' < /proc/1/cmdline; echo; exit 4"); r.exit != 4 {
		t.Errorf("want exit 4, got %s", r)
	} else if !strings.Contains(r.stdout, "exec-out") || !strings.Contains(r.stdout, "trap") {
		t.Errorf("exec did not run in the container's pid namespace: %s", r)
	}
	if r := p.podmanPTY("exec", "-it", name, "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 5"); r.exit != 5 {
		t.Errorf("exec -it: want exit 5, got %s", r)
	} else if !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "stdin-is-a-tty") {
		t.Errorf("exec -it: no terminal in the container: %s", r)
	}

	if r := p.podman("pause", name); r.exit != 0 {
		t.Errorf("podman pause: %s", r)
	} else {
		if st := p.inspect(t, name, "{{.State.Status}}"); st != "paused" {
			t.Errorf("paused container's status: %q", st)
		}
		events := filepath.Join(sb.CG, "libpod_parent", "libpod-"+id, "cgroup.events")
		if ev := hulltest.ReadFile(events); !strings.Contains(ev, "frozen 1") {
			t.Errorf("paused, but %s says %q", events, ev)
		}
		if r := p.podman("unpause", name); r.exit != 0 {
			t.Errorf("podman unpause: %s", r)
		}
		if st := p.inspect(t, name, "{{.State.Status}}"); st != "running" {
			t.Errorf("unpaused container's status: %q", st)
		}
	}

	if r := p.podman("stop", name); r.exit != 0 {
		t.Fatalf("podman stop: %s", r)
	}
	if code := p.inspect(t, name, "{{.State.ExitCode}}"); code != "3" {
		t.Errorf("stopped container's exit code %s; want 3 (its SIGTERM trap)", code)
	}
	if r := p.podman("rm", name); r.exit != 0 {
		t.Fatalf("podman rm: %s", r)
	}
	want := []string{"create", "start", "exec", "exec", "pause", "resume", "kill"}
	got := subs(id)
	if len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("hull calls: %v; want %v, then delete", got, want)
	}
	for _, cl := range callsFor(id) {
		if cl.Exit != 0 {
			t.Errorf("%s", cl)
		}
		if cl.Sub == "kill" && strings.Join(cl.SubArgs, " ") != id+" 15" {
			t.Errorf("podman stop: %s; want kill %s 15", cl, id)
		}
	}
}

// TestPodmanStopTimeoutRmForce: `podman stop -t 1` of an init that ignores
// SIGTERM ends in SIGKILL (exit 137); `podman rm -f` of a running container
// kills and deletes it.
func TestPodmanStopTimeoutRmForce(t *testing.T) {
	p := needPodman(t)
	name := newID("pstop")
	var id string
	p.track(t, name, func() string { return id })
	r := p.podman("run", "-d", "--name", name, imageName, "sleep", "1000")
	if r.exit != 0 {
		t.Fatalf("podman run -d: %s", r)
	}
	id = strings.TrimSpace(r.stdout)
	start := time.Now()
	if r := p.podman("stop", "--time", "1", name); r.exit != 0 {
		t.Fatalf("podman stop: %s", r)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("podman stop -t 1 took %s", d)
	}
	if code := p.inspect(t, name, "{{.State.ExitCode}}"); code != "137" {
		t.Errorf("exit code %s; want 137 (SIGKILL)", code)
	}
	var sigs []string
	for _, cl := range callsFor(id) {
		if cl.Sub == "kill" {
			sigs = append(sigs, cl.SubArgs[len(cl.SubArgs)-1])
		}
	}
	if strings.Join(sigs, " ") != "15 9" {
		t.Errorf("kill signals %v; want 15 then 9", sigs)
	}

	// rm -f of a running container.
	if r := p.podman("start", name); r.exit != 0 {
		t.Fatalf("podman start: %s", r)
	}
	if st := p.inspect(t, name, "{{.State.Status}}"); st != "running" {
		t.Fatalf("restarted container's status: %q", st)
	}
	pid, _ := strconv.Atoi(p.inspect(t, name, "{{.State.Pid}}"))
	if r := p.podman("rm", "--force", "--time", "0", name); r.exit != 0 {
		t.Fatalf("podman rm -f: %s", r)
	}
	if pid > 0 && !hulltest.WaitFor(10*time.Second, func() bool { return !hulltest.PidAlive(pid) }) {
		t.Errorf("init %d survived podman rm -f", pid)
	}
}

// TestPodmanRunErrors: hull's error for a missing executable reaches the
// user, and podman maps it to exit code 127 as it does for runc.
func TestPodmanRunErrors(t *testing.T) {
	p := needPodman(t)
	cidfile := filepath.Join(t.TempDir(), "cid")
	idOf := func() string { return strings.TrimSpace(hulltest.ReadFile(cidfile)) }
	p.track(t, "", idOf)
	r := p.podman("run", "--rm", "--cidfile", cidfile, imageName, "/no-such-binary")
	if r.exit != 127 {
		t.Errorf("want exit 127 (command not found): podman returns it only when the runtime's error matches "+
			"`(?i)executable file not found in|no such file or directory` (126 for `permission denied|operation not permitted`), "+
			"as runc's errors do; got %s", r)
	}
	if !strings.Contains(r.stderr, "/no-such-binary") {
		t.Errorf("podman's error lacks hull's message: %s", r)
	}
	if id := idOf(); id != "" {
		if r := p.podman("ps", "--all", "--quiet", "--no-trunc"); strings.Contains(r.stdout, id) {
			t.Errorf("run --rm left the failed container: %s", r.stdout)
		}
	}
}

// TestPodmanShortLived: containers whose process exits at once. `hull start`
// must not fail when the process has run and been reaped (by conmon, a
// subreaper) before start returns; podman then reports 126.
func TestPodmanShortLived(t *testing.T) {
	p := needPodman(t)
	for i := 0; i < shortLivedRuns; i++ {
		cidfile := filepath.Join(t.TempDir(), "cid")
		idOf := func() string { return strings.TrimSpace(hulltest.ReadFile(cidfile)) }
		p.track(t, "", idOf)
		if r := p.podman("run", "--rm", "--cidfile", cidfile, imageName, "true"); r.exit != 0 {
			t.Errorf("run %d: %s", i, r)
		}
	}
}
