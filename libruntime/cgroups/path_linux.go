package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// Mount returns where the cgroup2 hierarchy is mounted: /sys/fs/cgroup on a
// unified host, /sys/fs/cgroup/unified on a hybrid one. Only a mount of the
// hierarchy's root counts; a bind mount of some cgroup below it would misplace
// every path. When there are several, /sys/fs/cgroup wins, then
// /sys/fs/cgroup/unified (systemd's two places, looked at directly), then the
// first /proc/self/mountinfo lists.
func Mount() (string, error) { return mountOnce() }

// The mount and hull's own cgroup do not change during one hull command; create asks
// for them several times (check, path, manager), each a parse of /proc files.
var (
	mountOnce     = sync.OnceValues(findMount)
	ownCgroupOnce = sync.OnceValues(readOwnCgroup)
)

func findMount() (string, error) {
	// Every command that touches a cgroup asks; reading and parsing all of
	// mountinfo in a fresh process costs it ~0.1-0.3 ms, four syscalls here far less.
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if isCgroup2Root(p) {
			return p, nil
		}
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	var found string
	for _, m := range mounts {
		if m.Root != "/" {
			continue
		}
		if m.Mountpoint == "/sys/fs/cgroup" {
			return m.Mountpoint, nil
		}
		if found == "" {
			found = m.Mountpoint
		}
	}
	if found == "" {
		return "", errors.New("find cgroup2 mount: no cgroup2 filesystem is mounted (hull manages cgroup v2 only)")
	}
	return found, nil
}

// isCgroup2Root reports whether the directory p, reached without a symlink, is the
// root of the cgroup2 hierarchy: kernfs gives that one inode 1, and it is only
// reachable as the root of a mount of the hierarchy's root (a bind of a cgroup
// below has that cgroup's inode), which is what mountinfo's Root "/" says.
func isCgroup2Root(p string) bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if unix.Fstatfs(fd, &sfs) != nil || sfs.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	var stx unix.Statx_t
	if unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO, &stx) != nil || stx.Mask&unix.STATX_INO == 0 {
		return false
	}
	return stx.Ino == 1
}

// Path resolves linux.cgroupsPath for container id to a directory below the
// cgroup2 mount, the way runc's cgroupfs driver does:
//
//   - absolute ("/a/b"): <mount>/a/b;
//   - relative ("a/b"): below the parent of the calling process's own cgroup
//     (the "0::" line of /proc/self/cgroup). runc uses the parent because
//     the caller's own cgroup holds processes, and a cgroup with processes
//     cannot pass controllers on to children;
//   - empty: the relative path "<id>", i.e. a sibling of the caller's cgroup
//     named after the container.
//
// ".." is resolved lexically; a path that would climb above the cgroup2
// mount, or that names the root cgroup itself, is an error.
func Path(cgroupsPath, id string) (string, error) {
	mount, err := Mount()
	if err != nil {
		return "", err
	}
	own := ""
	if !strings.HasPrefix(cgroupsPath, "/") {
		if own, err = ownCgroup(); err != nil {
			return "", err
		}
	}
	return resolvePath(mount, own, cgroupsPath, id)
}

// resolvePath is Path with the mount and the caller's own cgroup given.
func resolvePath(mount, own, cgroupsPath, id string) (string, error) {
	if strings.IndexByte(cgroupsPath, 0) >= 0 {
		return "", fmt.Errorf("linux.cgroupsPath %s: contains a NUL byte", clip.Quote(cgroupsPath))
	}
	rel := cgroupsPath
	if rel == "" {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return "", fmt.Errorf("default cgroup path: container id %s is not a file name", clip.Quote(id))
		}
		rel = id
	}
	var parts []string
	if !strings.HasPrefix(rel, "/") {
		// The parent of our own cgroup; "/" stays "/".
		parts = split(filepath.Dir("/" + strings.TrimPrefix(own, "/")))
	}
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", fmt.Errorf("linux.cgroupsPath %s: climbs out of the cgroup2 hierarchy at %s", clip.Quote(cgroupsPath), mount)
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("linux.cgroupsPath %s: names the root cgroup of %s, which hull cannot manage", clip.Quote(cgroupsPath), mount)
	}
	return filepath.Join(append([]string{mount}, parts...)...), nil
}

func split(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ownCgroup returns the cgroup v2 path of the calling process. All of hull's
// threads share one cgroup, so /proc/self is as good as /proc/thread-self.
func ownCgroup() (string, error) { return ownCgroupOnce() }

func readOwnCgroup() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("own cgroup: %w", err)
	}
	defer f.Close()
	return parseOwnCgroup(f, f.Name())
}

func parseOwnCgroup(r io.Reader, name string) (string, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		if p, ok := strings.CutPrefix(s.Text(), "0::"); ok {
			return p, nil
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("own cgroup: read %s: %w", name, err)
	}
	return "", fmt.Errorf("own cgroup: %s has no cgroup v2 (\"0::\") line", name)
}
