package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestNewDestroy: New makes the cgroup and its missing ancestors, marks only
// the ancestors, and Destroy removes exactly what New made.
func TestNewDestroy(t *testing.T) {
	parent := testParent(t)
	path := filepath.Join(parent, "a", "b", "ctr")
	m, err := New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Path() != path {
		t.Errorf("Path() = %q, want %q", m.Path(), path)
	}
	for dir, want := range map[string]string{
		parent:                       "",
		filepath.Join(parent, "a"):   markerValue,
		filepath.Join(parent, "a/b"): markerValue,
		path:                         "",
	} {
		got, err := getxattr(dir, markerXattr)
		if err != nil || got != want {
			t.Errorf("marker of %s = %q, %v; want %q", dir, got, err, want)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(t, filepath.Join(parent, "a")) {
		t.Error("Destroy left the ancestors New made")
	}
	if !exists(t, parent) {
		t.Fatal("Destroy removed an ancestor New did not make")
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// TestDestroySharedAncestor: an ancestor two containers share stays until
// the last one is destroyed, also through a Manager from Load, as a later
// `hull delete` has.
func TestDestroySharedAncestor(t *testing.T) {
	parent := testParent(t)
	shared := filepath.Join(parent, "pod")
	m1, err := New(filepath.Join(shared, "c1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(filepath.Join(shared, "c2"), nil); err != nil {
		t.Fatal(err)
	}
	if err := m1.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !exists(t, shared) {
		t.Fatal("Destroy removed an ancestor another container still uses")
	}
	m2, err := Cgroupfs.Load(filepath.Join(shared, "c2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(t, shared) {
		t.Fatal("the last Destroy left the shared ancestor hull made")
	}
}

func TestNewRejects(t *testing.T) {
	parent := testParent(t)
	mount, _ := Mount()
	busy := filepath.Join(parent, "busy")
	mBusy := newManager(t, busy, nil)
	helper(t, mBusy, "sleep")
	tests := []struct{ name, path string }{
		{"outside the mount", filepath.Join(t.TempDir(), "x")},
		{"the mount itself", mount},
		{"unclean", parent + "/x/../y"},
		{"relative", "x/y"},
		{"existing with processes", busy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.path, nil)
			if err == nil {
				_ = m.Destroy()
				t.Fatalf("New(%q) succeeded", tc.path)
			}
		})
	}
	if !exists(t, busy) {
		t.Error("a refused New removed the cgroup it did not make")
	}
}

// TestNewExistingEmpty reuses an empty cgroup somebody made; Destroy then
// removes it (it is the container's cgroup) but not its unmarked parent.
func TestNewExistingEmpty(t *testing.T) {
	parent := testParent(t)
	path := filepath.Join(parent, "pre", "ctr")
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(t, path) || !exists(t, filepath.Dir(path)) {
		t.Error("Destroy of a reused cgroup: want it gone and its parent kept")
	}
}

func TestLoad(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, filepath.Join(parent, "ctr"), nil)
	if _, err := Cgroupfs.Load(m.Path()); err != nil {
		t.Errorf("Load(%s): %v", m.Path(), err)
	}
	if _, err := Cgroupfs.Load(filepath.Join(parent, "missing")); err == nil {
		t.Error("Load of a missing cgroup succeeded")
	}
}

// TestApplyPids: a process moved in with Apply, one started in with
// CLONE_INTO_CGROUP and one in a child cgroup are all listed.
func TestApplyPids(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, filepath.Join(parent, "ctr"), nil)
	if pids, err := m.Pids(); err != nil || len(pids) != 0 {
		t.Fatalf("Pids of a new cgroup = %v, %v", pids, err)
	}
	applied := helper(t, nil, "sleep")
	if err := m.Apply(applied.Process.Pid); err != nil {
		t.Fatal(err)
	}
	cloned := helper(t, m, "sleep")
	sub := filepath.Join(m.Path(), "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	nested := helper(t, nil, "sleep")
	if err := writeFile(sub, "cgroup.procs", strconv.Itoa(nested.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*struct {
		name string
		pid  int
	}{{"applied", applied.Process.Pid}, {"cloned", cloned.Process.Pid}, {"nested", nested.Process.Pid}} {
		if !slices.Contains(pids, c.pid) {
			t.Errorf("Pids() = %v, missing the %s process %d", pids, c.name, c.pid)
		}
	}
	if len(pids) != 3 {
		t.Errorf("Pids() = %v, want 3 processes", pids)
	}
	if err := m.Apply(1 << 30); err == nil {
		t.Error("Apply of a pid that does not exist succeeded")
	}
}

// TestFreezeThaw: a spinning process's counter stops while frozen and runs
// again after Thaw.
func TestFreezeThaw(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, filepath.Join(parent, "ctr"), nil)
	file, c := newCounter(t)
	helper(t, m, "spin", file)
	if !c.waitAdvance(0) {
		t.Fatal("the spinning helper never counted")
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || !frozen {
		t.Fatalf("Frozen() after Freeze = %v, %v", frozen, err)
	}
	before := c.load()
	time.Sleep(300 * time.Millisecond)
	if after := c.load(); after != before {
		t.Fatalf("counter moved from %d to %d while frozen", before, after)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
	}
	if !c.waitAdvance(before) {
		t.Fatal("counter did not move after Thaw")
	}
}

// TestKill empties a cgroup, child cgroups included, both with cgroup.kill
// and with the signal loop used where that file is missing, also while
// frozen.
func TestKill(t *testing.T) {
	tests := []struct {
		name   string
		kill   func(*fsManager) error
		frozen bool
	}{
		{"cgroup.kill", (*fsManager).Kill, false},
		{"signals", (*fsManager).killEach, false},
		{"cgroup.kill frozen", (*fsManager).Kill, true},
		{"signals frozen", (*fsManager).killEach, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := testParent(t)
			m := newManager(t, filepath.Join(parent, "ctr"), nil)
			cmds := []*exec.Cmd{helper(t, m, "sleep"), helper(t, m, "sleep")}
			sub := filepath.Join(m.Path(), "sub")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			nested := helper(t, nil, "sleep")
			if err := writeFile(sub, "cgroup.procs", strconv.Itoa(nested.Process.Pid)); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, nested)
			if tc.frozen {
				if err := m.Freeze(); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.kill(m); err != nil {
				t.Fatal(err)
			}
			if pids, err := m.Pids(); err != nil || len(pids) != 0 {
				t.Fatalf("Pids() after kill = %v, %v", pids, err)
			}
			for i, c := range cmds {
				err := c.Wait()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Errorf("process %d: Wait() = %v, want killed by SIGKILL", i, err)
				}
			}
		})
	}
}

func TestFreezeEmpty(t *testing.T) {
	parent := testParent(t)
	m := newManager(t, filepath.Join(parent, "ctr"), nil)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
}

// TestControllerUnavailable: asking for a controller the cgroup cannot have
// fails with the field, the controller and the mount, and leaves nothing
// behind. Controllers this host has are exercised by the resource tests.
func TestControllerUnavailable(t *testing.T) {
	parent := testParent(t)
	mount, _ := Mount()
	limit := int64(64 << 20)
	shares := uint64(512)
	pids := int64(10)
	weight := uint16(500)
	tests := []struct {
		ctrl, field string
		r           *specs.LinuxResources
	}{
		{"memory", "linux.resources.memory.limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}},
		{"cpu", "linux.resources.cpu.shares", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: &shares}}},
		{"cpuset", "linux.resources.cpu.cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}},
		{"pids", "linux.resources.pids.limit", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}}},
		{"io", "linux.resources.blockIO.weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &weight}}},
		{"hugetlb", "linux.resources.hugepageLimits", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}}},
		{"memory", `linux.resources.unified["memory.high"]`, &specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}},
	}
	avail, err := readFile(parent, "cgroup.subtree_control")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			if slices.Contains(strings.Fields(avail), tc.ctrl) {
				hulltest.HostLimit(t, "the %s controller is available here; runs where cgroup2 lacks it (the hybrid CI host)", tc.ctrl)
			}
			ran++
			path := filepath.Join(parent, "x", "ctr")
			m, err := New(path, tc.r)
			if err == nil {
				_ = m.Destroy()
				t.Fatal("New succeeded")
			}
			want := tc.field + ": " + tc.ctrl + " controller not available in cgroup2 at " + mount
			if err.Error() != want {
				t.Errorf("New: %q\nwant %q", err, want)
			}
			if exists(t, filepath.Join(parent, "x")) {
				t.Error("the failed New left cgroups behind")
			}
		})
	}
	t.Logf("%d of %d unavailable controllers checked", ran, len(tests))
}

// TestRemoveMadeAncestors: a create killed after it made ancestors of its cgroup but
// before the cgroup itself leaves them marked as hull's; `delete` removes the empty
// ones from the nearest up, and never the test's own parent (not made by hull) nor one
// another container still uses.
func TestRemoveMadeAncestors(t *testing.T) {
	parent := testParent(t)
	leaf := filepath.Join(parent, "a", "b", "ctr")
	m, err := New(leaf, nil)
	if err != nil {
		t.Fatal(err)
	}
	// What the killed create left: the marked ancestors, no cgroup.
	if err := rmdir(m.Path()); err != nil {
		t.Fatal(err)
	}
	other, err := New(filepath.Join(parent, "a", "other"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Cgroupfs.RemoveMadeAncestors(leaf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(parent, "a", "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the empty ancestor hull made is left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "a")); err != nil {
		t.Errorf("the ancestor another cgroup uses was removed: %v", err)
	}
	if err := other.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(parent); err != nil {
		t.Errorf("the test's parent, not hull's, was removed: %v", err)
	}
}
