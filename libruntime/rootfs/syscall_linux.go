package rootfs

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// procFdPath is the magic link through which the kernel reaches exactly the
// file f refers to. It is only used before pivot_root, while /proc is still
// the host's procfs (checked by checkHostProcfs).
func procFdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// mount is mount(2) on path strings the runtime controls (the host rootfs
// path, "/" after pivot_root).
func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := linux.Mount(source, target, fstype, flags, data); err != nil {
		return &os.PathError{Op: "mount", Path: target, Err: err}
	}
	return nil
}

// mountOnto mounts a new filesystem on the inode dst refers to. Going through
// the fd's magic link means the kernel never re-walks a path inside the
// rootfs, so a symlink swapped in after we resolved dst cannot redirect the
// mount.
func mountOnto(source, fstype string, flags uintptr, data string, dst *os.File) error {
	target := procFdPath(dst)
	err := linux.Mount(source, target, fstype, flags, data)
	runtime.KeepAlive(dst)
	if err != nil {
		return &os.PathError{Op: "mount", Path: fstype, Err: err}
	}
	return nil
}

func unmount(target string, flags int) error {
	if err := linux.Unmount(target, flags); err != nil {
		return &os.PathError{Op: "umount", Path: target, Err: err}
	}
	return nil
}

// openTree clones the mount tree at f (open_tree(2) with OPEN_TREE_CLONE) into
// a detached mount that can be configured before it is attached.
func openTree(f *os.File, recursive bool) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := linux.OpenTree(int(f.Fd()), "", flags)
	runtime.KeepAlive(f)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: f.Name(), Err: err}
	}
	return os.NewFile(uintptr(fd), "detached:"+f.Name()), nil
}

// moveMount attaches the (detached or attached) mount mnt on top of the inode
// dst refers to, without any path lookup.
func moveMount(mnt, dst *os.File) error {
	err := linux.MoveMount(int(mnt.Fd()), "", int(dst.Fd()), "",
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	runtime.KeepAlive(mnt)
	runtime.KeepAlive(dst)
	if err != nil {
		return &os.PathError{Op: "move_mount", Path: dst.Name(), Err: err}
	}
	return nil
}

// mountSetattr changes the mount properties of the mount whose root f is.
// flags may add AT_RECURSIVE.
func mountSetattr(f *os.File, flags uint, attr *unix.MountAttr) error {
	err := linux.MountSetattr(int(f.Fd()), "", flags|unix.AT_EMPTY_PATH, attr)
	runtime.KeepAlive(f)
	if err != nil {
		return &os.PathError{Op: "mount_setattr", Path: f.Name(), Err: err}
	}
	return nil
}

func fstat(f *os.File) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := linux.Fstat(int(f.Fd()), &st)
	runtime.KeepAlive(f)
	if err != nil {
		return st, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return st, nil
}

func fstatfs(f *os.File) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := linux.Fstatfs(int(f.Fd()), &st)
	runtime.KeepAlive(f)
	if err != nil {
		return st, &os.PathError{Op: "fstatfs", Path: f.Name(), Err: err}
	}
	return st, nil
}

// mountID returns the id of the mount f is on.
func mountID(f *os.File) (uint64, error) {
	var stx unix.Statx_t
	err := linux.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx)
	runtime.KeepAlive(f)
	if err != nil {
		return 0, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	if stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, &os.PathError{Op: "statx", Path: f.Name(), Err: unix.ENOSYS}
	}
	return stx.Mnt_id, nil
}

// openat opens name relative to the directory dir.
func openat(dir *os.File, name string, flags int, mode uint32) (*os.File, error) {
	fd, err := linux.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, mode)
	runtime.KeepAlive(dir)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: dir.Name() + "/" + name, Err: err}
	}
	return os.NewFile(uintptr(fd), dir.Name()+"/"+name), nil
}

// mountProcFor mounts on dst a procfs that shows the pid namespace pidns, however far
// the caller is from it: the fs_context's pidns= option (Linux 6.18) instead of the
// caller's own pid namespace, which mount(2) would take. A nil pidns is the caller's.
func mountProcFor(pidns *os.File, flags uintptr, data string, dst *os.File) error {
	m, err := newDetached("proc", "", pidns, flags, data)
	if err != nil {
		return err
	}
	defer m.Close()
	err = unix.MoveMount(int(m.Fd()), "", int(dst.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	runtime.KeepAlive(dst)
	if err != nil {
		return os.NewSyscallError("move_mount "+"proc", err)
	}
	return nil
}

// newDetached makes a new fstype filesystem mounted nowhere (fsopen, fsconfig,
// fsmount), with mount(2)'s data as its options and flags as mount attributes; for
// procfs, pidns (if set) is the pid namespace it shows.
func newDetached(fstype, source string, pidns *os.File, flags uintptr, data string) (*os.File, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen "+fstype, err)
	}
	defer unix.Close(fs)
	if pidns != nil {
		if err := unix.FsconfigSetFd(fs, "pidns", int(pidns.Fd())); err != nil {
			return nil, os.NewSyscallError("fsconfig "+fstype+" pidns", err)
		}
	}
	if source != "" {
		if err := unix.FsconfigSetString(fs, "source", source); err != nil {
			return nil, os.NewSyscallError("fsconfig "+fstype+" source", err)
		}
	}
	for opt := range strings.SplitSeq(data, ",") {
		if opt == "" {
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if ok {
			err = unix.FsconfigSetString(fs, k, v)
		} else {
			err = unix.FsconfigSetFlag(fs, k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s option %q: %w", fstype, opt, os.NewSyscallError("fsconfig", err))
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, os.NewSyscallError("fsconfig "+fstype+" create", err)
	}
	// The per-mount flags as a bind mount takes them (atime handling included).
	m, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, int(bindAttr(flags).Attr_set))
	if err != nil {
		return nil, os.NewSyscallError("fsmount "+fstype, err)
	}
	return os.NewFile(uintptr(m), fstype), nil
}

// ProcPidNSSupported reports whether procfs takes pidns= (Linux 6.18), tried on the
// caller's own pid namespace.
func ProcPidNSSupported() bool {
	self, err := os.Open("/proc/self/ns/pid") //nolint:forbidigo // host path: the caller's own procfs entry
	if err != nil {
		return false
	}
	defer self.Close()
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fs)
	return unix.FsconfigSetFd(fs, "pidns", int(self.Fd())) == nil
}
