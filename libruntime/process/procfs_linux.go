package process

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// procRootIno is the inode number the kernel gives the root of every procfs.
const procRootIno = 1

// OpenProcRoot opens /proc as an O_PATH handle and checks that it is the
// root directory of a real procfs, not another filesystem or a procfs
// subdirectory mounted in its place. Files below it are then reached with
// WriteProcFile, which cannot be led out of it.
func OpenProcRoot() (*os.File, error) {
	const path = "/proc"
	fd, err := linux.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if err := verifyProcRoot(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// verifyProcRoot checks that f is the root directory of a procfs.
func verifyProcRoot(f *os.File) error {
	defer runtime.KeepAlive(f)
	fd := int(f.Fd())

	var sfs unix.Statfs_t
	if err := linux.Fstatfs(fd, &sfs); err != nil {
		return &os.PathError{Op: "fstatfs", Path: f.Name(), Err: err}
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not procfs (filesystem magic 0x%x, want 0x%x)", f.Name(), sfs.Type, unix.PROC_SUPER_MAGIC)
	}

	var st unix.Stat_t
	if err := linux.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if st.Ino != procRootIno {
		return fmt.Errorf("%s is on procfs but is not its root (inode %d): a procfs subdirectory is mounted there", f.Name(), st.Ino)
	}

	// Inode 1 already means a procfs root; where statx reports it, also
	// insist that it is where a mount starts.
	var stx unix.Statx_t
	err := linux.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO, &stx)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return nil
		}
		return &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return fmt.Errorf("%s is a procfs root but not the root of its mount", f.Name())
	}
	return nil
}

// SysctlPath returns the path below /proc of the sysctl key, as sysctl(8)
// reads keys: "net.ipv4.ip_forward" is "sys/net/ipv4/ip_forward". In the
// dotted form a '/' stands for a dot inside a name
// ("net.ipv4.conf.eth0/100.forwarding" is ".../conf/eth0.100/forwarding");
// a key whose first separator is '/' is taken as a path already.
func SysctlPath(key string) string {
	slash, dot := strings.IndexByte(key, '/'), strings.IndexByte(key, '.')
	if slash >= 0 && (dot < 0 || slash < dot) {
		return "sys/" + key
	}
	swapped := strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, key)
	return "sys/" + swapped
}

// WriteProcFile writes data, in a single write(2), to the file rel below
// procRoot, a handle from OpenProcRoot. rel is a plain relative path
// ("sys/net/ipv4/ip_forward", "self/oom_score_adj"); a leading "self" or
// "thread-self" is resolved to this process or thread as procRoot's procfs
// numbers it. No symlink, magic link, ".." or mount crossing is followed
// on the way (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|
// RESOLVE_BENEATH|RESOLVE_NO_XDEV, or an equivalent walk with O_NOFOLLOW on
// kernels before 5.6), so a hostile mount or link cannot redirect the write.
func WriteProcFile(procRoot *os.File, rel string, data string) error {
	defer runtime.KeepAlive(procRoot)
	name := procRoot.Name() + "/" + rel
	comps, err := procComponents(procRoot, rel)
	if err != nil {
		return err
	}
	fd, err := openBeneath(int(procRoot.Fd()), procRoot.Name(), comps, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return linux.WriteValue(fd, name, data)
}

// procComponents splits rel into names, refusing anything but plain names,
// and replaces a leading "self" or "thread-self" (symlinks, which the safe
// open refuses) by what they point to.
func procComponents(procRoot *os.File, rel string) ([]string, error) {
	comps, err := plainComponents(rel)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", procRoot.Name(), rel, err)
	}
	if comps[0] != "self" && comps[0] != "thread-self" {
		return comps, nil
	}
	buf := make([]byte, 64)
	n, err := linux.Readlinkat(int(procRoot.Fd()), comps[0], buf)
	if err != nil {
		return nil, &os.PathError{Op: "readlinkat", Path: procRoot.Name() + "/" + comps[0], Err: err}
	}
	target, err := plainComponents(string(buf[:n]))
	if err != nil {
		return nil, fmt.Errorf("%s/%s points to %q: %w", procRoot.Name(), comps[0], buf[:n], err)
	}
	return append(target, comps[1:]...), nil
}

// plainComponents splits a relative path made only of plain names.
func plainComponents(rel string) ([]string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return nil, errors.New("not a relative path")
	}
	comps := strings.Split(rel, "/")
	for _, c := range comps {
		if c == "" || c == "." || c == ".." {
			return nil, fmt.Errorf("path component %q is not allowed", c)
		}
	}
	return comps, nil
}

// openBeneath opens comps below the directory root with flags, following no
// symlinks and crossing no mounts. rootName is only for errors.
func openBeneath(root int, rootName string, comps []string, flags int) (int, error) {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOCTTY),
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV,
	}
	path := strings.Join(comps, "/")
	var fd int
	var err error
	// EAGAIN means a concurrent rename or mount raced the lookup; the
	// kernel asks for a retry.
	for range 32 {
		fd, err = linux.Openat2(root, path, how)
		if !errors.Is(err, unix.EAGAIN) {
			break
		}
	}
	if err == nil {
		return fd, nil
	}
	if errors.Is(err, unix.ENOSYS) {
		return openBeneathWalk(root, rootName, comps, flags)
	}
	return -1, &os.PathError{Op: "openat2", Path: rootName + "/" + path, Err: err}
}

// openBeneathWalk is openBeneath for kernels without openat2: one openat
// per component with O_NOFOLLOW, checking each step stays a directory on
// root's filesystem.
func openBeneathWalk(root int, rootName string, comps []string, flags int) (int, error) {
	var rootSt unix.Stat_t
	if err := linux.Fstat(root, &rootSt); err != nil {
		return -1, &os.PathError{Op: "fstat", Path: rootName, Err: err}
	}
	dir := root
	defer func() {
		if dir != root {
			unix.Close(dir)
		}
	}()
	for i, c := range comps {
		name := rootName + "/" + strings.Join(comps[:i+1], "/")
		last := i == len(comps)-1
		// O_PATH with O_NOFOLLOW opens a symlink itself instead of failing,
		// so intermediate symlinks are caught by the type check below.
		fl := unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if last {
			fl = flags | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY
		}
		fd, err := linux.Openat(dir, c, fl, 0)
		if err != nil {
			return -1, &os.PathError{Op: "openat", Path: name, Err: err}
		}
		var st unix.Stat_t
		if err := linux.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "fstat", Path: name, Err: err}
		}
		var bad error
		switch {
		case st.Dev != rootSt.Dev:
			bad = unix.EXDEV
		case !last && st.Mode&unix.S_IFMT == unix.S_IFLNK:
			bad = unix.ELOOP
		case !last && st.Mode&unix.S_IFMT != unix.S_IFDIR:
			bad = unix.ENOTDIR
		}
		if bad != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "openat", Path: name, Err: bad}
		}
		if last {
			return fd, nil
		}
		if dir != root {
			unix.Close(dir)
		}
		dir = fd
	}
	return -1, errors.New("unreachable: no path components")
}

// SetOOMScoreAdj writes v to the process's oom_score_adj below procRoot.
// Lowering it below the floor inherited from hull needs CAP_SYS_RESOURCE;
// that failure gets an error saying so.
func SetOOMScoreAdj(procRoot *os.File, v int) error {
	if v < -1000 || v > 1000 {
		return fmt.Errorf("process.oomScoreAdj %d: must be between -1000 and 1000", v)
	}
	err := WriteProcFile(procRoot, "self/oom_score_adj", strconv.Itoa(v))
	if err == nil {
		return nil
	}
	if v < 0 && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) {
		return &explainedError{
			msg: fmt.Sprintf("process.oomScoreAdj %d: lowering oom_score_adj needs CAP_SYS_RESOURCE, which hull does not have here; use a value >= 0", v),
			err: err,
		}
	}
	return fmt.Errorf("process.oomScoreAdj %d: %w", v, err)
}
