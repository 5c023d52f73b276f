package cgroups

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/clip"
)

// TestSelect: the driver comes from --systemd-cgroup and the form of
// linux.cgroupsPath, in this one place; a systemd path under the flag is refused
// with the text create has always failed with, until a systemd driver exists.
func TestSelect(t *testing.T) {
	const refused = `: systemd cgroup paths (slice:prefix:name) are not supported yet; drop --systemd-cgroup and use a cgroupfs path such as /mycontainers/<id>`
	tests := []struct {
		name        string
		systemd     bool
		cgroupsPath string
		want        string // driver name, or the error
	}{
		{"default", false, "", "cgroupfs"},
		{"absolute", false, "/hull/ctr", "cgroupfs"},
		{"relative", false, "pod/ctr", "cgroupfs"},
		// Without the flag a colon is part of a cgroupfs path name, as with runc.
		{"colons without the flag", false, "system.slice:hull:ctr", "cgroupfs"},
		{"flag, empty path", true, "", "cgroupfs"},
		{"flag, cgroupfs path", true, "/hull/ctr", "cgroupfs"},
		{"flag, one colon", true, "a:b", "cgroupfs"},
		{"flag, three colons", true, "a:b:c:d", "cgroupfs"},
		{"flag, systemd path", true, "system.slice:hull:ctr", `linux.cgroupsPath "system.slice:hull:ctr"` + refused},
		{"flag, systemd path with empty parts", true, "::ctr", `linux.cgroupsPath "::ctr"` + refused},
		{"flag, long systemd path is clipped", true, "a:b:" + strings.Repeat("x", 4096), "linux.cgroupsPath " + clip.Quote("a:b:"+strings.Repeat("x", 4096)) + refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Select(tc.systemd, tc.cgroupsPath)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = d.Name()
			}
			if got != tc.want {
				t.Fatalf("Select(%v, %q) = %q\nwant %q", tc.systemd, tc.cgroupsPath, got, tc.want)
			}
		})
	}
}

// TestDriverPath: the cgroupfs driver's path rules, as create and check reach
// them through Select, on this host's cgroup2 mount.
func TestDriverPath(t *testing.T) {
	mount, err := Mount()
	if err != nil {
		t.Skipf("no cgroup2: %v", err)
	}
	own, err := ownCgroup()
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(mount, filepath.Dir(own))
	tests := []struct {
		name, cgroupsPath, id string
		want                  string // the directory, or a part of the error
		ok                    bool
	}{
		{"absolute", "/hull/a", "x", filepath.Join(mount, "hull/a"), true},
		{"empty: the id, next to hull's own cgroup", "", "ctr", filepath.Join(parent, "ctr"), true},
		{"relative: below the parent of hull's own cgroup", "r/s", "x", filepath.Join(parent, "r/s"), true},
		{"colons are a name", "system.slice:hull:x", "x", filepath.Join(parent, "system.slice:hull:x"), true},
		{"dot-dot resolved lexically", "/a/../b", "x", filepath.Join(mount, "b"), true},
		{"climbs out", "/../x", "x", "climbs out of the cgroup2 hierarchy", false},
		{"root cgroup", "/", "x", "names the root cgroup", false},
		{"NUL", "/a\x00b", "x", "contains a NUL byte", false},
		{"bad id for the default", "", "..", "is not a file name", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Select(false, tc.cgroupsPath)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Path(tc.cgroupsPath, tc.id)
			switch {
			case tc.ok && (err != nil || got != tc.want):
				t.Fatalf("Path(%q, %q) = %q, %v; want %q", tc.cgroupsPath, tc.id, got, err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Path(%q, %q) = %q, %v; want an error with %q", tc.cgroupsPath, tc.id, got, err, tc.want)
			}
		})
	}
}
