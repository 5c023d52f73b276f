package cgroups

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// statsDir writes a directory with the files of a cgroup v2 with every
// controller, as the kernel formats them.
func statsDir(t *testing.T, files map[string]string) *fsManager {
	t.Helper()
	dir := t.TempDir()
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &fsManager{mount: filepath.Dir(dir), path: dir}
}

var fullCgroup = map[string]string{
	"cgroup.procs": "",
	"cpu.stat": "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 10\nnr_throttled 3\n" +
		"throttled_usec 70\nnr_bursts 0\nburst_usec 0\n",
	"cpu.pressure":         "some avg10=1.50 avg60=0.25 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
	"memory.current":       "4096\n",
	"memory.max":           "8192\n",
	"memory.peak":          "6000\n",
	"memory.events":        "low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\noom_group_kill 0\n",
	"memory.stat":          "anon 1000\nfile 3000\nkernel 96\n",
	"memory.swap.current":  "100\n",
	"memory.swap.max":      "max\n",
	"memory.pressure":      "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	"pids.current":         "3\n",
	"pids.max":             "max\n",
	"io.stat":              "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
	"hugetlb.2MB.current":  "2097152\n",
	"hugetlb.2MB.max":      "max\n",
	"hugetlb.2MB.events":   "max 5\n",
	"hugetlb.2MB.rsvd.max": "max\n",
}

func TestStatsParse(t *testing.T) {
	m := statsDir(t, fullCgroup)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPU{
			Usage:      CPUUsage{Total: 2000000, User: 1500000, Kernel: 500000},
			Throttling: Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 70000},
			PSI: &PSIStats{
				Some: PSIData{Avg10: 1.5, Avg60: 0.25, Total: 1234},
				Full: PSIData{Total: 7},
			},
		},
		Memory: Memory{
			Cache: 3000,
			Usage: MemoryEntry{Usage: 4096, Limit: 8192, Max: 6000, Failcnt: 4},
			Swap:  MemoryEntry{Usage: 4196, Limit: math.MaxUint64},
			Raw:   map[string]uint64{"anon": 1000, "file": 3000, "kernel": 96},
			PSI:   &PSIStats{},
		},
		Pids: Pids{Current: 3},
		Blkio: Blkio{
			IoServiceBytesRecursive: []BlkioEntry{{Major: 8, Op: "Read", Value: 100}, {Major: 8, Op: "Write", Value: 200}},
			IoServicedRecursive:     []BlkioEntry{{Major: 8, Op: "Read", Value: 1}, {Major: 8, Op: "Write", Value: 2}},
		},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 2097152, Failcnt: 5}},
	}
	if !reflect.DeepEqual(st, want) {
		got, _ := json.MarshalIndent(st, "", " ")
		exp, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("Stats\n got %s\nwant %s", got, exp)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 2 {
		t.Errorf("OOMKillCount() = %d, %v; want 2", n, err)
	}
}

func TestStatsLimitsAndFallbacks(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		check func(*testing.T, *Stats)
	}{
		{"limited swap adds memory", map[string]string{"memory.swap.max": "1000\n"}, func(t *testing.T, st *Stats) {
			if st.Memory.Swap.Limit != 9192 {
				t.Errorf("swap limit %d, want 1000+8192", st.Memory.Swap.Limit)
			}
		}},
		{"no swap accounting", map[string]string{"memory.swap.current": "-", "memory.swap.max": "-"}, func(t *testing.T, st *Stats) {
			if st.Memory.Swap != (MemoryEntry{Usage: 4096, Limit: 8192}) {
				t.Errorf("swap %+v, want memory's usage and limit", st.Memory.Swap)
			}
		}},
		{"pids limit", map[string]string{"pids.max": "50\n"}, func(t *testing.T, st *Stats) {
			if st.Pids != (Pids{Current: 3, Limit: 50}) {
				t.Errorf("pids %+v", st.Pids)
			}
		}},
		{"no pids controller counts procs", map[string]string{"pids.current": "-", "pids.max": "-", "cgroup.procs": "10\n11\n"}, func(t *testing.T, st *Stats) {
			if st.Pids != (Pids{Current: 2}) {
				t.Errorf("pids %+v, want 2 counted", st.Pids)
			}
		}},
		{"no memory controller", map[string]string{"memory.current": "-"}, func(t *testing.T, st *Stats) {
			if st.Memory.Usage != (MemoryEntry{}) || st.Memory.Raw != nil {
				t.Errorf("memory %+v, want empty", st.Memory)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range fullCgroup {
				files[k] = v
			}
			for k, v := range tc.files {
				if v == "-" {
					delete(files, k)
				} else {
					files[k] = v
				}
			}
			st, err := statsDir(t, files).Stats()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, st)
		})
	}
	bad := statsDir(t, map[string]string{"cgroup.procs": "", "cpu.stat": "usage_usec lots\n"})
	if _, err := bad.Stats(); err == nil {
		t.Error("Stats of a malformed cpu.stat succeeded")
	}
}

// TestStatsJSON: the JSON has runc's shape, which `events --stats` readers
// decode.
func TestStatsJSON(t *testing.T) {
	st, err := statsDir(t, fullCgroup).Stats()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	paths := []struct {
		keys []string
		want any
	}{
		{[]string{"cpu", "usage", "total"}, 2e6},
		{[]string{"cpu", "usage", "kernel"}, 5e5},
		{[]string{"cpu", "throttling", "throttledPeriods"}, 3.0},
		{[]string{"cpu", "psi", "some", "total"}, 1234.0},
		{[]string{"memory", "usage", "usage"}, 4096.0},
		{[]string{"memory", "usage", "limit"}, 8192.0},
		{[]string{"memory", "usage", "failcnt"}, 4.0},
		{[]string{"memory", "cache"}, 3000.0},
		{[]string{"memory", "raw", "anon"}, 1000.0},
		{[]string{"memory", "kernel", "limit"}, 0.0},
		{[]string{"pids", "current"}, 3.0},
		{[]string{"hugetlb", "2MB", "failcnt"}, 5.0},
	}
	for _, p := range paths {
		var v any = got
		for _, k := range p.keys {
			obj, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = obj[k]
		}
		if v != p.want {
			t.Errorf("%v = %v, want %v\n%s", p.keys, v, p.want, b)
		}
	}
	blk := got["blkio"].(map[string]any)["ioServiceBytesRecursive"].([]any)[0].(map[string]any)
	if blk["op"] != "Read" || blk["major"] != 8.0 || blk["value"] != 100.0 {
		t.Errorf("blkio entry %v", blk)
	}
}

// TestStatsLive reads a real cgroup: a spinning process shows CPU time and
// one process; OOMKillCount is 0 without the memory controller, and an
// error once the cgroup is gone.
func TestStatsLive(t *testing.T) {
	parent := testParent(t)
	m, err := New(filepath.Join(parent, "ctr"), nil)
	if err != nil {
		t.Fatal(err)
	}
	file, c := newCounter(t)
	cmd := helper(t, m, "spin", file)
	if !c.waitAdvance(0) {
		t.Fatal("the helper never ran")
	}
	time.Sleep(50 * time.Millisecond)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU.Usage.Total == 0 || st.CPU.Usage.User == 0 {
		t.Errorf("cpu usage %+v of a spinning process", st.CPU.Usage)
	}
	// pids.current counts tasks (the helper's threads); without the
	// controller the processes are counted.
	if st.Pids.Current < 1 {
		t.Errorf("pids.current %d, want the helper counted", st.Pids.Current)
	}
	if _, err := m.OOMKillCount(); err != nil {
		t.Errorf("OOMKillCount: %v", err)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OOMKillCount(); err == nil {
		t.Error("OOMKillCount of a destroyed cgroup succeeded")
	}
	if _, err := m.Stats(); err == nil {
		t.Error("Stats of a destroyed cgroup succeeded")
	}
}
