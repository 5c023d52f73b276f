//go:build linux

package tests

import (
	"os"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestSystemdCgroupFlag: --systemd-cgroup is accepted on every command; with it,
// cgroupsPath must be systemd's slice:prefix:name, as runc 1.5 requires ("expected
// cgroupsPath to be of format ..."), and on a host without systemd create fails
// saying so and how to fix it (runc: "systemd not running on this host"). Both
// leave nothing behind. The driver itself runs in the systemd guest.
func TestSystemdCgroupFlag(t *testing.T) {
	t.Parallel()
	t.Run("no-systemd-here", func(t *testing.T) {
		t.Parallel()
		if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
			hulltest.HostLimit(t, "systemd runs on this host; the driver's tests (TestSystemdDriver) run here instead")
		}
		h := newHarness(t)
		s := baseSpec("true")
		s.Linux.CgroupsPath = "system.slice:hull:" + h.id
		h.writeSpec(s)
		r := h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
		if r.exit == 0 {
			t.Fatalf("create with the systemd driver on a host without systemd succeeded: %s", r)
		}
		if !strings.Contains(r.stderr, "systemd is not running on this host") || !strings.Contains(r.stderr, "drop --systemd-cgroup") {
			t.Fatalf("error does not say systemd is not running and how to do without: %s", r)
		}
		if out := h.do("--systemd-cgroup", "list", "-q"); out.exit != 0 || strings.TrimSpace(readFile(out.stdoutPath)) != "" {
			t.Fatalf("list after the failed create: %s", out)
		}
	})
	t.Run("cgroupfs-path-refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := baseSpec("sh", "-c", "exit 4")
		h.writeSpec(s)
		r := h.do("--systemd-cgroup", "run", "--bundle", h.bundle, h.id)
		if r.exit == 0 || r.exit == 4 {
			t.Fatalf("--systemd-cgroup with a cgroupfs path ran: %s", r)
		}
		if !strings.Contains(r.stderr, "linux.cgroupsPath") || !strings.Contains(r.stderr, "slice:prefix:name") || !strings.Contains(r.stderr, "drop --systemd-cgroup") {
			t.Fatalf("error does not name linux.cgroupsPath, the form and the fix: %s", r)
		}
		if out := h.do("list", "-q"); out.exit != 0 || strings.TrimSpace(readFile(out.stdoutPath)) != "" {
			t.Fatalf("list after the failed run: %s", out)
		}
	})
	t.Run("bad-slice-refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := baseSpec("true")
		s.Linux.CgroupsPath = "a--b.slice:hull:" + h.id
		h.writeSpec(s)
		r := h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, `slice \"a--b.slice\" has an empty part between dashes`) {
			t.Fatalf("a slice name systemd refuses: %s", r)
		}
	})
}
