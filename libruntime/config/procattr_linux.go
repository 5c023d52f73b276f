package config

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// The attributes of the process hull sets with one syscall each: the scheduler
// (sched_setattr), the I/O priority (ioprio_set), the CPU affinity of an exec'd
// process (sched_setaffinity), the personality (personality) and the NUMA memory
// policy (set_mempolicy). Each converter below is both the validation (its error
// names the field and the fix) and the value init hands to the kernel, so what
// `hull check` accepts is exactly what init applies.

type named[T any] struct {
	name string
	val  T
}

func names[T any](t []named[T]) []string {
	out := make([]string, len(t))
	for i, e := range t {
		out[i] = e.name
	}
	return out
}

func lookup[T any](t []named[T], name string) (T, bool) {
	for _, e := range t {
		if e.name == name {
			return e.val, true
		}
	}
	var zero T
	return zero, false
}

// schedPolicies are the policies of config.md. SCHED_ISO is listed there but
// Linux never merged it (the number 4 is reserved and sched_setattr refuses it):
// validation refuses it by name rather than let create fail with EINVAL, which
// is what runc's passing it through comes to.
var schedPolicies = []named[uint32]{
	{"SCHED_OTHER", unix.SCHED_NORMAL},
	{"SCHED_FIFO", unix.SCHED_FIFO},
	{"SCHED_RR", unix.SCHED_RR},
	{"SCHED_BATCH", unix.SCHED_BATCH},
	{"SCHED_IDLE", unix.SCHED_IDLE},
	{"SCHED_DEADLINE", unix.SCHED_DEADLINE},
}

var schedFlags = []named[uint64]{
	{"SCHED_FLAG_RESET_ON_FORK", unix.SCHED_FLAG_RESET_ON_FORK},
	{"SCHED_FLAG_RECLAIM", unix.SCHED_FLAG_RECLAIM},
	{"SCHED_FLAG_DL_OVERRUN", unix.SCHED_FLAG_DL_OVERRUN},
	{"SCHED_FLAG_KEEP_POLICY", unix.SCHED_FLAG_KEEP_POLICY},
	{"SCHED_FLAG_KEEP_PARAMS", unix.SCHED_FLAG_KEEP_PARAMS},
	{"SCHED_FLAG_UTIL_CLAMP_MIN", unix.SCHED_FLAG_UTIL_CLAMP_MIN},
	{"SCHED_FLAG_UTIL_CLAMP_MAX", unix.SCHED_FLAG_UTIL_CLAMP_MAX},
}

// dlMinRuntime is the smallest SCHED_DEADLINE runtime the kernel takes (1 << DL_SCALE ns).
const dlMinRuntime = 1 << 10

// SchedAttr returns the sched_setattr(2) attributes process.scheduler (at field)
// asks for, or the first problem with it.
//
// The rules are runc's (a policy is required, priority only for SCHED_FIFO and
// SCHED_RR, runtime/deadline/period only for SCHED_DEADLINE), plus what the
// kernel would refuse at create anyway, caught here with a clearer text: a real-time
// priority of 1-99, a nice value of -20..19 (the kernel clamps others silently;
// runc checks it for SCHED_OTHER and SCHED_BATCH only, hull for every policy,
// since it means nothing else), and deadline parameters with runtime <= deadline
// <= period.
func SchedAttr(field string, s *specs.Scheduler) (*unix.SchedAttr, *Error) {
	if s == nil {
		return nil, nil
	}
	policies := strings.Join(names(schedPolicies), ", ")
	if s.Policy == "" {
		return nil, &Error{Field: field + ".policy", Msg: "missing", Fix: "set one of " + policies}
	}
	if s.Policy == specs.SchedISO {
		return nil, &Error{Field: field + ".policy", Msg: "SCHED_ISO does not exist in Linux (the kernel refuses it)",
			Fix: "use SCHED_OTHER, SCHED_BATCH or SCHED_IDLE"}
	}
	policy, ok := lookup(schedPolicies, string(s.Policy))
	if !ok {
		return nil, &Error{Field: field + ".policy", Msg: fmt.Sprintf("unknown policy %s", clip.Quote(string(s.Policy))), Fix: "use one of " + policies}
	}
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy, Nice: s.Nice,
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	for i, f := range s.Flags {
		v, ok := lookup(schedFlags, string(f))
		if !ok {
			return nil, &Error{Field: index(field+".flags", i), Msg: fmt.Sprintf("unknown flag %s", clip.Quote(string(f))),
				Fix: "use one of " + strings.Join(names(schedFlags), ", ")}
		}
		attr.Flags |= v
	}
	if s.Nice < -20 || s.Nice > 19 {
		return nil, &Error{Field: field + ".nice", Msg: fmt.Sprintf("%d is out of range", s.Nice), Fix: "use a nice value from -20 (highest priority) to 19"}
	}
	rt := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	switch {
	case rt && (s.Priority < 1 || s.Priority > 99):
		return nil, &Error{Field: field + ".priority", Msg: fmt.Sprintf("%d is out of range for %s", s.Priority, s.Policy),
			Fix: "set a real-time priority from 1 (lowest) to 99"}
	case !rt && s.Priority != 0:
		return nil, &Error{Field: field + ".priority", Msg: fmt.Sprintf("only SCHED_FIFO and SCHED_RR have a priority, not %s", s.Policy),
			Fix: "remove priority, or use SCHED_FIFO or SCHED_RR"}
	}
	attr.Priority = uint32(s.Priority)
	if s.Policy != specs.SchedDeadline {
		if s.Runtime != 0 || s.Deadline != 0 || s.Period != 0 {
			return nil, &Error{Field: field, Msg: fmt.Sprintf("runtime, deadline and period are for SCHED_DEADLINE only, not %s", s.Policy),
				Fix: "remove them, or use SCHED_DEADLINE"}
		}
		return attr, nil
	}
	const dlFix = "set runtime <= deadline <= period, in nanoseconds (period 0 means deadline)"
	switch {
	case s.Runtime < dlMinRuntime:
		return nil, &Error{Field: field + ".runtime", Msg: fmt.Sprintf("%d ns is below the kernel's minimum of %d ns", s.Runtime, dlMinRuntime), Fix: dlFix}
	case s.Deadline < s.Runtime:
		return nil, &Error{Field: field + ".deadline", Msg: fmt.Sprintf("%d ns is below runtime (%d ns)", s.Deadline, s.Runtime), Fix: dlFix}
	case s.Period != 0 && s.Period < s.Deadline:
		return nil, &Error{Field: field + ".period", Msg: fmt.Sprintf("%d ns is below deadline (%d ns)", s.Period, s.Deadline), Fix: dlFix}
	case s.Deadline >= 1<<63 || s.Period >= 1<<63:
		return nil, &Error{Field: field, Msg: "deadline and period must be below 2^63 ns", Fix: dlFix}
	}
	return attr, nil
}

var ioprioClasses = []named[int]{
	{"IOPRIO_CLASS_RT", 1},
	{"IOPRIO_CLASS_BE", 2},
	{"IOPRIO_CLASS_IDLE", 3},
}

// IOPriority returns the ioprio_set(2) value process.ioPriority (at field) asks
// for, or the first problem with it. As with runc, priority is checked for every
// class, IDLE's too, whose level the kernel ignores.
func IOPriority(field string, p *specs.LinuxIOPriority) (int, *Error) {
	if p == nil {
		return 0, nil
	}
	class, ok := lookup(ioprioClasses, string(p.Class))
	if !ok {
		msg := "missing"
		if p.Class != "" {
			msg = fmt.Sprintf("unknown class %s", clip.Quote(string(p.Class)))
		}
		return 0, &Error{Field: field + ".class", Msg: msg, Fix: "use one of " + strings.Join(names(ioprioClasses), ", ")}
	}
	if p.Priority < 0 || p.Priority > 7 {
		return 0, &Error{Field: field + ".priority", Msg: fmt.Sprintf("%d is out of range", p.Priority), Fix: "use a level from 0 (highest) to 7"}
	}
	const classShift = 13 // IOPRIO_CLASS_SHIFT
	return class<<classShift | p.Priority, nil
}

// maxCPUs is how many CPUs unix.CPUSet (the kernel's CPU_SETSIZE) holds.
const maxCPUs = 1024

// CPUList parses a list of CPUs or memory nodes such as "0-3,7" (the cpuset
// format config.md uses for execCPUAffinity and memoryPolicy.nodes) into the
// numbers it names, each below limit.
func CPUList(field, s string, limit int) ([]int, *Error) {
	const fix = `write it as comma-separated numbers and ranges, such as "0-3,7"`
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(lo)
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(hi)
		}
		if errA != nil || errB != nil || !isDigits(lo) || (isRange && !isDigits(hi)) {
			return nil, &Error{Field: field, Msg: fmt.Sprintf("%s is not a list of numbers: %s", clip.Quote(s), clip.Quote(part)), Fix: fix}
		}
		if b < a {
			return nil, &Error{Field: field, Msg: fmt.Sprintf("range %s ends below its start", clip.Quote(part)), Fix: fix}
		}
		if b >= limit {
			return nil, &Error{Field: field, Msg: fmt.Sprintf("%d is above the largest number the kernel takes here, %d", b, limit-1), Fix: "use smaller numbers"}
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

func isDigits(s string) bool { return isNumeric(s) }

// CPUAffinity returns the CPU set of one of process.execCPUAffinity's lists
// (at field); nil for an empty one, which leaves the affinity alone.
func CPUAffinity(field, s string) (*unix.CPUSet, *Error) {
	if s == "" {
		return nil, nil
	}
	cpus, err := CPUList(field, s, maxCPUs)
	if err != nil {
		return nil, err
	}
	set := &unix.CPUSet{}
	for _, c := range cpus {
		set.Set(c)
	}
	return set, nil
}

// The execution domains of personality(2) (<linux/personality.h>).
var personalityDomains = []named[uint]{
	{string(specs.PerLinux), 0x0000},
	{string(specs.PerLinux32), 0x0008},
}

// Personality returns the personality(2) value linux.personality (at field) asks
// for, or the first problem with it. The spec defines no flag; runc warns and
// drops any, hull refuses them: a container must not run with less than it
// asked for without failing.
func Personality(field string, p *specs.LinuxPersonality) (uint, *Error) {
	if p == nil {
		return 0, nil
	}
	v, ok := lookup(personalityDomains, string(p.Domain))
	if !ok {
		msg := "missing"
		if p.Domain != "" {
			msg = fmt.Sprintf("unknown domain %s", clip.Quote(string(p.Domain)))
		}
		return 0, &Error{Field: field + ".domain", Msg: msg, Fix: "use LINUX or LINUX32"}
	}
	if len(p.Flags) > 0 {
		return 0, &Error{Field: field + ".flags", Msg: fmt.Sprintf("%s: the runtime-spec defines no personality flag", clip.Quote(string(p.Flags[0]))),
			Fix: "remove linux.personality.flags"}
	}
	return v, nil
}

// The modes and flags of set_mempolicy(2), in the runtime-spec's order.
var mpolModes = []named[int]{
	{string(specs.MpolDefault), unix.MPOL_DEFAULT},
	{string(specs.MpolBind), unix.MPOL_BIND},
	{string(specs.MpolInterleave), unix.MPOL_INTERLEAVE},
	{string(specs.MpolWeightedInterleave), unix.MPOL_WEIGHTED_INTERLEAVE},
	{string(specs.MpolPreferred), unix.MPOL_PREFERRED},
	{string(specs.MpolPreferredMany), unix.MPOL_PREFERRED_MANY},
	{string(specs.MpolLocal), unix.MPOL_LOCAL},
}

var mpolFlags = []named[int]{
	{string(specs.MpolFNumaBalancing), unix.MPOL_F_NUMA_BALANCING},
	{string(specs.MpolFRelativeNodes), unix.MPOL_F_RELATIVE_NODES},
	{string(specs.MpolFStaticNodes), unix.MPOL_F_STATIC_NODES},
}

// MemoryPolicyModes and MemoryPolicyFlags are the names MemoryPolicy takes, for
// `hull features`.
func MemoryPolicyModes() []string { return names(mpolModes) }
func MemoryPolicyFlags() []string { return names(mpolFlags) }

// maxNumaNodes is the kernel's largest MAX_NUMNODES (NODES_SHIFT 10).
const maxNumaNodes = 1024

// MemPolicy is a set_mempolicy(2) call: the mode with its flags, and the node
// mask of MaxNode bits.
type MemPolicy struct {
	Mode    int
	Mask    []uint64
	MaxNode uint64
}

// MemoryPolicy returns the set_mempolicy(2) call linux.memoryPolicy (at field)
// asks for, or the first problem with it: the mode and flag names of
// config-linux.md, and the combinations set_mempolicy(2) refuses (nodes with
// MPOL_DEFAULT or MPOL_LOCAL, none with the modes that need one, both
// MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING but with
// MPOL_BIND or MPOL_PREFERRED_MANY).
func MemoryPolicy(field string, m *specs.LinuxMemoryPolicy) (*MemPolicy, *Error) {
	if m == nil {
		return nil, nil
	}
	mode, ok := lookup(mpolModes, string(m.Mode))
	if !ok {
		msg := "missing"
		if m.Mode != "" {
			msg = fmt.Sprintf("unknown mode %s", clip.Quote(string(m.Mode)))
		}
		return nil, &Error{Field: field + ".mode", Msg: msg, Fix: "use one of " + strings.Join(names(mpolModes), ", ")}
	}
	mp := &MemPolicy{Mode: mode}
	var flags int
	for i, f := range m.Flags {
		v, ok := lookup(mpolFlags, string(f))
		if !ok {
			return nil, &Error{Field: index(field+".flags", i), Msg: fmt.Sprintf("unknown flag %s", clip.Quote(string(f))),
				Fix: "use one of " + strings.Join(names(mpolFlags), ", ")}
		}
		flags |= v
	}
	if m.Nodes != "" {
		nodes, err := CPUList(field+".nodes", m.Nodes, maxNumaNodes)
		if err != nil {
			return nil, err
		}
		top := 0
		for _, n := range nodes {
			top = max(top, n)
		}
		mp.Mask = make([]uint64, top/64+1)
		for _, n := range nodes {
			mp.Mask[n/64] |= 1 << (n % 64)
		}
		// The kernel reads MaxNode-1 bits.
		mp.MaxNode = uint64(len(mp.Mask))*64 + 1
	}
	switch m.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if m.Nodes != "" {
			return nil, &Error{Field: field + ".nodes", Msg: fmt.Sprintf("%s takes no nodes", m.Mode), Fix: "remove nodes"}
		}
		if flags != 0 {
			return nil, &Error{Field: field + ".flags", Msg: fmt.Sprintf("%s takes no flags", m.Mode), Fix: "remove flags"}
		}
	case specs.MpolPreferred:
		// No node: allocate on the local node (set_mempolicy(2)).
	default:
		if m.Nodes == "" {
			return nil, &Error{Field: field + ".nodes", Msg: fmt.Sprintf("%s needs at least one node", m.Mode), Fix: `list the memory nodes, such as "0" or "0-1"`}
		}
	}
	if flags&unix.MPOL_F_STATIC_NODES != 0 && flags&unix.MPOL_F_RELATIVE_NODES != 0 {
		return nil, &Error{Field: field + ".flags", Msg: "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other", Fix: "keep one of them"}
	}
	if flags&unix.MPOL_F_NUMA_BALANCING != 0 && m.Mode != specs.MpolBind && m.Mode != specs.MpolPreferredMany {
		return nil, &Error{Field: field + ".flags", Msg: fmt.Sprintf("MPOL_F_NUMA_BALANCING goes with MPOL_BIND or MPOL_PREFERRED_MANY, not %s", m.Mode),
			Fix: "remove MPOL_F_NUMA_BALANCING, or change the mode"}
	}
	mp.Mode |= flags
	return mp, nil
}

// procAttrs checks the process attributes above (field "process").
func (v *validator) procAttrs(p *specs.Process) {
	if _, err := SchedAttr("process.scheduler", p.Scheduler); err != nil {
		v.errs = append(v.errs, err)
	}
	if _, err := IOPriority("process.ioPriority", p.IOPriority); err != nil {
		v.errs = append(v.errs, err)
	}
	if a := p.ExecCPUAffinity; a != nil {
		if _, err := CPUAffinity("process.execCPUAffinity.initial", a.Initial); err != nil {
			v.errs = append(v.errs, err)
		}
		if _, err := CPUAffinity("process.execCPUAffinity.final", a.Final); err != nil {
			v.errs = append(v.errs, err)
		}
	}
}

// ValidateExec checks a process to exec into a running container (process.json,
// or the container's process changed by exec's flags) the way create checks the
// container's own: the same fields refused with the same texts, so nothing create
// would refuse is dropped by exec.
func ValidateExec(p *specs.Process) error {
	v := &validator{}
	v.lsm(p)
	v.procAttrs(p)
	if len(v.errs) > 0 {
		return v.errs[0]
	}
	return nil
}
