package cgroups

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/cgroups/devices"
)

// unit is a container's systemd scope, from a "slice:prefix:name" cgroupsPath.
type unit struct {
	slice string // the parent slice unit, e.g. "system.slice"
	name  string // the scope unit, e.g. "docker-abc.scope"
}

// defaultScopePrefix names the scope of a container whose cgroupsPath is empty
// under --systemd-cgroup, where runc uses "runc": the unit is hull's, and
// `systemctl status hull-<id>.scope` should say so.
const defaultScopePrefix = "hull"

// unitNameMax is systemd's UNIT_NAME_MAX less the NUL.
const unitNameMax = 255

// parseSystemdPath reads linux.cgroupsPath the way runc's systemd driver does:
// empty is "system.slice:hull:<id>"; otherwise exactly three colon-separated
// parts, slice:prefix:name, where an empty slice is system.slice. The unit is the
// scope "<prefix>-<name>.scope" ("<name>.scope" for an empty prefix, where runc
// would make "-<name>.scope", a name systemd reads as in the root slice's
// hierarchy). runc makes a slice unit when name ends in ".slice"; a slice cannot
// hold processes, so hull refuses that instead of failing at the D-Bus call.
func parseSystemdPath(cgroupsPath, id string) (unit, error) {
	slice, prefix, name := "", defaultScopePrefix, id
	if cgroupsPath != "" {
		parts := strings.Split(cgroupsPath, ":")
		if len(parts) != 3 {
			return unit{}, fmt.Errorf("linux.cgroupsPath %s: with --systemd-cgroup it must have the form slice:prefix:name (e.g. system.slice:hull:<id>); drop --systemd-cgroup to use a cgroupfs path", clip.Quote(cgroupsPath))
		}
		slice, prefix, name = parts[0], parts[1], parts[2]
	}
	if slice == "" {
		slice = "system.slice"
	}
	if _, err := expandSlice(slice); err != nil {
		return unit{}, fmt.Errorf("linux.cgroupsPath %s: %w", clip.Quote(cgroupsPath), err)
	}
	bad := func(part, v, why string) error {
		return fmt.Errorf("linux.cgroupsPath %s: the %s part %s %s", clip.Quote(cgroupsPath), part, clip.Quote(v), why)
	}
	if name == "" {
		return unit{}, bad("name", name, "is empty; name the container's scope, e.g. slice:prefix:<id>")
	}
	if strings.HasSuffix(name, ".slice") {
		return unit{}, bad("name", name, "ends in .slice: a slice cannot hold the container's processes; hull runs each container in a scope, drop the .slice suffix")
	}
	for _, p := range []struct{ part, v string }{{"prefix", prefix}, {"name", name}} {
		if i := strings.IndexFunc(p.v, func(r rune) bool { return !unitChar(r) }); i >= 0 {
			return unit{}, bad(p.part, p.v, fmt.Sprintf("has %q, which systemd refuses in a unit name (letters, digits and :-_.\\ only)", p.v[i]))
		}
	}
	u := unit{slice: slice, name: name + ".scope"}
	if prefix != "" {
		u.name = prefix + "-" + u.name
	}
	if len(u.name) > unitNameMax {
		return unit{}, fmt.Errorf("linux.cgroupsPath %s: the scope's name %s is longer than systemd's %d bytes", clip.Quote(cgroupsPath), clip.Quote(u.name), unitNameMax)
	}
	return u, nil
}

// unitChar is a character systemd allows in a unit name.
func unitChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\", r)
}

// expandSlice turns a slice unit name into its cgroup path, the way systemd
// nests slices by the dashes in their names: "a-b-c.slice" is
// /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root slice, "/".
func expandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	invalid := func(why string) error {
		return fmt.Errorf("slice %s %s; name a systemd slice such as system.slice or machine-pods.slice", clip.Quote(slice), why)
	}
	if !ok || base == "" {
		return "", invalid("does not end in .slice")
	}
	if base == "-" {
		return "/", nil
	}
	if i := strings.IndexFunc(base, func(r rune) bool { return !unitChar(r) }); i >= 0 {
		return "", invalid(fmt.Sprintf("has %q, which systemd refuses in a unit name", base[i]))
	}
	if len(slice) > unitNameMax {
		return "", invalid(fmt.Sprintf("is longer than systemd's %d bytes", unitNameMax))
	}
	var path, prefix string
	for _, part := range strings.Split(base, "-") {
		// systemd refuses "a--b.slice", "-a.slice" and "a-.slice".
		if part == "" {
			return "", invalid("has an empty part between dashes")
		}
		path += "/" + prefix + part + ".slice"
		prefix += part + "-"
	}
	return path, nil
}

// unitPath is the cgroup directory systemd gives u below the cgroup2 mount
// (systemd's own cgroup being the root of it).
func unitPath(mount string, u unit) (string, error) {
	slice, err := expandSlice(u.slice)
	if err != nil {
		return "", err
	}
	return filepath.Join(mount, slice, u.name), nil
}

// propertyPrefix is runc's annotation prefix for extra unit properties.
const propertyPrefix = "org.systemd.property."

// annotationProperties reads the org.systemd.property.* annotations the way
// runc does: the rest of the key is the property's name (ASCII letters only, at
// least three), the value a D-Bus variant in GVariant text ("uint64 123",
// "'inactive-or-failed'", "true"). A name ending in <lowercase>Sec is systemd's
// documented seconds form of a USec property: the name gets the USec suffix and
// a numeric value is converted to microseconds, as runc does. The result is
// sorted by key, so that errors and properties come in a stable order.
func annotationProperties(annotations map[string]string) ([]sdbus.Property, error) {
	var props []sdbus.Property
	for _, k := range sortedKeys(annotations) {
		name, ok := strings.CutPrefix(k, propertyPrefix)
		if !ok {
			continue
		}
		field := "annotations[" + clip.Quote(k) + "]"
		if err := checkPropertyName(name); err != nil {
			return nil, fmt.Errorf("%s: the systemd property name %s %w; use letters only, e.g. %sTimeoutStopUSec", field, clip.Quote(name), err, propertyPrefix)
		}
		v := annotations[k]
		value, err := dbus.ParseVariant(v, dbus.Signature{})
		if err != nil {
			return nil, fmt.Errorf("%s: value %s is not a D-Bus variant in GVariant text (%w); e.g. \"uint64 123\", \"'text'\", \"true\"", field, clip.Quote(v), err)
		}
		if trimmed, ok := strings.CutSuffix(name, "Sec"); ok && trimmed[len(trimmed)-1] >= 'a' && trimmed[len(trimmed)-1] <= 'z' {
			name = trimmed + "USec"
			if value, err = secToUSec(value); err != nil {
				return nil, fmt.Errorf("%s: value %s: %w, and a ...Sec property takes a number of seconds", field, clip.Quote(v), err)
			}
		}
		props = append(props, sdbus.Property{Name: name, Value: value})
	}
	return props, nil
}

func checkPropertyName(s string) error {
	if len(s) < 3 {
		return errors.New("is shorter than 3 letters")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("has %q, not a letter", c)
		}
	}
	return nil
}

// secToUSec converts a numeric variant of seconds to a uint64 of microseconds.
func secToUSec(v dbus.Variant) (dbus.Variant, error) {
	const M = 1000000
	var us uint64
	switch x := v.Value().(type) {
	case byte:
		us = uint64(x) * M
	case int16:
		us = uint64(x) * M
	case uint16:
		us = uint64(x) * M
	case int32:
		us = uint64(x) * M
	case uint32:
		us = uint64(x) * M
	case int64:
		us = uint64(x) * M
	case uint64:
		us = x * M
	case float64:
		us = uint64(x * M)
	default:
		return v, fmt.Errorf("%s is not a number", v.Signature())
	}
	return dbus.MakeVariant(us), nil
}

// CheckSystemd checks what the systemd driver reads of a config beyond
// cgroupsPath: its org.systemd.property.* annotations. The validation pass
// (package check) calls it when create is asked for the systemd driver.
func CheckSystemd(annotations map[string]string) error {
	_, err := annotationProperties(annotations)
	return err
}

func prop(name string, v any) sdbus.Property {
	return sdbus.Property{Name: name, Value: dbus.MakeVariant(v)}
}

// The systemd versions that first took a property: older ones refuse the whole
// call, so those values reach the cgroup only through its files.
const (
	sdCPUQuotaPeriod = 242
	sdAllowedCPUs    = 244
	sdCPUIdle        = 252
)

// defaultCPUPeriod is the kernel's cpu.max period, in microseconds.
const defaultCPUPeriod = 100000

// resourceProperties translates r into the unit properties systemd manages the
// same cgroup files with, so that systemd, which rewrites them from the unit's
// properties whenever it touches the unit (a daemon-reload, a property change),
// writes hull's values and not its defaults. version is systemd's (0 unknown,
// treated as new). withDevices adds DevicePolicy and DeviceAllow for r.Devices
// followed by devices.DefaultRules. What has no property (hugetlb, rdma, cpu
// burst, most unified keys) is written to the cgroup by the fsManager alone.
// r is valid (Validate).
func resourceProperties(r *specs.LinuxResources, version int, withDevices bool) ([]sdbus.Property, error) {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	newer := func(v int) bool { return version == 0 || version >= v }
	var props []sdbus.Property
	if withDevices {
		props = append(props, deviceProperties(append(slices.Clip(r.Devices), devices.DefaultRules()...))...)
	}
	if m := r.Memory; m != nil {
		limit, swap, low := val(m.Limit), val(m.Swap), val(m.Reservation)
		if limit != 0 {
			props = append(props, prop("MemoryMax", unitLimit(limit)))
		}
		if low != 0 {
			props = append(props, prop("MemoryLow", unitLimit(low)))
		}
		s, err := swapV2(swap, limit)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.memory.swap: %w", err)
		}
		// swap equal to the limit is no swap at all: MemorySwapMax=0, which runc
		// leaves out, and systemd would then write its "max" over hull's 0.
		if s != 0 || swap > 0 {
			props = append(props, prop("MemorySwapMax", unitLimit(s)))
		}
	}
	if c := r.CPU; c != nil {
		idle := c.Idle != nil && *c.Idle == 1 && newer(sdCPUIdle)
		if idle {
			// CPUWeight=0 is systemd's way to write cpu.idle=1.
			props = append(props, prop("CPUWeight", uint64(0)))
		}
		if c.Shares != nil && *c.Shares != 0 && !idle && (c.Idle == nil || *c.Idle == 0) {
			props = append(props, prop("CPUWeight", cpuWeight(*c.Shares)))
		}
		props = append(props, cpuQuotaProperties(val(c.Quota), valU(c.Period), newer(sdCPUQuotaPeriod))...)
		if newer(sdAllowedCPUs) {
			for _, s := range []struct{ name, field, v string }{{"AllowedCPUs", "cpus", c.Cpus}, {"AllowedMemoryNodes", "mems", c.Mems}} {
				if s.v == "" {
					continue
				}
				bits, err := rangeToBits(s.v)
				if err != nil {
					return nil, fmt.Errorf("linux.resources.cpu.%s: %w", s.field, err)
				}
				props = append(props, prop(s.name, bits))
			}
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && (*p.Limit > 0 || *p.Limit == -1) {
		// 0 is not a TasksMax systemd takes; pids.max=0 is written to the file only.
		props = append(props, prop("TasksMax", unitLimit(*p.Limit)))
	}
	if b := r.BlockIO; b != nil {
		props = append(props, ioProperties(b)...)
	}
	unified, err := unifiedProperties(r.Unified, newer)
	if err != nil {
		return nil, err
	}
	return append(props, unified...), nil
}

func valU(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// unitLimit is a limit as systemd's properties take it: -1 is infinity.
func unitLimit(v int64) uint64 {
	if v == -1 {
		return math.MaxUint64
	}
	return uint64(v)
}

// cpuQuotaProperties are CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec) for a
// cpu.max of quota and period: 0 is unset, a negative quota unlimited.
// systemd keeps the quota as a share of a second in 10 ms steps, so a quota
// between steps is rounded up (as runc does): rounding down would give the
// container less than asked for.
func cpuQuotaProperties(quota int64, period uint64, withPeriod bool) []sdbus.Property {
	var props []sdbus.Property
	if period != 0 && withPeriod {
		props = append(props, prop("CPUQuotaPeriodUSec", period))
	}
	if quota == 0 && period == 0 {
		return props
	}
	perSec := uint64(math.MaxUint64)
	if quota > 0 {
		if period == 0 {
			period = defaultCPUPeriod
		}
		perSec = uint64(quota) * 1000000 / period
		if perSec%10000 != 0 {
			perSec = (perSec/10000 + 1) * 10000
		}
	}
	return append(props, prop("CPUQuotaPerSecUSec", perSec))
}

// rangeToBits turns a cpuset list ("0-3,7") into the little-endian byte mask
// systemd's AllowedCPUs and AllowedMemoryNodes take.
func rangeToBits(s string) ([]byte, error) {
	var mask big.Int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		start, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%s is not a list of numbers and ranges", clip.Quote(s))
		}
		end := start
		if isRange {
			if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
				return nil, fmt.Errorf("%s is not a list of numbers and ranges", clip.Quote(s))
			}
		}
		for i := start; i <= end; i++ {
			mask.SetBit(&mask, int(i), 1)
		}
	}
	if mask.BitLen() == 0 {
		return nil, fmt.Errorf("%s names no CPU or node", clip.Quote(s))
	}
	be := mask.Bytes()
	slices.Reverse(be)
	return be, nil
}

// ioDeviceWeight and ioDeviceLimit are the a(st) entries of systemd's IO
// properties: a device node, here /dev/block/MAJ:MIN, which systemd reads
// without a lookup.
type ioDeviceEntry struct {
	Path  string
	Value uint64
}

func blockDev(major, minor int64) string {
	return "/dev/block/" + strconv.FormatInt(major, 10) + ":" + strconv.FormatInt(minor, 10)
}

func ioProperties(b *specs.LinuxBlockIO) []sdbus.Property {
	var props []sdbus.Property
	if b.Weight != nil && *b.Weight != 0 {
		props = append(props, prop("IOWeight", ioWeight(*b.Weight)))
	}
	var weights []ioDeviceEntry
	for _, d := range b.WeightDevice {
		if d.Weight != nil && *d.Weight != 0 {
			weights = append(weights, ioDeviceEntry{blockDev(d.Major, d.Minor), ioWeight(*d.Weight)})
		}
	}
	if len(weights) > 0 {
		props = append(props, prop("IODeviceWeight", weights))
	}
	for _, t := range []struct {
		name string
		devs []specs.LinuxThrottleDevice
	}{
		{"IOReadBandwidthMax", b.ThrottleReadBpsDevice},
		{"IOWriteBandwidthMax", b.ThrottleWriteBpsDevice},
		{"IOReadIOPSMax", b.ThrottleReadIOPSDevice},
		{"IOWriteIOPSMax", b.ThrottleWriteIOPSDevice},
	} {
		var entries []ioDeviceEntry
		for _, d := range t.devs {
			// 0 is "no limit" in io.max; systemd's infinity.
			v := d.Rate
			if v == 0 {
				v = math.MaxUint64
			}
			entries = append(entries, ioDeviceEntry{blockDev(d.Major, d.Minor), v})
		}
		if len(entries) > 0 {
			props = append(props, prop(t.name, entries))
		}
	}
	return props
}

// unifiedProperties translates the linux.resources.unified keys that have a
// unit property; the others are written to the cgroup only (as runc does).
func unifiedProperties(u map[string]string, newer func(int) bool) ([]sdbus.Property, error) {
	var props []sdbus.Property
	limit := func(k, v string) (uint64, error) {
		if v == "max" {
			return math.MaxUint64, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("linux.resources.unified[%q]: %s is not a number or max", k, clip.Quote(v))
		}
		return n, nil
	}
	memory := map[string]string{"memory.high": "MemoryHigh", "memory.low": "MemoryLow", "memory.min": "MemoryMin", "memory.max": "MemoryMax", "memory.swap.max": "MemorySwapMax"}
	for _, k := range sortedKeys(u) {
		v := strings.TrimSpace(u[k])
		switch k {
		case "memory.high", "memory.low", "memory.min", "memory.max", "memory.swap.max", "pids.max":
			n, err := limit(k, v)
			if err != nil {
				return nil, err
			}
			name := memory[k]
			if k == "pids.max" {
				name = "TasksMax"
			}
			props = append(props, prop(name, n))
		case "cpu.weight":
			if strings.TrimSpace(u["cpu.idle"]) == "1" && newer(sdCPUIdle) {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.unified[%q]: %s is not a number", k, clip.Quote(v))
			}
			props = append(props, prop("CPUWeight", n))
		case "cpu.idle":
			if v == "1" && newer(sdCPUIdle) {
				props = append(props, prop("CPUWeight", uint64(0)))
			}
		case "cpu.max":
			f := strings.Fields(v)
			if len(f) < 1 || len(f) > 2 {
				return nil, fmt.Errorf("linux.resources.unified[%q]: %s is not \"quota [period]\"", k, clip.Quote(v))
			}
			quota, period := int64(-1), uint64(defaultCPUPeriod)
			var err error
			if f[0] != "max" {
				if quota, err = strconv.ParseInt(f[0], 10, 64); err != nil {
					return nil, fmt.Errorf("linux.resources.unified[%q]: quota %s is not a number or max", k, clip.Quote(f[0]))
				}
			}
			if len(f) == 2 {
				if period, err = strconv.ParseUint(f[1], 10, 64); err != nil {
					return nil, fmt.Errorf("linux.resources.unified[%q]: period %s is not a number", k, clip.Quote(f[1]))
				}
			}
			props = append(props, cpuQuotaProperties(quota, period, newer(sdCPUQuotaPeriod))...)
		case "cpuset.cpus", "cpuset.mems":
			if !newer(sdAllowedCPUs) {
				continue
			}
			bits, err := rangeToBits(v)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.unified[%q]: %w", k, err)
			}
			name := "AllowedCPUs"
			if k == "cpuset.mems" {
				name = "AllowedMemoryNodes"
			}
			props = append(props, prop(name, bits))
		}
	}
	return props, nil
}

// oomPolicy is the OOMPolicy a unified memory.oom.group asks for: systemd would
// otherwise set memory.oom.group itself from its own OOMPolicy default.
func oomPolicy(u map[string]string) []sdbus.Property {
	switch strings.TrimSpace(u["memory.oom.group"]) {
	case "0":
		return []sdbus.Property{prop("OOMPolicy", "continue")}
	case "1":
		return []sdbus.Property{prop("OOMPolicy", "kill")}
	}
	return nil
}

// deviceAllowEntry is one a(ss) entry of DeviceAllow: a device and "rwm".
type deviceAllowEntry struct {
	Path  string
	Perms string
}

// procDevices is where the kernel lists its device drivers by major number,
// the names systemd's "char-<name>" entries refer to.
var procDevices = "/proc/devices"

// deviceProperties are DevicePolicy and DeviceAllow for a rule list. hull's own
// eBPF filter (installed after them, see devices.Replace) is the exact one; the
// cgroup gets only what every attached program allows, so systemd's list must
// allow at least what hull's does, never less. It is the union of the allow
// rules (deny rules are left to hull's filter), widened where systemd has no
// exact form: a major with any minor is "char-<driver>" (all the driver's
// devices), a wildcard major "char-*". A rule allowing every access to every
// device makes the policy "auto" with no list: no restriction from systemd.
func deviceProperties(rules []specs.LinuxDeviceCgroup) []sdbus.Property {
	names := readProcDevices()
	perms := map[string]string{}
	var order []string
	add := func(path, access string) {
		cur, ok := perms[path]
		if !ok {
			order = append(order, path)
		}
		for _, c := range "rwm" {
			if strings.ContainsRune(access, c) || strings.ContainsRune(cur, c) {
				if !strings.ContainsRune(perms[path], c) {
					perms[path] += string(c)
				}
			}
		}
	}
	for _, r := range rules {
		if !r.Allow {
			continue
		}
		major, minor := int64(-1), int64(-1)
		if r.Major != nil {
			major = *r.Major
		}
		if r.Minor != nil {
			minor = *r.Minor
		}
		types := []string{r.Type}
		if r.Type == "" || r.Type == "a" {
			if major == -1 && minor == -1 && strings.ContainsRune(r.Access, 'r') && strings.ContainsRune(r.Access, 'w') && strings.ContainsRune(r.Access, 'm') {
				return []sdbus.Property{prop("DevicePolicy", "auto"), prop("DeviceAllow", []deviceAllowEntry{})}
			}
			types = []string{"c", "b"}
		}
		for _, t := range types {
			group, dir := "char", "/dev/char/"
			if t == "b" {
				group, dir = "block", "/dev/block/"
			}
			switch {
			case major != -1 && minor != -1:
				add(dir+strconv.FormatInt(major, 10)+":"+strconv.FormatInt(minor, 10), r.Access)
			case major != -1 && names[t+strconv.FormatInt(major, 10)] != "":
				add(group+"-"+names[t+strconv.FormatInt(major, 10)], r.Access)
			default:
				add(group+"-*", r.Access)
			}
		}
	}
	entries := make([]deviceAllowEntry, 0, len(order))
	for _, p := range order {
		entries = append(entries, deviceAllowEntry{p, perms[p]})
	}
	return []sdbus.Property{prop("DevicePolicy", "strict"), prop("DeviceAllow", entries)}
}

// readProcDevices maps "c<major>" and "b<major>" to the driver's name. A major
// listed twice (several drivers) maps to nothing, so its rules widen to
// "char-*" rather than allow one driver's devices only.
func readProcDevices() map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(procDevices)
	if err != nil {
		return out
	}
	t := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "Character devices:"):
			t = "c"
			continue
		case strings.HasPrefix(line, "Block devices:"):
			t = "b"
			continue
		}
		f := strings.Fields(line)
		if t == "" || len(f) != 2 {
			continue
		}
		if _, err := strconv.ParseUint(f[0], 10, 32); err != nil {
			continue
		}
		k := t + f[0]
		if _, dup := out[k]; dup {
			out[k] = ""
			continue
		}
		out[k] = f[1]
	}
	return out
}
