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

// TestHooksSpec13: runtime-spec 1.3's lifecycle for failing hooks. A failing poststart
// hook fails start and stops the container; a failing poststop hook is a warning and
// the next one still runs; a failing prestart hook fails create, which destroys the
// container and then runs the poststop hooks.
func TestHooksSpec13(t *testing.T) {
	t.Parallel()
	sh := func(script string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
	}
	t.Run("poststart", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := baseSpec("sleep", "1001")
		s.Hooks = &specs.Hooks{Poststart: []specs.Hook{sh("echo poststart-said-no >&2; exit 2")}}
		h.writeSpec(s)
		mustExit(t, h.do("create", "--bundle", h.bundle, h.id), 0)
		r := h.do("start", h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, "poststart") {
			t.Fatalf("start with a failing poststart hook: %s; want a failure naming the hook", r)
		}
		h.waitStatus(h.id, "stopped", 10*time.Second)
	})
	t.Run("poststop", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mark := filepath.Join(t.TempDir(), "second-ran")
		s := baseSpec("true")
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{sh("exit 4"), sh("touch " + mark)}}
		h.writeSpec(s)
		mustExit(t, h.do("create", "--bundle", h.bundle, h.id), 0)
		r := h.do("delete", "--force", h.id)
		mustExit(t, r, 0)
		if !strings.Contains(r.stderr, "poststop hook #0") {
			t.Errorf("delete: no warning for the failing poststop hook: %s", r)
		}
		if _, err := os.Stat(mark); err != nil {
			t.Errorf("the poststop hook after the failing one did not run: %v", err)
		}
	})
	t.Run("prestart", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mark := filepath.Join(t.TempDir(), "poststop-ran")
		s := baseSpec("true")
		s.Hooks = &specs.Hooks{
			Prestart: []specs.Hook{sh("exit 5")},
			Poststop: []specs.Hook{sh("touch " + mark)},
		}
		h.writeSpec(s)
		r := h.do("create", "--bundle", h.bundle, h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, "prestart") {
			t.Fatalf("create with a failing prestart hook: %s; want a failure naming the hook", r)
		}
		if _, err := os.Stat(mark); err != nil {
			t.Errorf("the poststop hook did not run after the failed create: %v", err)
		}
		if r := h.do("state", h.id); r.exit == 0 {
			t.Errorf("the failed create left a container: %s", r)
		}
	})
}
