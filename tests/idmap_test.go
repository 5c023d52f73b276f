//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// Id-mapped mounts (idmap, ridmap, a mount's uidMappings and gidMappings).
// A mount mapping reads like a user namespace mapping: containerID is the id
// on the source filesystem, hostID the id the kernel sees, which the
// container then sees through its own user namespace. Without the mount's
// own mappings, idmap uses the container's: host root's files are the
// container root's.

// idmapSource is a host directory, owned by host root and writable by all,
// holding "rootfile" (host root's) and "file1000" (host uid 1000's).
func idmapSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, owner := range map[string]int{"rootfile": 0, "file1000": 1000} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	// Writable by all: a write through a mapping then meets the kernel's id
	// rules, not the directory's permission bits.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// idmapEnabled is linux.mountExtensions.idmap.enabled of the runtime's
// features document, asked once.
var idmapEnabled = sync.OnceValues(func() (bool, error) {
	out, err := exec.Command(hullBinary, "features").Output()
	if err != nil {
		return false, fmt.Errorf("features: %w", err)
	}
	var doc features.Features
	if err := json.Unmarshal(out, &doc); err != nil {
		return false, err
	}
	l := doc.Linux
	return l != nil && l.MountExtensions != nil && l.MountExtensions.IDMap != nil &&
		l.MountExtensions.IDMap.Enabled != nil && *l.MountExtensions.IDMap.Enabled, nil
})

// idmapSkip skips when the runtime says it cannot make id-mapped mounts here.
func idmapSkip(t *testing.T) {
	t.Helper()
	ok, err := idmapEnabled()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		hulltest.HostLimit(t, "the runtime says id-mapped mounts do not work here (linux.mountExtensions.idmap.enabled is not true); they run on kernels that id-map tmpfs (6.3 and later: this host, the VM)")
	}
}

func idmapBind(dest, source string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dest, Type: "bind", Source: source, Options: opts}
}

func withMappings(m specs.Mount, uids, gids []specs.LinuxIDMapping) specs.Mount {
	m.UIDMappings, m.GIDMappings = uids, gids
	return m
}

// TestIDMapUserns: id-mapped mounts in a container whose user namespace maps
// 0..65535 to host 100000..165535.
func TestIDMapUserns(t *testing.T) {
	t.Parallel()
	idmapSkip(t)
	const nobody = "65534:65534"
	tests := []struct {
		name   string
		mounts func(t *testing.T, src string) []specs.Mount
		script string
		want   string // the script's output
		// host is the owner ("uid:gid") on the host of files the script
		// makes in the source.
		host map[string]string
	}{
		{
			// The container's own mapping: host root's files are root's,
			// and what root writes is host root's. The plain bind of the
			// same directory shows the real (unmapped) owners.
			name: "container-mapping",
			mounts: func(_ *testing.T, src string) []specs.Mount {
				return []specs.Mount{idmapBind("/data", src, "rbind", "idmap"), idmapBind("/plain", src, "rbind")}
			},
			script: `set -e; stat -c %u:%g /data/rootfile /data/file1000 /plain/rootfile
touch /data/by-root; mkdir /data/dir-by-root; stat -c %u:%g /data/by-root /plain/by-root
grep -c ' /data .*idmapped' /proc/self/mountinfo; grep -c ' /plain .*idmapped' /proc/self/mountinfo || true
ls /proc/self/fd | tr '\n' ' '; echo; env | grep -c HULL || true`,
			// No mount fd or variable of hull's reaches the container.
			want: "0:0\n1000:1000\n" + nobody + "\n0:0\n" + nobody + "\n1\n0\n0 1 2 3 \n0\n",
			host: map[string]string{"by-root": "0:0", "dir-by-root": "0:0"},
		},
		{
			// The mount's own mapping, here a swap: host 1000's files are
			// the container root's, host root's are its 1000's.
			name: "mount-mapping",
			mounts: func(_ *testing.T, src string) []specs.Mount {
				swap := []specs.LinuxIDMapping{idMap(1000, usernsHostID, 1), idMap(0, usernsHostID+1000, 1)}
				return []specs.Mount{withMappings(idmapBind("/data", src, "bind", "idmap"), swap, swap)}
			},
			script: `set -e; stat -c %u:%g /data/file1000 /data/rootfile; touch /data/by-root; stat -c %u:%g /data/by-root`,
			want:   "0:0\n1000:1000\n0:0\n",
			host:   map[string]string{"by-root": "1000:1000"},
		},
		{
			// A mapping of host 1000 only, with uid and gid mapped apart.
			name: "mount-mapping-one-id",
			mounts: func(_ *testing.T, src string) []specs.Mount {
				return []specs.Mount{withMappings(idmapBind("/data", src, "bind", "idmap"),
					[]specs.LinuxIDMapping{idMap(1000, usernsHostID, 1)}, []specs.LinuxIDMapping{idMap(1000, usernsHostID+5, 1)})}
			},
			script: `stat -c %u:%g /data/file1000 /data/rootfile`,
			want:   "0:5\n" + nobody + "\n",
		},
		{
			// idmap maps the bind's top mount only, ridmap its submounts
			// too; mappings without an option act as idmap.
			name: "submounts",
			mounts: func(t *testing.T, src string) []specs.Mount {
				idmapSubmount(t, src)
				full := []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
				return []specs.Mount{
					idmapBind("/i", src, "rbind", "idmap"),
					idmapBind("/r", src, "rbind", "ridmap"),
					withMappings(idmapBind("/m", src, "rbind"), full, full),
				}
			},
			script: `stat -c %u:%g /i/rootfile /i/sub/f /r/rootfile /r/sub/f /m/rootfile /m/sub/f
grep -c ' /r/sub .*idmapped' /proc/self/mountinfo; grep -c ' /i/sub .*idmapped' /proc/self/mountinfo || true`,
			want: "0:0\n" + nobody + "\n0:0\n0:0\n0:0\n" + nobody + "\n1\n0\n",
		},
		{
			// The mount's other options apply to the id-mapped mount.
			name: "options",
			mounts: func(_ *testing.T, src string) []specs.Mount {
				return []specs.Mount{idmapBind("/ro", src, "bind", "idmap", "ro", "nosuid", "nodev", "rshared")}
			},
			script: `stat -c %u:%g /ro/rootfile; touch /ro/x 2>&1 | grep -o 'Read-only file system'
line=$(grep ' /ro ' /proc/self/mountinfo); opts=$(echo "$line" | cut -d' ' -f6)
for o in ro nosuid nodev idmapped; do case ",$opts," in *,$o,*) echo $o;; esac; done
echo "$line" | grep -o 'shared:'`,
			want: "0:0\nRead-only file system\nro\nnosuid\nnodev\nidmapped\nshared:\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			src := idmapSource(t)
			s := usernsSpec(shell(tc.script)...)
			s.Mounts = append(s.Mounts, tc.mounts(t, src)...)
			prepareUserns(t, h, usernsHostID, usernsHostID)
			r := h.run(s)
			mustExit(t, r, 0)
			if r.stdout != tc.want {
				t.Errorf("inside:\n got %q\nwant %q", r.stdout, tc.want)
			}
			for name, want := range tc.host {
				if got := ownerOf(t, filepath.Join(src, name)); got != want {
					t.Errorf("host owner of %s: %s, want %s", name, got, want)
				}
			}
		})
	}
}

// idmapSubmount mounts a tmpfs at src/sub holding "f", host root's; cleanup
// unmounts it.
func idmapSubmount(t *testing.T, src string) {
	t.Helper()
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("hulltest", sub, "tmpfs", 0, "size=64k,mode=755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", sub, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(sub, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", sub, err)
		}
	})
	// Its events must not reach other mount namespaces.
	if err := unix.Mount("", sub, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIDMapJoinedUserns: idmap without mappings in a container that joins a
// user namespace by path uses that namespace's mapping.
func TestIDMapJoinedUserns(t *testing.T) {
	t.Parallel()
	idmapSkip(t)
	const hostID = 200000
	h := newHarness(t)
	holder := startUsernsHolder(t, hostID)
	prepareUserns(t, h, hostID, hostID)
	src := idmapSource(t)
	s := baseSpec(shell(`stat -c %u:%g /data/rootfile; touch /data/new`)...)
	joinUserns(s, fmt.Sprintf("/proc/%d/ns/user", holder))
	s.Mounts = append(s.Mounts, idmapBind("/data", src, "rbind", "idmap"))
	r := h.run(s)
	mustExit(t, r, 0)
	if r.stdout != "0:0\n" {
		t.Errorf("owner of host root's file inside: %q, want 0:0", r.stdout)
	}
	if got := ownerOf(t, filepath.Join(src, "new")); got != "0:0" {
		t.Errorf("host owner of a file the container's root made: %s, want 0:0", got)
	}
}

// TestIDMapNoUserns: a container without a user namespace can have a mount
// with its own mapping. Its root is not mapped in it, so the kernel refuses
// the files it would create (their owner cannot be stored).
func TestIDMapNoUserns(t *testing.T) {
	t.Parallel()
	idmapSkip(t)
	h := newHarness(t)
	src := idmapSource(t)
	s := baseSpec(shell(`stat -c %u:%g /data/rootfile /data/file1000; touch /data/new 2>&1 | grep -o 'Value too large.*'`)...)
	s.Mounts = append(s.Mounts, withMappings(idmapBind("/data", src, "bind", "idmap"),
		[]specs.LinuxIDMapping{idMap(0, 1000, 1)}, []specs.LinuxIDMapping{idMap(0, 2000, 1)}))
	r := h.run(s)
	mustExit(t, r, 0)
	if want := "1000:2000\n65534:65534\nValue too large for defined data type\n"; r.stdout != want {
		t.Errorf("inside:\n got %q\nwant %q", r.stdout, want)
	}
	if _, err := os.Lstat(filepath.Join(src, "new")); err == nil {
		t.Errorf("the unmapped root created a file through the mount")
	}
}

// TestIDMapErrors: what cannot be id-mapped fails at create, naming the mount,
// and leaves nothing behind.
func TestIDMapErrors(t *testing.T) {
	t.Parallel()
	idmapSkip(t)
	full := []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *specs.Spec)
		want   []string // in create's error
	}{
		{
			name:   "proc",
			mutate: func(_ *testing.T, s *specs.Spec) { s.Mounts[0].Options = append(s.Mounts[0].Options, "idmap") },
			want:   []string{"mounts[0].options[0]", `only supported for bind mounts, not type "proc"`},
		},
		{
			name: "tmpfs-with-mappings",
			mutate: func(_ *testing.T, s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", UIDMappings: full, GIDMappings: full})
			},
			want: []string{"mounts[6].uidMappings", `only supported for bind mounts, not type "tmpfs"`},
		},
		{
			// A bind of a filesystem the kernel cannot id-map.
			name: "bind-of-procfs",
			mutate: func(_ *testing.T, s *specs.Spec) {
				s.Mounts = append(s.Mounts, idmapBind("/hostproc", "/proc", "bind", "idmap"))
			},
			want: []string{"mounts[6] (/hostproc)", "id-map /proc", "invalid argument", "(proc) does not support id-mapped mounts"},
		},
		{
			name: "uid-mappings-only",
			mutate: func(t *testing.T, s *specs.Spec) {
				s.Mounts = append(s.Mounts, withMappings(idmapBind("/data", t.TempDir(), "bind", "idmap"), full, nil))
			},
			want: []string{"mounts[6].gidMappings", "missing"},
		},
		{
			name: "no-mapping-no-userns",
			mutate: func(t *testing.T, s *specs.Spec) {
				removeNamespace(s, specs.UserNamespace)
				s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
				s.Mounts = append(s.Mounts, idmapBind("/data", t.TempDir(), "rbind", "idmap"))
			},
			want: []string{"mounts[6].options", "idmap needs uidMappings and gidMappings on the mount or a user namespace"},
		},
		{
			name: "missing-source",
			mutate: func(_ *testing.T, s *specs.Spec) {
				s.Mounts = append(s.Mounts, idmapBind("/data", "/nonexistent-hull-idmap", "rbind", "idmap"))
			},
			want: []string{"mounts[6] (/data)", "/nonexistent-hull-idmap", "no such file or directory"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := usernsSpec("true")
			tc.mutate(t, s)
			prepareUserns(t, h, usernsHostID, usernsHostID)
			r := h.create(s)
			if r.exit == 0 {
				t.Fatalf("create succeeded, want an error containing %q", tc.want)
			}
			msg := chkLogMsg(r.stderr)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("create's error lacks %q: %q", w, msg)
				}
			}
			t.Logf("%s", msg)
			if _, _, ok := h.state(h.id); ok {
				t.Errorf("a failed create left container %s", h.id)
			}
		})
	}
}
