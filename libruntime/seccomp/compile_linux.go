package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

const root = "linux.seccomp"

// maxArgs is the number of syscall arguments seccomp can inspect.
const maxArgs = 6

// Limits on the 16-bit data of a seccomp return value: the kernel clamps
// SECCOMP_RET_ERRNO to MAX_ERRNO (4095), but libseccomp 2.5 refuses 4095 itself
// (EINVAL, reported as an unrelated message), so 4094 is the largest that works;
// SECCOMP_RET_TRACE passes all 16 bits to the tracer.
const (
	maxErrno      = 4094
	maxTraceValue = 0xffff
)

var actions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	// libseccomp's SCMP_ACT_KILL has always meant killing the thread.
	specs.ActKill:        libseccomp.ActKillThread,
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
	specs.ActNotify:      libseccomp.ActNotify,
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// arch pairs libseccomp's token with the AUDIT_ARCH_* value the kernel puts in
// seccomp_data.arch, which the ENOSYS stub compares against.
type arch struct {
	scmp  libseccomp.ScmpArch
	audit uint32
}

var archs = map[specs.Arch]arch{
	specs.ArchX86:         {libseccomp.ArchX86, unix.AUDIT_ARCH_I386},
	specs.ArchX86_64:      {libseccomp.ArchAMD64, unix.AUDIT_ARCH_X86_64},
	specs.ArchX32:         {libseccomp.ArchX32, unix.AUDIT_ARCH_X86_64}, // x32 is x86_64 with bit 30 set in the syscall number
	specs.ArchARM:         {libseccomp.ArchARM, unix.AUDIT_ARCH_ARM},
	specs.ArchAARCH64:     {libseccomp.ArchARM64, unix.AUDIT_ARCH_AARCH64},
	specs.ArchMIPS:        {libseccomp.ArchMIPS, unix.AUDIT_ARCH_MIPS},
	specs.ArchMIPS64:      {libseccomp.ArchMIPS64, unix.AUDIT_ARCH_MIPS64},
	specs.ArchMIPS64N32:   {libseccomp.ArchMIPS64N32, unix.AUDIT_ARCH_MIPS64N32},
	specs.ArchMIPSEL:      {libseccomp.ArchMIPSEL, unix.AUDIT_ARCH_MIPSEL},
	specs.ArchMIPSEL64:    {libseccomp.ArchMIPSEL64, unix.AUDIT_ARCH_MIPSEL64},
	specs.ArchMIPSEL64N32: {libseccomp.ArchMIPSEL64N32, unix.AUDIT_ARCH_MIPSEL64N32},
	specs.ArchPPC:         {libseccomp.ArchPPC, unix.AUDIT_ARCH_PPC},
	specs.ArchPPC64:       {libseccomp.ArchPPC64, unix.AUDIT_ARCH_PPC64},
	specs.ArchPPC64LE:     {libseccomp.ArchPPC64LE, unix.AUDIT_ARCH_PPC64LE},
	specs.ArchS390:        {libseccomp.ArchS390, unix.AUDIT_ARCH_S390},
	specs.ArchS390X:       {libseccomp.ArchS390X, unix.AUDIT_ARCH_S390X},
	specs.ArchPARISC:      {libseccomp.ArchPARISC, unix.AUDIT_ARCH_PARISC},
	specs.ArchPARISC64:    {libseccomp.ArchPARISC64, unix.AUDIT_ARCH_PARISC64},
	specs.ArchRISCV64:     {libseccomp.ArchRISCV64, unix.AUDIT_ARCH_RISCV64},
	specs.ArchLOONGARCH64: {libseccomp.ArchLOONGARCH64, unix.AUDIT_ARCH_LOONGARCH64},
	specs.ArchM68K:        {libseccomp.ArchM68K, unix.AUDIT_ARCH_M68K},
	// libseccomp's SH is the little-endian ABI, SHEB the big-endian one.
	specs.ArchSH:   {libseccomp.ArchSH, unix.AUDIT_ARCH_SHEL},
	specs.ArchSHEB: {libseccomp.ArchSHEB, unix.AUDIT_ARCH_SH},
}

// flagTSYNC is accepted for runc compatibility and has no effect (see Load).
const flagTSYNC specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

var flags = map[specs.LinuxSeccompFlag]uintptr{
	flagTSYNC:                              0,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// notifyForbidden are syscalls that may not use SCMP_ACT_NOTIFY: after loading the
// filter, init writes the listener's number to its parent and exec's process sends the
// listener itself (sendmsg); notifying either would wait for an agent that cannot have
// the fd yet.
var notifyForbidden = []string{"write", "sendmsg"}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

// compiled is a profile built into a libseccomp filter, plus what loading it
// needs besides the BPF libseccomp generates.
type compiled struct {
	filter *libseccomp.ScmpFilter
	flags  uintptr // for seccomp(2), NEW_LISTENER included
	enosys bool    // prepend the ENOSYS stub
	archs  []arch  // architectures in the filter, native first
	names  []string
}

func (c *compiled) release() { c.filter.Release() }

func fieldf(format string, a ...any) string { return root + "." + fmt.Sprintf(format, a...) }

// compile checks s and builds its libseccomp filter. On error nothing is left
// allocated.
func compile(s *specs.LinuxSeccomp) (c *compiled, warnings []string, err error) {
	if err := checkStatic(s); err != nil {
		return nil, nil, err
	}
	defAct := toAction(s.DefaultAction, s.DefaultErrnoRet)
	filter, err := libseccomp.NewFilter(defAct)
	if err != nil {
		return nil, nil, &Error{Field: fieldf("defaultAction"), Msg: "libseccomp refused it: " + err.Error(), Err: err}
	}
	c = &compiled{filter: filter}
	defer func() {
		if err != nil {
			filter.Release()
		}
	}()

	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return nil, nil, &Error{Field: fieldf("architectures"), Msg: "cannot tell the native architecture: " + err.Error(), Err: err}
	}
	for _, a := range archs {
		if a.scmp == native {
			c.archs = append(c.archs, a)
		}
	}
	// Architectures go in before rules: libseccomp applies a rule only to the
	// architectures present when it is added.
	for i, name := range s.Architectures {
		a := archs[name]
		if slices.Contains(c.archs, a) {
			continue
		}
		if err := filter.AddArch(a.scmp); err != nil {
			e := &Error{Field: fieldf("architectures[%d]", i), Msg: fmt.Sprintf("libseccomp cannot add %s: %v", name, err), Err: err}
			if errors.Is(err, unix.EDOM) {
				e.Msg = fmt.Sprintf("%s has another byte order than the native %s", name, native)
				e.Fix = "remove it: one filter holds architectures of one byte order"
			}
			return nil, nil, e
		}
		c.archs = append(c.archs, a)
	}

	for _, fl := range s.Flags {
		c.flags |= flags[fl]
	}

	// libseccomp's binary tree of syscalls pays off on long profiles (and
	// misbehaves on empty ones before 2.5.5); runc uses the same threshold.
	rules := 0
	for _, sc := range s.Syscalls {
		rules += len(sc.Names)
	}
	if rules > 32 {
		_ = filter.SetOptimize(2) // an older libseccomp just builds the linear filter
	}

	// added remembers the unconditional rules given to libseccomp, which
	// silently keeps the first of two that conflict: that deserves a warning.
	type rule struct {
		act   libseccomp.ScmpAction
		field string
	}
	added := map[string]rule{}
	for i, sc := range s.Syscalls {
		act := toAction(sc.Action, sc.ErrnoRet)
		if act == libseccomp.ActNotify {
			c.flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		conds, split, err := conditions(i, sc.Args)
		if err != nil {
			return nil, nil, err
		}
		for j, a := range sc.Args {
			if a.ValueTwo != 0 && a.Op != specs.OpMaskedEqual {
				warnings = append(warnings, fmt.Sprintf("%s: valueTwo is only used by SCMP_CMP_MASKED_EQ; ignored with %s", fieldf("syscalls[%d].args[%d].valueTwo", i, j), a.Op))
			}
		}
		for j, name := range sc.Names {
			c.names = append(c.names, name)
			field := fieldf("syscalls[%d].names[%d]", i, j)
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("%s: unknown syscall %s skipped (not known to libseccomp %s)", field, clip.Quote(name), libVersion()))
				continue
			}
			if len(conds) == 0 {
				if r, ok := added[name]; ok && r.act != act {
					warnings = append(warnings, fmt.Sprintf("%s: %q already has its action from %s; libseccomp keeps that one", field, name, r.field))
					continue
				}
			}
			// libseccomp refuses a rule that repeats the default action; such a
			// rule changes nothing, but its name still counts for the ENOSYS stub.
			if act == defAct {
				continue
			}
			if err := addRule(filter, nr, act, conds, split); err != nil {
				return nil, nil, &Error{Field: field, Msg: fmt.Sprintf("libseccomp refused the rule for %q: %v", name, err), Err: err}
			}
			if len(conds) == 0 {
				added[name] = rule{act, field}
			}
		}
	}
	// runc's stub rules: a permissive default needs no ENOSYS (and a tracer
	// handles new syscalls itself), nor does a default that already is ENOSYS.
	switch s.DefaultAction {
	case specs.ActAllow, specs.ActLog, specs.ActTrace:
	default:
		c.enosys = s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != uint(unix.ENOSYS)
	}
	return c, warnings, nil
}

// addRule adds one syscall's rule. Conditions on distinct arguments form one
// rule (all must match); split, set when two conditions test the same argument,
// adds one rule per condition (any may match), as runc does, because libseccomp
// refuses two comparisons of one argument in one rule.
func addRule(f *libseccomp.ScmpFilter, nr libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition, split bool) error {
	if len(conds) == 0 {
		return f.AddRule(nr, act)
	}
	if !split {
		return f.AddRuleConditional(nr, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(nr, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

func conditions(i int, args []specs.LinuxSeccompArg) (conds []libseccomp.ScmpCondition, split bool, err error) {
	var seen [maxArgs]bool
	for j, a := range args {
		op := operators[a.Op]
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, false, &Error{Field: fieldf("syscalls[%d].args[%d]", i, j), Msg: err.Error(), Err: err}
		}
		split = split || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	return conds, split, nil
}

// toAction maps an action and its errnoRet, both already checked.
func toAction(a specs.LinuxSeccompAction, errnoRet *uint) libseccomp.ScmpAction {
	act := actions[a]
	switch act {
	case libseccomp.ActErrno, libseccomp.ActTrace:
		ret := uint(unix.EPERM)
		if errnoRet != nil {
			ret = *errnoRet
		}
		act = act.SetReturnCode(int16(uint16(ret)))
	}
	return act
}

func libVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
