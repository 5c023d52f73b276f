package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/internal/mountfd"
)

// After pivot_root /proc is the container's and anything under "/" may have
// been arranged by the image, so nothing here goes through /proc/self/fd or
// a path walk that could leave the root: targets are opened with
// openat2(RESOLVE_IN_ROOT) (lookupInRoot) and mounts are made with open_tree/fsmount + move_mount.

// openExisting resolves p inside root; ok is false when p does not exist.
func openExisting(root *os.File, p string) (f *os.File, ok bool, err error) {
	f, err = lookupInRoot(root, cleanDest(p))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open %s: %w", p, err)
	}
	return f, true, nil
}

// readonlyPath bind-mounts p onto itself read-only. Only the read-only flag
// is added, so nosuid/nodev/noexec of the mount (which may be locked in a
// user namespace) stay as they are.
func readonlyPath(root *os.File, p string) error {
	f, ok, err := openExisting(root, p)
	if !ok {
		return err
	}
	defer f.Close()
	tree, err := openTree(f, true)
	if err != nil {
		return err
	}
	defer tree.Close()
	if err := mountSetattr(tree, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return err
	}
	return moveMount(tree, f)
}

// remountReadonly makes the mount at p read-only, keeping its other flags.
func remountReadonly(root *os.File, p string) error {
	f, ok, err := openExisting(root, p)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
	defer f.Close()
	return mountSetattr(f, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

// masker hides masked paths: directories under binds of one empty
// read-only tmpfs, files under /dev/null.
type masker struct {
	root    *os.File
	devNull *os.File
	// mountLabel is linux.mountLabel: runc gives the mask tmpfs that context
	// too, so a confined process reads a masked directory as one of its own
	// files rather than the host's tmpfs_t.
	mountLabel string
	// dirMask is the tmpfs every masked directory gets a bind of, made on
	// the first one. As in runc 1.5, one superblock serves them all: the
	// kernel tears down a superblock per tmpfs when the container exits,
	// and Kubernetes masks a directory per CPU in sysfs.
	dirMask *os.File
	// dirMaskAttached: dirMask itself covers a masked directory (a kernel
	// that cannot clone a detached mount); later binds are clones of it.
	dirMaskAttached bool
}

// cloneDetachedMask is false in tests of the path older kernels take.
var cloneDetachedMask = true

func (m *masker) close() {
	if m.devNull != nil {
		m.devNull.Close()
	}
	if m.dirMask != nil {
		m.dirMask.Close()
	}
}

func (m *masker) mask(p string) error {
	f, ok, err := openExisting(m.root, p)
	if !ok {
		return err
	}
	defer f.Close()
	st, err := fstat(f)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return m.maskDir(f)
	}
	null, err := m.null()
	if err != nil {
		return err
	}
	return bindOnto(null, f, config.MountOptions{Flags: unix.MS_BIND, Bind: true})
}

// maskDir covers the directory dst with a bind of the shared mask tmpfs.
func (m *masker) maskDir(dst *os.File) error {
	if m.dirMask == nil {
		// runc's options: read-only at the superblock and the mount, one
		// block and one inode (the root) since nothing is ever written, and
		// "tmpfs" as the source mountinfo shows.
		params := []string{"source=tmpfs", "nr_blocks=1", "nr_inodes=1", "ro"}
		if m.mountLabel != "" {
			// fsconfig takes the label as it is: no quotes around its commas.
			params = append(params, "context="+m.mountLabel)
		}
		mnt, err := mountfd.Tmpfs(unix.MOUNT_ATTR_RDONLY, params...)
		if err != nil {
			if m.mountLabel != "" {
				return fmt.Errorf("linux.mountLabel %q on the tmpfs of masked directories: %w", m.mountLabel, err)
			}
			return err
		}
		m.dirMask = mnt
	}
	// Before Linux 6.15 open_tree cannot clone a mount that is in no
	// namespace (EINVAL): the original then covers the first directory and
	// is cloned from there for the others. Clones are not recursive, so
	// nothing mounted on top of it since comes along.
	var clone *os.File
	err := error(unix.EINVAL)
	if m.dirMaskAttached || cloneDetachedMask {
		clone, err = openTree(m.dirMask, false)
	}
	if errors.Is(err, unix.EINVAL) && !m.dirMaskAttached {
		m.dirMaskAttached = true
		return moveMount(m.dirMask, dst)
	}
	if err != nil {
		return err
	}
	defer clone.Close()
	return moveMount(clone, dst)
}

// null returns a handle to the container's /dev/null after checking that it
// really is the 1:3 character device. The container controls its /dev: a
// symlink or bind there (say to /proc/sys/kernel/core_pattern) would
// otherwise turn masking into exposing (CVE-2025-31133).
func (m *masker) null() (*os.File, error) {
	if m.devNull != nil {
		return m.devNull, nil
	}
	f, err := lookupInRoot(m.root, "/dev/null")
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	if err := checkDevNull(f); err != nil {
		f.Close()
		return nil, err
	}
	m.devNull = f
	return f, nil
}

func checkDevNull(f *os.File) error {
	st, err := fstat(f)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return fmt.Errorf("/dev/null is not the null device (mode %#o, rdev %d:%d)",
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}
