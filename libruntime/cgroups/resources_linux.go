package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/cgroups/devices"
)

// Validate checks linux.resources without touching any cgroup. It returns
// warnings for settings cgroup v2 has no equivalent for and that are
// therefore ignored (kernel memory, swappiness, disableOOMKiller, leaf
// weights, network classes and priorities), which the caller should log, and
// an error naming the first field that cannot be applied. The validation
// pipeline (package check) runs it before create makes anything, once; Set
// runs it again for `hull update`, which has no such pass, and drops the
// warnings.
func Validate(r *specs.LinuxResources) (warnings []string, err error) {
	if r == nil {
		return nil, nil
	}
	warn := func(field, why string) {
		warnings = append(warnings, fmt.Sprintf("linux.resources.%s: %s; ignored", field, why))
	}
	if m := r.Memory; m != nil {
		for _, f := range []struct {
			name string
			v    *int64
		}{{"memory.limit", m.Limit}, {"memory.reservation", m.Reservation}, {"memory.swap", m.Swap}} {
			if f.v != nil && *f.v < -1 {
				return warnings, fmt.Errorf("linux.resources.%s: %d is neither a size in bytes nor -1 (unlimited)", f.name, *f.v)
			}
		}
		if _, err := swapV2(val(m.Swap), val(m.Limit)); err != nil {
			return warnings, fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
		if m.Kernel != nil { //nolint:staticcheck // read only to warn that it is ignored, as the spec says
			warn("memory.kernel", "kernel memory limits do not exist in cgroup v2")
		}
		if m.KernelTCP != nil {
			warn("memory.kernelTCP", "kernel TCP memory limits do not exist in cgroup v2")
		}
		if m.Swappiness != nil {
			warn("memory.swappiness", "cgroup v2 has no per-cgroup swappiness")
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			warn("memory.disableOOMKiller", "cgroup v2 cannot disable the OOM killer")
		}
	}
	if c := r.CPU; c != nil {
		if (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
			return warnings, errors.New("linux.resources.cpu.realtimeRuntime/realtimePeriod: realtime CPU bandwidth is not supported on cgroup v2; remove them")
		}
		if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
			return warnings, fmt.Errorf("linux.resources.cpu.idle: %d is neither 0 nor 1", *c.Idle)
		}
		if c.Burst != nil && c.Quota != nil && *c.Quota > 0 && *c.Burst > uint64(*c.Quota) {
			return warnings, fmt.Errorf("linux.resources.cpu.burst: %d is larger than the quota %d", *c.Burst, *c.Quota)
		}
	}
	if b := r.BlockIO; b != nil {
		if b.Weight != nil && *b.Weight != 0 && (*b.Weight < 10 || *b.Weight > 1000) {
			return warnings, fmt.Errorf("linux.resources.blockIO.weight: %d is outside 10-1000", *b.Weight)
		}
		if b.LeafWeight != nil {
			warn("blockIO.leafWeight", "cgroup v2 has no leaf weights")
		}
		for i, d := range b.WeightDevice {
			field := fmt.Sprintf("blockIO.weightDevice[%d]", i)
			if err := checkDevice(field, d.LinuxBlockIODevice); err != nil {
				return warnings, err
			}
			if d.Weight != nil && (*d.Weight < 10 || *d.Weight > 1000) {
				return warnings, fmt.Errorf("linux.resources.%s.weight: %d is outside 10-1000", field, *d.Weight)
			}
			if d.LeafWeight != nil {
				warn(field+".leafWeight", "cgroup v2 has no leaf weights")
			}
		}
		for _, t := range throttles(b) {
			for i, d := range t.devs {
				if err := checkDevice(fmt.Sprintf("blockIO.%s[%d]", t.field, i), d.LinuxBlockIODevice); err != nil {
					return warnings, err
				}
			}
		}
	}
	for i, h := range r.HugepageLimits {
		if !isPageSize(h.Pagesize) {
			return warnings, fmt.Errorf("linux.resources.hugepageLimits[%d].pageSize: %s is not a size like 2MB or 1GB", i, clip.Quote(h.Pagesize))
		}
	}
	for name, d := range r.Rdma {
		// The name goes into the error's field: one that long is no device's
		// (IB_DEVICE_NAME_MAX is 64), so the whole map is named instead.
		if len(name) > unix.NAME_MAX {
			return warnings, fmt.Errorf("linux.resources.rdma: device name %s is %d bytes, longer than any device's; use the RDMA device's name", clip.Quote(name), len(name))
		}
		if d.HcaHandles == nil && d.HcaObjects == nil {
			return warnings, fmt.Errorf("linux.resources.rdma[%q]: set hcaHandles, hcaObjects or both", name)
		}
		if name == "" || strings.ContainsAny(name, " \n") {
			return warnings, fmt.Errorf("linux.resources.rdma[%q]: not a device name", name)
		}
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		warn("network", "net_cls and net_prio do not exist in cgroup v2")
	}
	for k := range r.Unified {
		// The key goes into the error's field: one longer than a file name
		// can be is no cgroup file, so the whole map is named instead.
		if len(k) > unix.NAME_MAX {
			return warnings, fmt.Errorf("linux.resources.unified: key %s is %d bytes, longer than a cgroup file name can be (%d); use a file name of the cgroup such as \"memory.high\"", clip.Quote(k), len(k), unix.NAME_MAX)
		}
		if err := checkUnifiedKey(k); err != nil {
			return warnings, fmt.Errorf("linux.resources.unified[%q]: %w", k, err)
		}
	}
	if err := devices.Validate(r.Devices); err != nil {
		return warnings, err
	}
	return warnings, nil
}

// isPageSize reports whether s is a hugetlb page size as the cgroup files name them:
// digits without a leading zero, then KB, MB or GB. (Not a regexp: compiling one at
// package init costs every hull process, init included, ~15 us.)
func isPageSize(s string) bool {
	if len(s) < 3 || s[0] < '1' || s[0] > '9' || s[len(s)-1] != 'B' || !strings.ContainsRune("KMG", rune(s[len(s)-2])) {
		return false
	}
	for _, c := range s[1 : len(s)-2] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func checkDevice(field string, d specs.LinuxBlockIODevice) error {
	if d.Major < 0 || d.Minor < 0 {
		return fmt.Errorf("linux.resources.%s: device %d:%d has a negative number", field, d.Major, d.Minor)
	}
	return nil
}

// unifiedCgroupFiles are the cgroup.* files linux.resources.unified may
// write. The others either belong to the runtime (procs, threads, freeze,
// kill, subtree_control, type) or are read-only.
var unifiedCgroupFiles = []string{"cgroup.max.depth", "cgroup.max.descendants", "cgroup.pressure"}

func checkUnifiedKey(k string) error {
	if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") {
		return errors.New("not a file name of the cgroup")
	}
	ctrl, _, ok := strings.Cut(k, ".")
	if !ok || ctrl == "" {
		return errors.New("not of the form <controller>.<file>")
	}
	if ctrl == "cgroup" && !slices.Contains(unifiedCgroupFiles, k) {
		return fmt.Errorf("only %s of the cgroup.* files may be set", strings.Join(unifiedCgroupFiles, ", "))
	}
	return nil
}

// val reads an optional value, 0 when unset: for memory, as for runc, 0 is
// "not set" either way.
func val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// swapV2 converts linux.resources.memory.swap, a limit on memory+swap as in
// cgroup v1, into memory.swap.max, a limit on swap alone: swap - limit.
// -1 is unlimited and 0 unset; an unlimited memory limit with no swap setting
// makes swap unlimited too, as runc does.
func swapV2(swap, limit int64) (int64, error) {
	switch {
	case limit == -1 && swap == 0:
		return -1, nil
	case swap == -1, swap == 0:
		return swap, nil
	case limit == -1:
		return swap, nil
	case limit == 0:
		return 0, errors.New("a swap limit needs a memory limit")
	case swap < limit:
		return 0, fmt.Errorf("the memory+swap limit %d is below the memory limit %d", swap, limit)
	}
	return swap - limit, nil
}

// cpuWeight converts cpu.shares (2-262144, default 1024) into cpu.weight
// (1-10000, default 100). This is the quadratic-in-log2 mapping runc uses
// since 1.3.2 (opencontainers/runc#4785) and crun since 1.23: it keeps
// 2 -> 1, 1024 -> 100 and 262144 -> 10000. The earlier linear
// 1 + (shares-2)*9999/262142 turned the default 1024 into 39.
func cpuWeight(shares uint64) uint64 {
	switch {
	case shares <= 2:
		return 1
	case shares >= 262144:
		return 10000
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exp)))
}

// ioWeight converts a blkio weight (10-1000) into io.weight (1-10000),
// linearly, as runc does.
func ioWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

// Need is a controller that a set field of linux.resources writes through.
type Need struct{ Field, Controller string }

// Requirements lists, in the order Limit checks them, the controllers the set fields of
// r need, each with the field that needs it (for `hull check`, which must agree with
// create).
func Requirements(r *specs.LinuxResources) []Need {
	var out []Need
	for _, n := range requirements(r) {
		out = append(out, Need{Field: n.field, Controller: n.controller})
	}
	return out
}

// requirements lists, in the order of the spec, the controllers the set
// fields of r write through.
func requirements(r *specs.LinuxResources) []need {
	if r == nil {
		return nil
	}
	var needs []need
	add := func(field, ctrl string) {
		needs = append(needs, need{"linux.resources." + field, ctrl})
	}
	if m := r.Memory; m != nil {
		for _, f := range []struct {
			name string
			v    *int64
		}{{"memory.limit", m.Limit}, {"memory.reservation", m.Reservation}, {"memory.swap", m.Swap}} {
			if val(f.v) != 0 {
				add(f.name, "memory")
			}
		}
	}
	if c := r.CPU; c != nil {
		switch {
		case c.Shares != nil && *c.Shares != 0:
			add("cpu.shares", "cpu")
		case c.Quota != nil && *c.Quota != 0:
			add("cpu.quota", "cpu")
		case c.Period != nil && *c.Period != 0:
			add("cpu.period", "cpu")
		case c.Burst != nil:
			add("cpu.burst", "cpu")
		case c.Idle != nil:
			add("cpu.idle", "cpu")
		}
		if c.Cpus != "" {
			add("cpu.cpus", "cpuset")
		} else if c.Mems != "" {
			add("cpu.mems", "cpuset")
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		add("pids.limit", "pids")
	}
	if b := r.BlockIO; b != nil {
		if field := ioField(b); field != "" {
			add(field, "io")
		}
	}
	if len(r.HugepageLimits) > 0 {
		add("hugepageLimits", "hugetlb")
	}
	if len(r.Rdma) > 0 {
		add("rdma", "rdma")
	}
	keys := sortedKeys(r.Unified)
	for _, k := range keys {
		if ctrl, _, _ := strings.Cut(k, "."); ctrl != "cgroup" {
			add(fmt.Sprintf("unified[%q]", k), ctrl)
		}
	}
	return needs
}

// ioField names the first blockIO field that writes to the io controller.
func ioField(b *specs.LinuxBlockIO) string {
	if b.Weight != nil && *b.Weight != 0 {
		return "blockIO.weight"
	}
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			return "blockIO.weightDevice"
		}
	}
	for _, t := range throttles(b) {
		for _, d := range t.devs {
			if d.Rate != 0 {
				return "blockIO." + t.field
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Set applies linux.resources to the cgroup, as `hull update` does: only the
// fields that are set are written, and device rules only when r.Devices is
// not nil (then replacing the filter). Controllers are enabled in the
// ancestors hull made; a controller that cannot be had is an error naming
// the field. Values follow runc's cgroup v2 conversions: see Validate for
// what is refused or ignored, and linux.resources.unified is written last,
// so that it overrides.
func (m *fsManager) Set(r *specs.LinuxResources) error {
	if _, err := Validate(r); err != nil {
		return err
	}
	return m.set(r, false)
}

// set is Set; initial also installs the device filter when r has no rules.
func (m *fsManager) set(r *specs.LinuxResources, initial bool) error {
	if err := m.ensureControllers(requirements(r)); err != nil {
		return err
	}
	if r == nil {
		r = &specs.LinuxResources{}
	}
	steps := []func(*specs.LinuxResources) error{
		m.setPids, m.setMemory, m.setIO, m.setCPU, m.setCpuset, m.setHugetlb, m.setRdma,
	}
	for _, step := range steps {
		if err := step(r); err != nil {
			return err
		}
	}
	if initial || r.Devices != nil {
		if err := m.setDevices(r.Devices); err != nil {
			return err
		}
	}
	return m.setUnified(r)
}

func (m *fsManager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	// The spec: -1 is no limit and 0 is a limit like any other.
	v := "max"
	if *r.Pids.Limit >= 0 {
		v = strconv.FormatInt(*r.Pids.Limit, 10)
	}
	if err := writeCgroup(m.path, "pids.max", v); err != nil {
		return fmt.Errorf("linux.resources.pids.limit: %w", err)
	}
	return nil
}

// limitStr formats a memory value: -1 is "max".
func limitStr(v int64) string {
	if v == -1 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func (m *fsManager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	limit, swap, low := val(mem.Limit), val(mem.Swap), val(mem.Reservation)
	if mem.CheckBeforeUpdate != nil && *mem.CheckBeforeUpdate {
		if err := m.checkMemoryUsage(limit, swap); err != nil {
			return err
		}
	}
	s, err := swapV2(swap, limit)
	if err != nil {
		return fmt.Errorf("linux.resources.memory.swap: %w", err)
	}
	// s == 0 with a swap setting means swap equal to the limit: no swap.
	if s != 0 || swap > 0 {
		err := writeCgroup(m.path, "memory.swap.max", limitStr(s))
		// Without swap accounting there is no file, and nothing to do
		// for "unlimited" or "none".
		if errors.Is(err, os.ErrNotExist) && (s == -1 || s == 0) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
	}
	if limit != 0 {
		if err := writeCgroup(m.path, "memory.max", limitStr(limit)); err != nil {
			return fmt.Errorf("linux.resources.memory.limit: %w", err)
		}
	}
	if low != 0 {
		if err := writeCgroup(m.path, "memory.low", limitStr(low)); err != nil {
			return fmt.Errorf("linux.resources.memory.reservation: %w", err)
		}
	}
	return nil
}

// checkMemoryUsage implements memory.checkBeforeUpdate: cgroup v2 takes a
// memory.max below the current usage and reclaims or OOM-kills to get there,
// where v1 refused; the spec asks to refuse. Like runc, a limit equal to the
// usage is refused too, and an unreadable usage skips the check.
func (m *fsManager) checkMemoryUsage(limit, swap int64) error {
	s, err := readFile(m.path, "memory.current")
	if err != nil {
		return nil
	}
	usage, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	if swap > 0 && swap <= usage {
		return fmt.Errorf("linux.resources.memory.swap: memory+swap limit %d is not above the current usage %d (checkBeforeUpdate)", swap, usage)
	}
	if limit > 0 && limit <= usage {
		return fmt.Errorf("linux.resources.memory.limit: %d is not above the current usage %d (checkBeforeUpdate)", limit, usage)
	}
	return nil
}

func (m *fsManager) setCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Idle != nil {
		if err := writeCgroup(m.path, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return fmt.Errorf("linux.resources.cpu.idle: %w", err)
		}
	}
	// An idle cgroup has the minimum weight; writing cpu.weight fails.
	if c.Shares != nil && *c.Shares != 0 && (c.Idle == nil || *c.Idle == 0) {
		w := strconv.FormatUint(cpuWeight(*c.Shares), 10)
		if err := writeCgroup(m.path, "cpu.weight", w); err != nil {
			return fmt.Errorf("linux.resources.cpu.shares: %w", err)
		}
	}
	quota := ""
	if c.Quota != nil && *c.Quota != 0 {
		quota = "max"
		if *c.Quota > 0 {
			quota = strconv.FormatInt(*c.Quota, 10)
		}
	}
	period := ""
	if c.Period != nil && *c.Period != 0 {
		period = strconv.FormatUint(*c.Period, 10)
	}
	burstPending := false
	if c.Burst != nil {
		err := writeCgroup(m.path, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10))
		// A burst above the current quota is refused until the new
		// quota is in; try again after it.
		if errors.Is(err, unix.EINVAL) && quota != "" {
			burstPending, err = true, nil
		}
		if err != nil {
			return fmt.Errorf("linux.resources.cpu.burst: %w", err)
		}
	}
	if quota != "" || period != "" {
		v, err := m.cpuMax(quota, period)
		if err != nil {
			return err
		}
		if err := writeCgroup(m.path, "cpu.max", v); err != nil {
			return fmt.Errorf("linux.resources.cpu.quota/period: %w", err)
		}
	}
	if burstPending {
		if err := writeCgroup(m.path, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return fmt.Errorf("linux.resources.cpu.burst: %w", err)
		}
	}
	return nil
}

// cpuMax builds the cpu.max line. The kernel keeps the period when given a
// quota alone; a period alone keeps the current quota, so that an update of
// one does not reset the other.
func (m *fsManager) cpuMax(quota, period string) (string, error) {
	if period == "" {
		return quota, nil
	}
	if quota == "" {
		cur, err := readFile(m.path, "cpu.max")
		if err != nil {
			return "", fmt.Errorf("linux.resources.cpu.period: %w", err)
		}
		quota, _, _ = strings.Cut(cur, " ")
	}
	return quota + " " + period, nil
}

func (m *fsManager) setCpuset(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Cpus != "" {
		if err := writeCgroup(m.path, "cpuset.cpus", c.Cpus); err != nil {
			return fmt.Errorf("linux.resources.cpu.cpus: %w", err)
		}
	}
	if c.Mems != "" {
		if err := writeCgroup(m.path, "cpuset.mems", c.Mems); err != nil {
			return fmt.Errorf("linux.resources.cpu.mems: %w", err)
		}
	}
	return nil
}

type throttle struct {
	field, key string
	devs       []specs.LinuxThrottleDevice
}

func throttles(b *specs.LinuxBlockIO) []throttle {
	return []throttle{
		{"throttleReadBpsDevice", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "wiops", b.ThrottleWriteIOPSDevice},
	}
}

func (m *fsManager) setIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	if err := m.setIOWeight(b); err != nil {
		return err
	}
	// One io.max line per device with all its limits. A rate of 0 is
	// skipped, as runc does.
	var order []string
	lines := map[string]string{}
	for _, t := range throttles(b) {
		for _, d := range t.devs {
			if d.Rate == 0 {
				continue
			}
			dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
			if _, ok := lines[dev]; !ok {
				order = append(order, dev)
				lines[dev] = dev
			}
			lines[dev] += fmt.Sprintf(" %s=%d", t.key, d.Rate)
		}
	}
	for _, dev := range order {
		if err := writeCgroup(m.path, "io.max", lines[dev]); err != nil {
			return fmt.Errorf("linux.resources.blockIO throttle of %s: %w", dev, err)
		}
	}
	return nil
}

// setIOWeight writes the weights. Like runc it prefers io.bfq.weight, which
// takes blkio's 10-1000 scale as is and is what the BFQ scheduler obeys,
// and falls back to io.weight (iocost) with the value converted.
func (m *fsManager) setIOWeight(b *specs.LinuxBlockIO) error {
	var devs []specs.LinuxWeightDevice
	for _, d := range b.WeightDevice {
		if d.Weight != nil {
			devs = append(devs, d)
		}
	}
	if (b.Weight == nil || *b.Weight == 0) && len(devs) == 0 {
		return nil
	}
	bfq, err := readFile(m.path, "io.bfq.weight")
	haveBFQ := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("linux.resources.blockIO: %w", err)
	}
	if b.Weight != nil && *b.Weight != 0 {
		if haveBFQ {
			err = writeCgroup(m.path, "io.bfq.weight", strconv.FormatUint(uint64(*b.Weight), 10))
		} else {
			err = writeCgroup(m.path, "io.weight", fmt.Sprintf("default %d", ioWeight(*b.Weight)))
		}
		if err != nil {
			return fmt.Errorf("linux.resources.blockIO.weight: %w", err)
		}
	}
	// Kernels before 5.4 show a bare number in io.bfq.weight and take no
	// per-device weights there.
	bfqPerDevice := haveBFQ && strings.HasPrefix(bfq, "default")
	for i, d := range devs {
		if bfqPerDevice {
			err = writeCgroup(m.path, "io.bfq.weight", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight))
		} else {
			err = writeCgroup(m.path, "io.weight", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, ioWeight(*d.Weight)))
		}
		if err != nil {
			return fmt.Errorf("linux.resources.blockIO.weightDevice[%d]: %w", i, err)
		}
	}
	return nil
}

func (m *fsManager) setHugetlb(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	sizes, err := m.hugePageSizes()
	if err != nil {
		return fmt.Errorf("linux.resources.hugepageLimits: %w", err)
	}
	for i, h := range r.HugepageLimits {
		if !slices.Contains(sizes, h.Pagesize) {
			return fmt.Errorf("linux.resources.hugepageLimits[%d].pageSize: %s is not a huge page size of this kernel (it has %s)", i, h.Pagesize, strings.Join(sizes, ", "))
		}
		v := strconv.FormatUint(h.Limit, 10)
		// The spec prefers reservation limits where the kernel has them
		// (5.7); the fault limit is set as well, as runc does.
		err := writeCgroup(m.path, "hugetlb."+h.Pagesize+".rsvd.max", v)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("linux.resources.hugepageLimits[%d]: %w", i, err)
		}
		if err := writeCgroup(m.path, "hugetlb."+h.Pagesize+".max", v); err != nil {
			return fmt.Errorf("linux.resources.hugepageLimits[%d]: %w", i, err)
		}
	}
	return nil
}

// hugePageSizes lists the page sizes the cgroup has hugetlb.<size>.max for.
func (m *fsManager) hugePageSizes() ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(m.path, "hugetlb.*.max"))
	if err != nil {
		return nil, err
	}
	var sizes []string
	for _, p := range matches {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "hugetlb."), ".max")
		if !strings.Contains(size, ".") {
			sizes = append(sizes, size)
		}
	}
	return sizes, nil
}

func (m *fsManager) setRdma(r *specs.LinuxResources) error {
	for _, name := range sortedKeys(r.Rdma) {
		d := r.Rdma[name]
		line := name
		if d.HcaHandles != nil {
			line += fmt.Sprintf(" hca_handle=%d", *d.HcaHandles)
		}
		if d.HcaObjects != nil {
			line += fmt.Sprintf(" hca_object=%d", *d.HcaObjects)
		}
		if err := writeCgroup(m.path, "rdma.max", line); err != nil {
			return fmt.Errorf("linux.resources.rdma[%q]: %w", name, err)
		}
	}
	return nil
}

func (m *fsManager) setUnified(r *specs.LinuxResources) error {
	for _, k := range sortedKeys(r.Unified) {
		if err := writeLinesCgroup(m.path, k, r.Unified[k]); err != nil {
			return fmt.Errorf("linux.resources.unified[%q]: %w", k, err)
		}
	}
	return nil
}

// setDevices replaces the cgroup's device filter with one for rules followed
// by devices.DefaultRules.
func (m *fsManager) setDevices(rules []specs.LinuxDeviceCgroup) error {
	all := append(slices.Clip(rules), devices.DefaultRules()...)
	prog, err := devices.Load(all)
	if err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	defer prog.Close()
	// Not O_PATH: older kernels refuse it as a BPF attach target.
	fd, err := open(m.path, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	defer unix.Close(fd)
	if err := devices.Replace(fd, prog); err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	return nil
}
