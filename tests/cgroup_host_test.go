//go:build linux

package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// Cgroup behaviour that needs no controller: placement, freezing, listing,
// killing and removing a container's cgroup, exec joining it and the stats
// of `events`. All of it passes on the hybrid host (the cgroup2 hierarchy at
// /sys/fs/cgroup/unified has only hugetlb). Only TestCgroupDeleteNested
// also runs in the cgroup v2 VM (`make vm-test` runs -run Cgroup there),
// where hull enables controllers in the cgroups it makes; the others take
// the same path on both, so they are named to keep the VM, where every
// command costs ~10x, free of them (TestCgroup covers placement there).
// TestResourcesNeedController is the host's half of the controller story:
// the clear error when one is missing. The controllers themselves are
// tested in cgroup_vm_test.go.

// cgMount returns the cgroup2 mount point as /proc/self/mountinfo lists it
// (a mount of the hierarchy's root; /sys/fs/cgroup wins, as in hull), or ""
// when there is none.
func cgMount() string {
	found := ""
	for _, m := range parseMountinfo(readFile("/proc/self/mountinfo")) {
		if m.fstype != "cgroup2" || m.root != "/" {
			continue
		}
		if m.point == "/sys/fs/cgroup" {
			return m.point
		}
		if found == "" {
			found = m.point
		}
	}
	return found
}

// needCgMount is cgMount for a test that needs it: every host and VM the tests
// run on has a cgroup2 mount.
func needCgMount(t *testing.T) string {
	t.Helper()
	mnt := cgMount()
	if mnt == "" {
		hulltest.Require(t, "a cgroup2 mount (the host's /sys/fs/cgroup/unified, the VM's /sys/fs/cgroup)", errors.New("no cgroup2 filesystem is mounted"))
	}
	return mnt
}

// cgDir returns the host directory of h's container cgroup,
// <cgroup2 mount><cgroupsPath>, and skips the test when the harness writes
// no absolute cgroupsPath (fails it when there is no cgroup2 mount).
func cgDir(t *testing.T, h *harness) string {
	t.Helper()
	if !strings.HasPrefix(cgroupPrefix, "/") {
		t.Skipf("needs an absolute cgroupsPath prefix (HULL_TEST_CGROUP_PREFIX is %q)", cgroupPrefix)
	}
	mnt := needCgMount(t)
	dir := mnt + cgroupPrefix + h.id
	if hd := h.cgroupDir(); hd != dir {
		t.Fatalf("the harness checks %q for leftovers, but the container's cgroup is %q (HULL_TEST_CGROUP_ROOT?)", hd, dir)
	}
	return dir
}

// cgRead reads a cgroup file, trimmed; the test fails if it cannot.
func cgRead(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("reading the cgroup file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// cgKey returns the value of key in a flat-keyed cgroup file (cgroup.events,
// memory.events, cpu.stat, pids.events); -1 if key is missing.
func cgKey(t *testing.T, dir, name, key string) int64 {
	t.Helper()
	text := cgRead(t, dir, name)
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s/%s: %q is not a number", dir, name, l)
			}
			return n
		}
	}
	return -1
}

// cgProcs lists the pids in the cgroup's cgroup.procs, sorted.
func cgProcs(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(cgRead(t, dir, "cgroup.procs")) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s/cgroup.procs: bad pid %q", dir, f)
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// cgWaitProcs polls cgroup.procs until it lists n processes.
func cgWaitProcs(t *testing.T, dir string, n int, timeout time.Duration) []int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pids := cgProcs(t, dir)
		if len(pids) == n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/cgroup.procs lists %v after %s, want %d processes", dir, pids, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cgAbsent fails the test unless dir does not exist.
func cgAbsent(t *testing.T, dir, when string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: cgroup %s still exists (stat: %v)", when, dir, err)
	}
}

// withCgroupNS gives s a cgroup namespace and a read-only cgroup2 mount at
// /sys/fs/cgroup, whose root inside is the container's own cgroup, so the
// container can read its cgroup files.
func withCgroupNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup2",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
}

// hostPidOf finds the process of the cgroup whose pid in its own pid
// namespace (the last NSpid field) is nspid.
func hostPidOf(t *testing.T, dir string, nspid int) int {
	t.Helper()
	var found []int
	for _, p := range cgProcs(t, dir) {
		f := strings.Fields(procStatus(readFile(fmt.Sprintf("/proc/%d/status", p)))["NSpid"])
		if len(f) > 0 && f[len(f)-1] == strconv.Itoa(nspid) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("processes of %s with pid %d in their namespace: %v, want one", dir, nspid, found)
	}
	return found[0]
}

// cmdlineOf is /proc/PID/cmdline with NULs as spaces, trimmed.
func cmdlineOf(pid int) string {
	return strings.TrimSpace(strings.ReplaceAll(readFile(fmt.Sprintf("/proc/%d/cmdline", pid)), "\x00", " "))
}

// TestPlacementSeenInside: init is the only process in <cgroup2 mount><cgroupsPath>
// from create on; inside a cgroup namespace the container sees that cgroup as
// its root (/proc/self/cgroup 0::/, and its cgroup2 mount's cgroup.procs holds
// PID 1); without one it sees the path from the host's root.
func TestPlacementSeenInside(t *testing.T) {
	t.Parallel()
	for _, cgns := range []bool{true, false} {
		name := "cgroupns"
		if !cgns {
			name = "host-cgroupns"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			dir := cgDir(t, h)
			script := `cat /proc/self/cgroup; echo @@; echo end; exec sleep 1000`
			if cgns {
				script = `cat /proc/self/cgroup; echo @@; cat /sys/fs/cgroup/cgroup.procs; echo @@; echo end; exec sleep 1000`
			}
			s := baseSpec(shell(script)...)
			if cgns {
				withCgroupNS(s)
			}
			cr := h.create(s)
			mustExit(t, cr, 0)
			pid := h.mustState(h.id).Pid

			if got := cgProcs(t, dir); !slices.Equal(got, []int{pid}) {
				t.Errorf("after create %s/cgroup.procs = %v, want only init %d", dir, got, pid)
			}
			wantHost := "0::" + cgroupPrefix + h.id
			if got := cgroup2Line(pid); got != wantHost {
				t.Errorf("host's view /proc/%d/cgroup: %q, want %q", pid, got, wantHost)
			}

			mustExit(t, h.do("start", h.id), 0)
			out := waitOutput(t, cr.stdoutPath, "@@\nend\n", cmdTimeout)
			parts := sections(out)
			line := strings.TrimSpace(lineWithPrefix(parts[0], "0::"))
			wantInside := wantHost
			if cgns {
				wantInside = "0::/"
			}
			if line != wantInside {
				t.Errorf("inside, /proc/self/cgroup says %q, want %q\n%s", line, wantInside, parts[0])
			}
			if cgns {
				// The namespace's root cgroup holds the shell (PID 1) and
				// the cat reading the file, nothing else.
				if procs := strings.Fields(parts[1]); len(procs) != 2 || !slices.Contains(procs, "1") {
					t.Errorf("inside, /sys/fs/cgroup/cgroup.procs (the container's cgroup) = %q, want PID 1 and the cat reading it", parts[1])
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for cmdlineOf(pid) != "sleep 1000" && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := cgProcs(t, dir); !slices.Equal(got, []int{pid}) || cmdlineOf(pid) != "sleep 1000" {
				t.Errorf("once the shell exec'd sleep, cgroup.procs = %v, want only init %d running sleep 1000 (it runs %q)", got, pid, cmdlineOf(pid))
			}
		})
	}
}

// lastCount is the last complete line of a counter's output, as a number.
func lastCount(t *testing.T, path string) int {
	t.Helper()
	text := readFile(path)
	i := strings.LastIndexByte(text, '\n')
	if i < 0 {
		return 0
	}
	text = text[:i]
	n, err := strconv.Atoi(text[strings.LastIndexByte(text, '\n')+1:])
	if err != nil {
		t.Fatalf("counter output is not numbers: %v", err)
	}
	return n
}

// waitCount polls the counter until it passes min.
func waitCount(t *testing.T, path string, min int, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if n := lastCount(t, path); n > min {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the counter inside did not pass %d in %s (it is at %d)", min, timeout, lastCount(t, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPauseResume: a counter loop inside stops while the container is
// paused (cgroup.freeze 1, state "paused") and goes on after resume; exec is
// refused while paused, and a paused container can be deleted with --force.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	cr := h.create(baseSpec(shell(`i=0; while :; do i=$((i+1)); echo $i; usleep 20000; done`)...))
	mustExit(t, cr, 0)
	mustExit(t, h.do("start", h.id), 0)
	n := waitCount(t, cr.stdoutPath, 2, cmdTimeout)

	mustExit(t, h.do("pause", h.id), 0)
	if st := h.mustState(h.id); st.Status != "paused" {
		t.Errorf("after pause, state says %q, want paused", st.Status)
	}
	if got := cgRead(t, dir, "cgroup.freeze"); got != "1" {
		t.Errorf("after pause, cgroup.freeze = %q, want 1", got)
	}
	if got := cgKey(t, dir, "cgroup.events", "frozen"); got != 1 {
		t.Errorf("after pause, cgroup.events frozen = %d, want 1 (pause must wait until frozen)", got)
	}
	n1 := lastCount(t, cr.stdoutPath)
	if n1 < n {
		t.Fatalf("counter went back: %d then %d", n, n1)
	}
	time.Sleep(600 * time.Millisecond)
	if n2 := lastCount(t, cr.stdoutPath); n2 != n1 {
		t.Errorf("the counter went on while paused: %d, 600ms later %d", n1, n2)
	}
	if r := h.do("pause", h.id); r.exit == 0 {
		t.Errorf("pause of a paused container succeeded: %s", r)
	}
	if r := h.do("exec", h.id, "true"); r.exit == 0 {
		t.Errorf("exec in a paused container succeeded (runc refuses it): %s", r)
	}

	mustExit(t, h.do("resume", h.id), 0)
	if st := h.mustState(h.id); st.Status != "running" {
		t.Errorf("after resume, state says %q, want running", st.Status)
	}
	if got := cgRead(t, dir, "cgroup.freeze"); got != "0" {
		t.Errorf("after resume, cgroup.freeze = %q, want 0", got)
	}
	if got := cgKey(t, dir, "cgroup.events", "frozen"); got != 0 {
		t.Errorf("after resume, cgroup.events frozen = %d, want 0", got)
	}
	waitCount(t, cr.stdoutPath, lastCount(t, cr.stdoutPath)+2, 10*time.Second)
	if r := h.do("resume", h.id); r.exit == 0 {
		t.Errorf("resume of a running container succeeded: %s", r)
	}

	// Paused again, then deleted: the frozen processes must die and the
	// cgroup go.
	mustExit(t, h.do("pause", h.id), 0)
	pid := h.mustState(h.id).Pid
	mustExit(t, h.do("delete", "--force", h.id), 0)
	cgAbsent(t, dir, "delete --force of a paused container")
	if pidStaysAlive(pid) {
		t.Errorf("init %d survived delete --force of the paused container", pid)
	}
}

// TestPsListsContainer: `hull ps` lists exactly the processes of the container's
// cgroup, as JSON and as ps's table (default -ef, and with ps options).
func TestPsListsContainer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	cr := h.create(baseSpec(shell(`sleep 1001 & sleep 1002 & sleep 1003 & echo ready; wait`)...))
	mustExit(t, cr, 0)
	mustExit(t, h.do("start", h.id), 0)
	waitOutput(t, cr.stdoutPath, "ready", cmdTimeout)
	pids := cgWaitProcs(t, dir, 4, 10*time.Second)
	initPid := h.mustState(h.id).Pid
	// A background job shows the shell's command line until its fork has exec'd sleep:
	// wait for all three to get there.
	var wantCmd map[int]string
	var sleeps []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		wantCmd, sleeps = map[int]string{}, nil
		for _, p := range pids {
			wantCmd[p] = cmdlineOf(p)
		}
		for _, c := range wantCmd {
			if strings.HasPrefix(c, "sleep 100") {
				sleeps = append(sleeps, c)
			}
		}
		if len(sleeps) == 3 || time.Now().After(deadline) {
			break
		}
	}
	slices.Sort(sleeps)
	if !slices.Contains(pids, initPid) || !slices.Equal(sleeps, []string{"sleep 1001", "sleep 1002", "sleep 1003"}) {
		t.Fatalf("cgroup.procs %v (%v) is not init %d and the three sleeps", pids, wantCmd, initPid)
	}
	if ns := pidsInPidNS(t, initPid); !slices.Equal(ns, pids) {
		t.Fatalf("the container's pid namespace holds %v, its cgroup %v", ns, pids)
	}

	t.Run("json", func(t *testing.T) {
		r := h.do("ps", "--format", "json", h.id)
		mustExit(t, r, 0)
		var got []int
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("ps --format json: %v\n%s", err, r.stdout)
		}
		slices.Sort(got)
		if !slices.Equal(got, pids) {
			t.Errorf("ps --format json = %v, want the cgroup's %v", got, pids)
		}
	})

	// table checks a ps table: a header with PID, and one row per process of
	// the container, each with its command line.
	table := func(t *testing.T, out string) {
		t.Helper()
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		col := slices.Index(strings.Fields(lines[0]), "PID")
		if col < 0 {
			t.Fatalf("no PID column in the header %q\n%s", lines[0], out)
		}
		var got []int
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) <= col {
				t.Errorf("short row %q", l)
				continue
			}
			p, err := strconv.Atoi(f[col])
			if err != nil {
				t.Errorf("row %q: PID column %q", l, f[col])
				continue
			}
			got = append(got, p)
			if c, ok := wantCmd[p]; ok && !strings.Contains(l, c) {
				t.Errorf("row of %d %q lacks its command %q", p, l, c)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, pids) {
			t.Errorf("ps table lists %v, want the cgroup's %v\n%s", got, pids, out)
		}
	}
	t.Run("table-options", func(t *testing.T) {
		r := h.do("ps", h.id, "-o", "pid,args")
		mustExit(t, r, 0)
		table(t, r.stdout)
	})
	t.Run("table-default", func(t *testing.T) {
		if err := cgProbeCommand("ps", "-ef"); err != nil {
			hulltest.HostLimit(t, "this system's ps does not take -ef (%v), which `hull ps` passes by default, as runc; runs with procps' ps (the CI host)", err)
		}
		r := h.do("ps", h.id)
		mustExit(t, r, 0)
		table(t, r.stdout)
	})
}

// TestKillAll: `kill --all` signals every process of the cgroup: a
// trapped SIGTERM reaches init and two other shells, which keep running,
// and SIGKILL empties the cgroup before kill returns. Without a pid
// namespace the other processes do not die with init, so only the cgroup
// finds them.
func TestKillAll(t *testing.T) {
	t.Parallel()
	for _, pidns := range []bool{true, false} {
		name := "pidns"
		if !pidns {
			name = "host-pidns"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			dir := cgDir(t, h)
			// Each shell prints its pid ($$, in the container's pid namespace).
			s := baseSpec(shell(`trap 'echo term-init' TERM
sh -c 'trap "echo term-a" TERM; echo "ready=$$"; while :; do usleep 50000; done' &
sh -c 'trap "echo term-b" TERM; echo "ready=$$"; while :; do usleep 50000; done' &
echo "ready=$$"
while :; do usleep 50000; done`)...)
			if !pidns {
				removeNamespace(s, specs.PIDNamespace)
			}
			cr := h.create(s)
			mustExit(t, cr, 0)
			mustExit(t, h.do("start", h.id), 0)
			var nspids []string
			deadline := time.Now().Add(cmdTimeout)
			for len(nspids) < 3 && time.Now().Before(deadline) {
				nspids = regexp.MustCompile(`ready=([0-9]+)\n`).FindAllString(readFile(cr.stdoutPath), -1)
				time.Sleep(20 * time.Millisecond)
			}
			if len(nspids) != 3 {
				t.Fatalf("want three shells to report ready, got %q", readFile(cr.stdoutPath))
			}
			initPid := h.mustState(h.id).Pid
			var shells []int
			for _, l := range nspids {
				n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "ready=")))
				shells = append(shells, hostPidOf(t, dir, n))
			}
			if !slices.Contains(shells, initPid) {
				t.Fatalf("shells in the cgroup: %v, want init %d among them", shells, initPid)
			}

			mustExit(t, h.do("kill", "--all", h.id, "TERM"), 0)
			for _, w := range []string{"term-init", "term-a", "term-b"} {
				waitOutput(t, cr.stdoutPath, w, 10*time.Second)
			}
			for _, p := range shells {
				if !pidAlive(p) {
					t.Errorf("shell %d trapped SIGTERM but is gone", p)
				}
			}
			if st := h.mustState(h.id); st.Status != "running" {
				t.Errorf("after a trapped SIGTERM, state says %q, want running", st.Status)
			}

			mustExit(t, h.do("kill", "--all", h.id, "KILL"), 0)
			// No polling: kill --all KILL returns once the cgroup is empty.
			if got := cgProcs(t, dir); len(got) != 0 {
				t.Errorf("right after kill --all KILL, cgroup.procs = %v, want empty", got)
			}
			if got := cgKey(t, dir, "cgroup.events", "populated"); got != 0 {
				t.Errorf("right after kill --all KILL, cgroup.events populated = %d, want 0", got)
			}
			for _, p := range shells {
				if pidStaysAlive(p) {
					t.Errorf("shell %d is alive after kill --all KILL", p)
				}
			}
			h.waitStatus(h.id, "stopped", 10*time.Second)
		})
	}
}

// TestDeleteInEveryState: delete removes the container's cgroup before it
// returns, whatever the container's state: created (init killed), running
// (only with --force), and stopped with a process that outlived init (no
// pid namespace: delete kills it through the cgroup).
func TestDeleteInEveryState(t *testing.T) {
	t.Parallel()
	t.Run("created", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		dir := cgDir(t, h)
		mustExit(t, h.create(sleeperSpec()), 0)
		pid := h.mustState(h.id).Pid
		if got := cgProcs(t, dir); !slices.Equal(got, []int{pid}) {
			t.Fatalf("created container: cgroup.procs %v, want init %d", got, pid)
		}
		mustExit(t, h.do("delete", h.id), 0)
		cgAbsent(t, dir, "delete of a created container")
		if pidStaysAlive(pid) {
			t.Errorf("init %d is alive after delete", pid)
		}
	})
	t.Run("running", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		dir := cgDir(t, h)
		st := h.startContainer(sleeperSpec())
		if r := h.do("delete", h.id); r.exit == 0 {
			t.Fatalf("delete of a running container without --force succeeded: %s", r)
		}
		if got := cgProcs(t, dir); !slices.Equal(got, []int{st.Pid}) {
			t.Errorf("after a refused delete, cgroup.procs = %v, want init %d still there", got, st.Pid)
		}
		mustExit(t, h.do("delete", "--force", h.id), 0)
		cgAbsent(t, dir, "delete --force of a running container")
		if pidStaysAlive(st.Pid) {
			t.Errorf("init %d is alive after delete --force", st.Pid)
		}
	})
	t.Run("stopped-with-orphan", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		dir := cgDir(t, h)
		s := baseSpec(shell(`sleep 1004 & echo "orphan=$!"`)...)
		removeNamespace(s, specs.PIDNamespace)
		cr := h.create(s)
		mustExit(t, cr, 0)
		mustExit(t, h.do("start", h.id), 0)
		out := waitOutput(t, cr.stdoutPath, "\n", cmdTimeout)
		orphan, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "orphan=")))
		if err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		h.waitStatus(h.id, "stopped", 10*time.Second)
		if got := cgProcs(t, dir); !slices.Equal(got, []int{orphan}) {
			t.Fatalf("stopped container: cgroup.procs %v, want the orphan sleep %d", got, orphan)
		}
		mustExit(t, h.do("delete", h.id), 0)
		cgAbsent(t, dir, "delete of a stopped container with a live orphan")
		if pidStaysAlive(orphan) {
			t.Errorf("the orphan %d (%q) outlived delete", orphan, cmdlineOf(orphan))
			_ = unix.Kill(orphan, unix.SIGKILL)
		}
	})
}

// TestCgroupDeleteNested: with cgroupsPath /hulltest-<id>/mid/leaf hull makes
// all three levels, and delete removes them all. Where the root passes the
// pids controller on (the VM), a pids limit makes hull enable the
// controller in the two levels it made above the leaf, which must not stop
// their removal.
func TestCgroupDeleteNested(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	top := cgDir(t, h)
	s := sleeperSpec()
	s.Linux.CgroupsPath = cgroupPrefix + h.id + "/mid/leaf"
	pids := slices.Contains(strings.Fields(readFile(filepath.Join(cgMount(), "cgroup.subtree_control"))), "pids")
	if pids {
		limit := int64(33)
		s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	}
	st := h.startContainer(s)
	mid, leaf := filepath.Join(top, "mid"), filepath.Join(top, "mid", "leaf")
	if got := cgProcs(t, leaf); !slices.Equal(got, []int{st.Pid}) {
		t.Errorf("%s/cgroup.procs = %v, want init %d", leaf, got, st.Pid)
	}
	if pids {
		for _, d := range []string{top, mid} {
			if on := strings.Fields(cgRead(t, d, "cgroup.subtree_control")); !slices.Contains(on, "pids") {
				t.Errorf("%s/cgroup.subtree_control = %q: hull made it but did not enable pids for the leaf", d, on)
			}
		}
		if got := cgRead(t, leaf, "pids.max"); got != "33" {
			t.Errorf("%s/pids.max = %q, want 33", leaf, got)
		}
	}
	mustExit(t, h.do("delete", "--force", h.id), 0)
	cgAbsent(t, top, "delete of a container with cgroupsPath .../mid/leaf (hull made every level)")
}

// TestExecPlacement: processes started by `hull exec` join the container's
// cgroup: the host sees them in its cgroup.procs, `hull ps` lists them, and
// inside a cgroup namespace they see the container's cgroup as their root.
func TestExecPlacement(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	s := sleeperSpec()
	withCgroupNS(s)
	st := h.startContainer(s)

	pidFile := filepath.Join(h.outDir, "exec.pid")
	r := h.do("exec", "--detach", "--pid-file", pidFile, h.id, "sh", "-c", "cat /proc/self/cgroup; exec sleep 1005")
	mustExit(t, r, 0)
	pid := hulltest.ReadPid(t, pidFile)
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	out := waitOutput(t, r.stdoutPath, "0::", 10*time.Second)
	if got := strings.TrimSpace(lineWithPrefix(out, "0::")); got != "0::/" {
		t.Errorf("the exec'd process sees /proc/self/cgroup %q, want 0::/\n%s", got, out)
	}
	// The cat that printed the line may not have exited yet: wait until init
	// and the exec'd process are all that is left.
	want := cgSortedPids(st.Pid, pid)
	var got []int
	if !waitFor(10*time.Second, func() bool { got = cgProcs(t, dir); return slices.Equal(got, want) }) {
		t.Errorf("cgroup.procs = %v, want init %d and the exec'd process %d", got, st.Pid, pid)
	}
	if got := cgroup2Line(pid); got != "0::"+cgroupPrefix+h.id {
		t.Errorf("host's view of the exec'd process: %q, want 0::%s%s", got, cgroupPrefix, h.id)
	}
	ps := h.do("ps", "--format", "json", h.id)
	mustExit(t, ps, 0)
	var listed []int
	if err := json.Unmarshal([]byte(ps.stdout), &listed); err != nil || !slices.Contains(listed, pid) {
		t.Errorf("ps --format json = %q (%v), want it to list the exec'd %d", ps.stdout, err, pid)
	}

	// An attached exec: its shell finds itself in the container's cgroup.
	a := h.do("exec", h.id, "sh", "-c", `echo "self=$$"; cat /sys/fs/cgroup/cgroup.procs`)
	mustExit(t, a, 0)
	f := strings.Fields(a.stdout)
	if len(f) < 2 || !slices.Contains(f[1:], strings.TrimPrefix(f[0], "self=")) || !slices.Contains(f[1:], "1") {
		t.Errorf("attached exec: the container's cgroup.procs seen inside %q, want PID 1 and the shell itself", a.stdout)
	}
}

func cgSortedPids(v ...int) []int {
	slices.Sort(v)
	return v
}

// statsEvent is one line of `hull events`.
type statsEvent struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// statsData holds the parts of the stats the tests check.
type statsData struct {
	CPU struct {
		Usage struct {
			Total  uint64 `json:"total"`
			User   uint64 `json:"user"`
			Kernel uint64 `json:"kernel"`
		} `json:"usage"`
		Throttling struct {
			Periods          uint64 `json:"periods"`
			ThrottledPeriods uint64 `json:"throttledPeriods"`
		} `json:"throttling"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Limit uint64 `json:"limit"`
			Usage uint64 `json:"usage"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit"`
	} `json:"pids"`
}

// parseEvents decodes events output: one JSON object per line, nothing else.
func parseEvents(t *testing.T, out string) []statsEvent {
	t.Helper()
	var evs []statsEvent
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			t.Errorf("events output has an empty line:\n%s", out)
			continue
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		var ev statsEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("events line %q: %v", l, err)
		}
		if dec.More() {
			t.Errorf("events line %q holds more than one JSON value", l)
		}
		evs = append(evs, ev)
	}
	return evs
}

// statsOnce runs `events --stats` and returns its single stats event's data.
func statsOnce(t *testing.T, h *harness) statsData {
	t.Helper()
	r := h.do("events", "--stats", h.id)
	mustExit(t, r, 0)
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Errorf("events --stats printed %q, want exactly one line", r.stdout)
	}
	evs := parseEvents(t, r.stdout)
	ev := evs[0]
	if ev.Type != "stats" || ev.ID != h.id {
		t.Errorf("events --stats: type %q id %q, want stats and %q", ev.Type, ev.ID, h.id)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &obj); err != nil {
		t.Fatalf("events --stats: data is not a JSON object: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"cpu", "memory", "pids"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("events --stats: data has no %q: %s", k, ev.Data)
		}
	}
	var d statsData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatalf("events --stats: %v\n%s", err, ev.Data)
	}
	return d
}

// TestEventsStats: `events --stats` prints one
// {"type":"stats","id":...,"data":{...}} object whose CPU usage counts the
// work done inside (and whose pids count matches the cgroup where the pids
// controller is on); `events --interval` streams such objects and exits by
// itself when the container stops; a stopped container has no stats.
func TestEventsStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := cgDir(t, h)
	cr := h.create(baseSpec(shell(`i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo worked; exec sleep 1000`)...))
	mustExit(t, cr, 0)
	mustExit(t, h.do("start", h.id), 0)
	waitOutput(t, cr.stdoutPath, "worked", cmdTimeout)

	d := statsOnce(t, h)
	usec := cgKey(t, dir, "cpu.stat", "usage_usec")
	if d.CPU.Usage.Total == 0 || d.CPU.Usage.Total > uint64(usec)*1000 {
		t.Errorf("events --stats cpu.usage.total = %d ns, want > 0 and at most cpu.stat's later usage_usec %d", d.CPU.Usage.Total, usec)
	}
	if slices.Contains(strings.Fields(cgRead(t, dir, "cgroup.controllers")), "pids") {
		if d.Pids.Current != 1 {
			t.Errorf("events --stats pids.current = %d, want 1 (the sleep)", d.Pids.Current)
		}
	}

	b := h.startHull(cmdOpts{}, "events", "--interval", "200ms", h.id)
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(readFile(b.stdout), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	mustExit(t, h.do("kill", h.id, "KILL"), 0)
	r := b.wait(15 * time.Second)
	if r.exit != 0 {
		t.Errorf("events --interval after the container stopped: %s", r)
	}
	evs := parseEvents(t, r.stdout)
	if len(evs) < 2 {
		t.Errorf("events --interval 200ms printed %d events before the kill, want at least 2:\n%s", len(evs), r.stdout)
	}
	for _, ev := range evs {
		if ev.Type != "stats" || ev.ID != h.id || len(ev.Data) == 0 || ev.Data[0] != '{' {
			t.Errorf("streamed event %+v, want a stats object for %s", ev, h.id)
		}
	}
	h.waitStatus(h.id, "stopped", 10*time.Second)
	if r := h.do("events", "--stats", h.id); r.exit == 0 {
		t.Errorf("events --stats of a stopped container succeeded: %s", r)
	}
}

// logMsgs returns the msg values of hull's logfmt error lines
// (time="..." level=error msg="...").
func logMsgs(stderr string) []string {
	var msgs []string
	for _, m := range regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*")`).FindAllStringSubmatch(stderr, -1) {
		if s, err := strconv.Unquote(m[1]); err == nil {
			msgs = append(msgs, s)
		}
	}
	return msgs
}

// TestResourcesNeedController (host only: not named Cgroup, and skipped where
// the controller exists): a resource whose controller the cgroup2 hierarchy
// lacks fails create and run with exactly
// "<field>: <controller> controller not available in cgroup2 at <mount>",
// and leaves no state, process or cgroup.
func TestResourcesNeedController(t *testing.T) {
	t.Parallel()
	mnt := needCgMount(t)
	have := strings.Fields(readFile(filepath.Join(mnt, "cgroup.controllers")))
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	tests := []struct {
		field, ctrl string
		set         func(r *specs.LinuxResources)
	}{
		{"linux.resources.memory.limit", "memory", func(r *specs.LinuxResources) {
			r.Memory = &specs.LinuxMemory{Limit: i64(64 << 20)}
		}},
		{"linux.resources.pids.limit", "pids", func(r *specs.LinuxResources) {
			r.Pids = &specs.LinuxPids{Limit: i64(100)}
		}},
		{"linux.resources.cpu.shares", "cpu", func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Shares: u64(512)}
		}},
		{"linux.resources.cpu.cpus", "cpuset", func(r *specs.LinuxResources) {
			r.CPU = &specs.LinuxCPU{Cpus: "0"}
		}},
	}
	for _, tc := range tests {
		for _, cmd := range []string{"create", "run"} {
			t.Run(tc.ctrl+"-"+cmd, func(t *testing.T) {
				t.Parallel()
				if slices.Contains(have, tc.ctrl) {
					hulltest.HostLimit(t, "the %s controller is available in %s (%v); runs on the hybrid CI host, whose cgroup2 lacks it", tc.ctrl, mnt, have)
				}
				h := newHarness(t)
				dir := cgDir(t, h)
				s := baseSpec("true")
				s.Linux.Resources = &specs.LinuxResources{}
				tc.set(s.Linux.Resources)
				h.writeSpec(s)
				r := h.do(cmd, "--bundle", h.bundle, h.id)
				want := fmt.Sprintf("%s: %s controller not available in cgroup2 at %s", tc.field, tc.ctrl, mnt)
				if r.exit == 0 {
					t.Fatalf("%s with %s and no %s controller succeeded: %s", cmd, tc.field, tc.ctrl, r)
				}
				// The error is exactly that, followed by "; " and the fix (the text
				// `hull check` prints for the same finding).
				msgs := logMsgs(r.stderr)
				if !slices.ContainsFunc(msgs, func(m string) bool {
					fix, ok := strings.CutPrefix(m, want+"; ")
					return ok && strings.Contains(fix, tc.ctrl) && strings.Contains(fix, "cgroup.subtree_control")
				}) {
					t.Errorf("%s: want the error %q followed by its fix, got messages %q\n%s", cmd, want, msgs, r)
				}
				cgAbsent(t, dir, "failed "+cmd)
				if procs := h.bundleProcesses(); len(procs) != 0 {
					t.Errorf("failed %s left processes: %v", cmd, procs)
				}
				if ents := stateEntries(h.root); len(ents) != 0 {
					t.Errorf("failed %s left %q in the state root", cmd, ents)
				}
				if _, _, ok := h.state(h.id); ok {
					t.Errorf("state of the container whose %s failed succeeded", cmd)
				}
			})
		}
	}
}

// cgProbeCommand runs a host command, for probing what the system has.
func cgProbeCommand(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
