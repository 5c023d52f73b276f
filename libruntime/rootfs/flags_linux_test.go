package rootfs

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestBindAttr(t *testing.T) {
	const perMount = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
		unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOSYMFOLLOW
	tests := []struct {
		name     string
		flags    uintptr
		set, clr uint64
	}{
		{"plain bind clears all", unix.MS_BIND, 0, perMount},
		{"ro", unix.MS_BIND | unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY, perMount &^ unix.MOUNT_ATTR_RDONLY},
		{"ro nosuid nodev", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV,
			unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
			unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOSYMFOLLOW},
		{"noatime", unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME,
			perMount | unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODIRATIME},
		{"strictatime", unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME,
			perMount | unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODIRATIME},
		{"strictatime beats noatime", unix.MS_NOATIME | unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME,
			perMount | unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODIRATIME},
		{"relatime nodiratime", unix.MS_RELATIME | unix.MS_NODIRATIME,
			unix.MOUNT_ATTR_RELATIME | unix.MOUNT_ATTR_NODIRATIME, perMount | unix.MOUNT_ATTR__ATIME},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bindAttr(tt.flags)
			if a.Attr_set != tt.set || a.Attr_clr != tt.clr {
				t.Errorf("bindAttr(%#x) = set %#x clr %#x, want set %#x clr %#x",
					tt.flags, a.Attr_set, a.Attr_clr, tt.set, tt.clr)
			}
		})
	}
}

func TestStatfsFlags(t *testing.T) {
	tests := []struct {
		st   int64
		want uintptr
	}{
		{0, 0},
		{unix.ST_RDONLY | unix.ST_NOSUID, unix.MS_RDONLY | unix.MS_NOSUID},
		{unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME, unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME},
		{unix.ST_NOATIME | unix.ST_NODIRATIME | stNoSymfollow, unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_NOSYMFOLLOW},
		{unix.ST_SYNCHRONOUS, 0},
	}
	for _, tt := range tests {
		st := unix.Statfs_t{Flags: tt.st}
		if got := statfsFlags(&st); got != tt.want {
			t.Errorf("statfsFlags(%#x) = %#x, want %#x", tt.st, got, tt.want)
		}
	}
}

func TestContainerDevices(t *testing.T) {
	mode := os.FileMode(0o20600) // S_IFCHR|0600, as some configs write it
	uid, gid := uint32(5), uint32(6)
	tests := []struct {
		name    string
		devices []specs.LinuxDevice
		want    []device // checked in order, then the count
		count   int
		err     string
	}{
		{
			name:  "defaults only",
			want:  defaultDevices,
			count: len(defaultDevices),
		},
		{
			name: "listed default replaces it",
			devices: []specs.LinuxDevice{
				{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid},
				{Path: "dev/../dev/fuse", Type: "c", Major: 10, Minor: 229},
				{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
				{Path: "/dev/fifo", Type: "p", Major: 3, Minor: 4},
			},
			want: []device{
				{path: "/dev/null", typ: unix.S_IFCHR, major: 1, minor: 3, perm: 0o600, uid: 5, gid: 6},
				{path: "/dev/fuse", typ: unix.S_IFCHR, major: 10, minor: 229, perm: 0o666},
				{path: "/dev/sda", typ: unix.S_IFBLK, major: 8, minor: 0, perm: 0o666},
				{path: "/dev/fifo", typ: unix.S_IFIFO, perm: 0o666},
				defaultDevices[1],
			},
			count: 4 + len(defaultDevices) - 1,
		},
		{
			name:    "bad type",
			devices: []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}},
			err:     `linux.devices[0] (/dev/x): unknown type "q"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := containerDevices(&specs.Linux{Devices: tt.devices})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Fatalf("got %d devices, want %d: %+v", len(got), tt.count, got)
			}
			for i, w := range tt.want {
				if got[i] != w {
					t.Errorf("device %d = %+v, want %+v", i, got[i], w)
				}
			}
			seen := map[string]bool{}
			for _, d := range got {
				if seen[d.path] {
					t.Errorf("%s created twice", d.path)
				}
				seen[d.path] = true
			}
		})
	}
}

func TestSplitLeaf(t *testing.T) {
	tests := []struct {
		in        string
		dir, name string
		err       bool
	}{
		{cleanDest("dev/null"), "/dev/", "null", false},
		{cleanDest("/../../etc/x"), "/etc/", "x", false},
		{cleanDest("/"), "", "", true},
		{cleanDest("/a/.."), "", "", true},
	}
	for _, tt := range tests {
		dir, name, err := splitLeaf(tt.in)
		if (err != nil) != tt.err || dir != tt.dir || name != tt.name {
			t.Errorf("splitLeaf(%q) = %q, %q, %v", tt.in, dir, name, err)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	spec := &specs.Spec{}
	tests := []struct {
		c   *Config
		err string
	}{
		{nil, "no spec"},
		{&Config{Rootfs: "/x"}, "no spec"},
		{&Config{Spec: spec, Rootfs: "rel"}, "absolute"},
		{&Config{Spec: spec, Rootfs: "/a/../b"}, "absolute"},
		{&Config{Spec: spec, Rootfs: "/"}, "absolute"},
		{&Config{Spec: spec, Rootfs: "/srv/rootfs"}, ""},
	}
	for _, tt := range tests {
		err := tt.c.check()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("check(%+v) = %v, want %q", tt.c, err, tt.err)
		}
	}
}

func TestBindAttrCleared(t *testing.T) {
	const perMount = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
		unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NOSYMFOLLOW
	const atime = unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODIRATIME
	tests := []struct {
		name           string
		flags, cleared uintptr
		set, clr       uint64
	}{
		{"nothing cleared is bindAttr", unix.MS_RDONLY, 0, unix.MOUNT_ATTR_RDONLY, perMount &^ unix.MOUNT_ATTR_RDONLY},
		{"atime is relatime", 0, unix.MS_NOATIME, unix.MOUNT_ATTR_RELATIME, perMount | atime},
		{"nostrictatime is relatime", 0, unix.MS_STRICTATIME, unix.MOUNT_ATTR_RELATIME, perMount | atime},
		{"norelatime is strictatime", 0, unix.MS_RELATIME, unix.MOUNT_ATTR_STRICTATIME, perMount | atime},
		{"a mode given wins", unix.MS_NOATIME, unix.MS_RELATIME, unix.MOUNT_ATTR_NOATIME, perMount | atime},
		{"diratime leaves the mode", 0, unix.MS_NODIRATIME, 0, perMount | unix.MOUNT_ATTR_NODIRATIME},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bindAttrCleared(tt.flags, tt.cleared)
			if a.Attr_set != tt.set || a.Attr_clr != tt.clr {
				t.Errorf("bindAttrCleared(%#x, %#x) = set %#x clr %#x, want set %#x clr %#x",
					tt.flags, tt.cleared, a.Attr_set, a.Attr_clr, tt.set, tt.clr)
			}
		})
	}
}
