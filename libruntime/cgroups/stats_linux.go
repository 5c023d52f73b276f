package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Stats is the "data" of a runc `events --stats` event: the JSON names are
// those of runc's types.Stats, and the values are filled from cgroup v2 the
// way runc fills them. Keys runc leaves empty on cgroup v2 (cpuset,
// intel_rdt, network_interfaces, per-CPU usage) are left out.
type Stats struct {
	CPU     CPU                `json:"cpu"`
	Memory  Memory             `json:"memory"`
	Pids    Pids               `json:"pids"`
	Blkio   Blkio              `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb"`
}

// CPU is cpu.stat and cpu.pressure. Times are in nanoseconds.
type CPU struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

type CPUUsage struct {
	Total  uint64 `json:"total,omitempty"`
	Kernel uint64 `json:"kernel"`
	User   uint64 `json:"user"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// Memory is memory.current, .max, .peak, .events, .stat and the swap files.
// Swap is memory+swap, as cgroup v1 reported it and runc still does.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitempty"`
	Swap      MemoryEntry       `json:"swap,omitempty"`
	Kernel    MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// MemoryEntry is one usage counter; a Limit of "max" is math.MaxUint64.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Pids is pids.current and pids.max; no limit is 0.
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Blkio is io.stat in cgroup v1's layout: bytes and operations per device,
// with Op "Read" or "Write".
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Hugetlb is one page size's hugetlb.<size>.current and the "max" count of
// hugetlb.<size>.events.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PSIStats is a <controller>.pressure file.
type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// Stats reads the statistics of every controller the cgroup has. Files of
// controllers that are not enabled are skipped, so on a cgroup without
// controllers only CPU usage, pressure and the process count are filled.
func (m *fsManager) Stats() (*Stats, error) {
	st := &Stats{Hugetlb: map[string]Hugetlb{}}
	steps := []func(*Stats) error{m.statCPU, m.statMemory, m.statPids, m.statIO, m.statHugetlb}
	for _, step := range steps {
		if err := step(st); err != nil {
			return nil, fmt.Errorf("cgroup stats of %s: %w", m.path, err)
		}
	}
	return st, nil
}

// OOMKillCount returns how many processes of the cgroup the OOM killer has
// killed (oom_kill of memory.events); 0 while the memory controller is not
// enabled in the cgroup.
func (m *fsManager) OOMKillCount() (uint64, error) {
	kv, err := readKeyValues(m.path, "memory.events")
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(m.path); serr != nil {
			return 0, fmt.Errorf("oom kill count: %w", serr)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("oom kill count: %w", err)
	}
	return kv["oom_kill"], nil
}

func (m *fsManager) statCPU(st *Stats) error {
	kv, err := readKeyValues(m.path, "cpu.stat")
	if err != nil {
		return skipMissing(err)
	}
	st.CPU.Usage = CPUUsage{
		Total:  kv["usage_usec"] * 1000,
		User:   kv["user_usec"] * 1000,
		Kernel: kv["system_usec"] * 1000,
	}
	st.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_usec"] * 1000,
	}
	st.CPU.PSI, err = readPSI(m.path, "cpu.pressure")
	return err
}

func (m *fsManager) statMemory(st *Stats) error {
	var err error
	if st.Memory.PSI, err = readPSI(m.path, "memory.pressure"); err != nil {
		return err
	}
	usage, err := readUint(m.path, "memory.current")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	raw, err := readKeyValues(m.path, "memory.stat")
	if err != nil {
		return err
	}
	st.Memory.Raw = raw
	st.Memory.Cache = raw["file"]
	st.Memory.Usage.Usage = usage
	if st.Memory.Usage.Limit, err = readUint(m.path, "memory.max"); err != nil {
		return err
	}
	if st.Memory.Usage.Max, err = readUint(m.path, "memory.peak"); skipMissing(err) != nil {
		return err
	}
	events, err := readKeyValues(m.path, "memory.events")
	if err != nil {
		return err
	}
	st.Memory.Usage.Failcnt = events["max"]

	// Without swap accounting there are no swap files, and memory+swap is
	// memory.
	st.Memory.Swap = MemoryEntry{Usage: usage, Limit: st.Memory.Usage.Limit}
	swap, err := readUint(m.path, "memory.swap.current")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	swapMax, err := readUint(m.path, "memory.swap.max")
	if err != nil {
		return err
	}
	st.Memory.Swap.Usage += swap
	if swapMax == math.MaxUint64 || st.Memory.Swap.Limit == math.MaxUint64 {
		st.Memory.Swap.Limit = math.MaxUint64
	} else {
		st.Memory.Swap.Limit += swapMax
	}
	return nil
}

func (m *fsManager) statPids(st *Stats) error {
	cur, err := readUint(m.path, "pids.current")
	if errors.Is(err, os.ErrNotExist) {
		// No pids controller: count the processes ourselves.
		pids, err := m.Pids()
		if err != nil {
			return err
		}
		st.Pids.Current = uint64(len(pids))
		return nil
	}
	if err != nil {
		return err
	}
	limit, err := readUint(m.path, "pids.max")
	if err != nil {
		return err
	}
	if limit == math.MaxUint64 {
		limit = 0
	}
	st.Pids = Pids{Current: cur, Limit: limit}
	return nil
}

func (m *fsManager) statIO(st *Stats) error {
	var err error
	if st.Blkio.PSI, err = readPSI(m.path, "io.pressure"); err != nil {
		return err
	}
	s, err := readFile(m.path, "io.stat")
	if err != nil {
		return skipMissing(err)
	}
	// "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		maj, min, ok := strings.Cut(f[0], ":")
		major, err1 := strconv.ParseUint(maj, 10, 64)
		minor, err2 := strconv.ParseUint(min, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("io.stat: bad device in %q", line)
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("io.stat: bad value in %q", line)
			}
			e := BlkioEntry{Major: major, Minor: minor, Value: n}
			switch k {
			case "rbytes", "rios":
				e.Op = "Read"
			case "wbytes", "wios":
				e.Op = "Write"
			default:
				continue
			}
			if strings.HasSuffix(k, "bytes") {
				st.Blkio.IoServiceBytesRecursive = append(st.Blkio.IoServiceBytesRecursive, e)
			} else {
				st.Blkio.IoServicedRecursive = append(st.Blkio.IoServicedRecursive, e)
			}
		}
	}
	return nil
}

func (m *fsManager) statHugetlb(st *Stats) error {
	sizes, err := m.hugePageSizes()
	if err != nil {
		return err
	}
	for _, size := range sizes {
		usage, err := readUint(m.path, "hugetlb."+size+".current")
		if err != nil {
			return err
		}
		events, err := readKeyValues(m.path, "hugetlb."+size+".events")
		if err != nil {
			return err
		}
		st.Hugetlb[size] = Hugetlb{Usage: usage, Failcnt: events["max"]}
	}
	return nil
}

// skipMissing drops the error of a file that does not exist: its controller
// is not enabled.
func skipMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// readUint reads a file holding one number or "max" (math.MaxUint64).
func readUint(dir, name string) (uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "max" {
		return math.MaxUint64, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s/%s: %q is not a number", dir, name, s)
	}
	return n, nil
}

// readKeyValues reads a flat-keyed file ("key value" per line).
func readKeyValues(dir, name string) (map[string]uint64, error) {
	s, err := readFile(dir, name)
	if err != nil {
		return nil, err
	}
	kv := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s/%s: bad line %q", dir, name, line)
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: bad line %q", dir, name, line)
		}
		kv[f[0]] = n
	}
	return kv, nil
}

// readPSI reads a pressure file; nil where it is missing or PSI is off.
func readPSI(dir, name string) (*PSIStats, error) {
	s, err := readFile(dir, name)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	psi := &PSIStats{}
	// "some avg10=0.00 avg60=0.00 avg300=0.00 total=0"
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var d *PSIData
		switch f[0] {
		case "some":
			d = &psi.Some
		case "full":
			d = &psi.Full
		default:
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			var err error
			switch k {
			case "avg10":
				d.Avg10, err = strconv.ParseFloat(v, 64)
			case "avg60":
				d.Avg60, err = strconv.ParseFloat(v, 64)
			case "avg300":
				d.Avg300, err = strconv.ParseFloat(v, 64)
			case "total":
				d.Total, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("%s/%s: bad line %q", dir, name, line)
			}
		}
	}
	return psi, nil
}

// PidsLimitHits returns how many forks pids.max has refused in the cgroup (the "max"
// count of pids.events) and the limit itself ("max" when none), so a caller whose
// process died starting up can tell whether the limit was the cause.
func (m *fsManager) PidsLimitHits() (hits uint64, limit string, err error) {
	ev, err := readKeyValues(m.path, "pids.events")
	if err != nil {
		return 0, "", err
	}
	limit, err = readFile(m.path, "pids.max")
	if err != nil {
		return 0, "", err
	}
	return ev["max"], strings.TrimSpace(limit), nil
}
