package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func init() {
	scenarios["escape"] = scenario{prepared: escapePrepared, inside: escapeInside}
	scenarios["rootlink"] = scenario{prepared: rootlinkPrepared, inside: rootlinkInside}
	scenarios["devnull"] = scenario{failed: devnullFailed}
}

// TestSymlinkEscapes points mount destinations and /dev at the host through
// symlinks and "..": everything must land inside the rootfs.
func TestSymlinkEscapes(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	// Host side: files an escape would hit.
	must(t, os.WriteFile(filepath.Join(b.host, "victim"), []byte("victim"), 0o644))
	must(t, os.Mkdir(filepath.Join(b.host, "dev"), 0o755))
	must(t, os.WriteFile(filepath.Join(b.host, "srcfile"), []byte("src"), 0o644))
	srcDir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(srcDir, "f"), []byte("dir"), 0o644))
	before := hulltest.Tree(t, b.host)
	// Names at the host's root that an escape through "/" would create.
	m1, m2 := "hull-escape-m1-"+filepath.Base(b.dir), "hull-escape-m2-"+filepath.Base(b.dir)
	t.Cleanup(func() { os.Remove("/" + m1); os.Remove("/" + m2) })

	// Rootfs side: the traps.
	b.symlink(t, "/", "a")
	b.symlink(t, "../../../../../../../../../..", "b")
	b.symlink(t, b.host, "c")
	b.symlink(t, filepath.Join(b.host, "victim"), "d")
	must(t, os.Remove(b.path("dev")))
	b.symlink(t, filepath.Join(b.host, "dev"), "dev")

	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/a/" + m1, Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/b/" + m2, Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/c/m3", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/d", Source: filepath.Join(b.host, "srcfile"), Options: []string{"bind"}},
			{Destination: "/../../../.." + b.host + "/m5", Type: "tmpfs", Source: "tmpfs"},
			{Destination: "/c/m6", Source: srcDir, Options: []string{"rbind", "ro"}},
		},
		Linux: &specs.Linux{
			Devices:     []specs.LinuxDevice{{Path: "/dev/../../../extra", Type: "c", Major: 1, Minor: 5}},
			MaskedPaths: []string{"/a/etc/masked", "/b/etc/masked"},
		},
	}
	b.write(t, "etc/masked", "masked", 0o644)
	runScenario(t, b.args("escape", spec), 0)

	if after := hulltest.Tree(t, b.host); after != before {
		t.Errorf("host directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, p := range []string{"/" + m1, "/" + m2, "/extra"} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s created on the host: %v", p, err)
		}
	}
	// Everything went inside the rootfs instead.
	for _, p := range []string{m1, m2, b.host + "/m3", b.host + "/m5", b.host + "/m6", b.host + "/victim", b.host + "/dev/null", "extra"} {
		if _, err := os.Lstat(b.path(p)); err != nil {
			t.Errorf("%s not created inside the rootfs: %v", p, err)
		}
	}
}

func escapePrepared(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	in := func(p string) string { return filepath.Join(a.Rootfs, p) }
	for _, p := range []string{in("/" + mountName(a, 1)), in("/" + mountName(a, 2)), in(a.Host + "/m3"), in(a.Host + "/victim"), in(a.Host + "/m5"), in(a.Host + "/m6")} {
		if mt[p] == nil {
			ck.errorf("no mount at %s", p)
		}
	}
	for mp := range mt {
		if strings.HasPrefix(mp, a.Host) || strings.HasPrefix(mp, "/hull-escape") {
			ck.errorf("mount escaped the rootfs: %s", mp)
		}
	}
	expectContent(ck, in(a.Host+"/victim"), "src")
	expectNode(ck, in(a.Host+"/dev/null"), node{unix.S_IFCHR, 1, 3, 0o666, 0, 0})
	expectNode(ck, in("/extra"), node{unix.S_IFCHR, 1, 5, 0o666, 0, 0})
	expectLink(ck, in(a.Host+"/dev/ptmx"), "pts/ptmx")
}

// mountName recovers the unique names TestSymlinkEscapes used.
func mountName(a *childArgs, i int) string {
	return strings.TrimPrefix(filepath.Base(a.Spec.Mounts[i].Destination), "/")
}

func escapeInside(a *childArgs, ck *checker) {
	expectContent(ck, "/etc/masked", "")
	expectContent(ck, "/d", "src")
	expectContent(ck, "/c/m6/f", "dir")
	expectErrno(ck, "write read-only bind", writeFile("/c/m6/new", "x"), unix.EROFS)
}

// TestDestinationLinksToRoot mounts on a destination that is a symlink to
// "/": the mount covers the rootfs, not the host's root, and later mounts go
// on top of it.
func TestDestinationLinksToRoot(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	b.symlink(t, "/", "a")
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/a", Type: "tmpfs", Source: "roottmpfs", Options: []string{"mode=755"}},
			{Destination: "/after", Type: "tmpfs", Source: "aftertmpfs"},
			{Destination: "/proc", Type: "proc", Source: "proc"},
		},
	}
	runScenario(t, b.args("rootlink", spec), 0)
	if _, err := os.Lstat(b.path("after")); !os.IsNotExist(err) {
		t.Errorf("/after was created in the covered rootfs, not on the new top mount: %v", err)
	}
}

func rootlinkPrepared(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	top := mt[a.Rootfs]
	if top == nil || top.Source != "roottmpfs" {
		ck.errorf("rootfs not covered by the tmpfs: %+v", top)
		return
	}
	if mt["/"].FSType == "tmpfs" && mt["/"].Source == "roottmpfs" {
		ck.errorf("the host's / was covered")
	}
	after := mt[filepath.Join(a.Rootfs, "after")]
	if after == nil || after.Parent != top.ID {
		ck.errorf("/after is not on the new top mount: %+v", after)
	}
}

func rootlinkInside(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	expectMount(ck, mt, "/after", "tmpfs")
	if m := mt["/"]; m == nil || m.Source != "roottmpfs" {
		ck.errorf("/ is %+v, want the tmpfs", m)
	}
	if _, err := os.Stat("/bin/busybox"); !os.IsNotExist(err) {
		ck.errorf("the covered rootfs is still visible: %v", err)
	}
}

// TestMaskWithFakeDevNull replaces the container's /dev/null with things
// that are not the null device: masking must refuse to use them
// (CVE-2025-31133) rather than bind them over masked paths.
func TestMaskWithFakeDevNull(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, b *bundle)
	}{
		{"symlink to a file", func(t *testing.T, b *bundle) { b.symlink(t, "/etc/target", "dev/null") }},
		{"symlink to a proc file", func(t *testing.T, b *bundle) { b.symlink(t, "/proc/sys/kernel/core_pattern", "dev/null") }},
		{"regular file", func(t *testing.T, b *bundle) { b.write(t, "dev/null", "", 0o666) }},
		{"wrong device", func(t *testing.T, b *bundle) {
			must(t, unix.Mknod(b.path("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBundle(t)
			b.write(t, "etc/target", "target", 0o644)
			b.write(t, "etc/masked", "masked", 0o644)
			tt.setup(t, b)
			spec := &specs.Spec{
				Root:   &specs.Root{Path: "rootfs"},
				Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
				Linux:  &specs.Linux{MaskedPaths: []string{"/etc/masked"}},
			}
			a := b.args("devnull", spec)
			a.WantErr = "masked path /etc/masked: "
			runScenario(t, a, 0)
			if got := readFile(t, b.path("etc/target")); got != "target" {
				t.Errorf("target changed to %q", got)
			}
		})
	}
}

func devnullFailed(a *childArgs, ck *checker) {
	expectContent(ck, "/etc/masked", "masked")
	mt := mountTable(ck)
	if mt["/etc/masked"] != nil {
		ck.errorf("/etc/masked was mounted over")
	}
}
