package seccomp

import (
	"errors"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Features describes seccomp support for `hull features`: the actions,
// operators and flags hull recognizes, the architectures the linked libseccomp
// knows, and the flags this kernel accepts.
func Features() *features.Seccomp {
	enabled := true
	var as []string
	for _, name := range sortedKeys(archs) {
		if archSupported(specs.Arch(name)) {
			as = append(as, name)
		}
	}
	return &features.Seccomp{
		Enabled:        &enabled,
		Actions:        sortedKeys(actions),
		Operators:      sortedKeys(operators),
		Archs:          as,
		KnownFlags:     sortedKeys(flags),
		SupportedFlags: supportedFlags(),
	}
}

// archSupported reports whether the linked libseccomp has a syscall table for
// the architecture: libseccomp-golang names architectures newer than the C
// library it is built against.
func archSupported(name specs.Arch) bool {
	a, ok := archs[name]
	if !ok {
		return false
	}
	_, err := libseccomp.GetSyscallFromNameByArch("read", a.scmp)
	return err == nil
}

// supportedFlags lists the known flags this kernel accepts, sorted. TSYNC is
// always supported since hull ignores it.
func supportedFlags() []string {
	var out []string
	for name, bit := range flags {
		if bit == 0 || kernelHasFlag(bit) {
			out = append(out, string(name))
		}
	}
	sort.Strings(out)
	return out
}

// kernelHasFlag asks seccomp(2) about a filter flag without loading anything:
// the kernel checks the flags before it reads the (here NULL) program, so a
// known flag fails with EFAULT and an unknown one with EINVAL. This is how
// libseccomp probes too.
func kernelHasFlag(bit uintptr) bool {
	// The kernel accepts WAIT_KILLABLE_RECV only together with NEW_LISTENER.
	if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
		bit |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, bit, 0)
	return errors.Is(errno, unix.EFAULT)
}
