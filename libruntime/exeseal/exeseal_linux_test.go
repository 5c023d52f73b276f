package exeseal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func TestOverlayHandle(t *testing.T) {
	hulltest.RequireRoot(t)
	exe, _ := os.Readlink("/proc/self/exe")
	f, err := overlay(exe, t.TempDir())
	if err != nil {
		hulltest.HostLimit(t, "overlay not available here: %v; runs on kernels with overlayfs", err)
	}
	defer f.Close()
	assertSealed(t, f)
}

// TestOverlayNestedStateDir: with the empty directory inside the binary's own
// directory (hull in /tmp, --root /tmp/state), overlayfs refuses the layers; the
// handle must still be a zero-copy overlay, not the memfd copy.
func TestOverlayNestedStateDir(t *testing.T) {
	hulltest.RequireRoot(t)
	self, _ := os.Readlink("/proc/self/exe")
	dir := t.TempDir()
	exe := filepath.Join(dir, "hull")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "state", "c1", "exeseal")
	if err := os.MkdirAll(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if f, err := overlay(exe, empty); err == nil {
		f.Close()
		hulltest.HostLimit(t, "this kernel's overlayfs accepts nested layers: nothing to fall back from; runs on kernels that refuse them")
	}
	// Before Linux 6.15 a detached mount cannot be an overlayfs layer
	// (clone_private_mount: EINVAL); open then falls back to the memfd copy.
	if f, err := overlayOnTmpfs(exe); err != nil {
		hulltest.HostLimit(t, "overlay on a detached tmpfs not supported here: %v; runs on Linux 6.15 and later (this host)", err)
	} else {
		f.Close()
	}
	f, err := open(exe, empty, memfdCopy)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Name() != "hull (sealed overlay)" {
		t.Fatalf("handle is %q, want the overlay (no copy of the binary)", f.Name())
	}
	assertSealed(t, f)
}

// TestOverlayLayerCannotShadow: the second layer is the container's state directory,
// not an empty one; a file there named like the binary must not replace it.
func TestOverlayLayerCannotShadow(t *testing.T) {
	hulltest.RequireRoot(t)
	self, _ := os.Readlink("/proc/self/exe")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "hull")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	for name, content := range map[string]string{"hull": "#!/bin/sh\necho shadowed\n", "state.json": "{}"} {
		if err := os.WriteFile(filepath.Join(layer, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := overlay(bin, layer)
	if err != nil {
		hulltest.HostLimit(t, "overlay not available here: %v; runs on kernels with overlayfs", err)
	}
	defer f.Close()
	assertSealed(t, f)
}

func TestMemfdHandle(t *testing.T) {
	f, err := memfdCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assertSealed(t, f)
}

// assertSealed checks the handle refuses writes, has the same content as the binary,
// and can be executed (the test binary re-runs itself with -test.run=^$).
func assertSealed(t *testing.T, f *os.File) {
	t.Helper()
	p := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if fd, err := unix.Open(p, unix.O_RDWR, 0); err == nil {
		_, werr := unix.Pwrite(fd, []byte{0x7f}, 0)
		unix.Close(fd)
		if !errors.Is(werr, unix.EPERM) {
			t.Fatalf("write through the handle: %v, want EPERM", werr)
		}
	} else if !errors.Is(err, unix.EROFS) {
		t.Fatalf("open for writing: %v, want EROFS", err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sealed copy differs from the executable")
	}
	cmd := exec.Command(p, "-test.run=^$")
	cmd.ExtraFiles = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exec through the handle: %v\n%s", err, out)
	}
}
