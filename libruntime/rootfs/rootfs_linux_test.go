package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func init() {
	scenarios["full"] = scenario{inside: fullInside}
	scenarios["readonly-root"] = scenario{inside: readonlyRootInside}
	scenarios["nopivot"] = scenario{inside: nopivotInside}
	scenarios["tmpcopyup"] = scenario{inside: tmpcopyupInside}
	scenarios["error"] = scenario{}
	scenarios["cgroupns"] = scenario{inside: cgroupnsInside}
	scenarios["devbind"] = scenario{inside: devbindInside}
}

func fileMode(m os.FileMode) *os.FileMode { return &m }
func u32(v uint32) *uint32                { return &v }

// TestFull runs a runc-like config with binds, devices, masked and
// read-only paths, and checks the result from inside the container.
func TestFull(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	must(t, os.MkdirAll(filepath.Join(b.host, "rosrc"), 0o755))
	must(t, os.WriteFile(filepath.Join(b.host, "rosrc", "f"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(b.host, "hostfile"), []byte("from host"), 0o644))
	must(t, os.WriteFile(filepath.Join(b.dir, "relfile"), []byte("relative"), 0o644))
	b.write(t, "secret/inner", "hidden", 0o644)
	b.write(t, "etc/secret.conf", "s3cret", 0o644)
	b.write(t, "data/file", "data", 0o644)
	b.write(t, "etc/ro.conf", "ro", 0o644)
	for _, d := range []string{"lower", "upper", "work"} {
		must(t, os.Mkdir(filepath.Join(b.dir, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(b.dir, "lower", "l"), []byte("lower"), 0o644))

	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: append(runcMounts(),
			specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: filepath.Join(b.host, "rosrc"), Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/etc/hostfile", Source: filepath.Join(b.host, "hostfile"), Options: []string{"bind"}},
			specs.Mount{Destination: "/mnt/rel", Source: "relfile", Options: []string{"bind", "nosuid"}},
			specs.Mount{Destination: "/mnt/shared", Type: "tmpfs", Source: "tmpfs", Options: []string{"shared"}},
			specs.Mount{Destination: "/mnt/hostdev", Source: "/dev", Options: []string{"rbind", "rro"}},
			// Relative overlay directories resolve against the bundle.
			specs.Mount{Destination: "/mnt/ov", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=lower", "upperdir=upper", "workdir=work"}},
			specs.Mount{Destination: "/mnt/cg2", Type: "cgroup2", Source: "cgroup", Options: []string{"ro", "nosuid"}},
		),
		Linux: &specs.Linux{
			Devices: []specs.LinuxDevice{
				{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: fileMode(0o600)},
				{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: fileMode(0o640), UID: u32(1), GID: u32(2)},
				{Path: "/dev/sub/myfifo", Type: "p", FileMode: fileMode(0o600)},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/timer_list",
				"/sys/firmware", "/secret", "/etc/secret.conf", "/nonexistent", "/etc/secret.conf/x",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/sys", "/proc/sysrq-trigger", "/data", "/etc/ro.conf", "/missing"},
		},
	}
	a := b.args("full", spec)
	_, err := os.Stat("/proc/kcore")
	a.Kcore = err == nil
	runScenario(t, a, 0)

	// Writes through the masks and binds must not have reached the files.
	if got := readFile(t, b.path("etc/secret.conf")); got != "s3cret" {
		t.Errorf("masked file changed to %q", got)
	}
	if got := readFile(t, filepath.Join(b.host, "hostfile")); got != "from host" {
		t.Errorf("host file changed to %q", got)
	}
	if st, err := os.Lstat(b.path("etc/hostfile")); err != nil || !st.Mode().IsRegular() || st.Size() != 0 {
		t.Errorf("bind destination file was not created empty: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(b.host, "rosrc", "new")); !os.IsNotExist(err) {
		t.Errorf("write through read-only bind reached the host: %v", err)
	}
	if got := readFile(t, filepath.Join(b.dir, "upper", "new")); got != "ov" {
		t.Errorf("overlay upper dir has %q", got)
	}
}

func fullInside(a *childArgs, ck *checker) {
	if wd, err := os.Getwd(); err != nil || wd != "/" {
		ck.errorf("cwd = %q, %v; want /", wd, err)
	}
	mt := mountTable(ck)
	for mp := range mt {
		if strings.HasPrefix(mp, a.Rootfs) || strings.HasPrefix(mp, a.Host) {
			ck.errorf("host path %s still visible as a mount point: old root not detached", mp)
		}
	}
	expectMount(ck, mt, "/proc", "proc")
	expectMount(ck, mt, "/dev", "tmpfs", "nosuid", "mode=755")
	expectMount(ck, mt, "/dev/pts", "devpts", "nosuid", "noexec", "ptmxmode=666", "mode=620", "gid=5")
	expectMount(ck, mt, "/dev/shm", "tmpfs", "nosuid", "noexec", "nodev")
	expectNode(ck, "/dev/shm", node{unix.S_IFDIR, 0, 0, 0o1777, 0, 0}) // mountinfo omits tmpfs's default mode
	expectMount(ck, mt, "/dev/mqueue", "mqueue", "nosuid", "noexec", "nodev")
	expectMount(ck, mt, "/sys", "sysfs", "ro", "nosuid", "noexec", "nodev")
	expectMount(ck, mt, "/sys/fs/cgroup", "", "ro", "nosuid", "noexec", "nodev")
	expectMount(ck, mt, "/mnt/ro", "", "ro")
	expectMount(ck, mt, "/etc/hostfile", "", "rw")
	expectMount(ck, mt, "/mnt/rel", "", "nosuid")
	expectMount(ck, mt, "/mnt/hostdev", "devtmpfs", "ro")
	expectMount(ck, mt, "/mnt/hostdev/shm", "tmpfs", "ro") // rro reaches submounts
	if m := mt["/mnt/shared"]; m == nil || !strings.Contains(m.Optional, "shared:") {
		ck.errorf("/mnt/shared is not shared: %+v", m)
	}
	checkCgroupMount(a, ck, mt)
	expectMount(ck, mt, "/mnt/cg2", "cgroup2", "ro", "nosuid")
	if _, err := os.Stat("/mnt/cg2/cgroup.controllers"); err != nil {
		ck.errorf("cgroup2 mount: %v", err)
	}
	expectMount(ck, mt, "/mnt/ov", "overlay")
	expectContent(ck, "/mnt/ov/l", "lower")
	if err := writeFile("/mnt/ov/new", "ov"); err != nil {
		ck.errorf("write to overlay: %v", err)
	}

	// Binds.
	expectContent(ck, "/mnt/ro/f", "hello")
	expectErrno(ck, "write in read-only bind", writeFile("/mnt/ro/new", "x"), unix.EROFS)
	expectContent(ck, "/etc/hostfile", "from host")
	expectContent(ck, "/mnt/rel", "relative")

	// Devices: /dev/null comes from linux.devices (0600), once.
	expectNode(ck, "/dev/null", node{unix.S_IFCHR, 1, 3, 0o600, 0, 0})
	expectNode(ck, "/dev/zero", node{unix.S_IFCHR, 1, 5, 0o666, 0, 0})
	expectNode(ck, "/dev/full", node{unix.S_IFCHR, 1, 7, 0o666, 0, 0})
	expectNode(ck, "/dev/random", node{unix.S_IFCHR, 1, 8, 0o666, 0, 0})
	expectNode(ck, "/dev/urandom", node{unix.S_IFCHR, 1, 9, 0o666, 0, 0})
	expectNode(ck, "/dev/tty", node{unix.S_IFCHR, 5, 0, 0o666, 0, 0})
	expectNode(ck, "/dev/mynull", node{unix.S_IFCHR, 1, 3, 0o640, 1, 2})
	expectNode(ck, "/dev/sub/myfifo", node{unix.S_IFIFO, 0, 0, 0o600, 0, 0})
	expectLink(ck, "/dev/ptmx", "pts/ptmx")
	expectLink(ck, "/dev/fd", "/proc/self/fd")
	expectLink(ck, "/dev/stdin", "/proc/self/fd/0")
	expectLink(ck, "/dev/stdout", "/proc/self/fd/1")
	expectLink(ck, "/dev/stderr", "/proc/self/fd/2")
	if a.Kcore {
		expectLink(ck, "/dev/core", "/proc/kcore")
	} else if _, err := os.Lstat("/dev/core"); !os.IsNotExist(err) {
		ck.errorf("/dev/core exists without /proc/kcore: %v", err)
	}
	// The ptmx link works: it opens the devpts instance's multiplexer.
	if f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0); err != nil {
		ck.errorf("open /dev/ptmx: %v", err)
	} else {
		f.Close()
	}

	// Masked paths.
	if a.Kcore {
		expectContent(ck, "/proc/kcore", "")
	}
	expectContent(ck, "/proc/keys", "")
	// Masked with the container's own (verified) /dev/null, on the /dev tmpfs.
	expectMount(ck, mt, "/proc/keys", "tmpfs")
	expectNode(ck, "/proc/keys", node{unix.S_IFCHR, 1, 3, 0o600, 0, 0})
	expectMount(ck, mt, "/proc/acpi", "tmpfs", "ro")
	expectContent(ck, "/etc/secret.conf", "")
	if err := writeFile("/etc/secret.conf", "overwritten"); err != nil {
		ck.errorf("write to masked file: %v", err) // goes to /dev/null
	}
	expectContent(ck, "/etc/secret.conf", "")
	expectErrno(ck, "remove masked file", os.Remove("/etc/secret.conf"), unix.EBUSY)
	if ents, err := os.ReadDir("/secret"); err != nil || len(ents) != 0 {
		ck.errorf("masked dir /secret lists %v, %v", ents, err)
	}
	expectErrno(ck, "create in masked dir", writeFile("/secret/x", "x"), unix.EROFS)
	expectMount(ck, mt, "/secret", "tmpfs", "ro")
	if _, err := os.Stat("/nonexistent"); !os.IsNotExist(err) {
		ck.errorf("missing masked path was created: %v", err)
	}

	// Read-only paths.
	expectErrno(ck, "write /proc/sys", writeFile("/proc/sys/kernel/hostname", "x"), unix.EROFS)
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
		expectErrno(ck, "write /proc/sysrq-trigger", writeFile("/proc/sysrq-trigger", "h"), unix.EROFS)
	}
	expectMount(ck, mt, "/proc/sys", "proc", "ro")
	expectMount(ck, mt, "/proc/bus", "proc", "ro")
	expectErrno(ck, "create in /data", writeFile("/data/new", "x"), unix.EROFS)
	expectContent(ck, "/data/file", "data")
	expectErrno(ck, "write /etc/ro.conf", writeFile("/etc/ro.conf", "x"), unix.EROFS)
	if _, err := os.Stat("/missing"); !os.IsNotExist(err) {
		ck.errorf("missing read-only path was created: %v", err)
	}
	// ... while the rest of the rootfs stays writable.
	if err := writeFile("/tmp/ok", "x"); err != nil {
		ck.errorf("rootfs not writable: %v", err)
	}

	// The container can run its own programs.
	if out := busybox(ck, "ls /dev && cat /dev/null"); !strings.Contains(out, "urandom") {
		ck.errorf("ls /dev = %q", out)
	}
}

// checkCgroupMount checks /sys/fs/cgroup against the host's cgroup setup.
// It only reads: the mounts are read-only, and the test must not create
// cgroups.
func checkCgroupMount(a *childArgs, ck *checker, mt map[string]*mountinfo.Info) {
	m := mt["/sys/fs/cgroup"]
	if m == nil {
		return
	}
	switch m.FSType {
	case "cgroup2":
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			ck.errorf("cgroup2 mount lacks cgroup.controllers: %v", err)
		}
	case "tmpfs":
		n := 0
		for mp, sub := range mt {
			if filepath.Dir(mp) != "/sys/fs/cgroup" {
				continue
			}
			n++
			if sub.FSType != "cgroup" || !hulltest.HasOpt(sub.Options, "ro") {
				ck.errorf("%s: %s %s, want a read-only cgroup mount", mp, sub.FSType, sub.Options)
			}
		}
		if n == 0 {
			ck.errorf("no cgroup hierarchy under /sys/fs/cgroup")
		}
	default:
		ck.errorf("/sys/fs/cgroup has type %s", m.FSType)
	}
}

func TestReadonlyRoot(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755", "ro"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nodev"}},
			{Destination: "/run/new", Type: "tmpfs", Source: "tmpfs"},
		},
	}
	must(t, os.Chmod(b.path("tmp"), 0o700))
	runScenario(t, b.args("readonly-root", spec), 0)
	if _, err := os.Stat(b.path("newfile")); !os.IsNotExist(err) {
		t.Errorf("write to read-only root reached the rootfs: %v", err)
	}
}

func readonlyRootInside(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	expectMount(ck, mt, "/", "", "ro")
	expectMount(ck, mt, "/dev", "tmpfs", "ro")
	expectMount(ck, mt, "/tmp", "tmpfs", "rw", "nodev")
	expectErrno(ck, "create in /", writeFile("/newfile", "x"), unix.EROFS)
	expectErrno(ck, "create in /dev", writeFile("/dev/newfile", "x"), unix.EROFS)
	// /dev was still writable when the devices were made.
	expectNode(ck, "/dev/null", node{unix.S_IFCHR, 1, 3, 0o666, 0, 0})
	if err := writeFile("/tmp/x", "x"); err != nil {
		ck.errorf("/tmp not writable: %v", err)
	}
	// A tmpfs keeps the mode of the directory it covers; on a directory it
	// created it has tmpfs's default.
	expectNode(ck, "/tmp", node{unix.S_IFDIR, 0, 0, 0o700, 0, 0})
	expectNode(ck, "/run/new", node{unix.S_IFDIR, 0, 0, 0o1777, 0, 0})
}

func TestNoPivot(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	b.write(t, "etc/marker", "inside", 0o644)
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		},
		Linux: &specs.Linux{MaskedPaths: []string{"/etc/marker"}},
	}
	a := b.args("nopivot", spec)
	a.NoPivot = true
	runScenario(t, a, 0)
}

func nopivotInside(a *childArgs, ck *checker) {
	if wd, err := os.Getwd(); err != nil || wd != "/" {
		ck.errorf("cwd = %q, %v; want /", wd, err)
	}
	mt := mountTable(ck)
	expectMount(ck, mt, "/proc", "proc")
	expectMount(ck, mt, "/dev", "tmpfs")
	expectContent(ck, "/etc/marker", "")
	if _, err := os.Stat(a.Rootfs); !os.IsNotExist(err) {
		ck.errorf("host path %s reachable after chroot: %v", a.Rootfs, err)
	}
	busybox(ck, "test -x /bin/busybox")
}

func TestTmpcopyup(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	b.write(t, "data/a", "A", 0o640)
	must(t, os.Chown(b.path("data/a"), 1, 2))
	b.write(t, "data/sub/b", "B", 0o644)
	must(t, os.Chmod(b.path("data/sub"), 0o711))
	b.symlink(t, "/etc/passwd", "data/link")
	must(t, unix.Mkfifo(b.path("data/fifo"), 0o600))
	must(t, os.Chmod(b.path("data"), 0o750))
	b.write(t, "data2/c", "C", 0o644)
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "nosuid"}},
			{Destination: "/data2", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "ro"}},
		},
	}
	runScenario(t, b.args("tmpcopyup", spec), 0)
	if _, err := os.Stat(b.path("data/new")); !os.IsNotExist(err) {
		t.Errorf("write to the tmpfs reached the rootfs: %v", err)
	}
}

func tmpcopyupInside(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	expectMount(ck, mt, "/data", "tmpfs", "nosuid")
	expectMount(ck, mt, "/data2", "tmpfs", "ro")
	expectContent(ck, "/data/a", "A")
	expectNode(ck, "/data/a", node{unix.S_IFREG, 0, 0, 0o640, 1, 2})
	expectContent(ck, "/data/sub/b", "B")
	expectNode(ck, "/data/sub", node{unix.S_IFDIR, 0, 0, 0o711, 0, 0})
	expectNode(ck, "/data", node{unix.S_IFDIR, 0, 0, 0o750, 0, 0}) // mode of the covered dir
	expectNode(ck, "/data/fifo", node{unix.S_IFIFO, 0, 0, 0o600, 0, 0})
	expectLink(ck, "/data/link", "/etc/passwd")
	if err := writeFile("/data/new", "x"); err != nil {
		ck.errorf("tmpfs not writable: %v", err)
	}
	expectContent(ck, "/data2/c", "C")
	expectErrno(ck, "write read-only tmpfs", writeFile("/data2/new", "x"), unix.EROFS)
}

// TestPrepareErrors checks that bad mounts fail with the mount's index and
// destination in the message.
func TestPrepareErrors(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T, b *bundle)
		mounts  []specs.Mount
		want    string
		viaLink bool // reach the rootfs through a symlinked path
	}{
		{
			// The runtime makes id-mapped mounts (SourceServer); Prepare
			// cannot without it (no Config.Sources).
			name:   "idmap not handed over",
			mounts: []specs.Mount{{Destination: "/mnt", Source: "/tmp", Options: []string{"rbind", "idmap"}}},
			want:   "mounts[0] (/mnt): no id-mapped mount was handed over for it",
		},
		{
			name: "uid mappings not handed over",
			mounts: []specs.Mount{{Destination: "/mnt", Source: "/tmp", Options: []string{"rbind"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}}},
			want: "mounts[0] (/mnt): no id-mapped mount was handed over for it",
		},
		{
			name:   "idmap on proc",
			mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"idmap"}}},
			want:   `mounts[0] (/proc): id mappings (idmap, ridmap, uidMappings, gidMappings) are only supported on bind mounts, not on this mount of type "proc"`,
		},
		{
			name:   "missing bind source",
			mounts: []specs.Mount{{Destination: "/x", Source: "/nonexistent-hull-src", Options: []string{"bind"}}},
			want:   "mounts[0] (/x): bind source: open /nonexistent-hull-src: no such file or directory",
		},
		{
			name: "unknown filesystem",
			mounts: []specs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/x", Type: "hullnosuchfs", Source: "none"},
			},
			want: "mounts[1] (/x): mount hullnosuchfs: no such device",
		},
		{
			name:   "proc on a symlink",
			setup:  func(t *testing.T, b *bundle) { must(t, os.Remove(b.path("proc"))); b.symlink(t, "/tmp", "proc") },
			mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
			want:   "mounts[0] (/proc): /proc must be an ordinary directory",
		},
		{
			name: "bind inside /proc",
			mounts: []specs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/proc/sys/kernel/core_pattern", Source: "/etc/hostname", Options: []string{"bind"}},
			},
			want: "mounts[1] (/proc/sys/kernel/core_pattern): /proc/sys/kernel/core_pattern cannot be mounted because it is inside /proc",
		},
		{
			name: "bind inside /proc, rootfs path with a symlink",
			mounts: []specs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/proc/sys/kernel/core_pattern", Source: "/etc/hostname", Options: []string{"bind"}},
			},
			want:    "/proc/sys/kernel/core_pattern cannot be mounted because it is inside /proc",
			viaLink: true,
		},
		{
			name:   "tmpfs over /proc through a symlink",
			setup:  func(t *testing.T, b *bundle) { b.symlink(t, "/proc", "p") },
			mounts: []specs.Mount{{Destination: "/p", Type: "tmpfs", Source: "tmpfs"}},
			want:   "mounts[0] (/p): /proc cannot be mounted because it is not of type proc",
		},
		{
			name:   "empty option",
			mounts: []specs.Mount{{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{""}}},
			want:   "mounts[0] (/x): mount option 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBundle(t)
			if tt.setup != nil {
				tt.setup(t, b)
			}
			a := b.args("error", &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Mounts: tt.mounts})
			a.WantErr = tt.want
			if tt.viaLink {
				a.Rootfs = filepath.Join(b.dir, "link")
				must(t, os.Symlink("rootfs", a.Rootfs))
			}
			runScenario(t, a, 0)
		})
	}
}

// TestCgroupNamespace mounts cgroups in a new cgroup namespace: fresh
// cgroup mounts whose root is the container's cgroup, not binds.
func TestCgroupNamespace(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			{Destination: "/mnt/cg2", Type: "cgroup2", Source: "cgroup", Options: []string{"ro"}},
		},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.CgroupNamespace}}},
	}
	runScenario(t, b.args("cgroupns", spec), unix.CLONE_NEWCGROUP)
}

func cgroupnsInside(a *childArgs, ck *checker) {
	mt := mountTable(ck)
	checkCgroupMount(a, ck, mt)
	expectMount(ck, mt, "/mnt/cg2", "cgroup2", "ro")
	for mp, m := range mt {
		if (filepath.Dir(mp) == "/sys/fs/cgroup" || mp == "/mnt/cg2") && m.Root != "/" {
			ck.errorf("%s shows %s, want its cgroup namespace root", mp, m.Root)
		}
	}
}

// TestDevBindMount leaves a bind-mounted /dev alone: creating devices there
// would write to the bind source.
func TestDevBindMount(t *testing.T) {
	requireRoot(t)
	b := newBundle(t)
	src := filepath.Join(b.host, "dev")
	must(t, os.Mkdir(src, 0o755))
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/dev", Source: src, Options: []string{"rbind", "ro"}},
		},
		Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/extra", Type: "c", Major: 1, Minor: 3}}},
	}
	runScenario(t, b.args("devbind", spec), 0)
	if ents, err := os.ReadDir(src); err != nil || len(ents) != 0 {
		t.Errorf("bind-mounted /dev source got %v, %v", ents, err)
	}
}

func devbindInside(a *childArgs, ck *checker) {
	if ents, err := os.ReadDir("/dev"); err != nil || len(ents) != 0 {
		ck.errorf("/dev lists %v, %v", ents, err)
	}
	// Made read-only only in Finalize.
	expectErrno(ck, "write /dev", writeFile("/dev/x", "x"), unix.EROFS)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
