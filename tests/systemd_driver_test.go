//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// requireSystemd stops the test where systemd is not the init system: the
// systemd driver's tests run in the systemd guest (make guest-test).
func requireSystemd(t *testing.T) {
	t.Helper()
	comm, _ := os.ReadFile("/proc/1/comm")
	if strings.TrimSpace(string(comm)) != "systemd" {
		hulltest.HostLimit(t, "systemd is not PID 1 here (%q); the systemd driver's tests run in the systemd guest: make guest-test", strings.TrimSpace(string(comm)))
	}
	hulltest.RequireTool(t, "systemctl", "systemd")
}

// unitShow is `systemctl show -p P1 -p P2 ... unit` as a map.
func unitShow(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out, err := exec.Command("systemctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("systemctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		// A list property (DeviceAllow, IOReadBandwidthMax) is one line per entry.
		if prev, ok := m[k]; ok {
			v = prev + "\n" + v
		}
		m[k] = v
	}
	return m
}

// assertNoUnit fails unless systemd has forgotten the unit and its cgroup is gone.
func assertNoUnit(t *testing.T, unit, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := unitShow(t, unit, "LoadState", "ActiveState")
		_, err := os.Stat(dir)
		if st["LoadState"] == "not-found" && os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: unit %s (%v), cgroup %s (stat: %v)", unit, st, dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSystemdDriver: --systemd-cgroup with slice:prefix:name runs the container
// in a transient scope systemd made, delegated, with linux.resources as unit
// properties and in the cgroup files, the annotations' properties; update,
// pause/resume, ps, exec, events --stats and kill --all act on it; delete stops
// the unit, and so does the delete after a failed or killed create.
func TestSystemdDriver(t *testing.T) {
	requireSystemd(t)
	t.Run("lifecycle", func(t *testing.T) {
		h := newHarness(t)
		unit := "hulltest-" + h.id + ".scope"
		dir := filepath.Join("/sys/fs/cgroup/system.slice", unit)
		s := baseSpec("sleep", "600")
		s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
		s.Annotations = map[string]string{"org.systemd.property.TimeoutStopSec": "7"}
		mem, pids, quota, period := int64(64<<20), int64(50), int64(50000), uint64(100000)
		s.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &mem},
			Pids:   &specs.LinuxPids{Limit: &pids},
			CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
		}
		h.writeSpec(s)
		// --systemd-cgroup is a global flag (as runc's), before the command.
		mustExit(t, h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id), 0)
		st := h.mustState(h.id)
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if want := "0::/system.slice/" + unit + "\n"; string(cg) != want {
			t.Fatalf("init's cgroup %q, want %q", cg, want)
		}
		p := unitShow(t, unit, "Delegate", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec", "TimeoutStopUSec", "ActiveState")
		for k, want := range map[string]string{"Delegate": "yes", "MemoryMax": "67108864", "TasksMax": "50", "CPUQuotaPerSecUSec": "500ms", "TimeoutStopUSec": "7s", "ActiveState": "active"} {
			if p[k] != want {
				t.Errorf("unit property %s=%q, want %q (all: %v)", k, p[k], want, p)
			}
		}
		for file, want := range map[string]string{"memory.max": "67108864", "pids.max": "50", "cpu.max": "50000 100000"} {
			if got := strings.TrimSpace(readFile(filepath.Join(dir, file))); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		mustExit(t, h.do("start", h.id), 0)
		mustExit(t, h.do("exec", "-d", h.id, "sleep", "600"), 0)
		r := h.do("ps", "--format", "json", h.id)
		mustExit(t, r, 0)
		var ps []int
		if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil || len(ps) != 2 {
			t.Fatalf("ps: %v, %v; want init and the exec'd process: %s", ps, err, r)
		}
		mustExit(t, h.do("update", "--pids-limit", "60", h.id), 0)
		if got := unitShow(t, unit, "TasksMax")["TasksMax"]; got != "60" {
			t.Errorf("TasksMax after update = %q, want 60", got)
		}
		if got := strings.TrimSpace(readFile(filepath.Join(dir, "pids.max"))); got != "60" {
			t.Errorf("pids.max after update = %q, want 60", got)
		}
		mustExit(t, h.do("pause", h.id), 0)
		if st := h.mustState(h.id); st.Status != "paused" {
			t.Errorf("status after pause %q", st.Status)
		}
		mustExit(t, h.do("resume", h.id), 0)
		r = h.do("events", "--stats", h.id)
		mustExit(t, r, 0)
		if !strings.Contains(r.stdout, `"memory"`) {
			t.Errorf("events --stats has no memory: %s", r)
		}
		mustExit(t, h.do("kill", "--all", h.id, "KILL"), 0)
		h.waitStatus(h.id, "stopped", 10*time.Second)
		mustExit(t, h.do("delete", h.id), 0)
		assertNoUnit(t, unit, dir)
	})
	// init is moved into its scope after the clone (systemd makes the scope with
	// its first process): its cgroup namespace must still be rooted at the scope,
	// not at the cgroup hull was started in.
	t.Run("cgroupns", func(t *testing.T) {
		h := newHarness(t)
		unit := "hulltest-" + h.id + ".scope"
		s := baseSpec("sleep", "600")
		s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		h.writeSpec(s)
		mustExit(t, h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id), 0)
		mustExit(t, h.do("start", h.id), 0)
		r := h.do("exec", h.id, "cat", "/proc/self/cgroup")
		mustExit(t, r, 0)
		if r.stdout != "0::/\n" {
			t.Errorf("exec'd process's /proc/self/cgroup %q, want \"0::/\" (the namespace rooted at %s)", r.stdout, unit)
		}
		mustExit(t, h.do("delete", "--force", h.id), 0)
		assertNoUnit(t, unit, "/sys/fs/cgroup/system.slice/"+unit)
	})
	t.Run("nested-slice", func(t *testing.T) {
		h := newHarness(t)
		slice := "hulltest-" + strings.ReplaceAll(h.id, "-", "") + ".slice"
		t.Cleanup(func() { _ = exec.Command("systemctl", "stop", slice).Run() })
		s := baseSpec("true")
		s.Linux.CgroupsPath = slice + ":p:" + h.id
		h.writeSpec(s)
		r := h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
		mustExit(t, r, 0)
		st := h.mustState(h.id)
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
		if want := "0::/hulltest.slice/" + slice + "/p-" + h.id + ".scope\n"; string(cg) != want {
			t.Fatalf("init's cgroup %q, want %q", cg, want)
		}
		mustExit(t, h.do("delete", "--force", h.id), 0)
		assertNoUnit(t, "p-"+h.id+".scope", "/sys/fs/cgroup/hulltest.slice/"+slice+"/p-"+h.id+".scope")
	})
	t.Run("failed-create", func(t *testing.T) {
		h := newHarness(t)
		unit := "hulltest-" + h.id + ".scope"
		s := baseSpec("/nonexistent")
		s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
		h.writeSpec(s)
		if r := h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id); r.exit == 0 {
			t.Fatalf("create of a missing program succeeded: %s", r)
		}
		assertNoUnit(t, unit, "/sys/fs/cgroup/system.slice/"+unit)
	})
	t.Run("killed-create", func(t *testing.T) {
		h := newHarness(t)
		unit := "hulltest-" + h.id + ".scope"
		dir := "/sys/fs/cgroup/system.slice/" + unit
		s := baseSpec("true")
		s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
		// create waits in the hook with init in the scope.
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "3"}}}}
		h.writeSpec(s)
		cmd := exec.Command(hullBinary, "--root", h.root, "--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(dir); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("no scope %s while create runs", dir)
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		mustExit(t, h.do("delete", "--force", h.id), 0)
		assertNoUnit(t, unit, dir)
	})
	t.Run("resources", func(t *testing.T) {
		h := newHarness(t)
		unit := "hulltest-" + h.id + ".scope"
		dir := filepath.Join("/sys/fs/cgroup/system.slice", unit)
		s := baseSpec("sleep", "600")
		s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
		limit, low, swap, shares, weight := int64(128<<20), int64(32<<20), int64(192<<20), uint64(512), uint16(300)
		major, minor := int64(1), int64(3)
		s.Linux.Resources = &specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: &limit, Reservation: &low, Swap: &swap},
			CPU:     &specs.LinuxCPU{Shares: &shares, Cpus: "0", Mems: "0"},
			BlockIO: &specs.LinuxBlockIO{Weight: &weight},
			Unified: map[string]string{"memory.high": "104857600"},
			Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}},
		}
		var disk syscall.Stat_t
		haveDisk := syscall.Stat("/dev/vda", &disk) == nil && disk.Mode&syscall.S_IFMT == syscall.S_IFBLK
		if haveDisk {
			s.Linux.Resources.BlockIO.ThrottleReadBpsDevice = []specs.LinuxThrottleDevice{{Rate: 1 << 20}}
			s.Linux.Resources.BlockIO.ThrottleReadBpsDevice[0].Major = int64(disk.Rdev >> 8 & 0xfff)
			s.Linux.Resources.BlockIO.ThrottleReadBpsDevice[0].Minor = int64(disk.Rdev&0xff | disk.Rdev>>12&0xfff00)
		}
		h.writeSpec(s)
		mustExit(t, h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id), 0)
		t.Cleanup(func() { h.do("delete", "--force", h.id) })
		p := unitShow(t, unit, "MemoryMax", "MemoryLow", "MemoryHigh", "MemorySwapMax", "CPUWeight", "AllowedCPUs", "AllowedMemoryNodes",
			"IOWeight", "IOReadBandwidthMax", "DevicePolicy", "DeviceAllow")
		for k, want := range map[string]string{"MemoryMax": "134217728", "MemoryLow": "33554432", "MemoryHigh": "104857600",
			"MemorySwapMax": "67108864", "AllowedCPUs": "0", "AllowedMemoryNodes": "0", "DevicePolicy": "strict"} {
			if p[k] != want {
				t.Errorf("unit property %s=%q, want %q (all: %v)", k, p[k], want, p)
			}
		}
		// systemd writes its CPUWeight to cpu.weight: hull's conversion of the
		// shares must be what the file has (runc's formula: 512 shares is 20).
		if w := strings.TrimSpace(readFile(filepath.Join(dir, "cpu.weight"))); p["CPUWeight"] != w || w == "100" {
			t.Errorf("CPUWeight=%q, cpu.weight %q: want them equal and not the default 100", p["CPUWeight"], w)
		}
		if p["IOWeight"] == "" || p["IOWeight"] == "[not set]" {
			t.Errorf("IOWeight not set: %v", p)
		}
		if !strings.Contains(p["DeviceAllow"], "/dev/char/1:3 rwm") {
			t.Errorf("DeviceAllow=%q, want /dev/char/1:3 rwm in it", p["DeviceAllow"])
		}
		files := map[string]string{"memory.max": "134217728", "memory.low": "33554432", "memory.high": "104857600",
			"memory.swap.max": "67108864", "cpuset.cpus": "0", "cpuset.mems": "0"}
		for file, want := range files {
			if got := strings.TrimSpace(readFile(filepath.Join(dir, file))); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		if haveDisk {
			if !strings.Contains(p["IOReadBandwidthMax"], "1048576") {
				t.Errorf("IOReadBandwidthMax=%q, want the 1 MiB/s limit", p["IOReadBandwidthMax"])
			}
			if got := readFile(filepath.Join(dir, "io.max")); !strings.Contains(got, "rbps=1048576") {
				t.Errorf("io.max = %q, want rbps=1048576", got)
			}
		}
		// systemd's device list and hull's filter both let the container use /dev/null.
		mustExit(t, h.do("start", h.id), 0)
		if r := h.do("exec", h.id, "sh", "-c", "echo x > /dev/null"); r.exit != 0 {
			t.Errorf("/dev/null in the scope: %s", r)
		}
		mustExit(t, h.do("delete", "--force", h.id), 0)
		assertNoUnit(t, unit, dir)
	})
	t.Run("errors", func(t *testing.T) {
		t.Run("slice-systemd-refuses", func(t *testing.T) {
			// hull refuses "a--b.slice" before asking (TestSystemdCgroupFlag);
			// systemd refuses it too, so hull's check takes nothing it would take.
			out, err := exec.Command("systemd-run", "--scope", "--slice=a--b.slice", "true").CombinedOutput()
			if err == nil {
				t.Fatalf("systemd took the slice a--b.slice that hull refuses: %s", out)
			}
		})
		t.Run("unit-exists", func(t *testing.T) {
			h, h2 := newHarness(t), newHarness(t)
			unit := "hulltest-" + h.id + ".scope"
			s := baseSpec("sleep", "600")
			s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
			h.writeSpec(s)
			h2.writeSpec(s)
			mustExit(t, h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id), 0)
			t.Cleanup(func() { h.do("delete", "--force", h.id) })
			r := h2.do("--systemd-cgroup", "create", "--bundle", h2.bundle, h2.id)
			if r.exit == 0 || !strings.Contains(r.stderr, unit) || !strings.Contains(r.stderr, "name another scope in linux.cgroupsPath") {
				t.Fatalf("a second container in the same scope: %s", r)
			}
			if st := unitShow(t, unit, "ActiveState")["ActiveState"]; st != "active" {
				t.Errorf("the first container's unit is %q after the second's failed create", st)
			}
			if st := h.mustState(h.id); st.Status != "created" {
				t.Errorf("the first container is %q after the second's failed create", st.Status)
			}
		})
		t.Run("property-refused", func(t *testing.T) {
			h := newHarness(t)
			unit := "hulltest-" + h.id + ".scope"
			s := baseSpec("true")
			s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
			s.Annotations = map[string]string{"org.systemd.property.NoSuchThing": "true"}
			h.writeSpec(s)
			r := h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
			if r.exit == 0 || !strings.Contains(r.stderr, "NoSuchThing") || !strings.Contains(r.stderr, "org.systemd.property.") {
				t.Fatalf("a property systemd does not know: want an error naming it and the annotations: %s", r)
			}
			assertNoUnit(t, unit, "/sys/fs/cgroup/system.slice/"+unit)
		})
		t.Run("dbus-unreachable", func(t *testing.T) {
			// Without the system bus, root reaches systemd on its private
			// socket, as runc does; DBUS_SYSTEM_BUS_ADDRESS points the bus
			// client elsewhere, which to hull is the same as dbus stopped.
			h := newHarness(t)
			unit := "hulltest-" + h.id + ".scope"
			s := baseSpec("true")
			s.Linux.CgroupsPath = "system.slice:hulltest:" + h.id
			h.writeSpec(s)
			noBus := []string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus"}
			mustExit(t, h.hullOpts(cmdOpts{env: noBus}, "--systemd-cgroup", "create", "--bundle", h.bundle, h.id), 0)
			mustExit(t, h.hullOpts(cmdOpts{env: noBus}, "--systemd-cgroup", "delete", "--force", h.id), 0)
			assertNoUnit(t, unit, "/sys/fs/cgroup/system.slice/"+unit)
			// Neither the bus nor the private socket (/dev/null over it, in a
			// mount namespace of hull's own): create fails saying what to do.
			cmd := exec.Command("unshare", "-m", "sh", "-c", `mount --bind /dev/null /run/systemd/private && exec "$0" "$@"`,
				hullBinary, "--root", h.root, "--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
			cmd.Env = append(os.Environ(), noBus...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "cannot reach systemd over D-Bus") || !strings.Contains(string(out), "start dbus") {
				t.Fatalf("create with systemd unreachable: %v: %s", err, out)
			}
			if r := h.do("list", "-q"); r.exit != 0 || strings.TrimSpace(readFile(r.stdoutPath)) != "" {
				t.Fatalf("list after the failed create: %s", r)
			}
			assertNoUnit(t, unit, "/sys/fs/cgroup/system.slice/"+unit)
		})
	})
	t.Run("features", func(t *testing.T) {
		out, err := exec.Command(hullBinary, "features").Output()
		if err != nil {
			t.Fatal(err)
		}
		var f features.Features
		if err := json.Unmarshal(out, &f); err != nil {
			t.Fatal(err)
		}
		if f.Linux == nil || f.Linux.Cgroup == nil || f.Linux.Cgroup.Systemd == nil || !*f.Linux.Cgroup.Systemd {
			t.Fatalf("features does not claim the systemd driver where systemd runs: %s", out)
		}
	})
}
