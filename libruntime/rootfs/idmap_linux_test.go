package rootfs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/libruntime/config"
)

func init() {
	scenarios["idmap-outer"] = scenario{outer: idmapOuter}
	scenarios["idmap-userns"] = scenario{inside: idmapUsernsInside}
	scenarios["idmap-nouserns"] = scenario{outer: idmapNoUsernsOuter}
}

// idmapHost is where the id-mapped scenarios' user namespace maps its root.
const idmapHost = 100000

func idmapping(containerID, hostID, size uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: containerID, HostID: hostID, Size: size}}
}

// idmapSource fills dir, a host directory owned by root, with files owned by
// host root and by host uid 1000.
func idmapSource(t *testing.T, dir string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, "rootfile"), []byte("root"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "file1000"), []byte("1000"), 0o644))
	must(t, os.Chown(filepath.Join(dir, "file1000"), 1000, 1000))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	// Writable by all, so that writes through a mapping that shows it
	// unowned reach the kernel's id check rather than stop at permissions.
	must(t, os.Chmod(dir, 0o777))
}

// searchableTo adds o+x to dir and the directories above it up to the
// system's temporary directory, so that a mapped root can reach the rootfs.
func searchableTo(t *testing.T, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		st, err := os.Stat(d)
		must(t, err)
		must(t, os.Chmod(d, st.Mode().Perm()|0o011))
	}
}

// TestIDMappedMounts makes id-mapped mounts the way hull does: the detached
// mounts are made by a host-root process (SourceServer.Open), handed to a
// child in a new user namespace mapping 0 -> 100000 (as inherited fds here,
// over the sync socket in hull), and attached there by Prepare, which asks
// for them through Config.Sources.
func TestIDMappedMounts(t *testing.T) {
	requireRoot(t)
	if !IDMapSupported() {
		hulltest.HostLimit(t, "id-mapped mounts do not work here: %v; they run on kernels that id-map tmpfs (6.3 and later: this host, the VM)", idmapProbe())
	}
	b := newBundle(t)
	idmapSource(t, b.host)
	err := filepath.WalkDir(b.rootfs, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, idmapHost, idmapHost)
	})
	must(t, err)
	searchableTo(t, b.rootfs)

	bind := func(dest string, opts ...string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: b.host, Options: opts}
	}
	permount := bind("/permount", "bind", "idmap")
	// Swap: on-disk 1000 is the container's root, on-disk root its 1000.
	swap := []specs.LinuxIDMapping{{ContainerID: 1000, HostID: idmapHost, Size: 1}, {ContainerID: 0, HostID: idmapHost + 1000, Size: 1}}
	permount.UIDMappings, permount.GIDMappings = swap, swap
	noOption := bind("/nooption", "rbind")
	noOption.UIDMappings, noOption.GIDMappings = idmapping(0, idmapHost, 65536), idmapping(0, idmapHost, 65536)
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755"}},
			bind("/idmap", "rbind", "idmap"),
			bind("/ridmap", "rbind", "ridmap"),
			bind("/plain", "rbind"),
			permount,
			bind("/ro", "bind", "idmap", "ro", "nosuid"),
			noOption,
			bind("/shared", "bind", "idmap", "shared"),
			{Destination: "/etc/idfile", Type: "bind", Source: filepath.Join(b.host, "rootfile"), Options: []string{"bind", "idmap"}},
		},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.MountNamespace}, {Type: specs.PIDNamespace}},
			UIDMappings: idmapping(0, idmapHost, 65536),
			GIDMappings: idmapping(0, idmapHost, 65536),
		},
	}
	inner := b.args("idmap-userns", spec)
	inner.InUserNS = true
	inner.UserNSHost = idmapHost
	a := &childArgs{Scenario: "idmap-outer", Bundle: b.dir, Host: b.host, Inner: inner, Flags: defaultFlags, UserNS: true}
	runScenario(t, a, 0)

	// What the container wrote through the mounts, as the host sees it.
	for name, want := range map[string]string{
		"by-root":      "0:0",       // container root through the container's mapping
		"by-root-perm": "1000:1000", // container root is on-disk 1000 in /permount
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(b.host, name), &st); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%d:%d", st.Uid, st.Gid); got != want {
			t.Errorf("host owner of %s: %s, want %s", name, got, want)
		}
	}
}

// idmapOuter mounts a tmpfs below the source (in its own mount namespace, so
// the host never sees it), makes the id-mapped mounts as host root and runs
// the inner scenario with them.
func idmapOuter(a *childArgs, ck *checker) {
	if !ownProcfs(ck) {
		return
	}
	sub := filepath.Join(a.Host, "sub")
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "mode=755"); err != nil {
		ck.errorf("mount tmpfs on %s: %v", sub, err)
		return
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("sub"), 0o644); err != nil {
		ck.errorf("%v", err)
		return
	}
	srv := NewSourceServer(a.Inner.Spec, a.Inner.Bundle, nil)
	defer srv.Close()
	var trees []*os.File
	a.Inner.Sources = map[int]int{}
	for i, m := range a.Inner.Spec.Mounts {
		o, err := config.ParseMountOptions(m.Options)
		if err != nil {
			ck.errorf("mounts[%d]: %v", i, err)
			return
		}
		if !wantsIDMap(m, o) {
			continue
		}
		tree, err := srv.Open(i)
		if err != nil {
			ck.errorf("SourceServer.Open(%d): %v", i, err)
			return
		}
		defer tree.Close()
		a.Inner.Sources[i] = 3 + len(trees)
		trees = append(trees, tree)
	}
	if n := len(trees); n != 7 {
		ck.errorf("%d mounts want an id mapping, want 7", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, err := childCmd(ctx, a.Inner, a.Flags, a.UserNS)
	if err != nil {
		ck.errorf("%v", err)
		return
	}
	// The test binary's directory is root's alone: the mapped root execs
	// it through an inherited fd.
	exe, err := os.Open(cmd.Path)
	if err != nil {
		ck.errorf("%v", err)
		return
	}
	defer exe.Close()
	trees = append(trees, exe)
	cmd.ExtraFiles = trees
	cmd.Path = fmt.Sprintf("/proc/self/fd/%d", 3+len(cmd.ExtraFiles)-1)
	out, err := cmd.CombinedOutput()
	if err != nil {
		ck.errorf("inner %s: %v\n%s", a.Inner.Scenario, err, out)
	}
}

// ownProcfs makes the child's mounts private and mounts the procfs of its
// pid namespace on /proc, as hull has one: making a user namespace writes the
// maps of a child by its pid there.
func ownProcfs(ck *checker) bool {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		ck.errorf("make / private: %v", err)
		return false
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		ck.errorf("mount /proc: %v", err)
		return false
	}
	return true
}

func expectOwner(ck *checker, p, want string) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		ck.errorf("stat %s: %v", p, err)
		return
	}
	if got := fmt.Sprintf("%d:%d", st.Uid, st.Gid); got != want {
		ck.errorf("%s is owned by %s inside, want %s", p, got, want)
	}
}

func idmapUsernsInside(a *childArgs, ck *checker) {
	const nobody = "65534:65534"
	// The container's mapping: host root's files are root's, the plain
	// bind of the same directory shows them unmapped.
	expectOwner(ck, "/idmap/rootfile", "0:0")
	expectOwner(ck, "/idmap/file1000", "1000:1000")
	expectOwner(ck, "/plain/rootfile", nobody)
	expectOwner(ck, "/nooption/rootfile", "0:0")
	// idmap maps the mount itself only, ridmap its submounts too.
	expectOwner(ck, "/idmap/sub/f", nobody)
	expectOwner(ck, "/ridmap/sub/f", "0:0")
	expectOwner(ck, "/nooption/sub/f", nobody)
	// The mount's own mapping: on-disk 1000 is host 100000, the container's
	// root, and on-disk root is host 101000, the container's 1000.
	expectOwner(ck, "/permount/file1000", "0:0")
	expectOwner(ck, "/permount/rootfile", "1000:1000")
	if err := writeFile("/idmap/by-root", "x"); err != nil {
		ck.errorf("write through the id-mapped mount: %v", err)
	}
	expectOwner(ck, "/idmap/by-root", "0:0")
	if err := writeFile("/permount/by-root-perm", "x"); err != nil {
		ck.errorf("write through the per-mount mapping: %v", err)
	}
	expectErrno(ck, "write to a read-only id-mapped mount", writeFile("/ro/new", "x"), unix.EROFS)
	// A single file can be id-mapped too.
	expectOwner(ck, "/etc/idfile", "0:0")
	expectContent(ck, "/etc/idfile", "root")
	expectOwner(ck, "/ro/rootfile", "0:0")

	mt := mountTable(ck)
	for _, p := range []string{"/idmap", "/ridmap", "/permount", "/ro", "/nooption", "/shared", "/etc/idfile"} {
		expectMount(ck, mt, p, "", "idmapped")
	}
	expectMount(ck, mt, "/ro", "", "ro", "nosuid")
	if m := mt["/plain"]; m == nil || hulltest.HasOpt(m.Options, "idmapped") {
		ck.errorf("/plain: %+v, want a bind without id mapping", m)
	}
	if m := mt["/ridmap/sub"]; m == nil || !hulltest.HasOpt(m.Options, "idmapped") {
		ck.errorf("/ridmap/sub: %+v, want an id-mapped submount", m)
	}
	if m := mt["/idmap/sub"]; m == nil || hulltest.HasOpt(m.Options, "idmapped") {
		ck.errorf("/idmap/sub: %+v, want a submount without id mapping", m)
	}
	if m := mt["/shared"]; m == nil || !strings.Contains(m.Optional, "shared:") {
		ck.errorf("/shared: %+v, want a shared mount", m)
	}
}

// TestIDMappedMountsWithoutUserns: a container without a user namespace can
// have a mount with its own mapping; its root, unmapped there, cannot write.
func TestIDMappedMountsWithoutUserns(t *testing.T) {
	requireRoot(t)
	if !IDMapSupported() {
		hulltest.HostLimit(t, "id-mapped mounts do not work here: %v; they run on kernels that id-map tmpfs (6.3 and later: this host, the VM)", idmapProbe())
	}
	b := newBundle(t)
	idmapSource(t, b.host)
	m := specs.Mount{Destination: "/m", Type: "bind", Source: b.host, Options: []string{"bind", "idmap"},
		UIDMappings: idmapping(0, 1000, 1), GIDMappings: idmapping(0, 2000, 1)}
	spec := &specs.Spec{
		Root:   &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}, m},
	}
	runScenario(t, b.args("idmap-nouserns", spec), 0)
}

func idmapNoUsernsOuter(a *childArgs, ck *checker) {
	if !ownProcfs(ck) {
		return
	}
	srv := NewSourceServer(a.Spec, a.Bundle, nil)
	defer srv.Close()
	var asked []int
	c := &Config{Spec: a.Spec, Rootfs: a.Rootfs, Sources: func(i int) (*os.File, error) {
		asked = append(asked, i)
		return srv.Open(i)
	}}
	err := Prepare(c)
	if err == nil {
		err = Pivot(c)
	}
	if err == nil {
		err = Finalize(c)
	}
	if err != nil {
		ck.errorf("%v", err)
		return
	}
	if len(asked) != 1 || asked[0] != 1 {
		ck.errorf("Prepare asked for the sources of mounts %v, want [1]", asked)
	}
	expectOwner(ck, "/m/rootfile", "1000:2000")
	expectOwner(ck, "/m/file1000", "65534:65534")
	// Root is not mapped in the mount: the kernel cannot store its id.
	expectErrno(ck, "root creating a file", writeFile("/m/new", "x"), unix.EOVERFLOW)
}

// TestSourceServerErrors checks the refusals, each naming the mount.
func TestSourceServerErrors(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	full := idmapping(0, idmapHost, 65536)
	userns := &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.UserNamespace}}, UIDMappings: full, GIDMappings: full}
	tests := []struct {
		name   string
		mount  specs.Mount
		linux  *specs.Linux
		want   string
		probed bool // the error comes from the kernel
	}{
		{name: "proc type",
			mount: specs.Mount{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"idmap"}}, linux: userns,
			want: `mounts[1] (/proc): id mappings (idmap, ridmap, uidMappings, gidMappings) are only supported on bind mounts, not on this mount of type "proc"`},
		{name: "tmpfs with mappings",
			mount: specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs", UIDMappings: full, GIDMappings: full},
			want:  `mounts[1] (/t): id mappings (idmap, ridmap, uidMappings, gidMappings) are only supported on bind mounts, not on this mount of type "tmpfs"`},
		{name: "bind of procfs",
			mount: specs.Mount{Destination: "/p", Type: "bind", Source: "/proc", Options: []string{"rbind", "ridmap"}, UIDMappings: full, GIDMappings: full},
			want:  "mounts[1] (/p): id-map /proc: mount_setattr detached:/proc: invalid argument: its filesystem (proc) or that of one of its submounts does not support id-mapped mounts", probed: true},
		{name: "uid mappings only",
			mount: specs.Mount{Destination: "/x", Type: "bind", Source: dir, Options: []string{"bind", "idmap"}, UIDMappings: full},
			want:  "mounts[1] (/x): uidMappings without gidMappings"},
		{name: "gid mappings only",
			mount: specs.Mount{Destination: "/x", Type: "bind", Source: dir, Options: []string{"bind"}, GIDMappings: full},
			want:  "mounts[1] (/x): gidMappings without uidMappings"},
		{name: "no mapping at all",
			mount: specs.Mount{Destination: "/x", Type: "bind", Source: dir, Options: []string{"rbind", "idmap"}},
			want:  "mounts[1] (/x): idmap without the mount's own uidMappings and gidMappings needs a user namespace"},
		{name: "missing source",
			mount: specs.Mount{Destination: "/x", Source: "/nonexistent-hull-src", Options: []string{"bind", "idmap"}}, linux: userns,
			want: "mounts[1] (/x): bind source: open /nonexistent-hull-src: no such file or directory"},
		{name: "joined user namespace that is not one",
			mount: specs.Mount{Destination: "/x", Source: dir, Options: []string{"bind", "idmap"}},
			linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.UserNamespace, Path: "/proc/self/ns/net"}}},
			want:  "mounts[1] (/x): linux.namespaces: /proc/self/ns/net is not a user namespace"},
		{name: "not a bind",
			mount: specs.Mount{Destination: "/t", Type: "tmpfs", Source: "tmpfs"},
			want:  `mounts[1] (/t): not a bind mount (type "tmpfs"): only a bind's source is opened by the runtime`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.probed && !IDMapSupported() {
				hulltest.HostLimit(t, "id-mapped mounts do not work here: %v; they run on kernels that id-map tmpfs (6.3 and later: this host, the VM)", idmapProbe())
			}
			spec := &specs.Spec{
				Mounts: []specs.Mount{{Destination: "/plain", Type: "bind", Source: dir, Options: []string{"rbind"}}, tc.mount},
				Linux:  tc.linux,
			}
			srv := NewSourceServer(spec, t.TempDir(), nil)
			defer srv.Close()
			tree, err := srv.Open(1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error containing %q", err, tc.want)
			}
			if tree != nil {
				t.Errorf("Open returned a mount with its error")
				tree.Close()
			}
		})
	}
	srv := NewSourceServer(&specs.Spec{}, "/", nil)
	if tree, err := srv.Open(0); tree != nil || err == nil || err.Error() != "init asked for the source of mounts[0], which does not exist" {
		t.Errorf("Open of a mount the spec does not have = %v, %v", tree, err)
	}
}

// TestIDMapSupported compares the claim with a real attempt.
func TestIDMapSupported(t *testing.T) {
	got := IDMapSupported()
	spec := &specs.Spec{Mounts: []specs.Mount{{Destination: "/x", Type: "bind", Source: t.TempDir(), Options: []string{"bind", "idmap"},
		UIDMappings: idmapping(0, idmapHost, 65536), GIDMappings: idmapping(0, idmapHost, 65536)}}}
	srv := NewSourceServer(spec, "/", nil)
	defer srv.Close()
	tree, err := srv.Open(0)
	if tree != nil {
		tree.Close()
	}
	if (err == nil) != got {
		t.Errorf("IDMapSupported() = %v (probe: %v), but making an id-mapped mount: %v", got, idmapProbe(), err)
	}
	if os.Geteuid() != 0 && got {
		t.Errorf("IDMapSupported() = true for a non-root user")
	}
	if os.Geteuid() == 0 && !got {
		var uts unix.Utsname
		must(t, unix.Uname(&uts))
		t.Logf("id-mapped mounts unsupported on %s: %v", unix.ByteSliceToString(uts.Release[:]), idmapProbe())
	}
}
