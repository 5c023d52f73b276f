package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
)

// mountCgroup mounts a cgroup filesystem view on dest. On a unified (v2)
// host, and for type "cgroup2", that is a cgroup2 instance: in a new cgroup
// namespace its root is the container's cgroup. On a v1 or hybrid host,
// type "cgroup" gets what runc builds: a tmpfs with one directory per v1
// hierarchy holding either a fresh mount of that hierarchy (new cgroup
// namespace) or a bind of the process's own cgroup in it.
func (p *preparer) mountCgroup(m specs.Mount, dest string, o config.MountOptions) error {
	unified := unifiedMountpoint()
	if m.Type == "cgroup2" || unified == "/sys/fs/cgroup" {
		return p.mountCgroup2(m.Source, dest, o, unified)
	}
	return p.mountCgroupV1(dest, o)
}

func (p *preparer) mountCgroup2(source, dest string, o config.MountOptions, unified string) error {
	err := p.mountFilesystem(source, "cgroup2", dest, o)
	if err == nil || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) || unified == "" {
		return err
	}
	// A user namespace that did not also get a cgroup namespace cannot
	// mount cgroup2: bind the host's hierarchy instead, narrowed to our own
	// cgroup when a cgroup namespace was asked for.
	src := unified
	if p.cgroupns {
		if own, _, oerr := ownCgroups(); oerr == nil && own != "" {
			src = filepath.Join(unified, own)
		}
	}
	o.Flags |= unix.MS_BIND
	o.Bind = true
	if berr := p.mountBind(src, dest, o); berr != nil {
		return fmt.Errorf("%w (falling back to a bind of %s: %v)", err, src, berr) //nolint:errorlint // the fallback's failure is context
	}
	return nil
}

// unifiedMountpoint returns where the host's cgroup2 hierarchy is mounted:
// /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one,
// "" if there is none.
func unifiedMountpoint() string {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC { //nolint:forbidigo // host path: the host's cgroup mounts
			return p
		}
	}
	return ""
}

func (p *preparer) mountCgroupV1(dest string, o config.MountOptions) error {
	hs, err := cgroupV1Hierarchies()
	if err != nil {
		return err
	}
	top, err := p.newFilesystem("tmpfs", "tmpfs", dest, config.MountOptions{
		Flags:       unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV,
		Data:        "mode=755",
		Propagation: o.Propagation,
	})
	if err != nil {
		return err
	}
	defer top.Close()

	for _, h := range hs {
		if err := p.mountHierarchy(top, h, o); err != nil {
			return fmt.Errorf("cgroup %s: %w", h.name, err)
		}
	}
	for _, h := range hs {
		if !strings.Contains(h.name, ",") {
			continue
		}
		// Let "cpu" find "cpu,cpuacct", as on the host.
		for _, c := range strings.Split(h.name, ",") {
			if err := unix.Symlinkat(h.name, int(top.Fd()), c); err != nil && !errors.Is(err, unix.EEXIST) {
				return &os.PathError{Op: "symlinkat", Path: filepath.Join(dest, c), Err: err}
			}
		}
	}
	if o.Flags&unix.MS_RDONLY != 0 {
		if err := mountSetattr(top, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return err
		}
	}
	return applyRecAttr(top, o)
}

func (p *preparer) mountHierarchy(top *os.File, h cgroupV1, o config.MountOptions) error {
	// top is a tmpfs we just mounted; nothing else can have put a symlink
	// in it, and O_NOFOLLOW makes sure.
	if err := unix.Mkdirat(int(top.Fd()), h.name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdirat", Path: h.name, Err: err}
	}
	sub, err := openat(top, h.name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer sub.Close()
	if p.cgroupns {
		flags := uintptr(unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV) | o.Flags&unix.MS_RDONLY
		return mountOnto("cgroup", "cgroup", flags, h.options, sub)
	}
	src, err := os.OpenFile(h.source, unix.O_PATH|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: the host's cgroup hierarchy
	if err != nil {
		return err
	}
	defer src.Close()
	bo := o
	bo.Flags |= unix.MS_BIND | unix.MS_REC
	bo.Bind, bo.Recursive = true, true
	bo.AttrSet, bo.AttrClr = 0, 0
	return bindOnto(src, sub, bo)
}

// cgroupV1 is one v1 hierarchy as seen by this process.
type cgroupV1 struct {
	name    string // directory name under the cgroup mount, e.g. "cpu,cpuacct"
	source  string // host path of this process's cgroup in it
	options string // mount data selecting the hierarchy, e.g. "cpu,cpuacct"
}

func cgroupV1Hierarchies() ([]cgroupV1, error) {
	_, own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	var hs []cgroupV1
	seen := map[[2]int]bool{}
	names := map[string]bool{}
	for _, mi := range mounts {
		dev := [2]int{mi.Major, mi.Minor}
		name := filepath.Base(mi.Mountpoint)
		if seen[dev] || names[name] {
			continue
		}
		var opts []string
		cg, found := "", false
		for _, opt := range strings.Split(mi.VFSOptions, ",") {
			if opt == "rw" || opt == "ro" || strings.HasPrefix(opt, "release_agent=") {
				continue
			}
			opts = append(opts, opt)
			if path, ok := own[opt]; ok && !found {
				cg, found = path, true
			}
		}
		if !found {
			continue
		}
		rel, err := filepath.Rel(mi.Root, cg)
		if err != nil || !filepath.IsLocal(rel) {
			// Our cgroup is not visible through this mount.
			continue
		}
		seen[dev], names[name] = true, true
		hs = append(hs, cgroupV1{
			name:    name,
			source:  filepath.Join(mi.Mountpoint, rel),
			options: strings.Join(opts, ","),
		})
	}
	return hs, nil
}

// ownCgroups parses /proc/self/cgroup: the cgroup2 path, and the v1 path of
// each controller (and of "name=..." hierarchies).
func ownCgroups() (v2 string, v1 map[string]string, err error) {
	f, err := os.Open("/proc/self/cgroup") //nolint:forbidigo // host path: init's own procfs entry
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	v1 = map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			v1[c] = parts[2]
		}
	}
	if err := s.Err(); err != nil {
		return "", nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return v2, v1, nil
}
