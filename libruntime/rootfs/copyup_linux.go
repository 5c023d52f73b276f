package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxCopyDepth bounds the recursion of tmpcopyup over an untrusted tree.
const maxCopyDepth = 128

// copyTree copies the contents of the directory src into the directory dst
// (both handles, src readable), keeping modes and owners, for tmpcopyup.
// src belongs to the image, so nothing in it is followed: symlinks are
// copied as symlinks and every open uses O_NOFOLLOW.
func copyTree(src, dst *os.File, depth int) error {
	if depth > maxCopyDepth {
		return fmt.Errorf("%s: directory tree deeper than %d levels", src.Name(), maxCopyDepth)
	}
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", src.Name(), err)
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name, depth); err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(src, dst *os.File, name string, depth int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(src.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "fstatat", Path: src.Name() + "/" + name, Err: err}
	}
	perm := st.Mode & 0o7777
	dfd := int(dst.Fd())
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdirat", Path: dst.Name() + "/" + name, Err: err}
		}
		from, err := openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer from.Close()
		to, err := openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer to.Close()
		if err := copyTree(from, to, depth+1); err != nil {
			return err
		}
		return chownChmod(to, st.Uid, st.Gid, perm)
	case unix.S_IFREG:
		from, err := openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer from.Close()
		to, err := openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		defer to.Close()
		if _, err := io.Copy(to, from); err != nil {
			return fmt.Errorf("copy %s: %w", from.Name(), err)
		}
		return chownChmod(to, st.Uid, st.Gid, perm)
	case unix.S_IFLNK:
		target := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(src.Fd()), name, target)
		if err != nil {
			return &os.PathError{Op: "readlinkat", Path: src.Name() + "/" + name, Err: err}
		}
		if err := unix.Symlinkat(string(target[:n]), dfd, name); err != nil {
			return &os.PathError{Op: "symlinkat", Path: dst.Name() + "/" + name, Err: err}
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "fchownat", Path: dst.Name() + "/" + name, Err: err}
		}
		return nil
	default:
		// Device nodes, fifos and sockets are recreated, not opened.
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknodat", Path: dst.Name() + "/" + name, Err: err}
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "fchownat", Path: dst.Name() + "/" + name, Err: err}
		}
		// The umask applied to mknodat; chmod after chown as chown drops
		// set-id bits.
		if err := unix.Fchmodat(dfd, name, perm, 0); err != nil {
			return &os.PathError{Op: "fchmodat", Path: dst.Name() + "/" + name, Err: err}
		}
		return nil
	}
}

// chownChmod sets owner then mode: chown clears set-id bits.
func chownChmod(f *os.File, uid, gid, perm uint32) error {
	if err := unix.Fchown(int(f.Fd()), int(uid), int(gid)); err != nil {
		return &os.PathError{Op: "fchown", Path: f.Name(), Err: err}
	}
	if err := unix.Fchmod(int(f.Fd()), perm); err != nil {
		return &os.PathError{Op: "fchmod", Path: f.Name(), Err: err}
	}
	return nil
}
