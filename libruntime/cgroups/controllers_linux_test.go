package cgroups

// Tests of the controllers proper. They need a cgroup v2 host that passes
// the controller on to the test's cgroup, and skip (saying which controller)
// elsewhere, e.g. on a hybrid host whose controllers belong to cgroup v1.
// hack/vm/run.sh gives them one:
//
//	CGO_ENABLED=0 go test -c -o /tmp/share/cgroups.test ./libruntime/cgroups
//	hack/vm/run.sh --share /tmp/share -- /mnt/host/cgroups.test -test.v

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// wantFile checks the content of a cgroup file.
func wantFile(t *testing.T, m *fsManager, name, want string) {
	t.Helper()
	got, err := readFile(m.Path(), name)
	if err != nil {
		t.Errorf("read %s: %v", name, err)
		return
	}
	if got != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

func TestMemory(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "memory")
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20)},
	})
	wantFile(t, m, "memory.max", "67108864")
	wantFile(t, m, "memory.low", "33554432")

	helper(t, m, "sleep")
	steps := []struct {
		name string
		mem  specs.LinuxMemory
		file string
		want string
	}{
		{"lower live", specs.LinuxMemory{Limit: i64(48 << 20)}, "memory.max", "50331648"},
		{"unlimited", specs.LinuxMemory{Limit: i64(-1)}, "memory.max", "max"},
		{"reservation", specs.LinuxMemory{Reservation: i64(16 << 20)}, "memory.low", "16777216"},
		{"limit again", specs.LinuxMemory{Limit: i64(40 << 20)}, "memory.max", "41943040"},
	}
	for _, s := range steps {
		if err := m.Set(&specs.LinuxResources{Memory: &s.mem}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		wantFile(t, m, s.file, s.want)
	}
	if _, err := os.Stat(filepath.Join(m.Path(), "memory.swap.max")); err == nil {
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(40 << 20), Swap: i64(100 << 20)}}); err != nil {
			t.Fatal(err)
		}
		wantFile(t, m, "memory.swap.max", "62914560")
	} else {
		t.Log("no swap accounting: memory.swap.max not checked")
	}
	err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4096), CheckBeforeUpdate: boolp(true)}})
	if err == nil || !strings.Contains(err.Error(), "checkBeforeUpdate") {
		t.Errorf("a limit below the usage with checkBeforeUpdate: %v", err)
	}
	wantFile(t, m, "memory.max", "41943040")

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Usage == 0 || st.Memory.Usage.Limit != 40<<20 || st.Memory.Raw["anon"] == 0 {
		t.Errorf("memory stats %+v", st.Memory.Usage)
	}
}

// TestMemoryOOM: a process that outgrows memory.max is killed, and
// OOMKillCount counts it.
func TestMemoryOOM(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "memory")
	limit := int64(32 << 20)
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{
		// Swap equal to the limit: no swap to escape to.
		Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit},
	})
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Fatalf("OOMKillCount of a new cgroup = %d, %v", n, err)
	}
	cmd := helper(t, m, "alloc", "256")
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 256MiB under a 32MiB limit: %v, want killed", err)
	}
	if n, err := m.OOMKillCount(); err != nil || n < 1 {
		t.Errorf("OOMKillCount = %d, %v; want at least 1", n, err)
	}
}

// TestPids: pids.max stops a fork, and an update lets it through.
func TestPids(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "pids")
	if _, err := os.Stat("/bin/sh"); err != nil {
		hulltest.Require(t, "/bin/sh", err)
	}
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}})
	wantFile(t, m, "pids.max", "1")
	run := func() string {
		fd, err := m.FD()
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		// The subshell needs a fork; the shell itself is the one allowed task.
		cmd := exec.Command("/bin/sh", "-c", "(echo forked); echo done")
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	// The shell reports the failed fork ("can't fork", "Cannot fork") and,
	// depending on which shell it is, goes on to "done" or stops.
	if out := run(); strings.Contains(out, "forked") || !strings.Contains(strings.ToLower(out), "fork") {
		t.Errorf("with pids.max 1 the shell printed %q; want a failed fork", out)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}); err != nil {
		t.Fatal(err)
	}
	if out := run(); !strings.Contains(out, "forked") {
		t.Errorf("with pids.max 10 the shell printed %q; want a fork", out)
	}
	helper(t, m, "sleep")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Limit != 10 || st.Pids.Current == 0 {
		t.Errorf("pids stats %+v", st.Pids)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	wantFile(t, m, "pids.max", "max")
}

func TestCPU(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "cpu")
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{
		CPU: &specs.LinuxCPU{Shares: u64(2048), Quota: i64(50000), Period: u64(100000)},
	})
	wantFile(t, m, "cpu.weight", strconv.FormatUint(cpuWeight(2048), 10))
	wantFile(t, m, "cpu.max", "50000 100000")
	file, c := newCounter(t)
	helper(t, m, "spin", file)
	if !c.waitAdvance(0) {
		t.Fatal("the helper never ran")
	}
	steps := []struct {
		name       string
		cpu        specs.LinuxCPU
		file, want string
	}{
		{"quota keeps period", specs.LinuxCPU{Quota: i64(10000)}, "cpu.max", "10000 100000"},
		{"period keeps quota", specs.LinuxCPU{Period: u64(200000)}, "cpu.max", "10000 200000"},
		{"shares", specs.LinuxCPU{Shares: u64(512)}, "cpu.weight", strconv.FormatUint(cpuWeight(512), 10)},
		{"unlimited", specs.LinuxCPU{Quota: i64(-1), Period: u64(100000)}, "cpu.max", "max 100000"},
		{"quota again", specs.LinuxCPU{Quota: i64(10000), Period: u64(100000)}, "cpu.max", "10000 100000"},
	}
	for _, s := range steps {
		if err := m.Set(&specs.LinuxResources{CPU: &s.cpu}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		wantFile(t, m, s.file, s.want)
	}
	// 10% of one CPU: over a second of wall time the spinner gets about
	// 0.1s; anything under half a second shows the quota holds.
	before, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	after, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if used := after.CPU.Usage.Total - before.CPU.Usage.Total; used > uint64(500*time.Millisecond) {
		t.Errorf("a 10%% quota let the spinner use %v in 1s", time.Duration(used))
	}
	if after.CPU.Throttling.ThrottledPeriods == 0 {
		t.Errorf("no throttled periods: %+v", after.CPU.Throttling)
	}
	if _, err := os.Stat(filepath.Join(m.Path(), "cpu.max.burst")); err == nil {
		if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(20000), Burst: u64(5000)}}); err != nil {
			t.Fatal(err)
		}
		wantFile(t, m, "cpu.max.burst", "5000")
		wantFile(t, m, "cpu.max", "20000 100000")
	}
	if _, err := os.Stat(filepath.Join(m.Path(), "cpu.idle")); err == nil {
		if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1), Shares: u64(4096)}}); err != nil {
			t.Fatal(err)
		}
		wantFile(t, m, "cpu.idle", "1")
	}
}

func TestCpuset(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "cpuset")
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}})
	wantFile(t, m, "cpuset.cpus", "0")
	wantFile(t, m, "cpuset.mems", "0")
	wantFile(t, m, "cpuset.cpus.effective", "0")
	cmd := helper(t, m, "sleep")
	if runtime.NumCPU() >= 2 {
		if err := m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1"}}); err != nil {
			t.Fatal(err)
		}
		wantFile(t, m, "cpuset.cpus", "0-1")
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(cmd.Process.Pid, &set); err != nil {
		t.Fatal(err)
	}
	if !set.IsSet(0) {
		t.Errorf("the process may not run on CPU 0")
	}
}

// blockDevice returns MAJ:MIN of a whole disk: the VM's (HULL_VM_DISK_DEV)
// or the first real one in /sys/block.
func blockDevice(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("HULL_VM_DISK_DEV"); d != "" {
		return d
	}
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "loop") || strings.HasPrefix(n, "ram") || strings.HasPrefix(n, "zram") {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/sys/block", n, "dev")); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	hulltest.HostLimit(t, "no block device to throttle; runs in the VM (HULL_VM_DISK_DEV)")
	return ""
}

func TestIO(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "io")
	dev := blockDevice(t)
	maj, min, _ := strings.Cut(dev, ":")
	major, _ := strconv.ParseInt(maj, 10, 64)
	minor, _ := strconv.ParseInt(min, 10, 64)
	d := specs.LinuxBlockIODevice{Major: major, Minor: minor}
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: d, Rate: 1 << 20}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: d, Rate: 100}},
	}})
	wantFile(t, m, "io.max", dev+" rbps=1048576 wbps=max riops=max wiops=100")
	helper(t, m, "sleep")
	if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: d, Rate: 2 << 20}},
		ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: d, Rate: 4 << 20}},
	}}); err != nil {
		t.Fatal(err)
	}
	wantFile(t, m, "io.max", dev+" rbps=2097152 wbps=4194304 riops=max wiops=100")

	weight := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}}
	switch {
	case exists(t, filepath.Join(m.Path(), "io.bfq.weight")):
		if err := m.Set(weight); err != nil {
			t.Fatal(err)
		}
		got, _ := readFile(m.Path(), "io.bfq.weight")
		if !strings.Contains(got, "500") {
			t.Errorf("io.bfq.weight = %q, want 500", got)
		}
	case exists(t, filepath.Join(m.Path(), "io.weight")):
		if err := m.Set(weight); err != nil {
			t.Fatal(err)
		}
		got, _ := readFile(m.Path(), "io.weight")
		if !strings.HasPrefix(got, "default 4950") {
			t.Errorf("io.weight = %q, want default 4950", got)
		}
	default:
		t.Log("neither io.bfq.weight nor io.weight: weights not checked")
	}
}

func TestHugetlb(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "hugetlb")
	probe := newManager(t, filepath.Join(parent, "probe"), nil)
	sizes, err := probe.hugePageSizes()
	if err != nil || len(sizes) == 0 {
		hulltest.HostLimit(t, "no huge page sizes: %v; runs on kernels with hugetlbfs", err)
	}
	size := sizes[0]
	// The kernel rounds a limit down to whole pages: use four.
	unit := map[byte]uint64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[size[len(size)-2]]
	n, err := strconv.ParseUint(size[:len(size)-2], 10, 64)
	if err != nil || unit == 0 {
		t.Fatalf("page size %q", size)
	}
	limit := 4 * n * unit
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: size, Limit: limit}},
	})
	want := strconv.FormatUint(limit, 10)
	wantFile(t, m, "hugetlb."+size+".max", want)
	if exists(t, filepath.Join(m.Path(), "hugetlb."+size+".rsvd.max")) {
		wantFile(t, m, "hugetlb."+size+".rsvd.max", want)
	}
	err = m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}})
	if err == nil || !strings.Contains(err.Error(), "not a huge page size") {
		t.Errorf("an unknown page size: %v", err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Hugetlb[size]; !ok {
		t.Errorf("no hugetlb stats for %s: %+v", size, st.Hugetlb)
	}
}

func TestUnified(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "memory")
	m := newManager(t, filepath.Join(parent, "ctr"), &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(64 << 20)},
		Unified: map[string]string{"memory.high": "33554432", "memory.max": "50331648", "cgroup.max.descendants": "5"},
	})
	wantFile(t, m, "memory.high", "33554432")
	wantFile(t, m, "memory.max", "50331648") // unified wins over memory.limit
	wantFile(t, m, "cgroup.max.descendants", "5")
}

// TestEnableControllers: New enables the controllers a limit needs in the
// ancestors it makes and in the parent it is given (kubelet's pod cgroup),
// and in no other.
func TestEnableControllers(t *testing.T) {
	parent := testParent(t)
	requireController(t, parent, "pids")
	r := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}}
	newManager(t, filepath.Join(parent, "a", "b", "ctr"), r)
	for _, dir := range []string{"a", "a/b"} {
		on, _ := readFile(filepath.Join(parent, dir), "cgroup.subtree_control")
		if !strings.Contains(on, "pids") {
			t.Errorf("%s/cgroup.subtree_control = %q, want pids enabled", dir, on)
		}
	}
	// A grandparent somebody else made: hull must not touch it, and fails.
	foreign := filepath.Join(parent, "foreign")
	pod := filepath.Join(foreign, "pod")
	for _, d := range []string{foreign, pod} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.Remove(pod); _ = os.Remove(foreign) })
	if m, err := New(filepath.Join(pod, "ctr"), r); err == nil {
		_ = m.Destroy()
		t.Fatal("New enabled a controller in a cgroup it did not make, above the parent")
	} else if !strings.Contains(err.Error(), "pids controller not available") {
		t.Errorf("New: %v", err)
	}
	if on, _ := readFile(foreign, "cgroup.subtree_control"); on != "" {
		t.Errorf("foreign cgroup.subtree_control = %q, want it untouched", on)
	}
	// The parent somebody else made, with the controller passed down to it
	// (kubelet's pod cgroup): hull enables it there for the container.
	if err := os.WriteFile(filepath.Join(foreign, "cgroup.subtree_control"), []byte("+pids"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Unless it has processes of its own (pids, a threaded controller,
	// could be enabled there all the same): left alone, and the error is
	// the missing controller.
	busy := filepath.Join(foreign, "busy")
	if err := os.Mkdir(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(busy) })
	sleeper := inCgroup(t, busy)
	if m, err := New(filepath.Join(busy, "ctr"), r); err == nil {
		_ = m.Destroy()
		t.Fatal("New made a cgroup with pids below a parent that has processes")
	} else if !strings.Contains(err.Error(), "pids controller not available") {
		t.Errorf("New below a parent with processes: %v", err)
	}
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	newManager(t, filepath.Join(pod, "ctr"), r)
	if on, _ := readFile(pod, "cgroup.subtree_control"); !strings.Contains(on, "pids") {
		t.Errorf("the parent's cgroup.subtree_control = %q, want pids enabled", on)
	}
	// A later Set (hull update) enables what it needs in hull's parents.
	m := newManager(t, filepath.Join(parent, "c", "ctr"), nil)
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	wantFile(t, m, "pids.max", "100")
}

// inCgroup starts the sleep helper in the cgroup dir, which no manager
// stands for (helper needs one); it is killed, by pid, and
// reaped at the end of the test.
func inCgroup(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	fd, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	return helperIn(t, fd, "sleep")
}
