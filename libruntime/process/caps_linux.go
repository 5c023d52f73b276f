package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"

	"github.com/hull-runtime/hull/internal/clip"
)

// capNames maps capability numbers to their names in capabilities(7).
var capNames = [...]string{
	unix.CAP_CHOWN:              "CAP_CHOWN",
	unix.CAP_DAC_OVERRIDE:       "CAP_DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH:    "CAP_DAC_READ_SEARCH",
	unix.CAP_FOWNER:             "CAP_FOWNER",
	unix.CAP_FSETID:             "CAP_FSETID",
	unix.CAP_KILL:               "CAP_KILL",
	unix.CAP_SETGID:             "CAP_SETGID",
	unix.CAP_SETUID:             "CAP_SETUID",
	unix.CAP_SETPCAP:            "CAP_SETPCAP",
	unix.CAP_LINUX_IMMUTABLE:    "CAP_LINUX_IMMUTABLE",
	unix.CAP_NET_BIND_SERVICE:   "CAP_NET_BIND_SERVICE",
	unix.CAP_NET_BROADCAST:      "CAP_NET_BROADCAST",
	unix.CAP_NET_ADMIN:          "CAP_NET_ADMIN",
	unix.CAP_NET_RAW:            "CAP_NET_RAW",
	unix.CAP_IPC_LOCK:           "CAP_IPC_LOCK",
	unix.CAP_IPC_OWNER:          "CAP_IPC_OWNER",
	unix.CAP_SYS_MODULE:         "CAP_SYS_MODULE",
	unix.CAP_SYS_RAWIO:          "CAP_SYS_RAWIO",
	unix.CAP_SYS_CHROOT:         "CAP_SYS_CHROOT",
	unix.CAP_SYS_PTRACE:         "CAP_SYS_PTRACE",
	unix.CAP_SYS_PACCT:          "CAP_SYS_PACCT",
	unix.CAP_SYS_ADMIN:          "CAP_SYS_ADMIN",
	unix.CAP_SYS_BOOT:           "CAP_SYS_BOOT",
	unix.CAP_SYS_NICE:           "CAP_SYS_NICE",
	unix.CAP_SYS_RESOURCE:       "CAP_SYS_RESOURCE",
	unix.CAP_SYS_TIME:           "CAP_SYS_TIME",
	unix.CAP_SYS_TTY_CONFIG:     "CAP_SYS_TTY_CONFIG",
	unix.CAP_MKNOD:              "CAP_MKNOD",
	unix.CAP_LEASE:              "CAP_LEASE",
	unix.CAP_AUDIT_WRITE:        "CAP_AUDIT_WRITE",
	unix.CAP_AUDIT_CONTROL:      "CAP_AUDIT_CONTROL",
	unix.CAP_SETFCAP:            "CAP_SETFCAP",
	unix.CAP_MAC_OVERRIDE:       "CAP_MAC_OVERRIDE",
	unix.CAP_MAC_ADMIN:          "CAP_MAC_ADMIN",
	unix.CAP_SYSLOG:             "CAP_SYSLOG",
	unix.CAP_WAKE_ALARM:         "CAP_WAKE_ALARM",
	unix.CAP_BLOCK_SUSPEND:      "CAP_BLOCK_SUSPEND",
	unix.CAP_AUDIT_READ:         "CAP_AUDIT_READ",
	unix.CAP_PERFMON:            "CAP_PERFMON",
	unix.CAP_BPF:                "CAP_BPF",
	unix.CAP_CHECKPOINT_RESTORE: "CAP_CHECKPOINT_RESTORE",
}

var capByName = func() map[string]int {
	m := make(map[string]int, len(capNames))
	for n, name := range capNames {
		m[name] = n
	}
	return m
}()

// CapFromName returns the number of the capability called name, such as
// "CAP_NET_ADMIN". Names are matched exactly, as runtime-spec writes them.
func CapFromName(name string) (int, error) {
	n, ok := capByName[name]
	if !ok {
		return 0, fmt.Errorf("unknown capability %s", clip.Quote(name))
	}
	return n, nil
}

// CapNames returns the names of the capabilities hull knows, by number (index n is
// capability n), for `hull features`.
func CapNames() []string { return capNames[:] }

func capName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return "capability " + strconv.Itoa(n)
}

// lastCap asks the kernel, never /proc/sys/kernel/cap_last_cap: exec's helper runs
// in the container's mount namespace, whose /proc the container may have mounted
// over, and a number too low there left every capability above it in the bounding
// set of the exec'd process (tests/security_execproc_test.go).
var lastCap = sync.OnceValue(probeLastCap)

// probeLastCap finds the last capability with PR_CAPBSET_READ, which fails with
// EINVAL past it: a binary search, six calls.
func probeLastCap() int {
	lo, hi := 0, 63 // lo is known, hi+1 is not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := prctlInt(unix.PR_CAPBSET_READ, uintptr(mid), 0, 0, 0); err != nil {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo
}

// LastCap returns the highest capability number the running kernel knows. The
// value is probed once and cached.
func LastCap() int {
	return lastCap()
}

// capSet has bit n set for capability n.
type capSet uint64

func (s capSet) has(n int) bool { return n >= 0 && n < 64 && s&(1<<uint(n)) != 0 }

// supportedCaps has every capability up to LastCap.
func supportedCaps() capSet {
	last := LastCap()
	if last >= 63 {
		return ^capSet(0)
	}
	return capSet(1)<<uint(last+1) - 1
}

// parseCaps turns the names of one config set into a capSet. Names hull does
// not know are left out: notGranted reports them, as config.md wants for any
// capability that cannot be mapped to the kernel.
func parseCaps(names []string) capSet {
	var s capSet
	for _, name := range names {
		if n, err := CapFromName(name); err == nil {
			s |= 1 << uint(n)
		}
	}
	return s
}

// NotGranted is one capability that had to be left out of one set.
type NotGranted struct {
	Field  string // JSON path of the set, e.g. "process.capabilities.permitted"
	Name   string // e.g. "CAP_SYS_RESOURCE"
	Reason string
}

// NotGrantedError lists capabilities that the config asks for but that
// cannot be granted here: the kernel does not know them, hull itself does not
// hold them, or the kernel's rules between the sets forbid them. The
// runtime-spec wants these logged as a warning rather than failing the
// container, so DropBounding and ApplyCaps leave them out, apply everything
// else, and only then return this error. Callers should detect it with
// errors.As, log it and carry on.
type NotGrantedError struct {
	Caps []NotGranted
}

func (e *NotGrantedError) Error() string {
	var b strings.Builder
	b.WriteString("capabilities not granted, left out of the container: ")
	for i, c := range e.Caps {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s (%s)", c.Field, c.Name, c.Reason)
	}
	return b.String()
}

// notGranted collects, in config order and without repeats, the names of
// a set that are missing from granted, and those hull does not know.
func notGranted(out []NotGranted, field string, names []string, granted capSet, reason func(n int) string) []NotGranted {
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		n, err := CapFromName(name)
		switch {
		case err != nil:
			out = append(out, NotGranted{Field: field, Name: clip.String(name), Reason: unknownName})
		case !granted.has(n):
			out = append(out, NotGranted{Field: field, Name: name, Reason: reason(n)})
		}
	}
	return out
}

const (
	unknownToKernel = "this kernel does not know it"
	unknownName     = "not a capability name hull knows"
)

// readBounding returns the calling thread's bounding set.
func readBounding() (capSet, error) {
	var s capSet
	last := LastCap()
	for n := 0; n <= last; n++ {
		in, err := prctlInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
		if err != nil {
			return 0, fmt.Errorf("read bounding set (%s): %w", capName(n), err)
		}
		if in == 1 {
			s |= 1 << uint(n)
		}
	}
	return s, nil
}

// DropBounding removes from the calling thread's bounding set every
// capability not listed in c.Bounding; a nil c empties the bounding set.
// Listed capabilities that hull's own bounding set lacks, or that the kernel
// does not know, are reported in a *NotGrantedError after the drop.
func DropBounding(c *specs.LinuxCapabilities) error {
	const field = "process.capabilities.bounding"
	var names []string
	if c != nil {
		names = c.Bounding
	}
	keep := parseCaps(names)
	last := LastCap()
	for n := 0; n <= last; n++ {
		if keep.has(n) {
			continue
		}
		in, err := prctlInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
		if err != nil {
			return fmt.Errorf("read bounding set (%s): %w", capName(n), err)
		}
		// Skipping capabilities already gone lets a runtime without
		// CAP_SETPCAP still succeed when there is nothing to drop.
		if in == 0 {
			continue
		}
		if err := prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("%s: drop %s: %w (dropping from the bounding set needs CAP_SETPCAP)", field, capName(n), err)
			}
			return fmt.Errorf("%s: drop %s: %w", field, capName(n), err)
		}
	}

	bset, err := readBounding()
	if err != nil {
		return err
	}
	missing := notGranted(nil, field, names, bset, func(n int) string {
		if n > last {
			return unknownToKernel
		}
		return "hull's own bounding set does not have it"
	})
	if len(missing) > 0 {
		return &NotGrantedError{Caps: missing}
	}
	return nil
}

type capState struct {
	eff, perm, inh capSet
}

func capHeader() *unix.CapUserHeader {
	// Pid 0 means the calling thread, which is the one that will execve.
	return &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
}

func capget() (capState, error) {
	var data [2]unix.CapUserData
	if err := linux.Capget(capHeader(), &data[0]); err != nil {
		return capState{}, os.NewSyscallError("capget", err)
	}
	join := func(lo, hi uint32) capSet { return capSet(lo) | capSet(hi)<<32 }
	return capState{
		eff:  join(data[0].Effective, data[1].Effective),
		perm: join(data[0].Permitted, data[1].Permitted),
		inh:  join(data[0].Inheritable, data[1].Inheritable),
	}, nil
}

func capset(s capState) error {
	data := [2]unix.CapUserData{
		{Effective: uint32(s.eff), Permitted: uint32(s.perm), Inheritable: uint32(s.inh)},
		{Effective: uint32(s.eff >> 32), Permitted: uint32(s.perm >> 32), Inheritable: uint32(s.inh >> 32)},
	}
	if err := linux.Capset(capHeader(), &data[0]); err != nil {
		return os.NewSyscallError("capset", err)
	}
	return nil
}

// ApplyCaps sets the calling thread's effective, permitted and inheritable
// capabilities (capset, version 3) and then its ambient set to exactly the
// sets in c; a nil c clears all four. Capabilities that cannot be granted
// (see NotGrantedError) are left out and reported after the rest is applied.
// It is meant to run after DropBounding and SetUser.
func ApplyCaps(c *specs.LinuxCapabilities) error {
	want, amb, ambientOK, missing, err := planCaps(c)
	if err != nil {
		return err
	}
	if err := capset(want); err != nil {
		return fmt.Errorf("process.capabilities: %w", err)
	}
	if ambientOK {
		if err := prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
			return fmt.Errorf("process.capabilities.ambient: clear: %w", err)
		}
	}
	for n := 0; n < 64; n++ {
		if !amb.has(n) {
			continue
		}
		if err := prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("process.capabilities.ambient: raise %s: %w", capName(n), err)
		}
	}
	return missing
}

// CapsPlan is what ApplyCaps sets, computed without setting it, for a process that
// applies it itself with raw syscalls (exec's final child, which has no Go runtime).
type CapsPlan struct {
	Data [2]unix.CapUserData // capset(2) version 3
	// Ambient are raised one by one after PR_CAP_AMBIENT_CLEAR_ALL, if ClearAmbient.
	Ambient      []uintptr
	ClearAmbient bool
}

// PlanCaps computes ApplyCaps' sets from the calling thread's current capabilities and
// bounding set, as they will be after SetUser (which keeps the permitted set). A
// *NotGrantedError comes with a valid plan: log it as a warning.
func PlanCaps(c *specs.LinuxCapabilities) (*CapsPlan, error) {
	want, amb, ambientOK, missing, err := planCaps(c)
	if err != nil {
		return nil, err
	}
	p := &CapsPlan{
		Data: [2]unix.CapUserData{
			{Effective: uint32(want.eff), Permitted: uint32(want.perm), Inheritable: uint32(want.inh)},
			{Effective: uint32(want.eff >> 32), Permitted: uint32(want.perm >> 32), Inheritable: uint32(want.inh >> 32)},
		},
		ClearAmbient: ambientOK,
	}
	for n := 0; n < 64; n++ {
		if amb.has(n) {
			p.Ambient = append(p.Ambient, uintptr(n))
		}
	}
	return p, missing
}

// planCaps computes the sets ApplyCaps grants, the ambient capabilities to raise,
// whether the kernel has an ambient set, and the capabilities left out.
func planCaps(c *specs.LinuxCapabilities) (want capState, amb capSet, ambientOK bool, missing error, err error) {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	const prefix = "process.capabilities."
	req := capState{eff: parseCaps(c.Effective), perm: parseCaps(c.Permitted), inh: parseCaps(c.Inheritable)}
	reqAmb := parseCaps(c.Ambient)

	cur, err := capget()
	if err != nil {
		return want, 0, false, nil, fmt.Errorf("process.capabilities: %w", err)
	}
	bset, err := readBounding()
	if err != nil {
		return want, 0, false, nil, fmt.Errorf("process.capabilities: %w", err)
	}
	supported := supportedCaps()

	// Grant only what capset(2) accepts, instead of letting one capability
	// the runtime cannot give fail the whole container: permitted can only
	// shrink, effective must be permitted, and inheritable may only gain
	// bounding-set capabilities that are permitted (any of them with
	// CAP_SETPCAP in effective).
	want.perm = req.perm & cur.perm & supported
	want.eff = req.eff & want.perm
	inhAllowed := cur.inh | bset&cur.perm
	if cur.eff.has(unix.CAP_SETPCAP) {
		inhAllowed = cur.inh | bset
	}
	want.inh = req.inh & inhAllowed & supported
	// The kernel raises an ambient capability only if it is both permitted
	// and inheritable.
	amb = reqAmb & want.perm & want.inh
	// Kernels before 4.3 have no ambient set and answer EINVAL.
	ambientOK = true
	if _, perr := prctlInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, 0, 0, 0); errors.Is(perr, unix.EINVAL) {
		ambientOK = false
		amb = 0
	}

	var left []NotGranted
	left = notGranted(left, prefix+"effective", c.Effective, want.eff, func(n int) string {
		switch {
		case !supported.has(n):
			return unknownToKernel
		case !req.perm.has(n):
			return "it is not in permitted"
		}
		return "hull does not hold it"
	})
	left = notGranted(left, prefix+"permitted", c.Permitted, want.perm, func(n int) string {
		if !supported.has(n) {
			return unknownToKernel
		}
		return "hull does not hold it"
	})
	left = notGranted(left, prefix+"inheritable", c.Inheritable, want.inh, func(n int) string {
		switch {
		case !supported.has(n):
			return unknownToKernel
		case !bset.has(n):
			return "it is not in the bounding set"
		}
		return "hull does not hold it"
	})
	left = notGranted(left, prefix+"ambient", c.Ambient, amb, func(n int) string {
		switch {
		case !supported.has(n):
			return unknownToKernel
		case !ambientOK:
			return "this kernel has no ambient capabilities"
		case !req.perm.has(n) || !req.inh.has(n):
			return "an ambient capability must also be permitted and inheritable"
		}
		return "it could not be made permitted and inheritable"
	})
	if len(left) > 0 {
		return want, amb, ambientOK, &NotGrantedError{Caps: left}, nil
	}
	return want, amb, ambientOK, nil, nil
}
