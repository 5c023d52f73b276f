//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// ctrNamespace is the containerd namespace of every test container; with
// ctr's default spec it makes cgroupsPath /e2e/<id>.
const ctrNamespace = "e2e"

// containerd is a containerd daemon of our own: config, root, state and socket
// under dir, running in the sandbox.
type containerd struct {
	dir     string
	sock    string
	logPath string
	cmd     interface{ Wait() error }
	pid     int
	exited  chan struct{}
	// runFlags go to every `ctr run`: the runtime, and what the host needs.
	runFlags []string
}

func startContainerd(dir string) (*containerd, error) {
	c := &containerd{dir: dir, sock: filepath.Join(dir, "containerd.sock"), logPath: filepath.Join(dir, "containerd.log")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The CRI plugin would make cgroups and network namespaces of its own,
	// opt would create /opt/containerd; the snapshotters that are not used only
	// cost start-up time. io.containerd.runtime.v1.linux stays: 1.6's task
	// service will not load without it.
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = %q

[debug]
  level = "debug"
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := sb.Command(nil, sb.Daemons, baseEnv, "containerd", "--config", cfg) //nolint:staticcheck // nil: no context, the daemon lives until stopped
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	c.cmd, c.pid = cmd, cmd.Process.Pid
	c.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(c.exited) }()

	up := hulltest.WaitFor(20*time.Second, func() bool {
		select {
		case <-c.exited:
			return true
		default:
		}
		return c.ctr("version").exit == 0
	})
	select {
	case <-c.exited:
		return nil, fmt.Errorf("containerd exited at start; its log:\n%s", hulltest.LastLines(hulltest.ReadFile(c.logPath), 20))
	default:
	}
	if !up {
		_ = c.stop()
		return nil, fmt.Errorf("containerd did not answer on %s within 20s; its log:\n%s", c.sock, hulltest.LastLines(hulltest.ReadFile(c.logPath), 20))
	}
	if r := c.ctr("images", "import", imageTar); r.exit != 0 {
		_ = c.stop()
		return nil, fmt.Errorf("importing the image: %s", r)
	}

	c.runFlags = []string{"--runc-binary", wrapper}
	if !sb.HasController("cpu") {
		// ctr always asks for cpu.shares (default 1024), which needs the cpu
		// controller; runc fails the same way without it.
		c.runFlags = append(c.runFlags, "--cpu-shares", "0")
	}
	return c, nil
}

// ctr runs ctr against this containerd, in the e2e namespace.
func (c *containerd) ctr(args ...string) result {
	return runSandboxed(baseEnv, "ctr", append([]string{"--address", c.sock, "--namespace", ctrNamespace}, args...)...)
}

// ctrPTY is ctr with a terminal as its stdio (for -t).
func (c *containerd) ctrPTY(args ...string) result {
	return runPTY(baseEnv, "ctr", append([]string{"--address", c.sock, "--namespace", ctrNamespace}, args...)...)
}

// stop ends containerd by its pid: SIGTERM, then SIGKILL after 10s.
func (c *containerd) stop() error {
	return hosttest.StopDaemon("containerd", c.pid, c.exited)
}

// needContainerd returns the daemon, or skips or fails t when there is none.
func needContainerd(t *testing.T) *containerd {
	t.Helper()
	switch {
	case ctdSkip != "":
		hosttest.EngineMissing(t, ctdSkip)
	case ctdErr != nil:
		t.Fatalf("containerd is installed but could not be used: %v", ctdErr)
	}
	return ctd
}

// task is a line of `ctr task ls`.
type task struct {
	pid    int
	status string
}

func (c *containerd) tasks(t *testing.T) map[string]task {
	t.Helper()
	r := c.ctr("task", "ls")
	if r.exit != 0 {
		t.Fatalf("ctr task ls: %s", r)
	}
	out := map[string]task{}
	for _, line := range strings.Split(r.stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 3 {
			pid, _ := strconv.Atoi(f[1])
			out[f[0]] = task{pid, f[2]}
		}
	}
	return out
}

func (c *containerd) waitTask(t *testing.T, id, status string) task {
	t.Helper()
	var last task
	ok := hulltest.WaitFor(15*time.Second, func() bool {
		last = c.tasks(t)[id]
		return last.status == status
	})
	if !ok {
		t.Fatalf("task %s did not become %s; last: %+v", id, status, last)
	}
	return last
}

// track registers the cleanup of container id: whatever the test left is
// killed and deleted, then nothing of the container may remain: no task, no
// container record, no snapshot, no hull state, no cgroup, no mount, no
// process, and every `hull delete` must have exited 0.
func (c *containerd) track(t *testing.T, id string) {
	t.Helper()
	t.Cleanup(func() {
		if _, ok := c.tasks(t)[id]; ok {
			c.ctr("task", "kill", "--all", "--signal", "SIGKILL", id)
			hulltest.WaitFor(10*time.Second, func() bool { return c.tasks(t)[id].status != "RUNNING" })
			if r := c.ctr("task", "delete", "--force", id); r.exit != 0 {
				t.Logf("cleanup: %s", r)
			}
		}
		if r := c.ctr("containers", "ls", "-q"); hasField0(r.stdout, id) {
			if r := c.ctr("containers", "delete", id); r.exit != 0 {
				t.Errorf("cleanup: %s", r)
			}
		}
		c.checkGone(t, id)
		checkDeletes(t, id)
		checkV1(t)
		logCalls(t, id)
	})
}

// hasField0 reports whether a line of out starts with the word w.
func hasField0(out, w string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == w {
			return true
		}
	}
	return false
}

func (c *containerd) checkGone(t *testing.T, id string) {
	t.Helper()
	if _, ok := c.tasks(t)[id]; ok {
		t.Errorf("left behind: task %s", id)
	}
	if r := c.ctr("snapshots", "ls"); hasField0(r.stdout, id) {
		t.Errorf("left behind: snapshot %s:\n%s", id, r.stdout)
	}
	state := sb.Path(filepath.Join("/run/containerd/runc", ctrNamespace, id))
	if _, err := os.Lstat(state); err == nil {
		t.Errorf("left behind: hull state directory /run/containerd/runc/%s/%s (in the sandbox)", ctrNamespace, id)
	}
	cg := filepath.Join(sb.CG, ctrNamespace, id)
	// The shim removes the bundle and hull the cgroup asynchronously to
	// nothing; give processes a moment to be reaped.
	hulltest.WaitFor(10*time.Second, func() bool { _, err := os.Stat(cg); return err != nil })
	if _, err := os.Stat(cg); err == nil {
		t.Errorf("left behind: cgroup %s (processes: %v)", cg, sb.CgroupProcs(filepath.Join(ctrNamespace, id)))
	}
	bundle := filepath.Join(c.dir, "state/io.containerd.runtime.v2.task", ctrNamespace, id)
	for _, m := range sb.Mounts() {
		if m.Point == bundle || strings.HasPrefix(m.Point, bundle+"/") {
			t.Errorf("left behind: mount %s in the sandbox", m.Point)
		}
	}
	if _, err := os.Lstat(bundle); err == nil {
		t.Errorf("left behind: bundle %s", bundle)
	}
}

// run is `ctr run` with the test's runtime flags; opts go before the image.
func (c *containerd) run(id string, opts []string, args ...string) result {
	full := append([]string{"run"}, c.runFlags...)
	full = append(full, opts...)
	full = append(full, imageName, id)
	return c.ctr(append(full, args...)...)
}

func (c *containerd) runPTY(id string, opts []string, args ...string) result {
	full := append([]string{"run"}, c.runFlags...)
	full = append(full, opts...)
	full = append(full, imageName, id)
	return c.ctrPTY(append(full, args...)...)
}

// subs lists the subcommands hull was called with for id, in order, as
// "create", "delete --force", ...
func subs(id string) []string {
	var out []string
	for _, c := range callsFor(id) {
		s := c.Sub
		for _, a := range c.SubArgs {
			if a == "--force" || a == "--all" || a == "-a" {
				s += " " + a
			}
		}
		out = append(out, s)
	}
	return out
}

// TestContainerdRunRm: `ctr run --rm` prints the container's output and exits
// with its exit code; the shim's create, start, delete and delete --force
// all succeed, and the container ran in the cgroup its config names.
func TestContainerdRunRm(t *testing.T) {
	c := needContainerd(t)
	id := newID("run")
	c.track(t, id)
	r := c.run(id, []string{"--rm"}, "sh", "-c", "echo hello from hull; cat /proc/self/cgroup; exit 7")
	if r.exit != 7 {
		t.Fatalf("want exit 7 (the container's), got %s", r)
	}
	if !strings.Contains(r.stdout, "hello from hull") {
		t.Errorf("the container's output did not reach ctr: %s", r)
	}
	var cfg struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(savedConfig(t, id), &cfg); err != nil {
		t.Fatal(err)
	}
	want := "/" + ctrNamespace + "/" + id
	if cfg.Linux.CgroupsPath != want {
		t.Errorf("ctr's cgroupsPath is %q, want %q", cfg.Linux.CgroupsPath, want)
	}
	if !strings.Contains(r.stdout, "0::"+want+"\n") {
		t.Errorf("the container is not in cgroup %s (as seen in the sandbox's cgroup namespace): %s", want, r)
	}
	got := strings.Join(subs(id), ", ")
	if got != "create, start, delete, delete --force" {
		t.Errorf("hull calls: %s; want create, start, delete, delete --force", got)
	}
	for _, cl := range callsFor(id) {
		if cl.Exit != 0 {
			t.Errorf("%s", cl)
		}
		if cl.Sub == "create" && !cl.Has("--bundle", "--pid-file") {
			t.Errorf("unexpected create: %s", cl)
		}
	}
}

// TestContainerdRunTTY: `ctr run -t` hands hull a console socket; the
// container's stdio is a terminal, and its exit code comes back.
func TestContainerdRunTTY(t *testing.T) {
	c := needContainerd(t)
	id := newID("tty")
	c.track(t, id)
	// The sleeps: ctr starts copying the console only after start, and may
	// stop at the exit before the last output arrived (runc loses it as well).
	// Not the size either: ctr resizes the console after start, racing too.
	r := c.runPTY(id, []string{"--rm", "-t"}, "sh", "-c", "sleep 1; tty; test -t 0 && test -t 1 && echo stdio-is-a-tty; sleep 1; exit 3")
	if r.exit != 3 {
		t.Fatalf("want exit 3, got %s", r)
	}
	for _, want := range []string{"/dev/pts/0", "stdio-is-a-tty"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("terminal output lacks %q: %s", want, r)
		}
	}
	for _, cl := range callsFor(id) {
		if cl.Sub == "create" && !cl.Has("--console-socket") {
			t.Errorf("ctr -t: create without --console-socket: %s", cl)
		}
	}
}

// lifecycleScript is a container init that logs the signals it gets to
// /tmp/signals, exits 3 on SIGTERM, and bumps a counter in /tmp/counter.
const lifecycleScript = `trap 'echo USR1 >> /tmp/signals' USR1
trap 'echo HUP >> /tmp/signals' HUP
trap 'echo INT >> /tmp/signals' INT
trap 'exit 3' TERM
i=0
while :; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done`

// containerFile reads a file in the container through its init's root.
func containerFile(pid int, p string) string {
	return hulltest.ReadFile(fmt.Sprintf("/proc/%d/root%s", pid, p))
}

// TestContainerdLifecycle drives a detached container through everything
// ctr can do to it: exec (plain, -t, -d), ps, pause, resume, signals, kill,
// delete.
func TestContainerdLifecycle(t *testing.T) {
	c := needContainerd(t)
	id := newID("life")
	c.track(t, id)
	if r := c.run(id, []string{"-d"}, "sh", "-c", lifecycleScript); r.exit != 0 {
		t.Fatalf("ctr run -d: %s", r)
	}
	init := c.waitTask(t, id, "RUNNING")
	if !hulltest.WaitFor(10*time.Second, func() bool { return containerFile(init.pid, "/tmp/counter") != "" }) {
		t.Fatal("the container's loop never ran")
	}

	t.Run("exec", func(t *testing.T) {
		r := c.ctr("task", "exec", "--exec-id", "x1", id, "sh", "-c", "echo exec-out; tr '\\0' ' ' < /proc/1/cmdline; echo; exit 5")
		if r.exit != 5 {
			t.Fatalf("want exit 5, got %s", r)
		}
		if !strings.Contains(r.stdout, "exec-out") || !strings.Contains(r.stdout, "trap") {
			t.Errorf("exec did not run in the container's pid namespace (pid 1 should be the init script): %s", r)
		}
	})
	t.Run("exec-tty", func(t *testing.T) {
		r := c.ctrPTY("task", "exec", "-t", "--exec-id", "x2", id, "sh", "-c", "sleep 1; tty; test -t 0 && echo stdin-is-a-tty; sleep 1; exit 4")
		if r.exit != 4 {
			t.Fatalf("want exit 4, got %s", r)
		}
		if !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "stdin-is-a-tty") {
			t.Errorf("exec -t: no terminal in the container: %s", r)
		}
	})
	t.Run("ps", func(t *testing.T) {
		if r := c.ctr("task", "exec", "-d", "--exec-id", "x3", id, "sleep", "123"); r.exit != 0 {
			t.Fatalf("exec -d: %s", r)
		}
		var sleeper int
		hulltest.WaitFor(10*time.Second, func() bool {
			for _, pid := range sb.CgroupProcs(filepath.Join(ctrNamespace, id)) {
				if hulltest.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)) == "sleep\x00123\x00" {
					sleeper = pid
					return true
				}
			}
			return false
		})
		if sleeper == 0 {
			t.Fatal("the exec'd sleep 123 is not in the container's cgroup")
		}
		r := c.ctr("task", "ps", id)
		if r.exit != 0 {
			t.Fatalf("ctr task ps: %s", r)
		}
		pids := map[int]bool{}
		for _, line := range strings.Split(r.stdout, "\n")[1:] {
			if f := strings.Fields(line); len(f) > 0 {
				p, _ := strconv.Atoi(f[0])
				pids[p] = true
			}
		}
		if !pids[init.pid] || !pids[sleeper] {
			t.Errorf("ctr task ps lacks init %d or the exec'd sleep %d: %s", init.pid, sleeper, r)
		}
		if r := c.ctr("task", "kill", "--exec-id", "x3", "--signal", "SIGKILL", id); r.exit != 0 {
			t.Errorf("kill the exec: %s", r)
		}
		if !hulltest.WaitFor(10*time.Second, func() bool { return !hulltest.PidAlive(sleeper) }) {
			t.Errorf("exec'd process %d survived SIGKILL", sleeper)
		}
	})
	t.Run("pause-resume", func(t *testing.T) {
		events := filepath.Join(sb.CG, ctrNamespace, id, "cgroup.events")
		if r := c.ctr("task", "pause", id); r.exit != 0 {
			t.Fatalf("ctr task pause: %s", r)
		}
		c.waitTask(t, id, "PAUSED")
		if ev := hulltest.ReadFile(events); !strings.Contains(ev, "frozen 1") {
			t.Errorf("paused, but the cgroup is not frozen: %q", ev)
		}
		before := containerFile(init.pid, "/tmp/counter")
		time.Sleep(300 * time.Millisecond)
		if after := containerFile(init.pid, "/tmp/counter"); after != before {
			t.Errorf("the paused container kept running: counter %q -> %q", before, after)
		}
		if r := c.ctr("task", "resume", id); r.exit != 0 {
			t.Fatalf("ctr task resume: %s", r)
		}
		c.waitTask(t, id, "RUNNING")
		if ev := hulltest.ReadFile(events); !strings.Contains(ev, "frozen 0") {
			t.Errorf("resumed, but the cgroup is still frozen: %q", ev)
		}
		if !hulltest.WaitFor(10*time.Second, func() bool { return containerFile(init.pid, "/tmp/counter") != before }) {
			t.Error("the resumed container does not run")
		}
	})
	t.Run("signals", func(t *testing.T) {
		// One at a time: the shell runs the traps of signals pending together
		// in signal-number order.
		want := ""
		for _, sig := range []struct{ arg, trap string }{{"SIGUSR1", "USR1"}, {"SIGHUP", "HUP"}, {"2", "INT"}} {
			if r := c.ctr("task", "kill", "--signal", sig.arg, id); r.exit != 0 {
				t.Errorf("ctr task kill --signal %s: %s", sig.arg, r)
				continue
			}
			want += sig.trap + "\n"
			if !hulltest.WaitFor(10*time.Second, func() bool { return containerFile(init.pid, "/tmp/signals") == want }) {
				t.Errorf("after --signal %s the container's traps saw %q, want %q", sig.arg, containerFile(init.pid, "/tmp/signals"), want)
			}
		}
		var kills []string
		for _, cl := range callsFor(id) {
			if cl.Sub == "kill" {
				kills = append(kills, hosttest.ShellJoin(cl.SubArgs))
				if cl.Exit != 0 {
					t.Errorf("%s", cl)
				}
			}
		}
		if got := strings.Join(kills, "; "); !strings.Contains(got, id+" 10; "+id+" 1; "+id+" 2") {
			t.Errorf("kill calls: %s; want %[2]s 10, %[2]s 1, %[2]s 2", got, id)
		}
	})
	t.Run("kill-delete", func(t *testing.T) {
		if r := c.ctr("task", "kill", id); r.exit != 0 { // SIGTERM: the trap exits 3
			t.Fatalf("ctr task kill: %s", r)
		}
		c.waitTask(t, id, "STOPPED")
		if !hulltest.WaitFor(10*time.Second, func() bool { return !hulltest.PidAlive(init.pid) }) {
			t.Errorf("init %d is still alive after the task stopped", init.pid)
		}
		if r := c.ctr("task", "delete", id); r.exit != 0 {
			t.Fatalf("ctr task delete: %s", r)
		} else if !strings.Contains(r.stderr, "exit code 3") {
			t.Errorf("ctr task delete should report the exit code 3: %s", r)
		}
		if r := c.ctr("containers", "delete", id); r.exit != 0 {
			t.Fatalf("ctr containers delete: %s", r)
		}
		got := subs(id)
		if len(got) < 2 || got[len(got)-2] != "delete" || got[len(got)-1] != "delete --force" {
			t.Errorf("hull calls end with %v; want the shim's delete, then delete --force", got)
		}
	})
}

// hostPidNS runs the container in the sandbox's (the host's) pid namespace,
// so that its processes can outlive init and `kill --all` matters.
func hostPidNS() string {
	return "pid:" + sb.HoldPath + "/ns/pid"
}

// Each shell notes in /tmp/ready that its USR1 trap is set: a signal that
// came earlier would kill it.
const killAllScript = `sh -c 'trap "echo child-USR1 >> /tmp/signals" USR1; echo child-ready >> /tmp/ready; while :; do sleep 0.05; done' &
trap 'echo init-USR1 >> /tmp/signals' USR1
echo init-ready >> /tmp/ready
while :; do sleep 0.05; done`

// TestContainerdKillAll: `ctr task kill --all` reaches every process of a
// container that shares a pid namespace, for a catchable signal and SIGKILL.
func TestContainerdKillAll(t *testing.T) {
	c := needContainerd(t)
	id := newID("killall")
	c.track(t, id)
	if r := c.run(id, []string{"-d", "--with-ns", hostPidNS()}, "sh", "-c", killAllScript); r.exit != 0 {
		t.Fatalf("ctr run -d: %s", r)
	}
	init := c.waitTask(t, id, "RUNNING")
	if !hulltest.WaitFor(10*time.Second, func() bool {
		s := containerFile(init.pid, "/tmp/ready")
		return strings.Contains(s, "init-ready") && strings.Contains(s, "child-ready")
	}) {
		t.Fatalf("the shells did not both set their USR1 traps: /tmp/ready = %q", containerFile(init.pid, "/tmp/ready"))
	}
	if r := c.ctr("task", "kill", "--all", "--signal", "SIGUSR1", id); r.exit != 0 {
		t.Fatalf("kill --all SIGUSR1: %s", r)
	}
	if !hulltest.WaitFor(10*time.Second, func() bool {
		s := containerFile(init.pid, "/tmp/signals")
		return strings.Contains(s, "init-USR1") && strings.Contains(s, "child-USR1")
	}) {
		t.Errorf("kill --all SIGUSR1 did not reach both shells: /tmp/signals = %q", containerFile(init.pid, "/tmp/signals"))
	}
	if r := c.ctr("task", "kill", "--all", "--signal", "SIGKILL", id); r.exit != 0 {
		t.Fatalf("kill --all SIGKILL: %s", r)
	}
	c.waitTask(t, id, "STOPPED")
	if !hulltest.WaitFor(10*time.Second, func() bool { return len(sb.CgroupProcs(filepath.Join(ctrNamespace, id))) == 0 }) {
		t.Errorf("processes survived kill --all SIGKILL: %v", sb.CgroupProcs(filepath.Join(ctrNamespace, id)))
	}
	// The calls ctr asked for: kill --all 10 and 9. (After init's exit the
	// shim runs kill --all 9 once more; TestContainerdInitExitKillsTheRest
	// covers that one.)
	var kills []call
	for _, cl := range callsFor(id) {
		if cl.Sub == "kill" {
			kills = append(kills, cl)
		}
	}
	if len(kills) < 2 || !kills[0].Has("--all", "10") || !kills[1].Has("--all", "9") {
		t.Errorf("want kill --all %[1]s 10, then kill --all %[1]s 9; got %v", id, kills)
	}
	for i := 0; i < len(kills) && i < 2; i++ {
		if kills[i].Exit != 0 {
			t.Errorf("%s", kills[i])
		}
	}
	if r := c.ctr("task", "delete", id); r.exit != 0 {
		t.Errorf("ctr task delete: %s", r)
	}
	if r := c.ctr("containers", "delete", id); r.exit != 0 {
		t.Errorf("ctr containers delete: %s", r)
	}
}

// TestContainerdInitExitKillsTheRest: when init of a container without a pid
// namespace of its own exits, the shim runs `hull kill --all <id> 9` on the
// now stopped container so that nothing outlives the task (runc signals the
// cgroup's processes there); the task's other processes must be gone.
func TestContainerdInitExitKillsTheRest(t *testing.T) {
	c := needContainerd(t)
	id := newID("initexit")
	c.track(t, id)
	if r := c.run(id, []string{"-d", "--with-ns", hostPidNS()}, "sh", "-c", "sleep 1000 & sleep 1001 & wait"); r.exit != 0 {
		t.Fatalf("ctr run -d: %s", r)
	}
	c.waitTask(t, id, "RUNNING")
	rel := filepath.Join(ctrNamespace, id)
	var procs []int
	if !hulltest.WaitFor(10*time.Second, func() bool { procs = sb.CgroupProcs(rel); return len(procs) == 3 }) {
		t.Fatalf("want init and two sleeps in the cgroup, got %v", procs)
	}
	if r := c.ctr("task", "kill", "--signal", "SIGKILL", id); r.exit != 0 {
		t.Fatalf("kill init: %s", r)
	}
	c.waitTask(t, id, "STOPPED")
	var killAll *call
	hulltest.WaitFor(10*time.Second, func() bool {
		for _, cl := range callsFor(id) {
			if cl.Sub == "kill" && cl.Has("--all") && cl.Ended {
				cl := cl
				killAll = &cl
				return true
			}
		}
		return false
	})
	switch {
	case killAll == nil:
		t.Errorf("the shim never ran `hull kill --all %s 9` after init exited", id)
	case killAll.Exit != 0:
		t.Errorf("%s; on a stopped container whose cgroup still has processes, kill --all must signal them and exit 0, as runc does (the shim logs \"failed to kill init's children\")", killAll)
	}
	var alive []int
	for _, p := range procs {
		// A killed process leaves its cgroup before it reads as a zombie.
		if !hulltest.WaitFor(2*time.Second, func() bool { return !hulltest.PidAlive(p) }) {
			alive = append(alive, p)
		}
	}
	if len(alive) > 0 {
		t.Errorf("the task is STOPPED but its processes %v still run (in cgroup %s: %v)", alive, rel, sb.CgroupProcs(rel))
	}
	if r := c.ctr("task", "delete", id); r.exit != 0 {
		t.Errorf("ctr task delete: %s", r)
	}
	if r := c.ctr("containers", "delete", id); r.exit != 0 {
		t.Errorf("ctr containers delete: %s", r)
	}
}

// TestContainerdCreateErrors: when create fails, ctr shows hull's own error
// text (the shim reads it from the last error line of hull's --log-format
// json log; hull's stderr is never shown), and the shim's delete --force of
// the half-made container succeeds and leaves nothing.
func TestContainerdCreateErrors(t *testing.T) {
	c := needContainerd(t)
	missing := filepath.Join(tmpRoot, "no-such-dir")
	for _, tc := range []struct {
		name string
		opts []string
		args []string
		want []string // all in ctr's error
	}{
		{"missing-bind-source", []string{"--mount", "type=bind,src=" + missing + ",dst=/mnt,options=rbind:ro"}, []string{"true"},
			[]string{missing, "no such file or directory"}},
		// The words matter: engines turn them into exit codes. Docker (on
		// containerd) and podman answer 127 only for an error containing
		// "no such file or directory" or "executable file not found", as
		// runc's do.
		{"missing-executable", nil, []string{"/no-such-binary"},
			[]string{"/no-such-binary", "no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newID("err")
			c.track(t, id)
			r := c.run(id, append([]string{"--rm"}, tc.opts...), tc.args...)
			if r.exit == 0 {
				t.Fatalf("want a failure, got %s", r)
			}
			if !strings.Contains(r.stderr, "OCI runtime create failed") {
				t.Errorf("the failure is not create's: %s", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("ctr's error lacks %q from hull's error: %s", w, r)
				}
			}
			if strings.Contains(r.stderr, "exit status") {
				t.Errorf("the shim found no error in hull's json log and fell back to the exit status: %s", r)
			}
			var create *call
			for _, cl := range callsFor(id) {
				if cl.Sub == "create" {
					cl := cl
					create = &cl
				}
			}
			if create == nil || create.Exit == 0 || !create.Has("--bundle") {
				t.Errorf("want a failed create call, got %v", create)
			}
		})
	}
}

// TestContainerdSeccompReadonly: ctr's default seccomp profile and read-only
// rootfs, as the shim hands them over.
func TestContainerdSeccompReadonly(t *testing.T) {
	c := needContainerd(t)
	id := newID("seccomp")
	c.track(t, id)
	r := c.run(id, []string{"--rm", "--seccomp", "--read-only"}, "sh", "-c",
		"grep Seccomp: /proc/self/status; touch /x 2>/dev/null && echo rootfs-writable || echo rootfs-readonly")
	if r.exit != 0 {
		t.Fatalf("%s", r)
	}
	if !strings.Contains(r.stdout, "Seccomp:\t2") {
		t.Errorf("--seccomp: no seccomp filter in the container: %s", r)
	}
	if !strings.Contains(r.stdout, "rootfs-readonly") {
		t.Errorf("--read-only: the root filesystem is writable: %s", r)
	}
}

// shortLivedRuns is how many containers the short-lived tests start: enough
// for a start that races with the process's exit to lose now and then.
const shortLivedRuns = 10

// TestContainerdShortLived: containers whose process exits at once; every
// start must succeed (the shim reaps the process as soon as it exits).
func TestContainerdShortLived(t *testing.T) {
	c := needContainerd(t)
	for i := 0; i < shortLivedRuns; i++ {
		id := newID("short")
		c.track(t, id)
		if r := c.run(id, []string{"--rm"}, "true"); r.exit != 0 {
			t.Errorf("%s", r)
		}
	}
}
