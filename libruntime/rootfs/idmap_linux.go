package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/internal/mountfd"
)

// Id-mapped mounts (the "idmap" and "ridmap" options, a mount's uidMappings
// and gidMappings) are bind mounts whose clone carries an id mapping set with
// mount_setattr(MOUNT_ATTR_IDMAP). The kernel allows that only to a caller
// with CAP_SYS_ADMIN over the source's superblock, that is in the initial
// user namespace for a host filesystem, and only on a detached mount. init,
// once in the container's user namespace, has neither, so the runtime makes
// the detached, id-mapped clones, and Prepare attaches each where its mount
// belongs, with the mount's other options applied there as for any bind
// mount. hull create makes each when init reaches its mount
// (SourceServer, asked through Config.Sources), in the container's mount
// namespace, so that a source under an earlier mount of the config is seen
// through it, as runc does. MakeIDMapped and Pass make them all up front and
// hand them over as inherited fds instead (the package's tests use them).
//
// The mapping is the mount's own uidMappings and gidMappings, in the format
// of user namespace mappings: containerID is the id on the source
// filesystem, hostID the id it is seen as. Without them it is the
// container's user namespace mapping, so that files owned by host uid 0
// appear as the container's root. Either way the mapping lives in a user
// namespace: the joined one, or a short-lived one that a stopped child
// process holds while the mapping is applied.

// wantsIDMap reports whether the mount asks for an id mapping. As with runc,
// uidMappings and gidMappings without an "idmap" or "ridmap" option are
// applied too, to the mount itself only.
func wantsIDMap(m specs.Mount, o config.MountOptions) bool {
	return o.IDMap || o.RIDMap || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
}

// errIDMapNotBind is why an id mapping on anything but a bind mount is
// refused: a new filesystem instance (proc, tmpfs, ...) is made by init
// inside the container's namespaces, where the mapping cannot be applied.
func errIDMapNotBind(m specs.Mount) error {
	return fmt.Errorf("id mappings (idmap, ridmap, uidMappings, gidMappings) are only supported on bind mounts, not on this mount of type %q; "+
		`remove them, or bind-mount a host directory ("bind" or "rbind" in options)`, m.Type)
}

// cloneSource makes, with the runtime's privileges, the detached clone of bind
// mount m's source (relative sources are in bundle), recursive for "rbind",
// id-mapped when the mount asks for it. With mntns set the source is looked up
// in that mount namespace, the container's, where the config's earlier mounts
// are already made; the user namespace of a mapping is made before, outside it.
func cloneSource(spec *specs.Spec, m specs.Mount, o config.MountOptions, bundle string, ns *usernsCache, mntns *os.File) (*os.File, error) {
	if !isBind(m, o) {
		if wantsIDMap(m, o) {
			return nil, errIDMapNotBind(m)
		}
		return nil, fmt.Errorf("not a bind mount (type %s): only a bind's source is opened by the runtime", clip.Quote(m.Type))
	}
	var userns *os.File
	if wantsIDMap(m, o) {
		var err error
		if userns, err = ns.forMount(spec, m); err != nil {
			return nil, err
		}
	}
	source := m.Source
	if !filepath.IsAbs(source) {
		source = filepath.Join(bundle, source)
	}
	var tree *os.File
	err := inMountNS(mntns, func() error {
		src, err := os.OpenFile(source, unix.O_PATH|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: a mount source, in hull create
		if err != nil {
			return fmt.Errorf("bind source: %w", err)
		}
		defer src.Close()
		tree, err = openTree(src, o.Recursive)
		return err
	})
	if err != nil {
		return nil, err
	}
	if userns == nil {
		return tree, nil
	}
	if err := idmapTree(tree, userns, o.RIDMap); err != nil {
		err = explainIDMap(err, tree, m.Source, o.RIDMap && o.Recursive)
		tree.Close()
		return nil, err
	}
	return tree, nil
}

// inMountNS runs f on a thread of its own in the mount namespace ns (in the
// caller's when ns is nil). The thread leaves the process's filesystem context
// for good (setns(CLONE_NEWNS) needs an unshared one), so it is never handed
// back to the Go scheduler: it ends with its goroutine.
func inMountNS(ns *os.File, f func() error) error {
	if ns == nil {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- os.NewSyscallError("unshare CLONE_FS", err)
			return
		}
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("enter the container's mount namespace: %w", os.NewSyscallError("setns", err))
			return
		}
		errc <- f()
	}()
	return <-errc
}

// SourceServer makes, in the runtime and on init's request, the detached clones
// of bind sources init cannot make itself: id-mapped ones (the mapping needs
// privileges over the host's filesystem) and, with a user namespace, sources
// that only the host's root can reach (runc opens those from the host too).
// They are made when init reaches the mount, in the container's mount
// namespace, so a source under an earlier mount of the config is seen through
// it, as init would see it.
type SourceServer struct {
	spec   *specs.Spec
	bundle string
	mntns  *os.File
	ns     usernsCache
}

// NewSourceServer serves the bind sources of spec (relative ones in bundle) for
// the init whose mount namespace is mntns, which the server then owns.
func NewSourceServer(spec *specs.Spec, bundle string, mntns *os.File) *SourceServer {
	return &SourceServer{spec: spec, bundle: bundle, mntns: mntns}
}

// Open returns the detached clone of the source of spec.Mounts[i]; the caller
// hands it to init and closes it. Errors name the mount.
func (s *SourceServer) Open(i int) (*os.File, error) {
	if i < 0 || i >= len(s.spec.Mounts) {
		return nil, fmt.Errorf("init asked for the source of mounts[%d], which does not exist", i)
	}
	m := s.spec.Mounts[i]
	o, err := config.ParseMountOptions(m.Options)
	if err == nil {
		var tree *os.File
		if tree, err = cloneSource(s.spec, m, o, s.bundle, &s.ns, s.mntns); err == nil {
			return tree, nil
		}
	}
	return nil, fmt.Errorf("mounts[%d] (%s): %w", i, clip.String(m.Destination), err)
}

// Close releases the mount and user namespaces the server holds.
func (s *SourceServer) Close() {
	if s == nil {
		return
	}
	s.ns.close()
	if s.mntns != nil {
		s.mntns.Close()
		s.mntns = nil
	}
}

// idmapTree applies the mapping of the user namespace userns to the detached
// mount tree, to every mount of it when recursive.
func idmapTree(tree, userns *os.File, recursive bool) error {
	var flags uint
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	err := mountSetattr(tree, flags, &attr)
	runtime.KeepAlive(userns)
	return err
}

// explainIDMap adds what the kernel's terse errno means for an id mapping.
func explainIDMap(err error, tree *os.File, source string, recursive bool) error {
	switch {
	case errors.Is(err, unix.EINVAL):
		fs := "its filesystem"
		if st, serr := fstatfs(tree); serr == nil {
			fs = "its filesystem (" + fsName(st.Type) + ")"
		}
		sub := ""
		if recursive {
			sub = " or that of one of its submounts"
		}
		return fmt.Errorf("id-map %s: %w: %s%s does not support id-mapped mounts on this kernel (or is id-mapped already)", source, err, fs, sub)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("id-map %s: %w: id-mapped mounts need CAP_SYS_ADMIN over the source's filesystem, that is hull running as root in the initial user namespace", source, err)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("id-map %s: %w: id-mapped mounts need Linux 5.12 or later (mount_setattr)", source, err)
	}
	return fmt.Errorf("id-map %s: %w", source, err)
}

// fsName names the common filesystem types by their statfs magic.
func fsName(magic int64) string {
	switch magic {
	case unix.PROC_SUPER_MAGIC:
		return "proc"
	case unix.SYSFS_MAGIC:
		return "sysfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext2/ext3/ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	case unix.FUSE_SUPER_MAGIC:
		return "fuse"
	case unix.CGROUP2_SUPER_MAGIC:
		return "cgroup2"
	case unix.DEVPTS_SUPER_MAGIC:
		return "devpts"
	}
	return fmt.Sprintf("type %#x", magic)
}

// mountIDMapped attaches the id-mapped clone the runtime made for m.
func (p *preparer) mountIDMapped(m specs.Mount, o config.MountOptions, tree *os.File) error {
	if !isBind(m, o) {
		return errIDMapNotBind(m)
	}
	if tree == nil {
		return errors.New("no id-mapped mount was handed over for it: the runtime makes id-mapped mounts on the host (rootfs.SourceServer, asked through Config.Sources)")
	}
	defer tree.Close()
	if _, err := p.rootHandle(); err != nil {
		return err
	}
	return p.bindFrom(tree, cleanDest(m.Destination), o, tree)
}

// usernsCache hands out user namespace fds for mappings, one per distinct
// mapping or namespace path.
type usernsCache struct {
	byKey map[string]*os.File
}

func (c *usernsCache) close() {
	for _, f := range c.byKey {
		f.Close()
	}
	c.byKey = nil
}

// forMount returns the user namespace whose mapping the mount gets: its own
// mappings, or the container's user namespace.
func (c *usernsCache) forMount(spec *specs.Spec, m specs.Mount) (*os.File, error) {
	uids, gids := m.UIDMappings, m.GIDMappings
	switch {
	case len(uids) > 0 && len(gids) > 0:
	case len(uids) > 0:
		return nil, errors.New("uidMappings without gidMappings: an id-mapped mount needs both")
	case len(gids) > 0:
		return nil, errors.New("gidMappings without uidMappings: an id-mapped mount needs both")
	default:
		var userns *specs.LinuxNamespace
		if spec.Linux != nil {
			for i := range spec.Linux.Namespaces {
				if spec.Linux.Namespaces[i].Type == specs.UserNamespace {
					userns = &spec.Linux.Namespaces[i]
				}
			}
		}
		if userns == nil {
			return nil, errors.New(`idmap without the mount's own uidMappings and gidMappings needs a user namespace for the container, whose mapping it then uses; add them, or {"type": "user"} to linux.namespaces`)
		}
		if userns.Path != "" {
			return c.open(userns.Path)
		}
		uids, gids = spec.Linux.UIDMappings, spec.Linux.GIDMappings
		if len(uids) == 0 || len(gids) == 0 {
			return nil, errors.New("idmap uses the container's user namespace mapping, but linux.uidMappings or linux.gidMappings is empty")
		}
	}
	key := fmt.Sprint(uids, gids)
	if f := c.byKey[key]; f != nil {
		return f, nil
	}
	f, err := newUserNS(uids, gids)
	if err != nil {
		return nil, err
	}
	c.put(key, f)
	return f, nil
}

// open returns the user namespace at path (a joined one).
func (c *usernsCache) open(path string) (*os.File, error) {
	key := "path:" + path
	if f := c.byKey[key]; f != nil {
		return f, nil
	}
	f, err := os.OpenFile(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: a namespace path of the config, in hull create
	if err != nil {
		return nil, fmt.Errorf("open the container's user namespace: %w", err)
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWUSER {
		f.Close()
		return nil, fmt.Errorf("linux.namespaces: %s is not a user namespace", path)
	}
	c.put(key, f)
	return f, nil
}

func (c *usernsCache) put(key string, f *os.File) {
	if c.byKey == nil {
		c.byKey = map[string]*os.File{}
	}
	c.byKey[key] = f
}

// newUserNS returns a user namespace with the given mappings. Only a process
// can make one in a multi-threaded program: a child is cloned into it, its
// maps written, and its execve stopped by PTRACE_TRACEME before any of the
// program runs (as runc does); the namespace fd outlives the child, which is
// killed at once.
func newUserNS(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	// The tracer of the child, and the parent its death signal watches, is
	// this thread: keep it until the child is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	proc, err := os.StartProcess("/proc/self/exe", []string{"hull-idmap-userns"}, &os.ProcAttr{
		Env: []string{},
		Sys: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: sysIDMap(uids),
			GidMappings: sysIDMap(gids),
			Ptrace:      true,
			Pdeathsig:   syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("make a user namespace with the mapping: %w", err)
	}
	defer func() {
		// The helper only holds the namespace: if Kill fails it is gone already, and
		// Wait's status says nothing.
		_ = proc.Kill()
		_, _ = proc.Wait()
	}()
	// Like Go's writing of the maps, this needs /proc to be the procfs of
	// the pid namespace hull runs in.
	f, err := os.OpenFile("/proc/"+strconv.Itoa(proc.Pid)+"/ns/user", unix.O_RDONLY|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: hull's own procfs, in hull create
	if err != nil {
		return nil, fmt.Errorf("open the user namespace of the mapping: %w", err)
	}
	return f, nil
}

func sysIDMap(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, 0, len(m))
	for _, e := range m {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)})
	}
	return out
}

// IDMapSupported reports whether id-mapped mounts work for this process on
// the running kernel, the answer of `hull features`
// (linux.mountExtensions.idmap.enabled). It tries once and remembers: a
// mapping through a new user namespace applied to a detached tmpfs, or, on
// kernels whose tmpfs cannot be id-mapped (before 6.3), to a detached clone
// of the root filesystem.
func IDMapSupported() bool { return idmapProbe() == nil }

var idmapProbe = sync.OnceValue(probeIDMap)

func probeIDMap() error {
	ns, err := newUserNS([]specs.LinuxIDMapping{{ContainerID: 0, HostID: 65534, Size: 1}},
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: 65534, Size: 1}})
	if err != nil {
		return err
	}
	defer ns.Close()
	tmp, err := mountfd.Tmpfs(0)
	if err != nil {
		return err
	}
	err = idmapTree(tmp, ns, false)
	tmp.Close()
	if !errors.Is(err, unix.EINVAL) {
		return err
	}
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0) //nolint:forbidigo // host path: the host's root, in hull create
	if err != nil {
		return err
	}
	defer root.Close()
	tree, err := openTree(root, false)
	if err != nil {
		return err
	}
	defer tree.Close()
	return idmapTree(tree, ns, false)
}
