//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestStartFailsAfterCreate: when init fails after `create` returned (the program
// vanished before start, a startContainer hook failed), `start` fails with the error
// and a non-zero status, and the container is stopped: never a start that exits 0 for
// a process that never ran.
func TestStartFailsAfterCreate(t *testing.T) {
	t.Parallel()
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// A copy of busybox that create resolves and start then finds gone.
		victim := filepath.Join(h.rootfs, "bin", "victim")
		data, err := os.ReadFile(filepath.Join(h.rootfs, "bin", "busybox"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(victim, data, 0o755); err != nil {
			t.Fatal(err)
		}
		h.writeSpec(baseSpec("/bin/victim", "true"))
		mustExit(t, h.do("create", "--bundle", h.bundle, h.id), 0)
		if err := os.Remove(victim); err != nil {
			t.Fatal(err)
		}
		r := h.do("start", h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, "exec /bin/victim") || !strings.Contains(r.stderr, "no such file") {
			t.Fatalf("start after the program vanished: exit %d, stderr %q; want a failure naming the exec", r.exit, r.stderr)
		}
		h.waitStatus(h.id, "stopped", 10*time.Second)
	})
	t.Run("startContainer-hook", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := baseSpec("true")
		s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-said-no >&2; exit 3"}}}}
		h.writeSpec(s)
		mustExit(t, h.do("create", "--bundle", h.bundle, h.id), 0)
		r := h.do("start", h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, "startContainer") {
			t.Fatalf("start with a failing startContainer hook: exit %d, stderr %q; want a failure naming the hook", r.exit, r.stderr)
		}
		h.waitStatus(h.id, "stopped", 10*time.Second)
	})
}
