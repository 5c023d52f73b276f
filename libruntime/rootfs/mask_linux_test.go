package rootfs

import (
	"os"
	"slices"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func init() {
	scenarios["mask-shared"] = scenario{inside: maskSharedInside}
	scenarios["mask-shared-attached"] = scenario{
		prepared: func(*childArgs, *checker) { cloneDetachedMask = false },
		inside:   maskSharedInside,
	}
}

var maskSharedDirs = []string{"/a", "/b", "/c"}

// TestMaskSharedTmpfs: every masked directory is covered by a bind of one
// empty read-only tmpfs, each masked path once however often it is listed,
// and files still by the null device. Both ways the binds are made: clones of
// the detached tmpfs (Linux 6.15 and later), and, where open_tree cannot clone
// a detached mount, clones of it attached on the first directory.
func TestMaskSharedTmpfs(t *testing.T) {
	requireRoot(t)
	for _, name := range []string{"mask-shared", "mask-shared-attached"} {
		t.Run(name, func(t *testing.T) {
			b := newBundle(t)
			for _, d := range maskSharedDirs {
				b.write(t, d+"/secret", "secret", 0o644)
			}
			b.write(t, "etc/secret.conf", "secret", 0o644)
			spec := &specs.Spec{
				Root:   &specs.Root{Path: "rootfs"},
				Mounts: runcMounts(),
				Linux: &specs.Linux{
					Devices: []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: fileMode(0o666)}},
					MaskedPaths: []string{
						"/a", "/etc/secret.conf", "/b", "/a/", "/nonexistent", "/c", "/etc//secret.conf", "/b/.",
					},
				},
			}
			runScenario(t, b.args(name, spec), 0)
			for _, d := range maskSharedDirs {
				if got := readFile(t, b.path(d+"/secret")); got != "secret" {
					t.Errorf("%s/secret changed to %q", d, got)
				}
			}
		})
	}
}

func maskSharedInside(a *childArgs, ck *checker) {
	ms, err := mountinfo.GetMounts(nil)
	if err != nil {
		ck.errorf("read mountinfo: %v", err)
		return
	}
	count := map[string]int{}
	top := map[string]*mountinfo.Info{}
	for _, m := range ms {
		count[m.Mountpoint]++
		top[m.Mountpoint] = m
	}
	var first *mountinfo.Info
	for _, d := range maskSharedDirs {
		if count[d] != 1 {
			ck.errorf("%s is mounted %d times, want once", d, count[d])
		}
		m := top[d]
		if m == nil {
			continue
		}
		if m.FSType != "tmpfs" || m.Source != "tmpfs" || m.Root != "/" {
			ck.errorf("%s: %s %s root %s, want the root of a tmpfs named tmpfs", d, m.FSType, m.Source, m.Root)
		}
		for _, o := range []string{"ro", "nr_inodes=1"} {
			if !hulltest.HasOpt(m.VFSOptions, o) {
				ck.errorf("%s: superblock options %q lack %s", d, m.VFSOptions, o)
			}
		}
		if !hulltest.HasOpt(m.Options, "ro") {
			ck.errorf("%s: mount options %q, want read-only", d, m.Options)
		}
		if first == nil {
			first = m
		} else if m.Major != first.Major || m.Minor != first.Minor {
			ck.errorf("%s is on %d:%d, %s on %d:%d; want one shared tmpfs", d, m.Major, m.Minor, first.Mountpoint, first.Major, first.Minor)
		}
		if ents, err := os.ReadDir(d); err != nil || len(ents) != 0 {
			ck.errorf("masked %s lists %v, %v", d, ents, err)
		}
		expectErrno(ck, "create in masked "+d, writeFile(d+"/x", "x"), unix.EROFS)
		expectErrno(ck, "mkdir in masked "+d, os.Mkdir(d+"/y", 0o755), unix.EROFS)
	}
	if first != nil {
		for _, m := range ms {
			if m.Major == first.Major && m.Minor == first.Minor && !slices.Contains(maskSharedDirs, m.Mountpoint) {
				ck.errorf("the masks' tmpfs is also mounted on %s", m.Mountpoint)
			}
		}
	}
	if count["/etc/secret.conf"] != 1 {
		ck.errorf("/etc/secret.conf is mounted %d times, want once", count["/etc/secret.conf"])
	}
	expectNode(ck, "/etc/secret.conf", node{unix.S_IFCHR, 1, 3, 0o666, 0, 0})
	expectContent(ck, "/etc/secret.conf", "")
}
