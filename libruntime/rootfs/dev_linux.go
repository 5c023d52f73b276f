package rootfs

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
)

// device is a node to create in the container.
type device struct {
	path         string // cleaned, absolute inside the rootfs
	typ          uint32 // S_IFCHR, S_IFBLK or S_IFIFO
	major, minor uint32
	perm         uint32
	uid, gid     uint32
}

// defaultDevices are the nodes runtime-spec requires in every container.
var defaultDevices = []device{
	{path: "/dev/null", typ: unix.S_IFCHR, major: 1, minor: 3, perm: 0o666},
	{path: "/dev/zero", typ: unix.S_IFCHR, major: 1, minor: 5, perm: 0o666},
	{path: "/dev/full", typ: unix.S_IFCHR, major: 1, minor: 7, perm: 0o666},
	{path: "/dev/random", typ: unix.S_IFCHR, major: 1, minor: 8, perm: 0o666},
	{path: "/dev/urandom", typ: unix.S_IFCHR, major: 1, minor: 9, perm: 0o666},
	{path: "/dev/tty", typ: unix.S_IFCHR, major: 5, minor: 0, perm: 0o666},
}

// containerDevices returns linux.devices followed by the default devices
// that linux.devices does not already list.
func containerDevices(l *specs.Linux) ([]device, error) {
	var devs []device
	listed := map[string]bool{}
	for i, d := range l.Devices {
		dev := device{path: cleanDest(d.Path), major: uint32(d.Major), minor: uint32(d.Minor), perm: 0o666}
		switch d.Type {
		case "c", "u":
			dev.typ = unix.S_IFCHR
		case "b":
			dev.typ = unix.S_IFBLK
		case "p":
			dev.typ, dev.major, dev.minor = unix.S_IFIFO, 0, 0
		default:
			return nil, fmt.Errorf("linux.devices[%d] (%s): unknown type %q", i, d.Path, d.Type)
		}
		if d.FileMode != nil {
			// Configs carry the raw st_mode (sometimes with S_IFCHR in it).
			dev.perm = uint32(*d.FileMode) & 0o7777
		}
		if d.UID != nil {
			dev.uid = *d.UID
		}
		if d.GID != nil {
			dev.gid = *d.GID
		}
		devs = append(devs, dev)
		listed[dev.path] = true
	}
	for _, d := range defaultDevices {
		if !listed[d.path] {
			devs = append(devs, d)
		}
	}
	return devs, nil
}

// setupDev creates the device nodes and the standard /dev symlinks.
func (p *preparer) setupDev() error {
	root, err := p.rootHandle()
	if err != nil {
		return err
	}
	devs, err := containerDevices(p.c.linux())
	if err != nil {
		return err
	}
	// Most nodes share /dev: each directory is resolved (and made) once. Making
	// a node or binding one over a file changes no directory on the way.
	dirs := map[string]*os.File{}
	defer func() {
		for _, f := range dirs {
			f.Close()
		}
	}()
	// Node modes come from the config, not from our umask.
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		dir, name, err := splitLeaf(d.path)
		if err == nil && dirs[dir] == nil {
			dirs[dir], err = mkdirAllInRoot(root, p.c.Rootfs, dir)
		}
		if err == nil {
			err = createDevice(dirs[dir], name, d, p.c.InUserNS)
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.path, err)
		}
	}
	ptmx := true
	for _, d := range devs {
		if d.path == "/dev/ptmx" {
			ptmx = false // the config provides its own
		}
	}
	dev := dirs["/dev/"]
	if dev == nil {
		if dev, err = mkdirAllInRoot(root, p.c.Rootfs, "/dev"); err != nil {
			return err
		}
		dirs["/dev/"] = dev
	}
	return devSymlinks(dev, ptmx)
}

// createDevice makes the node d, named name in the directory parent.
func createDevice(parent *os.File, name string, d device, inUserNS bool) error {
	if inUserNS {
		return bindDevice(parent, name, d)
	}
	err := unix.Mknodat(int(parent.Fd()), name, d.typ|d.perm, int(unix.Mkdev(d.major, d.minor)))
	switch {
	case errors.Is(err, unix.EEXIST):
		// Like runc, keep what the image has.
		return nil
	case errors.Is(err, unix.EPERM):
		return bindDevice(parent, name, d)
	case err != nil:
		return &os.PathError{Op: "mknodat", Path: d.path, Err: err}
	}
	if err := unix.Fchownat(int(parent.Fd()), name, int(d.uid), int(d.gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "fchownat", Path: d.path, Err: err}
	}
	return nil
}

// bindDevice bind-mounts the host's node at d.path onto an empty file, for
// user namespaces where mknod is not allowed.
func bindDevice(parent *os.File, name string, d device) error {
	src, err := os.OpenFile(d.path, unix.O_PATH|unix.O_CLOEXEC, 0) //nolint:forbidigo // host path: the host's device node
	if err != nil {
		return fmt.Errorf("host device: %w", err)
	}
	defer src.Close()
	st, err := fstat(src)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != d.typ || (d.typ != unix.S_IFIFO && st.Rdev != unix.Mkdev(d.major, d.minor)) {
		return fmt.Errorf("host %s is not the device %d:%d the config asks for", d.path, d.major, d.minor)
	}
	dst, err := openat(parent, name, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrExist) {
		dst, err = openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
		if err == nil {
			var cur unix.Stat_t
			if cur, err = fstat(dst); err == nil && cur.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = fmt.Errorf("%s is a symlink", d.path)
			}
		}
	}
	if err != nil {
		if dst != nil {
			dst.Close()
		}
		return err
	}
	defer dst.Close()
	return bindOnto(src, dst, config.MountOptions{Flags: unix.MS_BIND, Bind: true})
}

// devSymlinks creates in dev, the container's /dev, the symlinks runc creates;
// existing entries are kept. /dev/ptmx is replaced by a link to the devpts
// instance's ptmx.
func devSymlinks(dev *os.File, ptmx bool) error {
	fd := int(dev.Fd())
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	// Only where the kernel has /proc/kcore (CONFIG_PROC_KCORE).
	if _, err := os.Lstat("/proc/kcore"); err == nil { //nolint:forbidigo // host path: the host's procfs, before pivot_root
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	if ptmx {
		if err := unix.Unlinkat(fd, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "unlinkat", Path: "/dev/ptmx", Err: err}
		}
		links = append(links, [2]string{"pts/ptmx", "ptmx"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], fd, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlinkat", Path: "/dev/" + l[1], Err: err}
		}
	}
	return nil
}
