package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
	"github.com/hull-runtime/hull/libruntime/process"
)

// The rootfs belongs to the container image and is untrusted: any component
// can be a symlink (absolute or full of ".."), and the runtime is root on the
// host. Every lookup below therefore goes through pathrs-lite, which resolves
// with openat2(RESOLVE_IN_ROOT) so that "/" and ".." stop at the rootfs, and
// the result is used as a file descriptor from then on.

// cleanDest makes a spec path absolute and lexically clean. Lexical ".."
// at the top is harmless: Clean stops at "/".
func cleanDest(p string) string {
	return filepath.Join("/", p)
}

// splitLeaf splits a cleaned in-root path into its parent and final name,
// refusing paths whose final name could not be created (the root itself).
func splitLeaf(p string) (dir, name string, err error) {
	dir, name = path.Split(p)
	if name == "" || name == "." || name == ".." {
		return "", "", fmt.Errorf("%q does not name a file inside the rootfs", p)
	}
	return dir, name, nil
}

// openInRoot resolves p inside root and returns an O_PATH handle.
func openInRoot(root *os.File, p string) (*os.File, error) {
	f, err := lookupInRoot(root, p)
	if err != nil {
		return nil, fmt.Errorf("open %s in rootfs: %w", p, err)
	}
	return f, nil
}

// noOpenat2 is set once openat2 turned out to be missing (Linux < 5.6, or refused by
// a seccomp filter hull runs under).
var noOpenat2 atomic.Bool

// lookupInRoot resolves p inside root into an O_PATH handle, following symlinks
// within it: openat2 with RESOLVE_IN_ROOT, where the kernel keeps every step,
// absolute links and ".." included, below root. That is the call pathrs-lite makes
// too, but it then reads the handle's path back through procfs (some ten syscalls,
// each lookup) only to name the *os.File; init makes dozens of lookups. The name
// here is lexical. Without openat2, pathrs-lite's emulation takes over.
func lookupInRoot(root *os.File, p string) (*os.File, error) {
	if noOpenat2.Load() {
		return pathrs.OpenatInRoot(root, p)
	}
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for tries := 0; ; tries++ {
		fd, err := linux.Openat2(int(root.Fd()), p, &how)
		runtime.KeepAlive(root)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(root.Name(), p)), nil
		}
		switch {
		case errors.Is(err, unix.EAGAIN) && tries < 128:
			// A rename or mount raced with a ".." step; the kernel asks for a retry.
			continue
		case errors.Is(err, unix.ENOSYS):
			noOpenat2.Store(true)
			return pathrs.OpenatInRoot(root, p)
		}
		return nil, &os.PathError{Op: "openat2", Path: p, Err: err}
	}
}

// mkdirAllInRoot creates p and its missing parents inside the root at
// rootPath (handle root) and returns a handle to the directory.
//
// pathrs-lite refuses to create through a dangling symlink, but images rely
// on that working (/var/run -> /run without /run, a missing /dev target), and
// runc follows such links inside the rootfs. So on failure the link target
// is located with SecureJoin and created with pathrs-lite again: even a
// raced lookup keeps every created directory inside the rootfs.
func mkdirAllInRoot(root *os.File, rootPath, p string) (*os.File, error) {
	return mkdirAll(root, rootPath, p, true)
}

// mkdirAll is mkdirAllInRoot; exists false says that a lookup of p just
// failed with ENOENT, which is then not repeated.
func mkdirAll(root *os.File, rootPath, p string, exists bool) (*os.File, error) {
	if f := mkdirLeafInRoot(root, p, exists); f != nil {
		return f, nil
	}
	f, err := pathrs.MkdirAllHandle(root, p, 0o755)
	if err == nil {
		return f, nil
	}
	err = fmt.Errorf("mkdir %s in rootfs: %w", p, err)
	target, ok := followInRoot(rootPath, p)
	if !ok {
		return nil, err
	}
	t, terr := pathrs.MkdirAllHandle(root, target, 0o755)
	if terr != nil {
		return nil, err
	}
	t.Close()
	f, ferr := lookupInRoot(root, p)
	if ferr != nil {
		return nil, err
	}
	return f, nil
}

// mkdirLeafInRoot is mkdirAllInRoot's fast path for the common cases: p is already a
// directory, or only its last component is missing. The parent is resolved in root,
// the leaf made relative to it and opened without following a symlink, so nothing
// outside the rootfs can be reached; anything else (a missing parent, a symlink or
// non-directory at p) returns nil, for pathrs-lite's full walk to handle and report.
// exists false skips the lookup of p: the caller's just found it missing.
func mkdirLeafInRoot(root *os.File, p string, exists bool) *os.File {
	if exists {
		f, err := lookupInRoot(root, p)
		if err == nil {
			if isDir(f) {
				return f
			}
			f.Close()
			return nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return nil
		}
	}
	dir, name, err := splitLeaf(p)
	if err != nil {
		return nil
	}
	parent, err := lookupInRoot(root, dir)
	if err != nil {
		return nil
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), name, 0o755); err != nil && err != unix.EEXIST {
		return nil
	}
	f, err := openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil
	}
	return f
}

func isDir(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// followInRoot returns where p leads inside the rootfs at rootPath when every
// symlink, dangling or not, is followed within it; ok is false if that is p
// itself or the root.
func followInRoot(rootPath, p string) (string, bool) {
	joined, err := securejoin.SecureJoin(rootPath, p) //nolint:forbidigo // only to name a dangling link's target; the result is created through pathrs-lite
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(rootPath, joined)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return "", false
	}
	target := "/" + rel
	return target, target != p
}

// createFileInRoot creates an empty regular file at p (and its parents). The
// final component is created with O_EXCL|O_NOFOLLOW through the parent's
// handle so a symlink there is never followed.
func createFileInRoot(root *os.File, rootPath, p string) error {
	dir, name, err := splitLeaf(p)
	if err != nil {
		return err
	}
	parent, err := mkdirAllInRoot(root, rootPath, dir)
	if err != nil {
		return err
	}
	defer parent.Close()
	f, err := openat(parent, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s in rootfs: %w", p, err)
	}
	return f.Close()
}

// openOrCreate returns an O_PATH handle to the mount destination p inside
// the root at rootPath (handle root), and whether p existed. When it did not
// it is created, as a directory if dir is set and as an empty file
// otherwise. A dangling symlink at p is followed inside the rootfs and its
// target created, as runc does (/etc/resolv.conf is often one in images).
func openOrCreate(root *os.File, rootPath, p string, dir bool) (_ *os.File, existed bool, _ error) {
	f, err := lookupInRoot(root, p)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("open %s in rootfs: %w", p, err)
	}
	if dir {
		f, err := mkdirAll(root, rootPath, p, false)
		return f, false, err
	}
	if err := createFileInRoot(root, rootPath, p); err != nil {
		target, ok := followInRoot(rootPath, p)
		if !ok || createFileInRoot(root, rootPath, target) != nil {
			return nil, false, err
		}
	}
	f, err = openInRoot(root, p)
	return f, false, err
}

// openPlainDir returns a handle to the directory p inside root, creating it if
// needed, and fails if p itself is a symlink or not a directory. procfs and
// sysfs are only mounted on such directories: a symlink there is how earlier
// attacks redirected /proc mounts.
func openPlainDir(root *os.File, rootPath, p string) (*os.File, error) {
	dir, name, err := splitLeaf(p)
	if err != nil {
		return nil, err
	}
	parent, err := mkdirAllInRoot(root, rootPath, dir)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdirat", Path: p, Err: err}
	}
	f, err := openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("%s must be an ordinary directory, not a symlink or file", p)
		}
		return nil, err
	}
	return f, nil
}

// hostPath returns where f really is in init's mount namespace, before pivot_root,
// from the magic link /proc/thread-self/fd/N. The procfs root is verified once
// (process.OpenProcRoot, or Config.Proc) and the link is reached without crossing a mount
// (RESOLVE_NO_XDEV), so nothing mounted over part of that path can answer instead.
// pathrs-lite's ProcSelfFdReadlink does the same with its handle re-verified at
// every call: about ten syscalls, where this makes three.
func (p *preparer) hostPath(f *os.File) (string, error) {
	if p.proc == nil {
		proc, err := process.OpenProcRoot()
		if err != nil {
			return "", err
		}
		p.proc, p.ownProc = proc, true
	}
	name := "thread-self/fd/" + strconv.Itoa(int(f.Fd()))
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
	}
	link, err := linux.Openat2(int(p.proc.Fd()), name, &how)
	if err != nil {
		return "", fmt.Errorf("readlink %s: %w", f.Name(), &os.PathError{Op: "openat2", Path: "/proc/" + name, Err: err})
	}
	defer unix.Close(link)
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := linux.Readlinkat(link, "", buf)
		runtime.KeepAlive(f)
		if err != nil {
			return "", fmt.Errorf("readlink %s: %w", f.Name(), &os.PathError{Op: "readlinkat", Path: "/proc/" + name, Err: err})
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// fileID tells one inode on one mount from every other.
type fileID struct {
	devMajor, devMinor uint32
	ino, mnt           uint64
}

// identify returns f's fileID, from one statx.
func identify(f *os.File) (fileID, error) {
	var stx unix.Statx_t
	err := linux.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_MNT_ID, &stx)
	runtime.KeepAlive(f)
	if err != nil {
		return fileID{}, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	if stx.Mask&(unix.STATX_INO|unix.STATX_MNT_ID) != unix.STATX_INO|unix.STATX_MNT_ID {
		return fileID{}, &os.PathError{Op: "statx", Path: f.Name(), Err: unix.ENOSYS}
	}
	return fileID{devMajor: stx.Dev_major, devMinor: stx.Dev_minor, ino: stx.Ino, mnt: stx.Mnt_id}, nil
}
