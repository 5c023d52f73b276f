//go:build linux

package tests

import (
	"strings"
	"testing"
)

// TestSystemdCgroupFlag: --systemd-cgroup is accepted on every command (callers set up
// for systemd pass it everywhere); a systemd-style cgroupsPath, which only a systemd
// driver could honour, is refused clearly and leaves nothing; a cgroupfs path works.
func TestSystemdCgroupFlag(t *testing.T) {
	t.Parallel()
	t.Run("systemd-path-refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := baseSpec("true")
		s.Linux.CgroupsPath = "system.slice:hull:" + h.id
		h.writeSpec(s)
		r := h.do("--systemd-cgroup", "create", "--bundle", h.bundle, h.id)
		if r.exit == 0 {
			t.Fatalf("create with a systemd cgroupsPath succeeded: %s", r)
		}
		if !strings.Contains(r.stderr, "linux.cgroupsPath") || !strings.Contains(r.stderr, "not supported yet") {
			t.Fatalf("error does not name linux.cgroupsPath and say it is not supported: %s", r)
		}
		if out := h.do("--systemd-cgroup", "list", "-q"); out.exit != 0 || strings.TrimSpace(readFile(out.stdoutPath)) != "" {
			t.Fatalf("list after the failed create: %s", out)
		}
	})
	t.Run("cgroupfs-path-works", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		r := h.run(baseSpec("true"))
		mustExit(t, r, 0)
		s := baseSpec("sh", "-c", "exit 4")
		h.writeSpec(s)
		r = h.do("--systemd-cgroup", "run", "--bundle", h.bundle, h.id)
		mustExit(t, r, 4)
		if strings.Contains(r.stderr, "cgroup") {
			t.Fatalf("--systemd-cgroup with a cgroupfs path logged about cgroups: %s", r.stderr)
		}
	})
}
