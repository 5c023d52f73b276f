// Package rootfs builds the container's filesystem view inside the init
// process: mount propagation, the rootfs bind mount, the config's mounts,
// /dev, pivot_root, and masked and read-only paths.
//
// It runs in a process that is already alone in a new mount namespace (and
// possibly a user namespace). Every path inside the rootfs is resolved so
// that symlinks and ".." cannot leave it, and mounts are made onto file
// descriptors rather than re-resolved path strings.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
)

// Config says what to build.
type Config struct {
	Spec     *specs.Spec
	Rootfs   string // absolute, cleaned host path of root.path (already validated to be a dir)
	NoPivot  bool
	InUserNS bool // devices must be bind-mounted from the host instead of mknod
	// PidNS, when set, is the pid namespace the container's procfs mounts show
	// (procfs pidns=, Linux 6.18): init then builds the rootfs outside a pid
	// namespace it joins, see ProcPidNSSupported.
	PidNS *os.File
	// LateProc: the procfs mounts are left for MountProcLate, after pivot_root, in a
	// process inside the pid namespace (their destinations are made here). Bind
	// mounts inside them (lxcfs-style files over /proc entries) are prepared here as
	// detached trees, LateTrees by mount index, which MountProcLate attaches.
	LateProc  bool
	LateTrees map[int]*os.File
	// Sources, when set, asks the runtime for the detached clone of the source of
	// spec.Mounts[i] (SourceServer.Open): for id-mapped mounts, and, in a user
	// namespace, for bind sources init may not reach.
	Sources func(i int) (*os.File, error)
	// Proc, if set, is the host's procfs root, verified (process.OpenProcRoot),
	// which Prepare reads its handles' real paths through; nil: Prepare opens
	// one itself. The caller keeps and closes it.
	Proc *os.File
	// HostMountNS: the container has no mount namespace of its own (none in
	// linux.namespaces) and shares the runtime's. Prepare and Finalize then make
	// no mount, and Pivot only chroots.
	HostMountNS bool
}

func (c *Config) linux() *specs.Linux {
	if c.Spec.Linux == nil {
		return &specs.Linux{}
	}
	return c.Spec.Linux
}

func (c *Config) check() error {
	if c == nil || c.Spec == nil {
		return errors.New("rootfs: no spec")
	}
	if !filepath.IsAbs(c.Rootfs) || filepath.Clean(c.Rootfs) != c.Rootfs || c.Rootfs == "/" {
		return fmt.Errorf("rootfs: %q must be an absolute, clean path other than /", c.Rootfs)
	}
	return nil
}

// Prepare runs before the switch of root: it stops mount events from
// reaching the host, bind-mounts the rootfs on itself, performs the spec's
// mounts in order, then populates /dev. The process's cwd must be the bundle
// directory so relative bind sources resolve against it.
func Prepare(c *Config) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.ownMountNS() {
		return c.checkNoMounts()
	}
	if err := checkHostProcfs(); err != nil {
		return err
	}
	if err := setupPropagation(c); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point, and the rbind also
	// takes the rootfs's own submounts along.
	if err := mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs on itself: %w", err)
	}
	p := &preparer{c: c, cgroupns: hasNamespace(c.linux(), specs.CgroupNamespace), proc: c.Proc}
	defer p.close()
	for i, m := range c.Spec.Mounts {
		o, err := config.ParseMountOptions(m.Options)
		if err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		p.index = i
		var idmapped *os.File
		if wantsIDMap(m, o) && isBind(m, o) {
			if idmapped, err = p.idmapped(i); err != nil {
				return err
			}
		}
		switch {
		case c.LateProc && insideProc(c.Spec, m):
			err = p.lateTree(c, i, m, o, idmapped)
		case wantsIDMap(m, o):
			err = p.mountIDMapped(m, o, idmapped)
		case c.LateProc && m.Type == "proc":
			var root, dst *os.File
			if root, err = p.rootHandle(); err == nil {
				if dst, err = openPlainDir(root, c.Rootfs, cleanDest(m.Destination)); err == nil {
					dst.Close()
				}
			}
		default:
			err = p.mountEntry(m, o)
		}
		if err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
	}
	if devIsBindMount(c.Spec.Mounts) {
		// The host's /dev (or some other tree) is bound in: creating nodes
		// there would write to the host.
		return nil
	}
	return p.setupDev()
}

// Pivot makes the rootfs the process's root and leaves the cwd at "/".
func Pivot(c *Config) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.ownMountNS() {
		return chrootInto(c.Rootfs)
	}
	if c.NoPivot {
		return moveRoot(c.Rootfs)
	}
	flags, err := c.rootPropagation()
	if err != nil {
		return err
	}
	return pivotRoot(c.Rootfs, flags&unix.MS_SHARED != 0)
}

func (c *Config) ownMountNS() bool { return !c.HostMountNS }

// checkNoMounts refuses, for a container in the host's mount namespace, what
// would need a mount (validation says so first, with the fix).
func (c *Config) checkNoMounts() error {
	l := c.linux()
	switch {
	case len(c.Spec.Mounts) > 0:
		return errors.New("mounts: not empty, and the container has no mount namespace: they would be made in the host's")
	case len(l.MaskedPaths) > 0 || len(l.ReadonlyPaths) > 0:
		return errors.New("linux.maskedPaths, linux.readonlyPaths: not empty, and the container has no mount namespace")
	case c.Spec.Root != nil && c.Spec.Root.Readonly:
		return errors.New("root.readonly: set, and the container has no mount namespace")
	case l.RootfsPropagation != "" || len(l.Devices) > 0:
		return errors.New("linux.rootfsPropagation, linux.devices: set, and the container has no mount namespace")
	}
	return nil
}

// chrootInto makes rootfs the root of a process without a mount namespace of
// its own: pivot_root there would move the host's root.
func chrootInto(rootfs string) error {
	if err := unix.Chroot(rootfs); err != nil {
		return &os.PathError{Op: "chroot", Path: rootfs, Err: err}
	}
	if err := unix.Chdir("/"); err != nil { //nolint:forbidigo // / is the new root
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// Finalize runs after Pivot: read-only paths, masked paths, a read-only
// /dev, a read-only root, and finally the root's propagation. The rootfs
// contents are still untrusted, so paths are resolved inside "/" safely.
func Finalize(c *Config) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.ownMountNS() {
		return c.checkNoMounts()
	}
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: init's root, before any mount
	if err != nil {
		return err
	}
	defer root.Close()
	l := c.linux()
	for _, p := range l.ReadonlyPaths {
		if err := readonlyPath(root, p); err != nil {
			return fmt.Errorf("readonly path %s: %w", p, err)
		}
	}
	m := masker{root: root, mountLabel: l.MountLabel}
	defer m.close()
	// Like runc, a path named twice (however spelled, lexically) is masked
	// once: a second mask on top of the first hides nothing more and costs a
	// mount (for a directory, a superblock too).
	masked := make(map[string]bool, len(l.MaskedPaths))
	for _, p := range l.MaskedPaths {
		clean := cleanDest(p)
		if masked[clean] {
			continue
		}
		masked[clean] = true
		if err := m.mask(p); err != nil {
			return fmt.Errorf("masked path %s: %w", p, err)
		}
	}
	if devReadonly(c.Spec.Mounts) {
		if err := remountReadonly(root, "/dev"); err != nil {
			return fmt.Errorf("make /dev read-only: %w", err)
		}
	}
	if c.Spec.Root != nil && c.Spec.Root.Readonly {
		if err := remountReadonly(root, "/"); err != nil {
			return fmt.Errorf("make rootfs read-only: %w", err)
		}
	}
	if l.RootfsPropagation != "" {
		flags, ok := config.PropagationFlags(l.RootfsPropagation)
		if !ok {
			return fmt.Errorf("unknown rootfsPropagation %q", l.RootfsPropagation)
		}
		if err := mount("", "/", "", flags, ""); err != nil {
			return fmt.Errorf("apply rootfsPropagation %s: %w", l.RootfsPropagation, err)
		}
	}
	return nil
}

// checkHostProcfs makes sure /proc is a real procfs before Prepare relies on
// /proc/self/fd magic links to mount onto file descriptors.
func checkHostProcfs() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc", &st); err != nil { //nolint:forbidigo // host path: the host's procfs
		return &os.PathError{Op: "statfs", Path: "/proc", Err: err}
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("/proc is not procfs (type %#x)", st.Type)
	}
	return nil
}

// setupPropagation makes "/" recursively slave (or what rootfsPropagation
// asks for, always recursively) so nothing mounted from now on reaches the
// host, then makes the mount holding the rootfs private if it is shared:
// pivot_root refuses a new root whose parent is shared, and the rootfs bind
// would otherwise propagate to its peers.
func setupPropagation(c *Config) error {
	flags, err := c.rootPropagation()
	if err != nil {
		return err
	}
	if err := mount("", "/", "", flags, ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	if flags&unix.MS_SHARED == 0 {
		// Recursively slave or private leaves no mount of the namespace shared
		// (a shared mount made slave leaves its peer group), the rootfs's parent
		// included: the lookup below (its path's symlinks, all of mountinfo
		// read and parsed) would find nothing to do.
		return nil
	}
	return makeParentMountPrivate(c.Rootfs)
}

// rootPropagation is the propagation setupPropagation gives "/", recursively.
func (c *Config) rootPropagation() (uintptr, error) {
	name := c.linux().RootfsPropagation
	if name == "" {
		return unix.MS_SLAVE | unix.MS_REC, nil
	}
	f, ok := config.PropagationFlags(name)
	if !ok {
		return 0, fmt.Errorf("unknown rootfsPropagation %q", name)
	}
	if f&unix.MS_UNBINDABLE != 0 {
		// Unbindable mounts cannot be bind-mounted, which Prepare has
		// to do; Finalize applies it to the finished root instead.
		return unix.MS_PRIVATE | unix.MS_REC, nil
	}
	return f | unix.MS_REC, nil
}

func makeParentMountPrivate(rootfs string) error {
	real, err := filepath.EvalSymlinks(rootfs) //nolint:forbidigo // host path: root.path itself, to find its parent mount
	if err != nil {
		return err
	}
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(real))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		// Later entries are on top of earlier ones at the same point.
		if parent == nil || len(m.Mountpoint) >= len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil {
		return fmt.Errorf("no mount holds %s", real)
	}
	for _, opt := range strings.Fields(parent.Optional) {
		if strings.HasPrefix(opt, "shared:") {
			if err := mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make parent mount of rootfs private: %w", err)
			}
			return nil
		}
	}
	return nil
}

func hasNamespace(l *specs.Linux, t specs.LinuxNamespaceType) bool {
	for _, ns := range l.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func isBind(m specs.Mount, o config.MountOptions) bool {
	return o.Bind || m.Type == "bind"
}

// devIsBindMount reports whether /dev comes from a bind mount, in which case
// runc leaves it alone.
func devIsBindMount(mounts []specs.Mount) bool {
	for _, m := range mounts {
		if cleanDest(m.Destination) != "/dev" {
			continue
		}
		if o, err := config.ParseMountOptions(m.Options); err == nil && isBind(m, o) {
			return true
		}
	}
	return false
}

// devReadonly reports whether the mount for /dev asked for "ro". Prepare
// mounts it read-write so device nodes can be created in it.
func devReadonly(mounts []specs.Mount) bool {
	ro := false
	for _, m := range mounts {
		if cleanDest(m.Destination) == "/dev" {
			o, err := config.ParseMountOptions(m.Options)
			ro = err == nil && o.Flags&unix.MS_RDONLY != 0
		}
	}
	return ro
}

// insideProc reports whether m goes inside one of s's procfs mounts.
func insideProc(s *specs.Spec, m specs.Mount) bool {
	dest := cleanDest(m.Destination)
	for _, pm := range s.Mounts {
		if pm.Type == "proc" && strings.HasPrefix(dest, cleanDest(pm.Destination)+"/") {
			return true
		}
	}
	return false
}

// lateTree prepares mount i, which goes inside a procfs that only the next stage
// mounts, as a detached mount with its flags set (a clone of the bind source, or the
// id-mapped clone made on the host), for MountProcLate to attach. Only binds over the
// files lxcfs emulates may go inside /proc, as in Prepare.
func (p *preparer) lateTree(c *Config, i int, m specs.Mount, o config.MountOptions, idmapped *os.File) error {
	dest := cleanDest(m.Destination)
	var tree *os.File
	switch {
	case !isBind(m, o) || !procFileMounts[dest]:
		// As Prepare's checkProcDest: inside /proc only binds over those files.
		if idmapped != nil {
			idmapped.Close()
		}
		return fmt.Errorf("%s cannot be mounted because it is inside /proc", dest)
	case idmapped != nil:
		tree = idmapped
	default:
		var err error
		if tree, err = p.sourceTree(m.Source, o); err != nil {
			return err
		}
	}
	if o.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || o.ClearFlags != 0 {
		if err := setBindFlags(tree, o.Flags, o.ClearFlags); err != nil {
			tree.Close()
			return err
		}
	}
	if c.LateTrees == nil {
		c.LateTrees = map[int]*os.File{}
	}
	c.LateTrees[i] = tree
	return nil
}

// MountProcLate mounts the spec's procfs mounts that Prepare left (LateProc), in order,
// from a process already in the container's root and pid namespace, where procfs
// shows that namespace. There is no /proc to name a descriptor by yet, so the new
// mount API attaches each one; Prepare made the destinations, which must still be
// plain directories.
func MountProcLate(s *specs.Spec, trees map[int]*os.File) error {
	for i, m := range s.Mounts {
		if tree := trees[i]; tree != nil {
			if err := attachLate(m, tree); err != nil {
				return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
			}
			continue
		}
		if m.Type != "proc" {
			continue
		}
		o, err := config.ParseMountOptions(m.Options)
		if err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		fd, err := unix.Openat2(unix.AT_FDCWD, m.Destination, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, os.NewSyscallError("openat2", err))
		}
		dst := os.NewFile(uintptr(fd), m.Destination)
		err = mountProcFor(nil, o.Flags, o.Data, dst)
		dst.Close()
		if err != nil {
			return fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
	}
	return nil
}

// attachLate attaches a tree lateTree prepared on its destination, a plain file or
// directory inside a procfs MountProcLate mounted.
func attachLate(m specs.Mount, tree *os.File) error {
	defer tree.Close()
	o, err := config.ParseMountOptions(m.Options)
	if err != nil {
		return err
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, cleanDest(m.Destination), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return os.NewSyscallError("openat2", err)
	}
	dst := os.NewFile(uintptr(fd), m.Destination)
	defer dst.Close()
	if err := moveMount(tree, dst); err != nil {
		return err
	}
	return applyPropagation(tree, o)
}
