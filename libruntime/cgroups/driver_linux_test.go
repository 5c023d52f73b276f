package cgroups

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/clip"
)

// TestSelect: the driver comes from --systemd-cgroup, in this one place; under
// the flag the path must be systemd's, as runc requires, and the refusal says
// how to fix it.
func TestSelect(t *testing.T) {
	const form = `: with --systemd-cgroup it must have the form slice:prefix:name (e.g. system.slice:hull:<id>); drop --systemd-cgroup to use a cgroupfs path`
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
		{"flag, empty path", true, "", "systemd"},
		{"flag, systemd path", true, "system.slice:hull:ctr", "systemd"},
		{"flag, systemd path with empty parts", true, "::ctr", "systemd"},
		{"flag, cgroupfs path", true, "/hull/ctr", `linux.cgroupsPath "/hull/ctr"` + form},
		{"flag, one colon", true, "a:b", `linux.cgroupsPath "a:b"` + form},
		{"flag, three colons", true, "a:b:c:d", `linux.cgroupsPath "a:b:c:d"` + form},
		{"flag, bad slice", true, "system:hull:ctr", `linux.cgroupsPath "system:hull:ctr": slice "system" does not end in .slice; name a systemd slice such as system.slice or machine-pods.slice`},
		{"flag, long path is clipped", true, "a:b:c:" + strings.Repeat("x", 4096), "linux.cgroupsPath " + clip.Quote("a:b:c:"+strings.Repeat("x", 4096)) + form},
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

// TestByName: state.json's driver name back to the driver; none is cgroupfs
// (state written before hull recorded it).
func TestByName(t *testing.T) {
	for name, want := range map[string]Driver{"": Cgroupfs, "cgroupfs": Cgroupfs, "systemd": Systemd} {
		if d, err := ByName(name); err != nil || d != want {
			t.Errorf("ByName(%q) = %v, %v", name, d, err)
		}
	}
	if _, err := ByName("other"); err == nil {
		t.Error(`ByName("other") did not fail`)
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
