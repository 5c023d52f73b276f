//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// hostTmpfs mounts a private tmpfs with flags at a new directory and unmounts it
// at cleanup.
func hostTmpfs(t *testing.T, flags uintptr) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("hulltest", dir, "tmpfs", flags, "size=64k,mode=755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hostMounts is the host's mount table as "mount point: options" lines, to
// compare before and after a container.
func hostMounts(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) > 6 {
			out[f[0]] = strings.Join(f[4:], " ")
		}
	}
	return out
}

// assertHostMountsUnder fails if a mount at or below one of dirs appeared or
// went since before: tests run in parallel, so only their own paths are compared.
func assertHostMountsUnder(t *testing.T, before map[string]string, dirs ...string) {
	t.Helper()
	after := hostMounts(t)
	mine := func(line string) bool {
		point := strings.Fields(line)[0]
		for _, d := range dirs {
			if inDir(point, d) {
				return true
			}
		}
		return false
	}
	for id, l := range after {
		if _, ok := before[id]; !ok && mine(l) {
			t.Errorf("host mount left behind: %s", l)
		}
	}
	for id, l := range before {
		if _, ok := after[id]; !ok && mine(l) {
			t.Errorf("host mount gone: %s", l)
		}
	}
}

// TestMountBindClearedFlags: the options that clear a per-mount flag ("atime",
// "diratime") are applied to a bind whose source has the flag, not dropped.
func TestMountBindClearedFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	src := hostTmpfs(t, unix.MS_NOATIME|unix.MS_NODIRATIME)
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("in-src"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := hostMounts(t)
	s := baseSpec(shell(`cat /proc/self/mountinfo; echo @@; cat /a/f`)...)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/a", Type: "bind", Source: src, Options: []string{"rbind", "atime", "diratime"}},
		specs.Mount{Destination: "/b", Type: "bind", Source: src, Options: []string{"rbind", "norelatime", "nosymfollow", "noexec"}},
		specs.Mount{Destination: "/c", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
	)
	r := h.run(s)
	mustExit(t, r, 0)
	parts := sections(r.stdout)
	if len(parts) != 2 || strings.TrimSpace(parts[1]) != "in-src" {
		t.Fatalf("unexpected output: %q", r.stdout)
	}
	mounts := map[string]mountEntry{}
	for _, m := range parseMountinfo(parts[0]) {
		mounts[m.point] = m
	}
	for _, tc := range []struct {
		point     string
		want, not []string
	}{
		{"/a", []string{"relatime"}, []string{"noatime", "nodiratime"}},
		{"/b", []string{"nosymfollow", "noexec"}, []string{"noatime", "relatime", "nodiratime"}},
		// A bind that names no atime option keeps the source's.
		{"/c", []string{"ro", "noatime", "nodiratime"}, nil},
	} {
		m, ok := mounts[tc.point]
		if !ok {
			t.Errorf("no mount at %s:\n%s", tc.point, parts[0])
			continue
		}
		for _, o := range tc.want {
			if !hulltest.HasOpt(m.opts, o) {
				t.Errorf("%s: options %s, want %s", tc.point, m.opts, o)
			}
		}
		for _, o := range tc.not {
			if hulltest.HasOpt(m.opts, o) {
				t.Errorf("%s: options %s, want no %s", tc.point, m.opts, o)
			}
		}
	}
	h.cleanup()
	assertHostMountsUnder(t, before, src, h.bundle)
}

// TestMountBindOptionsRefused: options a bind mount cannot honour (filesystem
// data, superblock flags) fail create with the field and the fix, and leave
// nothing behind, rather than being dropped.
func TestMountBindOptionsRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for _, tc := range []struct {
		name string
		opts []string
		want string
	}{
		{"size", []string{"rbind", "size=1m"}, "size=1m"},
		{"mode uid", []string{"bind", "mode=755", "uid=1000"}, "mode=755,uid=1000"},
		{"sync", []string{"rbind", "ro", "sync"}, "[sync]: flags of the source's filesystem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			before := hostMounts(t)
			s := baseSpec("true")
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: tc.opts})
			r := h.create(s)
			if r.exit == 0 {
				t.Fatalf("create succeeded, want a refusal: %s", r)
			}
			// logrus escapes the quotes of the message.
			if !strings.Contains(r.stderr, "mounts[6].options") || !strings.Contains(r.stderr, tc.want) ||
				!strings.Contains(r.stderr, "bind mount") {
				t.Errorf("stderr does not name mounts[6].options and %q:\n%s", tc.want, r.stderr)
			}
			h.cleanup()
			assertHostMountsUnder(t, before, src, h.bundle)
		})
	}
}

// bindOrderSpec binds a host directory at /x and then <rootfs>/x/sub at /z:
// the second source exists only once the first mount is made (the rootfs's own
// /x/sub holds "underneath"). With idmap the second bind is id-mapped.
func bindOrderSpec(t *testing.T, h *harness, s *specs.Spec, idmap bool) string {
	t.Helper()
	a := t.TempDir()
	if err := os.MkdirAll(filepath.Join(a, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "sub", "f"), []byte("from-x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.rootfs, "x", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.rootfs, "x", "sub", "f"), []byte("underneath"), 0o644); err != nil {
		t.Fatal(err)
	}
	searchable(t, a)
	opts := []string{"rbind"}
	if idmap {
		opts = append(opts, "idmap")
	}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/x", Type: "bind", Source: a, Options: []string{"rbind"}},
		specs.Mount{Destination: "/z", Type: "bind", Source: filepath.Join(h.rootfs, "x", "sub"), Options: opts},
	)
	return a
}

// TestRootfsBindSourceOrder: a bind source under the rootfs is looked up after
// the config's earlier mounts are made, as runc does, also when the runtime
// opens it for the container (user namespace, id mapping).
func TestRootfsBindSourceOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		userns, idmap bool
	}{
		{"plain", false, false},
		{"userns", true, false},
		{"userns-idmap", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.idmap {
				idmapSkip(t)
			}
			h := newHarness(t)
			s := baseSpec(shell(`cat /z/f`)...)
			if tc.userns {
				s = usernsSpec(shell(`cat /z/f`)...)
				prepareUserns(t, h, usernsHostID, usernsHostID)
			}
			a := bindOrderSpec(t, h, s, tc.idmap)
			before := hostMounts(t)
			r := h.run(s)
			mustExit(t, r, 0)
			if got := strings.TrimSpace(r.stdout); got != "from-x" {
				t.Errorf("/z/f reads %q, want %q (the bind source seen through the earlier mount at /x)", got, "from-x")
			}
			h.cleanup()
			assertHostMountsUnder(t, before, a, h.bundle)
		})
	}
}

// TestUsernsBindSourceHostOnly: in a user namespace, a bind source that only
// host root can reach (inside a 0700 directory of root's) is bound as with
// runc: the runtime opens it, not the container's root.
func TestUsernsBindSourceHostOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := usernsSpec(shell(`cat /data/f; echo @@; grep ' /data ' /proc/self/mountinfo; echo @@; ls -l /proc/self/fd/ | wc -l`)...)
	prepareUserns(t, h, usernsHostID, usernsHostID)
	secret := t.TempDir()
	if err := os.Chmod(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(secret, "data")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("secret-ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid"}})
	before := hostMounts(t)
	r := h.run(s)
	mustExit(t, r, 0)
	parts := sections(r.stdout)
	if len(parts) != 3 {
		t.Fatalf("unexpected output: %q", r.stdout)
	}
	if got := strings.TrimSpace(parts[0]); got != "secret-ok" {
		t.Errorf("/data/f reads %q, want %q", got, "secret-ok")
	}
	if ms := parseMountinfo(parts[1]); len(ms) != 1 || !hulltest.HasOpt(ms[0].opts, "ro") || !hulltest.HasOpt(ms[0].opts, "nosuid") {
		t.Errorf("/data mount: %q, want one ro,nosuid mount", parts[1])
	}
	h.cleanup()
	assertHostMountsUnder(t, before, secret, h.bundle)
}

// noMountNSSpec is baseSpec without a mount namespace and without anything
// that needs a mount.
func noMountNSSpec(args ...string) *specs.Spec {
	s := baseSpec(args...)
	removeNamespace(s, specs.MountNamespace)
	s.Mounts = nil
	s.Root.Readonly = false
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	return s
}

// TestRootfsNoMountNamespace: a container without a mount namespace inherits
// hull's, as the spec allows and runc does: it runs chrooted in root.path (exec
// too), and the host's mount table is the same before, during and after.
func TestRootfsNoMountNamespace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := os.WriteFile(filepath.Join(h.rootfs, "marker"), []byte("in-rootfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := noMountNSSpec(shell(`cat /marker; echo; test -e ` + h.bundle + ` && echo host-visible; sleep 30`)...)
	before := hostMounts(t)
	rootBefore := before
	r := h.create(s)
	mustExit(t, r, 0)
	if r := h.do("start", h.id); r.exit != 0 {
		t.Fatalf("start: %s", r)
	}
	out := waitOutput(t, r.stdoutPath, "in-rootfs", 5*time.Second)
	ex := h.do("exec", h.id, "sh", "-c", "cat /marker; test -e "+h.bundle+" && echo host-visible; echo done")
	mustExit(t, ex, 0)
	if got := strings.TrimSpace(ex.stdout); got != "in-rootfsdone" && got != "in-rootfs\ndone" {
		t.Errorf("exec sees %q, want the rootfs's /marker and no host path", got)
	}
	assertHostMountsUnder(t, before, h.bundle)
	if b, err := os.ReadFile(r.stdoutPath); err == nil {
		out = string(b)
	}
	h.cleanup()
	if strings.Contains(out, "host-visible") {
		t.Errorf("the container sees the host's paths: %q", out)
	}
	assertHostMountsUnder(t, before, h.bundle)
	// The host's root (and its propagation) is untouched too.
	after := hostMounts(t)
	for id, l := range rootBefore {
		if strings.HasPrefix(l, "/ ") && after[id] != l {
			t.Errorf("host root mount changed: %q -> %q", l, after[id])
		}
	}
}

// TestRootfsNoMountNamespaceRefused: without a mount namespace, what would need
// a mount in the host's table is refused before anything is made.
func TestRootfsNoMountNamespaceRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(s *specs.Spec)
		want   string
	}{
		{"mounts", func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}
		}, "mounts: 1 mounts"},
		{"readonly-root", func(s *specs.Spec) { s.Root.Readonly = true }, "root.readonly:"},
		{"masked", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} }, "linux.maskedPaths:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := noMountNSSpec("true")
			tc.mutate(s)
			before := hostMounts(t)
			r := h.create(s)
			if r.exit == 0 {
				t.Fatalf("create succeeded, want a refusal: %s", r)
			}
			if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "linux.namespaces") {
				t.Errorf("stderr does not name %q and the fix:\n%s", tc.want, r.stderr)
			}
			h.cleanup()
			assertHostMountsUnder(t, before, h.bundle)
		})
	}
}
