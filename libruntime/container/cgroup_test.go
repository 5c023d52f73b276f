package container

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/cgroups"
)

// fakeDriver records what the container's code asks of a cgroup driver: it shows
// that create and the commands acting on a container go through the interfaces
// only, and in which order.
type fakeDriver struct {
	mu     sync.Mutex
	calls  []string
	frozen bool
	fdErr  error // what FD returns
	gone   bool  // Load fails: the cgroup does not exist
}

func (d *fakeDriver) record(call string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, call)
}

func (d *fakeDriver) called() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

func (d *fakeDriver) Name() string { return "fake" }
func (d *fakeDriver) Path(cgroupsPath, id string) (string, error) {
	d.record("Path " + cgroupsPath + " " + id)
	return "/nonexistent-fake-cgroup/" + id, nil
}
func (d *fakeDriver) Make(path string, _ cgroups.MakeOpts) (cgroups.Manager, func(), error) {
	d.record("Make " + path)
	return &fakeManager{d: d, path: path}, func() { d.record("undo") }, nil
}
func (d *fakeDriver) Load(path string) (cgroups.Manager, error) {
	d.record("Load " + path)
	if d.gone {
		return nil, os.ErrNotExist
	}
	return &fakeManager{d: d, path: path}, nil
}
func (d *fakeDriver) RemoveMadeAncestors(path string) error {
	d.record("RemoveMadeAncestors " + path)
	return nil
}

type fakeManager struct {
	d    *fakeDriver
	path string
}

func (m *fakeManager) Path() string { return m.path }
func (m *fakeManager) FD() (*os.File, error) {
	m.d.record("FD")
	return nil, m.d.fdErr
}
func (m *fakeManager) Apply(pid int) error { m.d.record("Apply"); return nil }
func (m *fakeManager) Limit(r *specs.LinuxResources) error {
	m.d.record("Limit")
	return nil
}
func (m *fakeManager) Set(r *specs.LinuxResources) error { m.d.record("Set"); return nil }
func (m *fakeManager) Freeze() error {
	m.d.record("Freeze")
	m.d.frozen = true
	return nil
}
func (m *fakeManager) Thaw() error {
	m.d.record("Thaw")
	m.d.frozen = false
	return nil
}
func (m *fakeManager) Frozen() (bool, error)            { return m.d.frozen, nil }
func (m *fakeManager) EffectivelyFrozen() (bool, error) { return m.d.frozen, nil }
func (m *fakeManager) Kill() error                      { m.d.record("Kill"); return nil }
func (m *fakeManager) Pids() ([]int, error)             { m.d.record("Pids"); return nil, nil }
func (m *fakeManager) Stats() (*cgroups.Stats, error) {
	m.d.record("Stats")
	return &cgroups.Stats{}, nil
}
func (m *fakeManager) OOMKillCount() (uint64, error) { m.d.record("OOMKillCount"); return 0, nil }
func (m *fakeManager) PidsLimitHits() (uint64, string, error) {
	return 0, "max", nil
}
func (m *fakeManager) Sub(rel string) (cgroups.Manager, error) { return m, nil }
func (m *fakeManager) Destroy() error                          { m.d.record("Destroy"); return nil }

// useFakeDriver puts d in place of the real driver for the test.
func useFakeDriver(t *testing.T, d *fakeDriver) {
	oldMadeBy, oldSelect := madeBy, selectDriver
	madeBy = func(string) (cgroups.Driver, error) { return d, nil }
	selectDriver = func(systemd bool, cgroupsPath string) (cgroups.Driver, error) {
		d.record("Select")
		return d, nil
	}
	t.Cleanup(func() { madeBy, selectDriver = oldMadeBy, oldSelect })
}

// storedContainer writes a container record to a state dir under a new root:
// with init, the test process itself (so it counts as running), or none.
func storedContainer(t *testing.T, running bool) *Container {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "ctr")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &persisted{ID: "ctr", Config: &specs.Spec{Linux: &specs.Linux{}}, CgroupPath: "/nonexistent-fake-cgroup/ctr"}
	if running {
		_, start, err := procStat(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		p.InitPid, p.InitStartTime = os.Getpid(), start
	}
	if err := writeState(dir, p); err != nil {
		t.Fatal(err)
	}
	c, err := Load(root, "ctr")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCommandsUseCgroupInterface: pause, resume, ps, events, update, kill --all and
// delete act on the container's cgroup through cgroups.Manager, from the driver
// that made it.
func TestCommandsUseCgroupInterface(t *testing.T) {
	d := &fakeDriver{}
	useFakeDriver(t, d)
	c := storedContainer(t, true)
	if s := c.Status(); s != Running {
		t.Fatalf("status %s, want running", s)
	}
	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	if s := c.Status(); s != Paused {
		t.Fatalf("status after pause %s, want paused (Frozen through the interface)", s)
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Processes(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stats(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OOMKillCount(); err != nil {
		t.Fatal(err)
	}
	limit := int64(100)
	if err := c.Update(func(cur *specs.LinuxResources) (*specs.LinuxResources, error) {
		return &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := c.Resources(); r == nil || r.Pids == nil || *r.Pids.Limit != 100 {
		t.Fatalf("update did not record the resources: %+v", r)
	}
	// SIGCONT: harmless should the fake's empty pid list ever be bypassed.
	if err := c.Signal(unix.SIGCONT, true); err != nil {
		t.Fatal(err)
	}
	calls := strings.Join(d.called(), "\n")
	for _, want := range []string{"Freeze", "Thaw", "Pids", "Stats", "OOMKillCount", "Set"} {
		if !strings.Contains(calls, want) {
			t.Errorf("no %s through the interface; calls:\n%s", want, calls)
		}
	}
	if !strings.Contains(calls, "Load /nonexistent-fake-cgroup/ctr") {
		t.Errorf("the cgroup was not loaded through the driver; calls:\n%s", calls)
	}

	stopped := storedContainer(t, false)
	d.calls = nil
	if err := stopped.Signal(unix.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	if err := stopped.Delete(false); err != nil {
		t.Fatal(err)
	}
	if got, want := d.called(), []string{"Load /nonexistent-fake-cgroup/ctr", "Kill", "Load /nonexistent-fake-cgroup/ctr", "Kill", "Destroy"}; !slices.Equal(got, want) {
		t.Errorf("kill --all and delete of a stopped container: calls %q, want %q", got, want)
	}

	// A create killed before it made the cgroup itself: delete removes the
	// ancestors the driver made.
	gone := storedContainer(t, false)
	d.calls, d.gone = nil, true
	if err := gone.Delete(false); err != nil {
		t.Fatal(err)
	}
	if got, want := d.called(), []string{"Load /nonexistent-fake-cgroup/ctr", "RemoveMadeAncestors /nonexistent-fake-cgroup/ctr"}; !slices.Equal(got, want) {
		t.Errorf("delete without the cgroup: calls %q, want %q", got, want)
	}
}

// TestCreateUsesCgroupDriver: create picks the driver through the one selection,
// resolves the path and makes the cgroup through it, asks it for the fd to clone
// init into, and on failure kills and destroys through the Manager, leaving no
// state dir.
func TestCreateUsesCgroupDriver(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("create needs root")
	}
	d := &fakeDriver{fdErr: errors.New("fake: no fd")}
	useFakeDriver(t, d)
	bundle := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "bin", "sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := `{"ociVersion": "1.3.0", "root": {"path": "rootfs"},
		"process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"]},
		"linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}], "cgroupsPath": "/fake/x"}}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	_, _, err := Create(root, "x", &CreateOpts{Bundle: bundle})
	if err == nil || !strings.Contains(err.Error(), "fake: no fd") {
		t.Fatalf("Create: %v, want the fake FD's error", err)
	}
	want := []string{"Select", "Path /fake/x x", "Make /nonexistent-fake-cgroup/x", "FD", "Kill", "Destroy"}
	if got := d.called(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if _, err := os.Lstat(filepath.Join(root, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed create left its state dir: %v", err)
	}
}

// TestCgroupDriverFromState: the commands after create use the driver state.json
// names (systemd's scope is stopped by systemd's driver, not removed as a plain
// directory), and a state without the field, written by an older hull, is
// cgroupfs's.
func TestCgroupDriverFromState(t *testing.T) {
	d := &fakeDriver{}
	useFakeDriver(t, d)
	var asked []string
	madeBy = func(name string) (cgroups.Driver, error) {
		asked = append(asked, name)
		return d, nil
	}
	for _, driver := range []string{"systemd", ""} {
		asked = nil
		c := storedContainer(t, true)
		c.p.CgroupDriver = driver
		if err := writeState(c.dir, c.p); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(c.dir, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(raw), `"cgroup_driver"`); has != (driver != "") {
			t.Fatalf("state.json %s has the driver field: %v", raw, has)
		}
		c, err = Load(c.root, "ctr")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Processes(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(asked, []string{driver}) {
			t.Fatalf("driver asked for %q, want %q", asked, driver)
		}
	}
	if d, err := cgroups.ByName(""); err != nil || d != cgroups.Cgroupfs {
		t.Fatalf("no driver in the state: %v, %v; want cgroupfs", d, err)
	}
}
