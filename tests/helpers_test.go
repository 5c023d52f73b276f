//go:build linux

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// The harness's own parsing and leftover detection, checked so that a broken
// helper cannot make the integration tests pass vacuously.

func TestHelperParseMountinfo(t *testing.T) {
	text := "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"37 36 0:5 / /a\\040b rw - tmpfs tmpfs rw,size=2048k\n" +
		"garbage line\n"
	got := parseMountinfo(text)
	want := []mountEntry{
		{dev: "98:0", root: "/mnt1", point: "/mnt/parent", opts: "rw,noatime", fstype: "ext3", source: "/dev/root", super: "rw,errors=continue"},
		{dev: "0:5", root: "/", point: "/a b", opts: "rw", fstype: "tmpfs", source: "tmpfs", super: "rw,size=2048k"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHelperCapMask(t *testing.T) {
	tests := []struct {
		caps []string
		want uint64
	}{
		{nil, 0},
		{[]string{"CAP_CHOWN"}, 1},
		// runc's default set, as the kernel prints it: 0000000020000420.
		{[]string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}, 0x20000420},
		{[]string{"CAP_CHECKPOINT_RESTORE"}, 1 << 40},
	}
	for _, tc := range tests {
		if got := capMask(t, tc.caps); got != tc.want {
			t.Errorf("capMask(%v) = %x, want %x", tc.caps, got, tc.want)
		}
	}
	if len(capNumbers) != 41 {
		t.Errorf("capNumbers has %d entries, want 41 (CAP_CHOWN..CAP_CHECKPOINT_RESTORE)", len(capNumbers))
	}
}

func TestHelperProcStatusAndSections(t *testing.T) {
	st := procStatus("Name:\tcat\nCapEff:\t0000000020000420\nGroups:\t10 65534 \nNoNewPrivs:\t1\n")
	for k, want := range map[string]string{"Name": "cat", "CapEff": "0000000020000420", "Groups": "10 65534", "NoNewPrivs": "1"} {
		if st[k] != want {
			t.Errorf("%s = %q, want %q", k, st[k], want)
		}
	}
	if got := sections("a\n@@\nb\n@@\n"); len(got) != 3 || got[0] != "a\n" || got[1] != "b\n" || got[2] != "" {
		t.Errorf("sections: %q", got)
	}
	if !containsAny("Container ID invalid", []string{"nope", "container id"}) || containsAny("x", []string{"y"}) {
		t.Error("containsAny")
	}
}

func TestHelperIDsAreValid(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+.-]*$`)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		id := newID(t)
		if !valid.MatchString(id) || len(id) > 64 || seen[id] {
			t.Errorf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

// TestHelperLeftoverDetection makes a mount and a process inside a fake
// bundle and checks the leftover scanners see them, and stop seeing them
// once they are gone.
func TestHelperLeftoverDetection(t *testing.T) {
	hulltest.RequireRoot(t) // to mount
	h := &harness{t: t, bundle: t.TempDir()}
	h.rootfs = filepath.Join(h.bundle, "rootfs")
	mnt := filepath.Join(h.rootfs, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}

	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	got := mountsUnder(h.bundle)
	_ = unix.Unmount(mnt, unix.MNT_DETACH)
	if len(got) != 1 || got[0] != mnt {
		t.Errorf("mountsUnder found %v, want [%s]", got, mnt)
	}
	if got := mountsUnder(h.bundle); len(got) != 0 {
		t.Errorf("mountsUnder after unmount: %v", got)
	}

	cmd := exec.Command("sleep", "30")
	cmd.Dir = mnt
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	procs := h.bundleProcesses()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(procs) != 1 || !strings.Contains(procs[0], "cwd "+mnt) {
		t.Errorf("bundleProcesses found %v, want the sleep with cwd %s", procs, mnt)
	}
	if procs := h.bundleProcesses(); len(procs) != 0 {
		t.Errorf("bundleProcesses after kill: %v", procs)
	}

	// A process pivoted into a bind mount of the rootfs in its own mount
	// namespace, like a container: its /proc/PID/root and cwd read "/" from
	// here, so only the inode comparison finds it.
	data, err := os.ReadFile(rootfsTmplBusybox())
	hulltest.Require(t, "busybox for the chroot case", err)
	if err := os.MkdirAll(filepath.Join(h.rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.rootfs, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.rootfs, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" "$1" && cd "$1" && pivot_root . old && exec /bin/busybox sh -c `+
			`'/bin/busybox umount -l /old && cd / && exec /bin/busybox sleep 30'`, "sh", h.rootfs)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	// Before the pivot the shell is found by its cwd, and for a moment the shell and
	// the pivoted busybox are both there: wait until the one process left is found by
	// its root inode.
	waitFor(10*time.Second, func() bool {
		procs = h.bundleProcesses()
		return len(procs) == 1 && strings.Contains(procs[0], "root is the bundle rootfs")
	})
	if len(procs) != 1 || !strings.Contains(procs[0], "root is the bundle rootfs") {
		t.Errorf("bundleProcesses found %v, want the pivoted sleep by its root inode", procs)
	}
	if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", cmd.Process.Pid)); inDir(link, h.bundle) {
		t.Errorf("the pivoted process's root reads %q: this case no longer tests the inode check", link)
	}
}

func rootfsTmplBusybox() string {
	if rootfsTmpl != "" {
		return filepath.Join(rootfsTmpl, "bin", "busybox")
	}
	p, err := findBusybox()
	if err != nil {
		return "/nonexistent"
	}
	return p
}
