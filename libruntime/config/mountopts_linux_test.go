package config

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	const atime = unix.MOUNT_ATTR__ATIME
	tests := []struct {
		name    string
		opts    []string
		want    MountOptions
		wantErr string
	}{
		{name: "none", opts: nil, want: MountOptions{}},
		{
			name: "runc /dev",
			opts: []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			want: MountOptions{
				Flags:      unix.MS_NOSUID | unix.MS_STRICTATIME,
				ClearFlags: unix.MS_NOATIME | unix.MS_RELATIME,
				Data:       "mode=755,size=65536k",
			},
		},
		{
			name: "runc /dev/pts",
			opts: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			want: MountOptions{
				Flags: unix.MS_NOSUID | unix.MS_NOEXEC,
				Data:  "newinstance,ptmxmode=0666,mode=0620,gid=5",
			},
		},
		{
			name: "runc /sys/fs/cgroup",
			opts: []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
			want: MountOptions{
				Flags:      unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RELATIME | unix.MS_RDONLY,
				ClearFlags: unix.MS_NOATIME | unix.MS_STRICTATIME,
			},
		},
		{
			name: "rootless /sys",
			opts: []string{"rbind", "nosuid", "noexec", "nodev", "ro"},
			want: MountOptions{
				Flags: unix.MS_BIND | unix.MS_REC | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY,
				Bind:  true, Recursive: true,
			},
		},
		{
			name: "bind",
			opts: []string{"bind"},
			want: MountOptions{Flags: unix.MS_BIND, Bind: true},
		},
		{
			name: "later option wins",
			opts: []string{"ro", "nosuid", "rw", "suid", "nodev"},
			want: MountOptions{Flags: unix.MS_NODEV, ClearFlags: unix.MS_RDONLY | unix.MS_NOSUID},
		},
		{
			name: "clear then set",
			opts: []string{"rw", "ro"},
			want: MountOptions{Flags: unix.MS_RDONLY},
		},
		{
			name: "atime modes exclusive",
			opts: []string{"strictatime", "noatime"},
			want: MountOptions{Flags: unix.MS_NOATIME, ClearFlags: unix.MS_RELATIME | unix.MS_STRICTATIME},
		},
		{
			name: "atime clears noatime",
			opts: []string{"noatime", "atime"},
			want: MountOptions{ClearFlags: unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NOATIME},
		},
		{
			// runc's meaning: "defaults" neither sets nor clears anything.
			name: "defaults",
			opts: []string{"ro", "nosuid", "defaults", "noexec"},
			want: MountOptions{
				Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC,
			},
		},
		{
			name: "every plain flag",
			opts: []string{"sync", "dirsync", "remount", "mand", "nodiratime", "lazytime", "iversion", "silent", "nosymfollow"},
			want: MountOptions{Flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_REMOUNT | unix.MS_MANDLOCK |
				unix.MS_NODIRATIME | unix.MS_LAZYTIME | unix.MS_I_VERSION | unix.MS_SILENT | unix.MS_NOSYMFOLLOW},
		},
		{
			name: "every clearing flag",
			opts: []string{"async", "nomand", "diratime", "nolazytime", "noiversion", "loud", "symfollow", "exec", "dev", "norelatime", "nostrictatime"},
			want: MountOptions{ClearFlags: unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK | unix.MS_NODIRATIME | unix.MS_LAZYTIME |
				unix.MS_I_VERSION | unix.MS_SILENT | unix.MS_NOSYMFOLLOW | unix.MS_NOEXEC | unix.MS_NODEV |
				unix.MS_RELATIME | unix.MS_STRICTATIME},
		},
		{
			name: "propagation in order",
			opts: []string{"rslave", "private", "rshared", "shared", "slave", "rprivate", "unbindable", "runbindable"},
			want: MountOptions{Propagation: []uintptr{
				unix.MS_REC | unix.MS_SLAVE, unix.MS_PRIVATE, unix.MS_REC | unix.MS_SHARED, unix.MS_SHARED,
				unix.MS_SLAVE, unix.MS_REC | unix.MS_PRIVATE, unix.MS_UNBINDABLE, unix.MS_REC | unix.MS_UNBINDABLE,
			}},
		},
		{
			name: "recursive attributes",
			opts: []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"},
			want: MountOptions{
				Flags: unix.MS_BIND | unix.MS_REC, Bind: true, Recursive: true,
				AttrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
					unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW,
			},
		},
		{
			name: "recursive clears",
			opts: []string{"rro", "rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"},
			want: MountOptions{
				AttrClr: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV |
					unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME | unix.MOUNT_ATTR_NOSYMFOLLOW,
			},
		},
		{name: "rnoatime", opts: []string{"rnoatime"}, want: MountOptions{AttrSet: unix.MOUNT_ATTR_NOATIME, AttrClr: atime}},
		{name: "rstrictatime", opts: []string{"rstrictatime"}, want: MountOptions{AttrSet: unix.MOUNT_ATTR_STRICTATIME, AttrClr: atime}},
		{name: "rrelatime", opts: []string{"rrelatime"}, want: MountOptions{AttrSet: unix.MOUNT_ATTR_RELATIME, AttrClr: atime}},
		{name: "ratime", opts: []string{"rnoatime", "ratime"}, want: MountOptions{AttrSet: unix.MOUNT_ATTR_RELATIME, AttrClr: atime}},
		{name: "rnostrictatime", opts: []string{"rnostrictatime"}, want: MountOptions{AttrSet: unix.MOUNT_ATTR_RELATIME, AttrClr: atime}},
		{name: "rnorelatime", opts: []string{"rnorelatime"}, want: MountOptions{AttrSet: unix.MOUNT_ATTR_STRICTATIME, AttrClr: atime}},
		{
			name: "last recursive atime wins",
			opts: []string{"rstrictatime", "rnoexec", "rnoatime"},
			want: MountOptions{AttrSet: unix.MOUNT_ATTR_NOATIME | unix.MOUNT_ATTR_NOEXEC, AttrClr: atime},
		},
		{
			name: "idmap ridmap tmpcopyup",
			opts: []string{"idmap", "ridmap", "tmpcopyup"},
			want: MountOptions{IDMap: true, RIDMap: true, TmpCopyUp: true},
		},
		{
			name: "data keeps order and unknown words",
			// x-* options are userspace-only and never reach the kernel.
			opts: []string{"lowerdir=/a:/b", "ro", "upperdir=/u", "RO", "context=\"a,b\"", "x-foo"},
			want: MountOptions{Flags: unix.MS_RDONLY, Data: `lowerdir=/a:/b,upperdir=/u,RO,context="a,b"`},
		},
		{name: "empty option", opts: []string{"ro", ""}, wantErr: "mount option 1: empty mount option"},
		{name: "NUL in option", opts: []string{"size=1\x00ro"}, wantErr: "NUL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMountOptions(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseMountOptions(%q)\n got %+v\nwant %+v", tc.opts, got, tc.want)
			}
		})
	}
}

// TestMountOptionsKnowSpecWords checks that every option the runtime-spec
// lists is interpreted rather than passed to the filesystem as data.
func TestMountOptionsKnowSpecWords(t *testing.T) {
	spec := []string{
		"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
		"lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
		"nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
		"ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime",
		"rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro",
		"rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
		"rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
		"symfollow", "sync", "tmpcopyup", "unbindable", "idmap", "ridmap",
	}
	for _, o := range spec {
		mo, err := ParseMountOptions([]string{o})
		if err != nil {
			t.Errorf("%q: %v", o, err)
			continue
		}
		if mo.Data != "" {
			t.Errorf("%q went to data", o)
		}
	}
}

// FuzzParseMountOptions feeds newline-separated option lists and checks the
// invariants of the result.
func FuzzParseMountOptions(f *testing.F) {
	f.Add("nosuid\nstrictatime\nmode=755\nsize=65536k")
	f.Add("rbind\nrro\nrnoatime\nrprivate\nro\nrw\ndefaults")
	f.Add("\n")
	f.Add("a\x00b")
	f.Add("noatime\nstrictatime\nrelatime\nratime\nrnorelatime\nidmap\nridmap\ntmpcopyup")
	f.Fuzz(func(t *testing.T, in string) {
		opts := strings.Split(in, "\n")
		mo, err := ParseMountOptions(opts)

		bad := false
		for _, o := range opts {
			bad = bad || o == "" || strings.IndexByte(o, 0) >= 0
		}
		if bad != (err != nil) {
			t.Fatalf("opts %q: err = %v, want error: %v", opts, err, bad)
		}
		if err != nil {
			return
		}
		if mo.Flags&mo.ClearFlags != 0 {
			t.Errorf("flags %#x and clear flags %#x overlap", mo.Flags, mo.ClearFlags)
		}
		if n := mo.Flags & atimeFlags; n&(n-1) != 0 {
			t.Errorf("more than one atime mode in %#x", mo.Flags)
		}
		if (mo.AttrSet&^unix.MOUNT_ATTR__ATIME)&mo.AttrClr != 0 {
			t.Errorf("attr set %#x and clear %#x overlap", mo.AttrSet, mo.AttrClr)
		}
		if mo.AttrSet&unix.MOUNT_ATTR__ATIME != 0 && mo.AttrClr&unix.MOUNT_ATTR__ATIME != unix.MOUNT_ATTR__ATIME {
			t.Errorf("atime attribute set without clearing MOUNT_ATTR__ATIME: set %#x clear %#x", mo.AttrSet, mo.AttrClr)
		}
		if c := mo.AttrClr & unix.MOUNT_ATTR__ATIME; c != 0 && c != unix.MOUNT_ATTR__ATIME {
			t.Errorf("partial MOUNT_ATTR__ATIME clear %#x", mo.AttrClr)
		}
		if mo.Bind != (mo.Flags&unix.MS_BIND != 0) || mo.Recursive && !mo.Bind {
			t.Errorf("bind %v recursive %v with flags %#x", mo.Bind, mo.Recursive, mo.Flags)
		}
		// The data of a list is the data of its options, each on its own, in order.
		var data []string
		for _, o := range opts {
			if one, _ := ParseMountOptions([]string{o}); one.Data != "" {
				data = append(data, o)
			}
		}
		if want := strings.Join(data, ","); mo.Data != want {
			t.Errorf("data = %q, want %q", mo.Data, want)
		}
		props := 0
		for _, o := range opts {
			if _, ok := propagationOptions[o]; ok {
				props++
			}
		}
		if len(mo.Propagation) != props {
			t.Errorf("%d propagation changes, want %d", len(mo.Propagation), props)
		}
	})
}

func TestPropagationFlags(t *testing.T) {
	tests := []struct {
		name string
		want uintptr
		ok   bool
	}{
		{"rslave", unix.MS_SLAVE | unix.MS_REC, true},
		{"shared", unix.MS_SHARED, true},
		{"runbindable", unix.MS_UNBINDABLE | unix.MS_REC, true},
		{"", 0, false},
		{"rsharedx", 0, false},
		{"rprivate", unix.MS_PRIVATE | unix.MS_REC, true},
		{"bind", 0, false},
	}
	for _, tt := range tests {
		got, ok := PropagationFlags(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PropagationFlags(%q) = %#x, %v; want %#x, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
