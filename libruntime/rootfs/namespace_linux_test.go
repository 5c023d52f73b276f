package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These scenarios need a prepared mount namespace of their own: an outer
// child (new mount namespace) sets it up and runs the real scenario in an
// inner child.

func init() {
	scenarios["propagation-outer"] = scenario{outer: propagationOuter}
	scenarios["propagation-inner"] = scenario{inside: propagationInner}
	scenarios["userns-outer"] = scenario{outer: usernsOuter}
	scenarios["userns-inner"] = scenario{inside: usernsInner}
}

// runInner runs a.Inner and reports its failure.
func runInner(a *childArgs, ck *checker) {
	out, err := runChild(a.Inner, a.Flags, a.UserNS)
	if err != nil {
		ck.errorf("inner %s: %v\n%s", a.Inner.Scenario, err, out)
	}
}

// TestPropagationDoesNotLeak puts the rootfs on a shared mount whose peer is
// in the outer namespace: nothing the container mounts may appear there,
// whatever rootfsPropagation says.
func TestPropagationDoesNotLeak(t *testing.T) {
	requireRoot(t)
	for _, prop := range []string{"", "rslave", "slave", "rprivate", "private", "rshared", "shared", "runbindable"} {
		t.Run("propagation="+prop, func(t *testing.T) {
			dir := t.TempDir()
			shared := filepath.Join(dir, "shared")
			must(t, os.Mkdir(shared, 0o755))
			inner := &childArgs{
				Scenario: "propagation-inner",
				Rootfs:   filepath.Join(shared, "rootfs"),
				Bundle:   dir,
				Spec: &specs.Spec{
					Root: &specs.Root{Path: "rootfs"},
					Mounts: []specs.Mount{
						{Destination: "/proc", Type: "proc", Source: "proc"},
						{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs"},
						{Destination: "/mnt/shared", Type: "tmpfs", Source: "tmpfs", Options: []string{"rshared"}},
					},
					Linux: &specs.Linux{RootfsPropagation: prop},
				},
			}
			a := &childArgs{Scenario: "propagation-outer", Bundle: dir, Host: shared, Inner: inner, Flags: defaultFlags}
			runScenario(t, a, 0)
		})
	}
}

func propagationOuter(a *childArgs, ck *checker) {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		ck.errorf("make / private: %v", err)
		return
	}
	if err := unix.Mount("outer", a.Host, "tmpfs", 0, ""); err != nil {
		ck.errorf("mount tmpfs: %v", err)
		return
	}
	if err := unix.Mount("", a.Host, "", unix.MS_SHARED, ""); err != nil {
		ck.errorf("make shared: %v", err)
		return
	}
	for _, d := range []string{"rootfs/proc", "rootfs/mnt"} {
		if err := os.MkdirAll(filepath.Join(a.Host, d), 0o755); err != nil {
			ck.errorf("%v", err)
			return
		}
	}
	runInner(a, ck)
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(a.Host))
	if err != nil {
		ck.errorf("read mountinfo: %v", err)
		return
	}
	for _, m := range ms {
		if m.Mountpoint != a.Host {
			ck.errorf("container mount leaked to the outer namespace: %s (%s)", m.Mountpoint, m.Source)
		}
	}
}

func propagationInner(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	root := mt["/"]
	if root == nil {
		ck.errorf("no / in mountinfo")
		return
	}
	prop := a.Spec.Linux.RootfsPropagation
	want := map[string]string{
		"": "master:", "rslave": "master:", "slave": "master:",
		"rshared": "shared:", "shared": "shared:", "runbindable": "unbindable",
	}[prop]
	switch {
	case want == "" && root.Optional != "":
		ck.errorf("/ is %q, want private", root.Optional)
	case want != "" && !strings.Contains(root.Optional, want):
		ck.errorf("/ is %q, want %s", root.Optional, want)
	}
	// The per-mount option holds unless a recursive rootfsPropagation,
	// applied last, overrode it.
	if prop == "" || prop == "rshared" || !strings.HasPrefix(prop, "r") {
		if m := mt["/mnt/shared"]; m == nil || !strings.Contains(m.Optional, "shared:") {
			ck.errorf("/mnt/shared is not shared: %+v", m)
		}
	}
}

// TestUserNamespace runs the container in a user namespace: devices are bind
// mounts of the host's, and read-only binds of a mount whose nosuid, nodev
// and noexec are locked keep those flags instead of failing with EPERM.
func TestUserNamespace(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		mounts  []specs.Mount
		noPivot bool
		wantErr string
	}{
		{name: "ok", mounts: []specs.Mount{
			{Destination: "/mnt/locked-ro", Source: "locked", Options: []string{"rbind", "ro"}},
			{Destination: "/mnt/locked", Source: "locked", Options: []string{"bind"}},
			{Destination: "/mnt/locked-nosuid", Source: "locked", Options: []string{"bind", "nosuid", "nodev"}},
			// No cgroup namespace: cgroup2 cannot be mounted, the host's is bound.
			{Destination: "/mnt/cg2", Type: "cgroup2", Source: "cgroup", Options: []string{"ro"}},
		}},
		{name: "no pivot", noPivot: true, mounts: []specs.Mount{
			{Destination: "/mnt/locked-ro", Source: "locked", Options: []string{"rbind", "ro"}},
			{Destination: "/mnt/locked", Source: "locked", Options: []string{"bind"}},
			{Destination: "/mnt/locked-nosuid", Source: "locked", Options: []string{"bind", "nosuid", "nodev"}},
			{Destination: "/mnt/cg2", Type: "cgroup2", Source: "cgroup", Options: []string{"ro"}},
		}},
		{name: "explicit suid on locked nosuid", mounts: []specs.Mount{
			{Destination: "/mnt/x", Source: "locked", Options: []string{"bind", "ro", "suid"}},
		}, wantErr: "mounts[7] (/mnt/x): mount_setattr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBundle(t)
			must(t, os.Mkdir(filepath.Join(b.dir, "locked"), 0o755))
			b.write(t, "etc/masked", "masked", 0o644)
			mounts := []specs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
				{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
				{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
				{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
				{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
				{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}},
			}
			inner := b.args("userns-inner", &specs.Spec{
				Root:   &specs.Root{Path: "rootfs"},
				Mounts: append(mounts, tt.mounts...),
				Linux: &specs.Linux{
					MaskedPaths:   []string{"/proc/keys", "/etc/masked", "/proc/acpi"},
					ReadonlyPaths: []string{"/proc/sys"},
				},
			})
			inner.InUserNS = true
			inner.NoPivot = tt.noPivot
			inner.WantErr = tt.wantErr
			a := b.args("userns-outer", nil)
			a.Inner, a.UserNS = inner, true
			a.Flags = defaultFlags | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC
			runScenario(t, a, 0)
		})
	}
}

// usernsOuter mounts a tmpfs with nosuid, nodev and noexec: in the inner
// user namespace those flags are locked.
func usernsOuter(a *childArgs, ck *checker) {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		ck.errorf("make / private: %v", err)
		return
	}
	// Go writes the inner child's uid_map through /proc/<pid>: that needs a
	// procfs of our own pid namespace.
	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		ck.errorf("mount proc: %v", err)
		return
	}
	locked := filepath.Join(a.Bundle, "locked")
	if err := unix.Mount("locked", locked, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		ck.errorf("mount tmpfs: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(locked, "f"), []byte("locked"), 0o644); err != nil {
		ck.errorf("%v", err)
		return
	}
	runInner(a, ck)
}

func usernsInner(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	expectMount(ck, mt, "/mnt/locked-ro", "tmpfs", "ro", "nosuid", "nodev", "noexec")
	expectMount(ck, mt, "/mnt/locked", "tmpfs", "rw", "nosuid", "nodev", "noexec")
	expectMount(ck, mt, "/mnt/locked-nosuid", "tmpfs", "rw", "nosuid", "nodev", "noexec")
	expectContent(ck, "/mnt/locked-ro/f", "locked")
	expectErrno(ck, "write read-only bind", writeFile("/mnt/locked-ro/new", "x"), unix.EROFS)
	expectMount(ck, mt, "/sys", "sysfs", "ro")
	expectMount(ck, mt, "/tmp", "tmpfs", "ro")
	expectErrno(ck, "write read-only tmpfs", writeFile("/tmp/x", "x"), unix.EROFS)
	checkCgroupMount(a, ck, mt)
	expectMount(ck, mt, "/mnt/cg2", "cgroup2", "ro")

	// mknod is not allowed: the devices are the host's, bind-mounted.
	for _, d := range defaultDevices {
		expectMount(ck, mt, d.path, "devtmpfs")
		var st unix.Stat_t
		if err := unix.Stat(d.path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(d.major, d.minor) {
			ck.errorf("%s: %+v, %v", d.path, st, err)
		}
	}
	if f, err := os.OpenFile("/dev/null", os.O_WRONLY, 0); err != nil {
		ck.errorf("open /dev/null: %v", err)
	} else {
		f.Close()
	}
	expectLink(ck, "/dev/ptmx", "pts/ptmx")

	expectContent(ck, "/proc/keys", "")
	expectContent(ck, "/etc/masked", "")
	expectMount(ck, mt, "/proc/acpi", "tmpfs", "ro")
	expectErrno(ck, "write /proc/sys", writeFile("/proc/sys/kernel/hostname", "x"), unix.EROFS)
	busybox(ck, "test -c /dev/null")
}
