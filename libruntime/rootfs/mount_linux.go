package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/lsm"
)

// preparer carries the state of Prepare across the spec's mounts.
type preparer struct {
	c        *Config
	root     *os.File // O_PATH handle to the top of the rootfs mount stack; nil: to reopen
	rootID   fileID   // root's identity, to tell a mount that lands on it
	cgroupns bool
	proc     *os.File // the host's procfs root, verified: Config.Proc, or opened on first use
	ownProc  bool     // proc was opened here
	rootPath string   // hostPath of root, read once: root is always reopened from c.Rootfs
	index    int      // the config mount being made
}

// idmapped returns the id-mapped clone for spec.Mounts[i], which the runtime
// makes now (c.Sources), where the config's earlier mounts are seen; nil
// without a runtime to ask.
func (p *preparer) idmapped(i int) (*os.File, error) {
	if p.c.Sources == nil {
		return nil, nil
	}
	return p.c.Sources(i)
}

// sourceTree clones the bind source of the config's current mount. In a user
// namespace a source that init may not reach (a directory on its path is host
// root's) is cloned by the runtime instead, as runc does, in this mount
// namespace: the source is still looked up after the earlier mounts.
func (p *preparer) sourceTree(source string, o config.MountOptions) (*os.File, error) {
	src, err := os.OpenFile(source, unix.O_PATH|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: a mount source
	if err == nil {
		defer src.Close()
		return openTree(src, o.Recursive)
	}
	if p.c.Sources == nil || !p.c.InUserNS || !(errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) {
		return nil, fmt.Errorf("bind source: %w", err)
	}
	return p.c.Sources(p.index)
}

func (p *preparer) close() {
	p.closeRoot()
	if p.ownProc {
		p.proc.Close()
	}
	p.proc, p.ownProc = nil, false
}

func (p *preparer) closeRoot() {
	if p.root != nil {
		p.root.Close()
		p.root, p.rootID = nil, fileID{}
	}
}

// rootHandle returns the handle on the top of the rootfs mount stack. A
// handle keeps pointing at the mount it was opened on, so after a mount landed
// on the rootfs directory itself (a destination that is, or links to, "/")
// later lookups must start from the new top mount, as a path walk of the host
// rootfs path would: such a mount drops the handle (landed), and it is
// reopened here. A mount anywhere else leaves the top as it is.
func (p *preparer) rootHandle() (*os.File, error) {
	if p.root != nil {
		return p.root, nil
	}
	f, err := os.OpenFile(p.c.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: root.path itself
	if err != nil {
		return nil, err
	}
	id, err := identify(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.root, p.rootID = f, id
	return f, nil
}

// landed is told the identity of a destination something was just mounted
// on, and drops the root handle if that was the root, which is then covered.
func (p *preparer) landed(dst fileID) {
	if dst == p.rootID {
		p.closeRoot()
	}
}

// mounted returns a handle to the mount now on top of dst, the destination
// handle used for the mount (which still refers to the covered inode), and
// checks that a new mount really is there.
func (p *preparer) mounted(dest string, dst *os.File) (*os.File, error) {
	before, err := identify(dst)
	if err != nil {
		return nil, err
	}
	wasRoot := before == p.rootID
	p.landed(before)
	root, err := p.rootHandle()
	if err != nil {
		return nil, err
	}
	var top *os.File
	if wasRoot {
		top, err = openInRoot(root, "/")
	} else {
		top, err = openInRoot(root, dest)
	}
	if err != nil {
		return nil, err
	}
	after, err := mountID(top)
	if err == nil && after == before.mnt {
		err = fmt.Errorf("%s: new mount not found after mounting (raced with a rename?)", dest)
	}
	if err != nil {
		top.Close()
		return nil, err
	}
	return top, nil
}

func (p *preparer) mountEntry(m specs.Mount, o config.MountOptions) error {
	if _, err := p.rootHandle(); err != nil {
		return err
	}
	dest := cleanDest(m.Destination)
	switch {
	case isBind(m, o):
		tree, err := p.sourceTree(m.Source, o)
		if err != nil {
			return err
		}
		defer tree.Close()
		return p.bindFrom(tree, dest, o, tree)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return p.mountCgroup(m, dest, o)
	case m.Type == "sysfs":
		err := p.mountFilesystem(m.Source, m.Type, dest, o)
		if !errors.Is(err, unix.EPERM) {
			return err
		}
		// sysfs can only be mounted by the owner of the network namespace;
		// in a user namespace without its own netns, bind the host's /sys.
		o.Flags |= unix.MS_BIND | unix.MS_REC
		o.Bind, o.Recursive = true, true
		if berr := p.mountBind("/sys", dest, o); berr != nil {
			return fmt.Errorf("%w (falling back to a bind of /sys: %v)", err, berr) //nolint:errorlint // the fallback's failure is context
		}
		return nil
	default:
		return p.mountFilesystem(m.Source, m.Type, dest, o)
	}
}

// mountFilesystem mounts a new instance of fstype on dest.
func (p *preparer) mountFilesystem(source, fstype, dest string, o config.MountOptions) error {
	top, err := p.newFilesystem(source, fstype, dest, o)
	if err != nil {
		return err
	}
	return top.Close()
}

// newFilesystem mounts a new instance of fstype on dest and returns a handle
// to the root of the new mount.
func (p *preparer) newFilesystem(source, fstype, dest string, o config.MountOptions) (*os.File, error) {
	root, err := p.rootHandle()
	if err != nil {
		return nil, err
	}
	var (
		dst     *os.File
		existed bool
	)
	if fstype == "proc" || fstype == "sysfs" {
		dst, err = openPlainDir(root, p.c.Rootfs, dest)
	} else {
		dst, existed, err = openOrCreate(root, p.c.Rootfs, dest, true)
	}
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	if err := p.checkProcDest(dst, fstype, nil); err != nil {
		return nil, err
	}

	flags := o.Flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	data := o.Data
	lateRO := false
	if fstype == "tmpfs" {
		// Files are created in /dev and tmpcopyup fills the tmpfs after
		// mounting, so a read-only tmpfs is made read-only at the end.
		lateRO = flags&unix.MS_RDONLY != 0
		flags &^= unix.MS_RDONLY
		// Like runc, a tmpfs over an existing directory keeps its mode
		// unless the options say otherwise (a later mode= wins).
		if existed {
			st, err := fstat(dst)
			if err != nil {
				return nil, err
			}
			mode := fmt.Sprintf("mode=%04o", st.Mode&0o7777)
			if data == "" {
				data = mode
			} else {
				data = mode + "," + data
			}
		}
	}
	if dest == "/dev" {
		// Device nodes are created after all mounts; Finalize makes /dev
		// read-only if asked.
		flags &^= unix.MS_RDONLY
		lateRO = false
	}

	var copyFrom *os.File
	if o.TmpCopyUp && fstype == "tmpfs" {
		if copyFrom, err = openat(dst, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
			return nil, fmt.Errorf("tmpcopyup: %w", err)
		}
		defer copyFrom.Close()
	}

	var mountLabel string
	if l := p.c.Spec.Linux; l != nil {
		mountLabel = l.MountLabel
	}
	if fstype == "proc" && p.c.PidNS != nil {
		err = mountProcFor(p.c.PidNS, flags, data, dst)
	} else {
		withLabel := lsm.MountData(fstype, data, mountLabel)
		err = mountOnto(source, fstype, flags, withLabel, dst)
		if err != nil && withLabel != data {
			// The kernel's EINVAL or EACCES does not say that the context,
			// which the config did not give for this mount, is what it refused.
			err = fmt.Errorf("%w (with linux.mountLabel %q as its context=)", err, mountLabel)
		}
	}
	if err != nil {
		return nil, err
	}
	top, err := p.mounted(dest, dst)
	if err != nil {
		return nil, err
	}
	if err := lsm.LabelMount(fstype, top, mountLabel); err != nil {
		top.Close()
		return nil, fmt.Errorf("linux.mountLabel: %w", err)
	}
	if err := p.finishMount(top, copyFrom, lateRO, o); err != nil {
		top.Close()
		return nil, err
	}
	return top, nil
}

func (p *preparer) finishMount(top, copyFrom *os.File, lateRO bool, o config.MountOptions) error {
	if copyFrom != nil {
		if err := copyTree(copyFrom, top, 0); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
	}
	if lateRO {
		if err := mountSetattr(top, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return err
		}
	}
	return applyPropagation(top, o)
}

// applyPropagation applies the per-mount propagation options, in order, and
// then the recursive mount attributes, as runc orders them.
func applyPropagation(top *os.File, o config.MountOptions) error {
	for _, pf := range o.Propagation {
		var flags uint
		if pf&unix.MS_REC != 0 {
			flags = unix.AT_RECURSIVE
		}
		attr := unix.MountAttr{Propagation: uint64(pf &^ unix.MS_REC)}
		if err := mountSetattr(top, flags, &attr); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return applyRecAttr(top, o)
}

// applyRecAttr applies the recursive options (rro, rnosuid, ...) to the
// mount tree at top.
func applyRecAttr(top *os.File, o config.MountOptions) error {
	if o.AttrSet|o.AttrClr == 0 {
		return nil
	}
	attr := unix.MountAttr{Attr_set: o.AttrSet, Attr_clr: o.AttrClr}
	if err := mountSetattr(top, unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("set recursive mount attributes: %w", err)
	}
	return nil
}

// mountBind bind-mounts the host path source on dest.
func (p *preparer) mountBind(source, dest string, o config.MountOptions) error {
	src, err := os.OpenFile(source, unix.O_PATH|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: a mount source
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	defer src.Close()
	return p.bindFrom(src, dest, o, nil)
}

// bindFrom binds the tree at src on dest. tree, when not nil, is the
// detached clone of src to attach (an id-mapped one the runtime made);
// otherwise src is cloned here.
func (p *preparer) bindFrom(src *os.File, dest string, o config.MountOptions, tree *os.File) error {
	st, err := fstat(src)
	if err != nil {
		return err
	}
	root, err := p.rootHandle()
	if err != nil {
		return err
	}
	dst, _, err := openOrCreate(root, p.c.Rootfs, dest, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := p.checkProcDest(dst, "bind", src); err != nil {
		return err
	}
	if dest == "/dev" {
		o.Flags &^= unix.MS_RDONLY
	}
	id, err := identify(dst)
	if err != nil {
		return err
	}
	if tree == nil {
		err = bindOnto(src, dst, o)
	} else {
		err = attachTree(tree, dst, o)
	}
	p.landed(id)
	return err
}

// bindOnto clones the tree at src and attaches it on dst with the options.
func bindOnto(src, dst *os.File, o config.MountOptions) error {
	tree, err := openTree(src, o.Recursive)
	if err != nil {
		return err
	}
	defer tree.Close()
	return attachTree(tree, dst, o)
}

// attachTree sets the options' flags on the detached mount tree (so a
// failure leaves nothing mounted) and attaches it on dst.
func attachTree(tree, dst *os.File, o config.MountOptions) error {
	// Like runc, only touch the flags when the options name any: a plain
	// bind keeps whatever the source mount has.
	if o.Flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) != 0 || o.ClearFlags != 0 {
		if err := setBindFlags(tree, o.Flags, o.ClearFlags); err != nil {
			return err
		}
	}
	if err := moveMount(tree, dst); err != nil {
		return err
	}
	return applyPropagation(tree, o)
}

// lockedFlags are the mount flags the kernel locks on mounts that reach a
// less privileged user namespace; they cannot be cleared there.
const lockedFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// setBindFlags gives the bind mount tree exactly the requested per-mount
// flags. If that fails with EPERM the source mount has locked flags (it came
// from a more privileged user namespace), so, as runc does, retry keeping the
// flags the source has unless the user explicitly asked to clear them.
func setBindFlags(tree *os.File, flags, cleared uintptr) error {
	attr := bindAttrCleared(flags, cleared)
	err := mountSetattr(tree, 0, &attr)
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	st, serr := fstatfs(tree)
	if serr != nil {
		return fmt.Errorf("%w (reading source flags: %w)", err, serr)
	}
	keep := statfsFlags(&st) & lockedFlags
	if keep&cleared != 0 || keep&^flags == 0 {
		return err
	}
	attr = bindAttrCleared(flags|keep, cleared)
	if err := mountSetattr(tree, 0, &attr); err != nil {
		return fmt.Errorf("%w (also when keeping the source's locked flags %#x)", err, keep)
	}
	return nil
}

// lxcfs-style files that may be mounted over inside /proc.
var procFileMounts = map[string]bool{
	"/proc/cpuinfo":                true,
	"/proc/diskstats":              true,
	"/proc/meminfo":                true,
	"/proc/stat":                   true,
	"/proc/swaps":                  true,
	"/proc/uptime":                 true,
	"/proc/loadavg":                true,
	"/proc/slabinfo":               true,
	"/proc/net/dev":                true,
	"/proc/sys/kernel/ns_last_pid": true,
}

// checkProcDest refuses mounts that would hide parts of the container's
// procfs (and so the protections masked paths give): /proc itself takes only
// procfs, and inside it only the files lxcfs emulates may be covered. dst is
// the resolved destination, so symlinks cannot sneak around the check.
func (p *preparer) checkProcDest(dst *os.File, fstype string, bindSrc *os.File) error {
	where, err := p.hostPath(dst)
	if err != nil {
		return err
	}
	if p.rootPath == "" {
		if p.rootPath, err = p.hostPath(p.root); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(p.rootPath, where)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		// Outside the rootfs path: the root itself, or a rootfs that a
		// previous mount replaced; neither is the container's /proc.
		return nil
	}
	inRoot := "/" + rel
	switch {
	case inRoot == "/proc":
		if fstype == "proc" {
			return nil
		}
		if bindSrc != nil {
			st, err := fstatfs(bindSrc)
			if err != nil {
				return err
			}
			if st.Type == unix.PROC_SUPER_MAGIC {
				return nil
			}
		}
		return fmt.Errorf("%s cannot be mounted because it is not of type proc", inRoot)
	case strings.HasPrefix(inRoot, "/proc/"):
		if procFileMounts[inRoot] {
			return nil
		}
		return fmt.Errorf("%s cannot be mounted because it is inside /proc", inRoot)
	}
	return nil
}
