package cgroups

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestMount checks Mount against an independent reading of mountinfo: the
// answer is a cgroup2 mount of the hierarchy's root, and on this kind of
// hybrid host (cgroup2 at /sys/fs/cgroup/unified) it is that one.
func TestMount(t *testing.T) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var roots []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent maj:min root mountpoint opts ... - fstype source superopts
		pre, post, ok := strings.Cut(s.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if fields[3] == "/" {
			roots = append(roots, fields[4])
		}
	}
	got, err := Mount()
	if len(roots) == 0 {
		if err == nil {
			t.Fatalf("Mount() = %q, want an error: there is no cgroup2 mount", got)
		}
		hulltest.Require(t, "a cgroup2 mount (the host's /sys/fs/cgroup/unified, the VM's /sys/fs/cgroup)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range roots {
		found = found || r == got
	}
	if !found {
		t.Fatalf("Mount() = %q, not one of the cgroup2 mounts %q", got, roots)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(got, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("%s is not cgroup2: %v, magic %#x", got, err, st.Type)
	}
	if len(roots) == 1 && roots[0] == "/sys/fs/cgroup/unified" && got != "/sys/fs/cgroup/unified" {
		t.Fatalf("Mount() = %q on a hybrid host, want /sys/fs/cgroup/unified", got)
	}
}

func TestResolvePath(t *testing.T) {
	const mnt = "/sys/fs/cgroup"
	tests := []struct {
		name, own, cgroupsPath, id string
		want                       string // "" means an error
	}{
		{"absolute", "/user.slice/s.scope", "/hull/ctr", "x", mnt + "/hull/ctr"},
		{"absolute cleaned", "/", "//hull/./a//b/", "x", mnt + "/hull/a/b"},
		{"absolute dotdot inside", "/", "/a/b/../c", "x", mnt + "/a/c"},
		{"absolute dotdot out", "/", "/a/../../etc", "x", ""},
		{"absolute only dotdot", "/", "/..", "x", ""},
		{"absolute root", "/", "/", "x", ""},
		{"absolute root after dotdot", "/", "/a/..", "x", ""},
		{"relative below parent of own", "/user.slice/user-0.slice/session-1.scope", "hull/ctr", "x", mnt + "/user.slice/user-0.slice/hull/ctr"},
		{"relative with own root", "/", "hull/ctr", "x", mnt + "/hull/ctr"},
		{"relative own one deep", "/init.scope", "ctr", "x", mnt + "/ctr"},
		{"relative dotdot inside", "/a/b/c", "../d", "x", mnt + "/a/d"},
		{"relative dotdot out", "/a/b", "../../d", "x", ""},
		{"relative dotdot out from root", "/", "../x", "x", ""},
		{"empty is id below parent of own", "/system.slice/hull.service", "", "ctr1", mnt + "/system.slice/ctr1"},
		{"empty with own root", "/", "", "ctr1", mnt + "/ctr1"},
		{"empty with empty id", "/", "", "", ""},
		{"empty with dotdot id", "/", "", "..", ""},
		{"empty with slash id", "/", "", "a/b", ""},
		{"nul", "/", "/a\x00b", "x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolvePath(mnt, tc.own, tc.cgroupsPath, tc.id)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("resolvePath(%q, %q) = %q, want an error", tc.cgroupsPath, tc.id, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("resolvePath(%q, %q) = %q, %v; want %q", tc.cgroupsPath, tc.id, got, err, tc.want)
			}
		})
	}
}

// TestPath checks the real thing against the mount and /proc/self/cgroup.
func TestPath(t *testing.T) {
	mount, err := Mount()
	if err != nil {
		hulltest.Require(t, "a cgroup2 mount (the host's /sys/fs/cgroup/unified, the VM's /sys/fs/cgroup)", err)
	}
	own, err := ownCgroup()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ cgroupsPath, id, want string }{
		{"/hull/a", "x", filepath.Join(mount, "hull/a")},
		{"", "ctr", filepath.Join(mount, filepath.Dir(own), "ctr")},
		{"r/s", "x", filepath.Join(mount, filepath.Dir(own), "r/s")},
	}
	for _, tc := range tests {
		got, err := Path(tc.cgroupsPath, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("Path(%q, %q) = %q, %v; want %q", tc.cgroupsPath, tc.id, got, err, tc.want)
		}
	}
	if got, err := Path("/../x", "x"); err == nil {
		t.Errorf("Path(/../x) = %q, want an error", got)
	}
}

func TestParseOwnCgroup(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"unified", "0::/user.slice/session-1.scope\n", "/user.slice/session-1.scope", true},
		{"hybrid", "9:name=systemd:/\n4:memory:/x\n0::/\n", "/", true},
		{"v1 only", "4:memory:/x\n1:cpu:/\n", "", false},
		{"empty", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOwnCgroup(strings.NewReader(tc.in), "cgroup")
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseOwnCgroup = %q, %v; want %q, ok %v", got, err, tc.want, tc.ok)
			}
		})
	}
}

// TestIsCgroup2Root: Mount's direct look at systemd's places takes the hierarchy's
// root only: not a cgroup below it, not another filesystem, not a symlink to it.
func TestIsCgroup2Root(t *testing.T) {
	mount, err := Mount()
	hulltest.Require(t, "a cgroup2 mount", err)
	if !isCgroup2Root(mount) {
		t.Fatalf("isCgroup2Root(%s) = false", mount)
	}
	link := filepath.Join(t.TempDir(), "cg")
	if err := os.Symlink(mount, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/proc", link, "/nonexistent"} {
		if isCgroup2Root(p) {
			t.Errorf("isCgroup2Root(%s) = true", p)
		}
	}
	ents, err := os.ReadDir(mount)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			if p := filepath.Join(mount, e.Name()); isCgroup2Root(p) {
				t.Errorf("isCgroup2Root(%s) = true for a cgroup below the root", p)
			}
			break
		}
	}
}
