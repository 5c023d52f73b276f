// Package devices turns linux.resources.devices into the eBPF program that
// enforces it on cgroup v2, where the device controller of v1 is gone and a
// BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup decides every
// open and mknod of a device node instead.
//
// Semantics: the rules are read in the listed order and, for every access bit
// (r, w, m) the request asks for, the last rule that matches the device and
// names that bit decides it. A request is allowed only if every bit it asks
// for is allowed; a bit no rule mentions is denied. A request for no bit
// (access(2) with F_OK) is decided by the last rule that matches the device. This is what the v1
// controller does with the same list written in the same order, without its
// quirks (v1 cannot punch a hole into a wildcard exception).
package devices

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// Access bits and device types as the kernel passes them in
// bpf_cgroup_dev_ctx.access_type: (access << 16) | type.
const (
	accMknod = 1 << 0
	accRead  = 1 << 1
	accWrite = 1 << 2
	accAll   = accMknod | accRead | accWrite

	devBlock = 1 << 0
	devChar  = 1 << 1
)

// DefaultRules are the rules runc appends to every container's device list:
// mknod of any device node, and read/write/mknod of /dev/null, random, full,
// tty, zero, urandom, the devpts ptys (136:*) and /dev/ptmx (5:2). Because
// they come last and the last matching rule wins, a config cannot deny them;
// that is runc's behaviour and containers in the wild depend on it.
//
// /dev/console (5:1) is deliberately absent, as it is in runc: a container's
// /dev/console is a bind mount of its pty (136:*), and 5:1 is the host's
// console.
func DefaultRules() []specs.LinuxDeviceCgroup {
	dev := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		dev("c", -1, -1, "m"),
		dev("b", -1, -1, "m"),
		dev("c", 1, 3, "rwm"),    // null
		dev("c", 1, 8, "rwm"),    // random
		dev("c", 1, 7, "rwm"),    // full
		dev("c", 5, 0, "rwm"),    // tty
		dev("c", 1, 5, "rwm"),    // zero
		dev("c", 1, 9, "rwm"),    // urandom
		dev("c", 136, -1, "rwm"), // pts
		dev("c", 5, 2, "rwm"),    // ptmx
	}
}

// rule is a checked LinuxDeviceCgroup: typ is 0 for "a", major and minor are
// -1 for a wildcard.
type rule struct {
	allow        bool
	typ          int32
	major, minor int64
	access       int32
}

// Validate checks a rule list the way Program reads it and names the first
// bad member as linux.resources.devices[i].<member>.
func Validate(rules []specs.LinuxDeviceCgroup) error {
	_, err := parse(rules)
	return err
}

// ruleError is a problem with one member (type, major, minor, access) of a
// rule; parse adds where the rule is.
type ruleError struct{ member, msg string }

func parse(rules []specs.LinuxDeviceCgroup) ([]rule, error) {
	out := make([]rule, 0, len(rules))
	for i, r := range rules {
		c, err := parseRule(r)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d].%s: %s", i, err.member, err.msg)
		}
		out = append(out, c)
	}
	return out, nil
}

func parseRule(r specs.LinuxDeviceCgroup) (rule, *ruleError) {
	c := rule{allow: r.Allow, major: -1, minor: -1}
	switch r.Type {
	case "", "a":
	case "c":
		c.typ = devChar
	case "b":
		c.typ = devBlock
	default:
		return rule{}, &ruleError{"type", fmt.Sprintf("%s is not one of a, c, b", clip.Quote(r.Type))}
	}
	var err error
	if c.major, err = number("major", r.Major); err != nil {
		return rule{}, &ruleError{"major", err.Error()}
	}
	if c.minor, err = number("minor", r.Minor); err != nil {
		return rule{}, &ruleError{"minor", err.Error()}
	}
	// The spec gives access no default. Reading an unset one as "rwm" made
	// {"allow": true} a rule that allows every device, so it is refused, for
	// deny rules as well: runc 1.5 refuses an empty access in every rule
	// ("device access at N field cannot be empty"), and JSON cannot tell an
	// omitted access from "".
	if r.Access == "" {
		return rule{}, &ruleError{"access", `missing: a rule must say which accesses it allows or denies; ` +
			`set it to r (read), w (write), m (mknod) or a combination, e.g. "rwm"`}
	}
	for _, ch := range r.Access {
		switch ch {
		case 'r':
			c.access |= accRead
		case 'w':
			c.access |= accWrite
		case 'm':
			c.access |= accMknod
		default:
			return rule{}, &ruleError{"access", fmt.Sprintf("%s: %q is not one of r, w, m", clip.Quote(r.Access), ch)}
		}
	}
	return c, nil
}

// number reads a major or minor: nil and -1 are the wildcard (runc writes -1
// for "*").
func number(name string, p *int64) (int64, error) {
	if p == nil || *p == -1 {
		return -1, nil
	}
	if *p < 0 {
		return 0, fmt.Errorf("%s %d is negative (use -1 or leave it out for any)", name, *p)
	}
	return *p, nil
}

// Program compiles rules into the instructions of a CGROUP_DEVICE program.
//
// What the rules decide for a device depends only on which of them match it, so
// the decisions are worked out here (decide) and the program only classifies the
// device: a tree of comparisons of its type, major and minor with the numbers the
// rules name, each leaf a jump to the code of its outcome. The kernel's verifier
// walks every path of a program: the tree has a path per leaf and the outcomes'
// code is checked once, where the rule-by-rule program (sequential), which
// carries the undecided bits from rule to rule, gave it hundreds of states to
// tell apart (1.6-2 ms of bpf() for Docker's default rules here, 0.6 ms for the
// default rules alone, against 0.1 ms for the tree), and more than its limit of
// a million instructions for 100 majors and 100 wildcard-major minors, which
// make a tree of 10,000 leaves. Only a tree too long for the 16-bit offsets of
// its jumps to the outcomes gets the sequential program instead.
func Program(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	parsed, err := parse(rules)
	if err != nil {
		return nil, err
	}
	// Device numbers are 32-bit in the context (12 and 20 bits in practice): a rule
	// naming a larger one can never match, and leaving it out keeps every immediate
	// a positive int32.
	parsed = slices.DeleteFunc(parsed, func(r rule) bool {
		return r.major > math.MaxInt32 || r.minor > math.MaxInt32
	})
	// asm's encoding truncates an offset that does not fit without a word.
	if t := tree(parsed); len(t) < math.MaxInt16 {
		return t, nil
	}
	return sequential(parsed), nil
}

// prologue loads the context: R2 access_type, R3 device type, R4 the access bits
// asked for, R5 major, R6 minor. There are no calls, so R1-R5 survive.
func prologue() asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.Mov.Reg(asm.R3, asm.R2),
		asm.And.Imm(asm.R3, 0xffff),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.RSh.Imm(asm.R4, 16),
		asm.LoadMem(asm.R5, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R6, asm.R1, 8, asm.Word),
	}
}

// outcome is what the rules decide for a device: the access bits allowed, and
// whether the last rule that matches it allows, which decides a request for no
// bit (access(2) with F_OK, which the kernel checks with an empty mask), as
// runc's filter and the v1 controller decide it: found, not denied.
type outcome struct {
	allowed int32
	found   bool
}

// other is a device type or number that no rule names: only wildcards match it.
const other = -2

// decide is the outcome of rules for the device typ major:minor, any of which
// may be other: for each access bit, the last matching rule that names it.
func decide(rules []rule, typ int32, major, minor int64) outcome {
	var o outcome
	for _, r := range rules {
		if (r.typ != 0 && r.typ != typ) || (r.major >= 0 && r.major != major) || (r.minor >= 0 && r.minor != minor) {
			continue
		}
		if r.allow {
			o.allowed |= r.access
		} else {
			o.allowed &^= r.access
		}
		o.found = r.allow
	}
	return o
}

// minors is a leaf level of the tree: the outcome of each minor a rule names
// where it differs from that of any other minor (def).
type minors struct {
	nums []int64
	outs []outcome
	def  outcome
}

func (a *minors) equal(b *minors) bool {
	return a.def == b.def && slices.Equal(a.nums, b.nums) && slices.Equal(a.outs, b.outs)
}

// majors is a device type's level: the minors of each major a rule names where
// they differ from those of any other major (def).
type majors struct {
	nums []int64
	subs []*minors
	def  *minors
}

func (a *majors) equal(b *majors) bool {
	return a.def.equal(b.def) && slices.Equal(a.nums, b.nums) &&
		slices.EqualFunc(a.subs, b.subs, (*minors).equal)
}

// named lists, sorted and once each, the numbers (num: a rule's major or minor)
// of the rules that match.
func named(rules []rule, match func(rule) bool, num func(rule) int64) []int64 {
	var out []int64
	for _, r := range rules {
		if match(r) && num(r) >= 0 {
			out = append(out, num(r))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func typeMatches(r rule, typ int32) bool { return r.typ == 0 || r.typ == typ }

func minorLevel(rules []rule, typ int32, major int64) *minors {
	m := &minors{def: decide(rules, typ, major, other)}
	nums := named(rules, func(r rule) bool {
		return typeMatches(r, typ) && (r.major < 0 || r.major == major)
	}, func(r rule) int64 { return r.minor })
	for _, n := range nums {
		if o := decide(rules, typ, major, n); o != m.def {
			m.nums, m.outs = append(m.nums, n), append(m.outs, o)
		}
	}
	return m
}

func majorLevel(rules []rule, typ int32) *majors {
	m := &majors{def: minorLevel(rules, typ, other)}
	nums := named(rules, func(r rule) bool { return typeMatches(r, typ) }, func(r rule) int64 { return r.major })
	for _, n := range nums {
		if sub := minorLevel(rules, typ, n); !sub.equal(m.def) {
			m.nums, m.subs = append(m.nums, n), append(m.subs, sub)
		}
	}
	return m
}

// tree is the program that classifies the device and jumps to the code of its
// outcome: R3 (type) against each type whose outcomes differ from those of a
// type no rule names, then R5 (major), then R6 (minor). Each block is placed
// after the jumps that lead to it, so that every label is on an instruction of
// its own and no instruction is unreachable (which the verifier refuses).
func tree(rules []rule) asm.Instructions {
	insns := prologue()
	var tails []outcome
	to := func(o outcome) string {
		if !slices.Contains(tails, o) {
			tails = append(tails, o)
		}
		return fmt.Sprintf("out%d_%t", o.allowed, o.found)
	}
	// emit appends b, its first instruction labelled sym if sym is not empty.
	emit := func(b asm.Instructions, sym string) {
		if sym != "" {
			b[0] = b[0].WithSymbol(sym)
		}
		insns = append(insns, b...)
	}
	emitMinors := func(m *minors, sym string) {
		var b asm.Instructions
		for i, n := range m.nums {
			b = append(b, asm.JEq.Imm(asm.R6, int32(n), to(m.outs[i])))
		}
		emit(append(b, asm.Ja.Label(to(m.def))), sym)
	}
	// name prefixes the labels of the majors' blocks; sym labels the first one.
	emitMajors := func(m *majors, name, sym string) {
		if len(m.nums) > 0 {
			var b asm.Instructions
			for i, n := range m.nums {
				b = append(b, asm.JEq.Imm(asm.R5, int32(n), fmt.Sprintf("%s_major%d", name, i)))
			}
			emit(b, sym)
			sym = ""
		}
		emitMinors(m.def, sym)
		for i, sub := range m.subs {
			emitMinors(sub, fmt.Sprintf("%s_major%d", name, i))
		}
	}
	def := majorLevel(rules, other)
	var types []int32
	var subs []*majors
	for _, typ := range []int32{devChar, devBlock} {
		if sub := majorLevel(rules, typ); !sub.equal(def) {
			types, subs = append(types, typ), append(subs, sub)
			insns = append(insns, asm.JEq.Imm(asm.R3, typ, fmt.Sprintf("type%d", typ)))
		}
	}
	emitMajors(def, "any", "")
	for i, typ := range types {
		name := fmt.Sprintf("type%d", typ)
		emitMajors(subs[i], name, name)
	}
	// The outcomes' code: a request for no bit is allowed if found; any other
	// if it asks for no bit outside allowed (an access bit this code does not
	// know is never allowed). Tails may add the deny outcome while this runs.
	deny := outcome{}
	for i := 0; i < len(tails); i++ {
		o := tails[i]
		var b asm.Instructions
		if o == deny {
			emit(asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}, to(o))
			continue
		}
		if !o.found {
			b = append(b, asm.JEq.Imm(asm.R4, 0, to(deny)))
		}
		if o.allowed != 0 {
			b = append(b, asm.And.Imm(asm.R4, ^o.allowed))
		}
		b = append(b, asm.JNE.Imm(asm.R4, 0, to(deny)), asm.Mov.Imm(asm.R0, 1), asm.Return())
		emit(b, to(o))
	}
	return insns
}

// sequential is the program that walks the rules from last to first, keeping
// the access bits not yet decided in R4: a matching deny rule that names an
// undecided bit denies; a matching allow rule decides its bits, and allows
// once none are left. Falling off the end denies.
func sequential(rules []rule) asm.Instructions {
	insns := prologue()
	blocks := slices.Clone(rules)
	slices.Reverse(blocks)
	for i, r := range blocks {
		next := "deny"
		if i+1 < len(blocks) {
			next = fmt.Sprintf("rule%d", i+1)
		}
		var b asm.Instructions
		if r.typ != 0 {
			b = append(b, asm.JNE.Imm(asm.R3, r.typ, next))
		}
		if r.major >= 0 {
			b = append(b, asm.JNE.Imm(asm.R5, int32(r.major), next))
		}
		if r.minor >= 0 {
			b = append(b, asm.JNE.Imm(asm.R6, int32(r.minor), next))
		}
		// A request for no access bit (access(2) with F_OK, which the kernel
		// checks with an empty mask) is decided by the last matching rule, as
		// runc's filter and the v1 controller decide it: found, not denied.
		decide := asm.Mov.Imm(asm.R0, 0)
		if r.allow {
			decide = asm.Mov.Imm(asm.R0, 1)
		}
		acc := fmt.Sprintf("acc%d", i)
		b = append(b,
			asm.JNE.Imm(asm.R4, 0, acc),
			decide,
			asm.Return(),
			asm.Mov.Reg(asm.R7, asm.R4).WithSymbol(acc),
			asm.And.Imm(asm.R7, r.access),
			asm.JEq.Imm(asm.R7, 0, next),
		)
		if r.allow {
			b = append(b,
				// Bits the kernel does not define stay undecided: denied.
				asm.And.Imm(asm.R4, ^r.access),
				asm.JNE.Imm(asm.R4, 0, next),
				asm.Mov.Imm(asm.R0, 1),
				asm.Return(),
			)
		} else {
			b = append(b, asm.Mov.Imm(asm.R0, 0), asm.Return())
		}
		b[0] = b[0].WithSymbol(fmt.Sprintf("rule%d", i))
		insns = append(insns, b...)
	}
	return append(insns, asm.Mov.Imm(asm.R0, 0).WithSymbol("deny"), asm.Return())
}

// ProgramName is the kernel name of the programs Load makes, which is what
// bpftool shows for them.
const ProgramName = "hull_devices"

// Load compiles rules and loads the program into the kernel. The caller
// closes the program once it is attached.
//
// The load is one raw bpf(BPF_PROG_LOAD): cilium/ebpf's NewProgram first runs
// feature probes (a map create and program loads), per process, which every
// `hull create` would pay for a program that needs none of those features.
func Load(rules []specs.LinuxDeviceCgroup) (*ebpf.Program, error) {
	insns, err := Program(rules)
	if err != nil {
		return nil, err
	}
	// cilium/ebpf recognises the two byte orders by identity, not NativeEndian.
	var order binary.ByteOrder = binary.LittleEndian
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		order = binary.BigEndian
	}
	var code bytes.Buffer
	if err := insns.Marshal(&code, order); err != nil {
		return nil, fmt.Errorf("load device filter: encode: %w", err)
	}
	fd, err := progLoad(code.Bytes(), nil)
	if err != nil {
		// Again with the verifier's log, which says why.
		log := make([]byte, 64<<10)
		lfd, lerr := progLoad(code.Bytes(), log)
		if lerr != nil {
			// A full buffer (ENOSPC) has no NUL: keep what fitted.
			n := bytes.IndexByte(log, 0)
			if n < 0 {
				n = len(log)
			}
			if msg := string(bytes.TrimRight(log[:n], "\n")); msg != "" {
				return nil, fmt.Errorf("load device filter: %w: %s", err, msg)
			}
			return nil, fmt.Errorf("load device filter: %w", err)
		}
		// The first failure was transient: use this load rather than leak it.
		fd = lfd
	}
	// On failure NewProgramFromFD has closed fd itself; closing it again here could
	// close a descriptor another goroutine has opened since.
	prog, err := ebpf.NewProgramFromFD(fd)
	if err != nil {
		return nil, fmt.Errorf("load device filter: %w", err)
	}
	return prog, nil
}

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// expected_attach_type.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [unix.BPF_OBJ_NAME_LEN]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// license: the program calls no helper, so no GPL-only symbol is involved.
var license = []byte("Apache-2.0\x00")

func progLoad(code, log []byte) (int, error) {
	// attr holds code and log as plain integers, which neither the GC nor a stack
	// copy sees: pinning keeps them on the heap (log would otherwise live on Load's
	// stack, which may move before a retried call) and in place until the call ends.
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&code[0])
	attr := progLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:            uint32(len(code) / asm.InstructionSize),
		insns:              uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], ProgramName)
	if len(log) > 0 {
		pin.Pin(&log[0])
		attr.logLevel = 1
		attr.logSize = uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	}
	for {
		fd, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		// The verifier gives up with EAGAIN when interrupted; cilium/ebpf retries too.
		if errno == unix.EINTR || errno == unix.EAGAIN {
			continue
		}
		if errno != 0 {
			return -1, os.NewSyscallError("bpf BPF_PROG_LOAD", errno)
		}
		// The kernel makes every bpf() fd close-on-exec.
		return int(fd), nil
	}
}

// Replace attaches prog to the cgroup open at cgroupFD and then detaches
// every other device program attached directly to that cgroup. Programs are
// attached with BPF_F_ALLOW_MULTI, where all of them must allow an access,
// so while both are attached the cgroup gets at most what both allow, and at
// no moment is it without a filter.
//
// cgroupFD must be an O_RDONLY (not O_PATH) descriptor of the cgroup
// directory: older kernels look the target up with fdget, which refuses
// O_PATH descriptors.
func Replace(cgroupFD int, prog *ebpf.Program) error {
	old, err := Attached(cgroupFD)
	if err != nil {
		return err
	}
	err = link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  cgroupFD,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	})
	if err != nil {
		return fmt.Errorf("attach device filter: %w", err)
	}
	// A new cgroup has nothing to replace: skip the program info lookup, which costs
	// cilium/ebpf a feature probe (a program load) in every fresh hull process.
	if len(old) == 0 {
		return nil
	}
	info, err := prog.Info()
	if err != nil {
		return fmt.Errorf("device filter info: %w", err)
	}
	newID, _ := info.ID()
	var errs []error
	for _, id := range old {
		if id == newID {
			continue
		}
		if err := detach(cgroupFD, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Attached lists the IDs of the device programs attached directly to the
// cgroup open at cgroupFD (not those inherited from its ancestors).
func Attached(cgroupFD int) ([]ebpf.ProgramID, error) {
	res, err := link.QueryPrograms(link.QueryOptions{Target: cgroupFD, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return nil, fmt.Errorf("list device filters: %w", err)
	}
	ids := make([]ebpf.ProgramID, 0, len(res.Programs))
	for _, p := range res.Programs {
		ids = append(ids, p.ID)
	}
	return ids, nil
}

func detach(cgroupFD int, id ebpf.ProgramID) error {
	prog, err := ebpf.NewProgramFromID(id)
	if err != nil {
		// Detached and freed since the query: nothing left to do.
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("open device filter %d: %w", id, err)
	}
	defer prog.Close()
	err = link.RawDetachProgram(link.RawDetachProgramOptions{
		Target:  cgroupFD,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
	})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("detach device filter %d: %w", id, err)
	}
	return nil
}
