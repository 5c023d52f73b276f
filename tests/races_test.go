//go:build linux

package tests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// withoutPidNS drops the pid namespace, so init's death does not take the container's
// other processes with it: only the cgroup can find them.
func withoutPidNS(s *specs.Spec) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
}

// processesWithArg lists pids whose command line contains marker.
func processesWithArg(marker string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if strings.Contains(cmdlineOf(pid), marker) {
			out = append(out, pid)
		}
	}
	return out
}

func writeHook(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCreateFailureKillsHookChildren: a failed create removes every process it made,
// not only init: here a createContainer hook leaves a background process in the
// container's cgroup and a later hook fails.
func TestCreateFailureKillsHookChildren(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	marker := "7" + strconv.Itoa(int(time.Now().UnixNano()%1000000))
	bg := writeHook(t, t.TempDir(), "bg.sh", "sleep "+marker+" >/dev/null 2>&1 &")
	fail := writeHook(t, t.TempDir(), "fail.sh", "exit 3")
	s := baseSpec("true")
	withoutPidNS(s)
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: bg}, {Path: fail}}}
	r := h.create(s)
	if r.exit == 0 {
		t.Fatalf("create with a failing hook succeeded: %s", r)
	}
	if pids := processesWithArg("sleep " + marker); len(pids) != 0 {
		t.Errorf("the hook's background process survived the failed create: %v", pids)
	}
	cgAbsent(t, dir, "failed create")
}

// TestDeleteDuringCreate: a delete that arrives while create is still working waits for
// it and then acts on the container as it really is, leaving nothing behind.
func TestDeleteDuringCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	slow := writeHook(t, t.TempDir(), "slow.sh", "sleep 1")
	s := baseSpec("sleep", "60")
	s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: slow}}}
	h.writeSpec(s)
	create := exec.Command(hullBinary, "--root", h.root, "create", "--bundle", h.bundle, h.id)
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	del := h.do("delete", h.id)
	if err := create.Wait(); err != nil {
		t.Logf("create: %v", err)
	}
	if del.exit != 0 {
		t.Logf("delete during create: %s", del)
		// Whatever it said, the container must be deletable now and leave nothing.
		mustExit(t, h.do("delete", "--force", h.id), 0)
	}
	if st := h.do("state", h.id); st.exit == 0 {
		t.Errorf("the container still exists after delete: %s", readFile(st.stdoutPath))
	}
	cgAbsent(t, dir, "delete during create")
	if procs := h.bundleProcesses(); len(procs) != 0 {
		t.Errorf("processes left: %v", procs)
	}
}

// TestDeleteAfterCreateCrash: when hull create dies half-way, the container is stopped
// and `delete` still finds and removes its cgroup, state and processes.
func TestDeleteAfterCreateCrash(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	// Long enough that create is still in the hook when it is killed; the hook
	// runs in the container's cgroup, so delete kills it.
	slow := writeHook(t, t.TempDir(), "slow.sh", "sleep 10")
	s := baseSpec("sleep", "60")
	s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: slow}}}
	h.writeSpec(s)
	create := exec.Command(hullBinary, "--root", h.root, "create", "--bundle", h.bundle, h.id)
	if err := create.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the cgroup exists and the state naming it is written (create
	// makes the cgroup first), i.e. create is past both, then kill create.
	stateFile := filepath.Join(h.root, h.id, "state.json")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, errCg := os.Stat(dir)
		_, errState := os.Stat(stateFile)
		if errCg == nil && errState == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = create.Process.Kill()
			_ = create.Wait()
			t.Fatalf("the container's cgroup %s (%v) or state %s (%v) never appeared", dir, errCg, stateFile, errState)
		}
	}
	time.Sleep(100 * time.Millisecond)
	_ = create.Process.Kill()
	_ = create.Wait()
	// Nothing is creating it any more: like runc with a dead init, the remains are
	// stopped, and a plain delete removes them.
	if st := h.do("state", h.id); st.exit != 0 || !strings.Contains(readFile(st.stdoutPath), `"stopped"`) {
		t.Errorf("state after create died: want status stopped: %s", st)
	}
	mustExit(t, h.do("delete", h.id), 0)
	cgAbsent(t, dir, "delete after create died")
	if _, err := os.Stat(filepath.Join(h.root, h.id)); err == nil {
		t.Errorf("state dir left after delete")
	}
}

// TestJoinForeignMountNamespace: joining another container's mount namespace by path
// must never resolve hull's own executable inside it. Container A has no /proc mount
// and plants /proc/self/fd/N -> /evil.sh in its root; B joins A's mount namespace. Were
// init started by the path /proc/self/fd/N after the join, A's script would run as
// root with every capability.
func TestJoinForeignMountNamespace(t *testing.T) {
	t.Parallel()
	a := newHarness(t)
	fdDir := filepath.Join(a.rootfs, "proc", "self", "fd")
	if err := os.MkdirAll(fdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n := 0; n <= 64; n++ {
		if err := os.Symlink("/evil.sh", filepath.Join(fdDir, strconv.Itoa(n))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(a.rootfs, "evil.sh"), []byte("#!/bin/sh\necho pwned > /pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sa := baseSpec("sleep", "60")
	var mounts []specs.Mount
	for _, m := range sa.Mounts {
		if m.Destination != "/proc" {
			mounts = append(mounts, m)
		}
	}
	sa.Mounts = mounts
	sa.Linux.MaskedPaths, sa.Linux.ReadonlyPaths = nil, nil
	sa.Root.Readonly = false // so a script that ran in A could leave its mark
	mustExit(t, a.create(sa), 0)
	mustExit(t, a.do("start", a.id), 0)
	pid := a.mustState(a.id).Pid

	b := newHarness(t)
	sb := baseSpec("true")
	for i, ns := range sb.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			sb.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(pid) + "/ns/mnt"
		}
	}
	r := b.run(sb)
	t.Logf("run joining A's mount namespace: %s", r)
	if _, err := os.Stat(filepath.Join(a.rootfs, "pwned")); err == nil {
		t.Fatal("A's /evil.sh ran as B's init: hull was started by a path resolved in A's mount namespace")
	}
}

// TestCreateKilledEarly: `hull create` killed at any point of its start leaves nothing
// that `hull delete -f` does not remove (state dir, cgroup, processes), and while its
// remains wait for the delete they are reported as stopped, never as creating, since no
// process is creating them any more.
func TestCreateKilledEarly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	stateDir := filepath.Join(h.root, h.id)
	h.writeSpec(baseSpec("sleep", "60"))
	// Whatever a try leaves is removed before the next, so one failure does not
	// cascade, and the harness's own check still runs at the end.
	scrub := func() {
		for _, pid := range cgProcsQuiet(dir) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = os.RemoveAll(stateDir)
	}
	defer scrub()

	const tries = 30
	var leaks, creating, kept int
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < tries && time.Now().Before(deadline); i++ {
		// Spread over create's first 5 ms: validation, state dir, cgroup, clone.
		delay := time.Duration(i) * 5 * time.Millisecond / tries
		create := exec.Command(hullBinary, "--root", h.root, "create", "--bundle", h.bundle, h.id)
		// init is started from create's cwd: in the bundle, a leaked init that never
		// reached pivot_root is still found by bundleProcesses.
		create.Dir = h.bundle
		if err := create.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = create.Process.Kill()
		_ = create.Wait()

		if _, err := os.Lstat(stateDir); err == nil {
			kept++
			if st := h.do("state", h.id); st.exit == 0 && strings.Contains(st.stdout, `"creating"`) {
				creating++
				t.Errorf("try %d (kill after %v): state says creating though its creator is dead:\n%s", i, delay, st.stdout)
			}
			if l := h.do("list", "--format", "json"); strings.Contains(l.stdout, `"creating"`) {
				t.Errorf("try %d (kill after %v): list says creating though the creator is dead:\n%s", i, delay, l.stdout)
			}
		}
		if r := h.do("delete", "--force", h.id); r.exit != 0 {
			t.Errorf("try %d (kill after %v): %s", i, delay, r)
		}
		var left []string
		if _, err := os.Lstat(stateDir); err == nil {
			left = append(left, "state dir "+stateDir)
		}
		if _, err := os.Stat(dir); err == nil {
			left = append(left, "cgroup "+dir)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			procs := h.bundleProcesses()
			if len(procs) == 0 {
				break
			}
			if time.Now().After(deadline) {
				left = append(left, procs...)
				break
			}
		}
		if len(left) > 0 {
			leaks++
			t.Errorf("try %d (kill after %v): left after delete -f: %v", i, delay, left)
			scrub()
			for _, p := range h.bundleProcesses() {
				if pid, err := strconv.Atoi(strings.Fields(p)[0]); err == nil {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
	}
	t.Logf("%d tries, %d left a state dir to delete, %d said creating, %d leaked", tries, kept, creating, leaks)
}

// cgProcsQuiet lists the processes of cgroup dir, none if it is gone.
func cgProcsQuiet(dir string) []int {
	var pids []int
	for _, f := range strings.Fields(readFile(filepath.Join(dir, "cgroup.procs"))) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
