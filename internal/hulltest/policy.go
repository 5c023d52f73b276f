package hulltest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// HostLimit skips t because this host cannot run it. The reason should say
// where the test does run ("runs in the cgroup v2 VM: make vm-test").
func HostLimit(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Skipf("host limit: "+format, args...)
}

// OnlyArch skips t on every architecture but goarch, saying why the test is
// bound to it (syscall numbers, a profile listing x86 only).
func OnlyArch(t testing.TB, goarch, why string) {
	t.Helper()
	if runtime.GOARCH != goarch {
		HostLimit(t, "%s; this is %s, the test runs on %s only", why, runtime.GOARCH, goarch)
	}
}

// Require fails t when err says that what, a precondition CI always has, is
// missing.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("missing precondition: %s: %v (CI always has it, so this is a failure, not a skip; see docs/DESIGN.md, Tests)", what, err)
	}
}

// RequireRoot fails t unless it runs as root, as make test does.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Require(t, "root", fmt.Errorf("euid is %d; run the tests as root", os.Geteuid()))
	}
}

// RequireTool fails t unless name is in PATH, and returns its path.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		err = fmt.Errorf("%w (Debian package %s; make deps)", err, pkg)
	}
	Require(t, name, err)
	return p
}

// Busybox is where the tests find busybox, which `make deps` installs
// (busybox-static).
const Busybox = "/bin/busybox"

// RequireBusybox fails t unless a static /bin/busybox is there, and returns its
// path.
func RequireBusybox(t testing.TB) string {
	t.Helper()
	Require(t, "a static "+Busybox, StaticBusybox())
	return Busybox
}

// StaticBusybox checks that /bin/busybox is there and statically linked: the
// rootfs and images the tests make of it have no libc.
func StaticBusybox() error {
	f, err := elf.Open(Busybox)
	if err != nil {
		return fmt.Errorf("need a static %s (apt-get install busybox-static, or `make deps`): %w", Busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New(Busybox + " is dynamically linked; install busybox-static (`make deps`)")
		}
	}
	return nil
}
