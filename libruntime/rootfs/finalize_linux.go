package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
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

// masker hides masked paths: directories under an empty read-only tmpfs,
// files under /dev/null.
type masker struct {
	root    *os.File
	devNull *os.File
}

func (m *masker) close() {
	if m.devNull != nil {
		m.devNull.Close()
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
		return mountEmptyTmpfs(f)
	}
	null, err := m.null()
	if err != nil {
		return err
	}
	return bindOnto(null, f, config.MountOptions{Flags: unix.MS_BIND, Bind: true})
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

// mountEmptyTmpfs covers the directory dst with a new, empty, read-only tmpfs.
func mountEmptyTmpfs(dst *os.File) error {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("fsopen tmpfs", err)
	}
	fs := os.NewFile(uintptr(fsfd), "fscontext:tmpfs")
	defer fs.Close()
	if err := unix.FsconfigSetFlag(fsfd, "ro"); err != nil {
		return os.NewSyscallError("fsconfig ro", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return os.NewSyscallError("fsconfig create", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return os.NewSyscallError("fsmount", err)
	}
	mnt := os.NewFile(uintptr(mfd), "fsmount:tmpfs")
	defer mnt.Close()
	return moveMount(mnt, dst)
}
