package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"

	"github.com/hull-runtime/hull/internal/clip"
)

// ErrSubNotFound is Sub's error for a sub-cgroup that does not exist.
var ErrSubNotFound = errors.New("no such sub-cgroup")

// Sub returns the Manager of the existing cgroup rel below m, for `exec --cgroup`.
// rel is relative to m even with a leading "/" (runc's reading: "/" is m itself).
// ".." is refused outright rather than resolved, so no spelling of rel can name a
// cgroup outside m, a sibling sharing m's name as a prefix included. The directory
// is looked up beneath m's without following anything and without crossing a mount
// (cgroupfs has no symlinks, but m's directory is the container's to write in when
// it has a writable cgroup mount): what is found is a cgroup2 directory under m.
func (m *fsManager) Sub(rel string) (Manager, error) {
	if strings.IndexByte(rel, 0) >= 0 {
		return nil, fmt.Errorf("bad sub cgroup path %s: contains a NUL byte", clip.Quote(rel))
	}
	var parts []string
	for _, p := range strings.Split(rel, "/") {
		switch p {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("bad sub cgroup path %s: \"..\" would leave the container's cgroup; name a cgroup below it, relative to the container's (\"/\" is the container's own)", clip.Quote(rel))
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return m, nil
	}
	clean := filepath.Join(parts...)
	dir, err := open(m.path, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	fd, err := linux.Openat2(dir, clean, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("%w: %s does not exist in the container's cgroup %s; create it first (mkdir it from the host, or from inside a container with a writable cgroup mount)", ErrSubNotFound, clip.Quote(rel), m.path)
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("bad sub cgroup path %s: not a directory below the container's cgroup %s", clip.Quote(rel), m.path)
	case err != nil:
		return nil, &os.PathError{Op: "openat2", Path: filepath.Join(m.path, clean), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := linux.Fstatfs(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstatfs", Path: filepath.Join(m.path, clean), Err: err}
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("bad sub cgroup path %s: %s is not a cgroup2 directory", clip.Quote(rel), filepath.Join(m.path, clean))
	}
	return &fsManager{mount: m.mount, path: filepath.Join(m.path, clean)}, nil
}

// EffectivelyFrozen reports whether the cgroup is frozen, by its own cgroup.freeze or
// an ancestor's (cgroup.events "frozen").
func (m *fsManager) EffectivelyFrozen() (bool, error) {
	v, err := eventValue(m.path, "frozen")
	if err != nil {
		return false, err
	}
	return v == "1", nil
}
