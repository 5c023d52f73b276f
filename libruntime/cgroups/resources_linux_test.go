package cgroups

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func boolp(v bool) *bool   { return &v }

func TestCPUWeight(t *testing.T) {
	tests := []struct{ shares, want uint64 }{
		{2, 1},
		{1, 1},
		{1024, 100}, // the defaults map onto each other
		{2000, 170}, // runc 1.4's documented example (opencontainers/runc#4896)
		{262144, 10000},
		{1 << 20, 10000},
	}
	for _, tc := range tests {
		if got := cpuWeight(tc.shares); got != tc.want {
			t.Errorf("cpuWeight(%d) = %d, want %d", tc.shares, got, tc.want)
		}
	}
	prev := uint64(0)
	for s := uint64(2); s <= 262144; s++ {
		w := cpuWeight(s)
		if w < prev || w < 1 || w > 10000 {
			t.Fatalf("cpuWeight(%d) = %d after %d: not monotonic within 1-10000", s, w, prev)
		}
		prev = w
	}
}

func TestIOWeight(t *testing.T) {
	for _, tc := range []struct {
		w    uint16
		want uint64
	}{{10, 1}, {500, 4950}, {1000, 10000}} {
		if got := ioWeight(tc.w); got != tc.want {
			t.Errorf("ioWeight(%d) = %d, want %d", tc.w, got, tc.want)
		}
	}
}

func TestSwapV2(t *testing.T) {
	tests := []struct {
		swap, limit, want int64
		ok                bool
	}{
		{0, 0, 0, true},
		{0, 100, 0, true},
		{0, -1, -1, true},     // unlimited memory, swap unset: unlimited swap
		{-1, 100, -1, true},   // unlimited swap
		{300, 100, 200, true}, // memory+swap 300 = 100 memory + 200 swap
		{100, 100, 0, true},   // no swap
		{300, -1, 300, true},
		{50, 100, 0, false}, // memory+swap below memory
		{300, 0, 0, false},  // swap without a memory limit
	}
	for _, tc := range tests {
		got, err := swapV2(tc.swap, tc.limit)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("swapV2(%d, %d) = %d, %v; want %d, ok %v", tc.swap, tc.limit, got, err, tc.want, tc.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		r       *specs.LinuxResources
		err     string // substring; "" for none
		warning string // substring of one warning; "" for none
	}{
		{"nil", nil, "", ""},
		{"memory fine", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)}}, "", ""},
		{"memory below -1", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-2)}}, "linux.resources.memory.limit", ""},
		{"swap below limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(50)}}, "linux.resources.memory.swap", ""},
		{"kernel memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(100)}}, "", "memory.kernel: kernel memory limits do not exist"},
		{"kernel tcp", &specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64(100)}}, "", "memory.kernelTCP"},
		{"swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10)}}, "", "memory.swappiness"},
		{"oom killer", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: boolp(true)}}, "", "memory.disableOOMKiller"},
		{"realtime", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}}, "not supported on cgroup v2", ""},
		{"realtime period", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: u64(1000)}}, "realtime", ""},
		{"realtime zero", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(0)}}, "", ""},
		{"idle 2", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(2)}}, "linux.resources.cpu.idle", ""},
		{"burst above quota", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(1000), Burst: u64(2000)}}, "linux.resources.cpu.burst", ""},
		{"blkio weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(5)}}, "blockIO.weight", ""},
		{"leaf weight", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: u16(50)}}, "", "blockIO.leafWeight"},
		{"negative device", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -1}, Rate: 1}}}}, "throttleReadBpsDevice[0]", ""},
		{"page size", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M", Limit: 1}}}, "hugepageLimits[0].pageSize", ""},
		{"rdma empty", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {}}}, `rdma["mlx5_0"]`, ""},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(1)}}, "", "network: net_cls and net_prio"},
		{"unified fine", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1", "cgroup.max.depth": "3"}}, "", ""},
		{"unified slash", &specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}}, `unified["../memory.max"]`, ""},
		{"unified dotdot", &specs.LinuxResources{Unified: map[string]string{"..": "1"}}, "not a file name", ""},
		{"unified no controller", &specs.LinuxResources{Unified: map[string]string{"nodot": "1"}}, "<controller>.<file>", ""},
		{"unified cgroup.procs", &specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "only cgroup.max.depth", ""},
		{"unified cgroup.kill", &specs.LinuxResources{Unified: map[string]string{"cgroup.kill": "1"}}, "cgroup.", ""},
		{"devices", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Type: "q"}}}, "linux.resources.devices[0]", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := Validate(tc.r)
			if tc.err == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate: %v, want an error with %q", err, tc.err)
			}
			found := tc.warning == ""
			for _, w := range warnings {
				found = found || strings.Contains(w, tc.warning)
			}
			if !found || (tc.warning == "" && len(warnings) > 0) {
				t.Errorf("warnings %q, want one with %q", warnings, tc.warning)
			}
		})
	}
}

// fakeCgroup is a plain directory with the files a cgroup would have, and a
// recorder in place of the cgroup writes, for checking what Set writes
// without needing the controllers.
type fakeCgroup struct {
	m      *fsManager
	writes []string
}

func newFake(t *testing.T, files map[string]string) *fakeCgroup {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "ctr")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{
		"cgroup.controllers":   "cpuset cpu io memory hugetlb pids rdma misc",
		"cpu.max":              "max 100000",
		"memory.current":       "1000",
		"memory.swap.max":      "max",
		"hugetlb.2MB.max":      "max",
		"hugetlb.2MB.rsvd.max": "max",
		"hugetlb.1GB.max":      "max",
		"memory.max":           "max",
		"memory.low":           "0",
		"cpu.weight":           "100",
		"cpu.idle":             "0",
		"cpu.max.burst":        "0",
		"cpuset.cpus":          "",
		"cpuset.mems":          "",
		"pids.max":             "max",
	}
	for k, v := range files {
		if v == "-" {
			delete(all, k)
			continue
		}
		all[k] = v
	}
	for k, v := range all {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeCgroup{m: &fsManager{mount: root, path: dir}}
	orig := writeCgroup
	writeCgroup = func(d, name, data string) error {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			return &os.PathError{Op: "open", Path: filepath.Join(d, name), Err: unix.ENOENT}
		}
		f.writes = append(f.writes, name+"="+data)
		return nil
	}
	t.Cleanup(func() { writeCgroup = orig })
	return f
}

// TestSetWrites checks the files and values Set writes for each field of
// linux.resources, with runc's conversions.
func TestSetWrites(t *testing.T) {
	dev := func(major, minor int64) specs.LinuxBlockIODevice {
		return specs.LinuxBlockIODevice{Major: major, Minor: minor}
	}
	tests := []struct {
		name  string
		files map[string]string // extra or changed files; "-" removes one
		r     *specs.LinuxResources
		want  []string
		err   string
	}{
		{"memory limit", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20)}},
			[]string{"memory.max=67108864"}, ""},
		{"memory unlimited makes swap unlimited", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}},
			[]string{"memory.swap.max=max", "memory.max=max"}, ""},
		{"memory and swap", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100 << 20), Swap: i64(300 << 20), Reservation: i64(50 << 20)}},
			[]string{"memory.swap.max=209715200", "memory.max=104857600", "memory.low=52428800"}, ""},
		{"swap equal to limit disables swap", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4096), Swap: i64(4096)}},
			[]string{"memory.swap.max=0", "memory.max=4096"}, ""},
		{"unlimited swap", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4096), Swap: i64(-1)}},
			[]string{"memory.swap.max=max", "memory.max=4096"}, ""},
		{"zero memory values are unset", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(0), Swap: i64(0), Reservation: i64(0)}},
			nil, ""},
		{"no swap accounting, unlimited swap skipped", map[string]string{"memory.swap.max": "-"}, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}},
			[]string{"memory.max=max"}, ""},
		{"no swap accounting, swap limit fails", map[string]string{"memory.swap.max": "-"}, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4096), Swap: i64(8192)}},
			nil, "linux.resources.memory.swap"},
		{"check before update refuses", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1000), CheckBeforeUpdate: boolp(true)}},
			nil, "linux.resources.memory.limit: 1000 is not above the current usage 1000"},
		{"check before update passes", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1001), CheckBeforeUpdate: boolp(true)}},
			[]string{"memory.max=1001"}, ""},
		{"kernel memory ignored", nil, &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64(1), KernelTCP: i64(1), UseHierarchy: boolp(true)}},
			nil, ""},
		{"cpu shares", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024)}},
			[]string{"cpu.weight=100"}, ""},
		{"cpu idle skips weight", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024), Idle: i64(1)}},
			[]string{"cpu.idle=1"}, ""},
		{"cpu quota and period", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(200000)}},
			[]string{"cpu.max=50000 200000"}, ""},
		{"cpu unlimited quota", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}},
			[]string{"cpu.max=max"}, ""},
		{"cpu period keeps quota", map[string]string{"cpu.max": "20000 100000"}, &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(50000)}},
			[]string{"cpu.max=20000 50000"}, ""},
		{"cpu burst", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Burst: u64(10000)}},
			[]string{"cpu.max.burst=10000", "cpu.max=50000"}, ""},
		{"cpuset", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1", Mems: "0"}},
			[]string{"cpuset.cpus=0-1", "cpuset.mems=0"}, ""},
		{"pids limit", nil, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}},
			[]string{"pids.max=10"}, ""},
		{"pids zero is a limit", nil, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}},
			[]string{"pids.max=0"}, ""},
		{"pids unlimited", nil, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}},
			[]string{"pids.max=max"}, ""},
		{"io weight with bfq", map[string]string{"io.bfq.weight": "default 100"}, &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:       u16(500),
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: u16(300)}, {LinuxBlockIODevice: dev(8, 16), LeafWeight: u16(10)}},
		}}, []string{"io.bfq.weight=500", "io.bfq.weight=8:0 300"}, ""},
		{"io weight without bfq", map[string]string{"io.weight": "default 100"}, &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:       u16(500),
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: u16(1000)}},
		}}, []string{"io.weight=default 4950", "io.weight=8:0 10000"}, ""},
		{"io weight old bfq", map[string]string{"io.bfq.weight": "100", "io.weight": "default 100"}, &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:       u16(500),
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: dev(8, 0), Weight: u16(10)}},
		}}, []string{"io.bfq.weight=500", "io.weight=8:0 1"}, ""},
		{"io throttles one line per device", map[string]string{"io.max": ""}, &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 100}},
			ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 200}, {LinuxBlockIODevice: dev(8, 32), Rate: 0}},
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 16), Rate: 10}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev(8, 0), Rate: 20}},
		}}, []string{"io.max=8:0 rbps=100 wbps=200 wiops=20", "io.max=8:16 riops=10"}, ""},
		{"hugetlb with and without reservations", nil, &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 1 << 30}}},
			[]string{"hugetlb.2MB.rsvd.max=4194304", "hugetlb.2MB.max=4194304", "hugetlb.1GB.max=1073741824"}, ""},
		{"hugetlb unknown size", nil, &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "64KB", Limit: 1}}},
			nil, "hugepageLimits[0].pageSize: 64KB is not a huge page size of this kernel"},
		{"rdma", map[string]string{"rdma.max": ""}, &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{
			"mlx5_1": {HcaHandles: u32(3), HcaObjects: u32(10000)}, "mlx4_0": {HcaObjects: u32(1000)},
		}}, []string{"rdma.max=mlx4_0 hca_object=1000", "rdma.max=mlx5_1 hca_handle=3 hca_object=10000"}, ""},
		{"unified last, one write per line", map[string]string{"io.max": "", "memory.high": "max"}, &specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: i64(4096)},
			Unified: map[string]string{"memory.high": "2048", "io.max": "8:0 rbps=1\n8:16 wbps=2\n"},
		}, []string{"memory.max=4096", "io.max=8:0 rbps=1", "io.max=8:16 wbps=2", "memory.high=2048"}, ""},
		{"unified unknown file", nil, &specs.LinuxResources{Unified: map[string]string{"memory.nothing": "1"}},
			nil, `linux.resources.unified["memory.nothing"]`},
		{"controller missing", map[string]string{"cgroup.controllers": "cpu"}, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(1)}},
			nil, "linux.resources.pids.limit: pids controller not available in cgroup2 at "},
		{"unified controller missing", map[string]string{"cgroup.controllers": "cpu"}, &specs.LinuxResources{Unified: map[string]string{"misc.max": "x 1"}},
			nil, `linux.resources.unified["misc.max"]: misc controller not available`},
		{"realtime refused", nil, &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(100)}},
			nil, "realtime"},
		{"network ignored", nil, &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32(7)}},
			nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.files)
			err := f.m.Set(tc.r)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Set: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if !slices.Equal(f.writes, tc.want) {
				t.Errorf("writes\n got %q\nwant %q", f.writes, tc.want)
			}
		})
	}
}

// TestSetBurstRetry: a burst the kernel refuses before the new quota is in
// is written again after it.
func TestSetBurstRetry(t *testing.T) {
	f := newFake(t, nil)
	rec := writeCgroup
	refused := false
	writeCgroup = func(d, name, data string) error {
		if name == "cpu.max.burst" && !refused {
			refused = true
			return &os.PathError{Op: "write", Path: name, Err: unix.EINVAL}
		}
		return rec(d, name, data)
	}
	err := f.m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Burst: u64(40000)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cpu.max=50000", "cpu.max.burst=40000"}
	if !slices.Equal(f.writes, want) {
		t.Errorf("writes %q, want %q", f.writes, want)
	}
}

func TestIsPageSize(t *testing.T) {
	for s, want := range map[string]bool{
		"2MB": true, "1GB": true, "64KB": true, "16384KB": true,
		"": false, "MB": false, "2M": false, "02MB": false, "0KB": false, "2TB": false, "2mB": false, "2 MB": false, "1x2MB": false,
	} {
		if got := isPageSize(s); got != want {
			t.Errorf("isPageSize(%q) = %v, want %v", s, got, want)
		}
	}
}
