package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/cgroups/devices"
)

// fakeSystemd is systemd's manager as the driver sees it over D-Bus: a started
// scope is a directory below the test's cgroup with the unit's processes in it,
// a stopped one is killed and removed, as systemd does.
type fakeSystemd struct {
	mu       sync.Mutex
	mount    string
	calls    []string
	units    map[string]string // unit -> its cgroup directory
	startErr []error           // what the next starts fail with
	cgroup   string            // ControlGroup's answer, if set
}

func (f *fakeSystemd) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeSystemd) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeSystemd) StartTransientUnit(name string, props []sdbus.Property) error {
	f.record("start " + name + ": " + propText(props))
	if len(f.startErr) > 0 {
		err := f.startErr[0]
		f.startErr = f.startErr[1:]
		return err
	}
	var slice string
	var pids []uint32
	for _, p := range props {
		switch p.Name {
		case "Slice":
			slice = p.Value.Value().(string)
		case "PIDs":
			pids = p.Value.Value().([]uint32)
		}
	}
	dir := filepath.Join(f.mount, slice, name)
	if slice == "-.slice" {
		dir = filepath.Join(f.mount, name)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, pid := range pids {
		if err := writeFile(dir, "cgroup.procs", strconv.Itoa(int(pid))); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.units[name] = dir
	f.mu.Unlock()
	return nil
}

func (f *fakeSystemd) StopUnit(name string) error {
	f.record("stop " + name)
	f.mu.Lock()
	dir, ok := f.units[name]
	delete(f.units, name)
	f.mu.Unlock()
	if !ok {
		return nil // NoSuchUnit
	}
	m := &fsManager{mount: f.mount, path: dir}
	if err := m.Kill(); err != nil {
		return err
	}
	return rmdir(dir)
}

func (f *fakeSystemd) ResetFailedUnit(name string) error {
	f.record("reset-failed " + name)
	return nil
}

func (f *fakeSystemd) SetUnitProperties(name string, props []sdbus.Property) error {
	f.record("set " + name + ": " + propText(props))
	return nil
}

func (f *fakeSystemd) ControlGroup(name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cgroup != "" {
		return f.cgroup, nil
	}
	dir, ok := f.units[name]
	if !ok {
		return "", errors.New("no such unit")
	}
	return strings.TrimPrefix(dir, f.mount), nil
}

func (f *fakeSystemd) Version() (int, error) { return 252, nil }
func (f *fakeSystemd) Close()                { f.record("close") }

// useFakeSystemd puts a fake systemd, whose slice is the test's cgroup, in
// place of the D-Bus connection, and counts the dials.
func useFakeSystemd(t *testing.T) (*fakeSystemd, string, *int) {
	t.Helper()
	parent := testParent(t)
	f := &fakeSystemd{mount: filepath.Dir(parent), units: map[string]string{}}
	dials := 0
	old := dialSystemd
	dialSystemd = func() (systemdConn, error) { dials++; return f, nil }
	t.Cleanup(func() {
		dialSystemd = old
		for _, dir := range f.units {
			_ = (&fsManager{mount: f.mount, path: dir}).Kill()
			_ = rmdir(dir)
		}
	})
	return f, parent, &dials
}

// TestSystemdScopeLifecycle: what create, the later commands and delete ask of
// the systemd driver, in create's order: no cgroup before the first process
// (ErrNoFD), a scope started with init in it, delegated, with the
// annotations' properties; the resources as properties and the device filter
// as with cgroupfs; found again without reaching systemd; stopped by delete,
// and a unit already gone is no error.
func TestSystemdScopeLifecycle(t *testing.T) {
	f, parent, dials := useFakeSystemd(t)
	slice := filepath.Base(parent)
	path := filepath.Join(parent, "hull-ctr.scope")

	m, _, err := Systemd.Make(path, MakeOpts{Annotations: map[string]string{"org.systemd.property.TimeoutStopSec": "3", "other": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FD(); !errors.Is(err, ErrNoFD) {
		t.Fatalf("FD before the scope exists = %v, want ErrNoFD", err)
	}
	cmd := helper(t, nil, "sleep")
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`start hull-ctr.scope: Description="hull container hull-ctr"; Slice=%q; Delegate=true; PIDs=@au [%d]; MemoryAccounting=true; CPUAccounting=true; IOAccounting=true; TasksAccounting=true; DefaultDependencies=false; TimeoutStopUSec=@t 3000000`, slice, pid)
	if got := f.called(); len(got) != 1 || got[0] != want {
		t.Fatalf("calls %q\nwant [%q]", got, want)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "0::"+strings.TrimPrefix(path, f.mount)+"\n") {
		t.Fatalf("the process is in %q, not in the scope %s", b, path)
	}
	fd, err := m.FD()
	if err != nil {
		t.Fatalf("FD once the scope runs: %v", err)
	}
	fd.Close()

	if err := m.Limit(nil); err != nil {
		t.Fatal(err)
	}
	calls := f.called()
	if last := calls[len(calls)-1]; !strings.HasPrefix(last, `set hull-ctr.scope: DevicePolicy="strict"; DeviceAllow=[("char-*", "m",)`) {
		t.Fatalf("Limit set %q, want the device properties", last)
	}
	if n := attachedFilters(t, path); n != 1 {
		t.Fatalf("%d device filters attached, want hull's one", n)
	}

	// Later commands: from the path alone, without reaching systemd.
	before := *dials
	l, err := Systemd.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := l.Pids()
	if err != nil || !slices.Contains(pids, pid) {
		t.Fatalf("Pids = %v, %v; want %d", pids, err, pid)
	}
	if *dials != before {
		t.Fatalf("Load and Pids reached systemd")
	}
	if err := l.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	calls = f.called()
	if got := calls[len(calls)-3:]; !slices.Equal(got, []string{"stop hull-ctr.scope", "reset-failed hull-ctr.scope", "close"}) {
		t.Fatalf("Destroy called %q", got)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the scope's cgroup is left: %v", err)
	}
	// The unit is gone already (systemd collects an empty scope): not an error.
	if err := m.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if err := Systemd.RemoveMadeAncestors(path); err != nil {
		t.Fatalf("RemoveMadeAncestors: %v", err)
	}
}

// TestSystemdStartFailures: a failed unit of the same name is reset and the
// start tried once more; a unit still there is reported, as is systemd putting
// the scope somewhere else than the state recorded; a systemd that cannot be
// reached fails Make with the fix.
func TestSystemdStartFailures(t *testing.T) {
	f, parent, _ := useFakeSystemd(t)
	path := filepath.Join(parent, "hull-a.scope")
	exists := fmt.Errorf("start systemd unit hull-a.scope: %w", errUnitExists)

	start := func() (Manager, error) {
		m, _, err := Systemd.Make(path, MakeOpts{})
		if err != nil {
			t.Fatal(err)
		}
		cmd := helper(t, nil, "sleep")
		return m, m.Apply(cmd.Process.Pid)
	}

	f.startErr = []error{exists}
	m, err := start()
	if err != nil {
		t.Fatalf("a failed unit left by an earlier container: %v", err)
	}
	calls := f.called()
	if len(calls) != 3 || calls[1] != "reset-failed hull-a.scope" || !strings.HasPrefix(calls[2], "start") {
		t.Fatalf("calls %q, want start, reset-failed, start", calls)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}

	f.startErr = []error{exists, exists}
	if _, err = start(); err == nil || !strings.Contains(err.Error(), "systemd unit hull-a.scope exists already (another container's?); name another scope in linux.cgroupsPath") {
		t.Fatalf("a unit that stays: %v", err)
	}

	f.startErr = []error{errors.New("Unit p-n.scope has a bad unit file setting")}
	if _, err = start(); err == nil || !strings.Contains(err.Error(), "start the container's scope in "+filepath.Base(parent)+": Unit p-n.scope has a bad unit file setting") {
		t.Fatalf("a refused start: %v", err)
	}

	f.cgroup = "/elsewhere/hull-a.scope"
	m, err = start()
	if err == nil || !strings.Contains(err.Error(), "systemd put unit hull-a.scope in cgroup "+f.mount+"/elsewhere/hull-a.scope, not "+path) {
		t.Fatalf("a scope elsewhere: %v", err)
	}
	f.cgroup = ""
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}

	dialSystemd = func() (systemdConn, error) { return nil, errNoSystemd }
	if _, _, err := Systemd.Make(path, MakeOpts{}); !errors.Is(err, errNoSystemd) || !strings.Contains(err.Error(), "drop --systemd-cgroup") {
		t.Fatalf("Make without systemd: %v", err)
	}
}

// attachedFilters counts the device programs attached to the cgroup dir.
func attachedFilters(t *testing.T, dir string) int {
	t.Helper()
	fd, err := open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids, err := devices.Attached(fd)
	if err != nil {
		t.Fatal(err)
	}
	return len(ids)
}

func TestAnnotationHint(t *testing.T) {
	ann := map[string]string{"org.systemd.property.NoSuchThing": "true", "org.systemd.property.TimeoutStopSec": "7", "other": "x"}
	for msg, want := range map[string]string{
		"start systemd unit a.scope: Cannot set property NoSuchThing, or unknown property.":     `annotations["org.systemd.property.NoSuchThing"]`,
		"start systemd unit a.scope: Cannot set property TimeoutStopUSec, or unknown property.": `annotations["org.systemd.property.TimeoutStopSec"]`,
		"start systemd unit a.scope: Cannot set property MemoryMax, or unknown property.":       "",
		"start systemd unit a.scope: Cannot set property NoSuchThingElse, or unknown property.": "",
	} {
		got := annotationHint(errors.New(msg), ann)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("annotationHint(%q) = %q, want %q in it", msg, got, want)
		}
	}
}
