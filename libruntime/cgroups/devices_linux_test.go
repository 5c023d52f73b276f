package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/libruntime/cgroups/devices"
)

// probe runs the device probes (internal/hulltest.DeviceProbe) in m's cgroup
// and returns one result per probe ("ok" or an errno name).
func probe(t *testing.T, m *fsManager, probes ...string) []string {
	t.Helper()
	fd, err := m.FD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	return hulltest.ProbeDevices(t, int(fd.Fd()), helperEnv+"=devices", probes...)
}

// TestDefaultDeviceFilter: without device rules a container gets runc's
// defaults only: /dev/null works, /dev/loop-control and other nodes cannot
// be opened, though (as in runc) they can be made.
func TestDefaultDeviceFilter(t *testing.T) {
	parent := testParent(t)
	dir := hulltest.DeviceNodeDir(t)
	A := hulltest.UnusedCharMajor(t)
	loop := filepath.Join(dir, "loop-control")
	if err := unix.Mknod(loop, unix.S_IFCHR|0o600, int(unix.Mkdev(10, 237))); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, filepath.Join(parent, "ctr"), nil)
	probes := []struct{ probe, want string }{
		{"open /dev/null rw", "ok"},
		{"open /dev/zero r", "ok"},
		{"open " + loop + " rw", "EPERM"},
		{fmt.Sprintf("mknod %s/made c %d 0", dir, A), "ok"},
		{"open " + dir + "/made r", "EPERM"},
		{fmt.Sprintf("mknod %s/blk b %d 0", dir, A), "ok"},
		{"open " + dir + "/blk r", "EPERM"},
	}
	if _, err := os.Stat("/dev/loop-control"); err == nil {
		probes = append(probes, struct{ probe, want string }{"open /dev/loop-control rw", "EPERM"})
	}
	var args []string
	for _, p := range probes {
		args = append(args, p.probe)
	}
	got := probe(t, m, args...)
	for i, p := range probes {
		if got[i] != p.want {
			t.Errorf("%s: %s, want %s", p.probe, got[i], p.want)
		}
	}
}

// TestSetDevices: Set replaces the filter, keeping the defaults, and leaves
// exactly one program attached; Set without device rules leaves it alone.
func TestSetDevices(t *testing.T) {
	parent := testParent(t)
	dir := hulltest.DeviceNodeDir(t)
	A := hulltest.UnusedCharMajor(t)
	node := filepath.Join(dir, "a")
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(uint32(A), 0))); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, filepath.Join(parent, "ctr"), nil)
	major := A
	steps := []struct {
		name string
		r    *specs.LinuxResources
		want string
	}{
		{"allow", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &major, Access: "r"}}}, "ENXIO"},
		{"no device rules keep the filter", &specs.LinuxResources{}, "ENXIO"},
		{"empty list is the defaults", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}}, "EPERM"},
		{"defaults cannot be denied", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, "EPERM"},
	}
	for _, s := range steps {
		if err := m.Set(s.r); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := probe(t, m, "open "+node+" r", "open /dev/null w")
		if got[0] != s.want || got[1] != "ok" {
			t.Errorf("%s: open node %s, /dev/null %s; want %s, ok", s.name, got[0], got[1], s.want)
		}
		fd, err := unix.Open(m.Path(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := devices.Attached(fd)
		unix.Close(fd)
		if err != nil || len(ids) != 1 {
			t.Errorf("%s: attached programs %v, %v; want exactly one", s.name, ids, err)
		}
	}
	bad := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "x", Access: "r"}}}
	if err := m.Set(bad); err == nil || !strings.Contains(err.Error(), "linux.resources.devices[0]") {
		t.Errorf("Set with a bad rule: %v", err)
	}
}
