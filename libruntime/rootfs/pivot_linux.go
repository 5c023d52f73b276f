package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// pivotRoot switches to rootfs with pivot_root(".", "."), which stacks the
// old root on top of the new one without needing a directory for it in the
// rootfs, then detaches the old root. shared says whether setupPropagation
// left the old root's mounts shared (rootfsPropagation shared or rshared).
func pivotRoot(rootfs string, shared bool) error {
	oldRoot, err := os.OpenFile("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: the host's root, before pivot_root
	if err != nil {
		return err
	}
	defer oldRoot.Close()
	newRoot, err := os.OpenFile(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: root.path itself
	if err != nil {
		return err
	}
	defer newRoot.Close()

	if err := unix.Fchdir(int(newRoot.Fd())); err != nil {
		return &os.PathError{Op: "fchdir", Path: rootfs, Err: err}
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return &os.PathError{Op: "pivot_root", Path: rootfs, Err: err}
	}
	// The kernel leaves "." at the old root today, but does not promise it.
	if err := unix.Fchdir(int(oldRoot.Fd())); err != nil {
		return &os.PathError{Op: "fchdir", Path: "old root", Err: err}
	}
	// Slave, not private: unmounting must not propagate to the host, but the
	// host may still be busy with mounts we hold a reference to. Only shared
	// mounts propagate an unmount; setupPropagation made every one of the old
	// root slave or private already, unless rootfsPropagation asked for shared
	// (a walk of the whole tree, for nothing).
	if shared {
		if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make old root rslave: %w", err)
		}
	}
	if err := unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil { //nolint:forbidigo // / is the new root
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

// moveRoot is the --no-pivot path: move the rootfs mount onto "/" and chroot
// into it. The old root stays in the mount namespace, so first drop the
// host's full procfs and sysfs mounts: the kernel allows a new proc or sysfs
// mount in a user namespace only if no such mount is hidden, and would
// otherwise let the container's descendants see the host's ones.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil { //nolint:forbidigo // host path: root.path itself
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := hideHostProcSys(rootfs); err != nil {
		return err
	}
	if err := mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: rootfs, Err: err}
	}
	if err := unix.Chdir("/"); err != nil { //nolint:forbidigo // / is the new root
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}

func hideHostProcSys(rootfs string) error {
	real, err := filepath.EvalSymlinks(rootfs) //nolint:forbidigo // host path: root.path itself, to find host mounts below it
	if err != nil {
		return err
	}
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (bool, bool) {
		if m.Root != "/" || (m.FSType != "proc" && m.FSType != "sysfs") {
			return true, false
		}
		inside := m.Mountpoint == real || (len(m.Mountpoint) > len(real) && m.Mountpoint[:len(real)+1] == real+"/")
		return inside, false
	})
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	for _, m := range mounts {
		if err := mount("", m.Mountpoint, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				// A parent was already detached.
				continue
			}
			return err
		}
		err := unmount(m.Mountpoint, unix.MNT_DETACH)
		if err == nil {
			continue
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
			return err
		}
		// Locked mounts (user namespace) cannot be unmounted: cover them.
		if err := mount("tmpfs", m.Mountpoint, "tmpfs", 0, ""); err != nil {
			return fmt.Errorf("cover host %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}
