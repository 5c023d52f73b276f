package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/nsenter"
)

// mounts checks the id-mapped mounts ("idmap", "ridmap", a mount's own
// uidMappings and gidMappings): hull makes them for bind mounts only, from the
// host's initial user namespace, and the spec wants both mappings or neither
// (config.ValidateAll reports an idmap that has no mapping at all).
func (c *checker) mounts() {
	for i, m := range c.s.Mounts {
		f := index("mounts", i)
		opt := -1
		bind := m.Type == "bind"
		recursive := false
		for j, o := range m.Options {
			switch o {
			case "idmap", "ridmap":
				if opt < 0 {
					opt = j
				}
			case "bind":
				bind = true
			case "rbind":
				bind, recursive = true, true
			}
		}
		uids, gids := len(m.UIDMappings) > 0, len(m.GIDMappings) > 0
		var field string
		switch {
		case opt >= 0:
			field = index(f+".options", opt)
		case uids:
			field = f + ".uidMappings"
		case gids:
			field = f + ".gidMappings"
		default:
			continue
		}
		if !bind {
			c.errorf(field, `remove the id mapping, or bind-mount a host directory instead ("bind" or "rbind" in options)`,
				"id-mapped mounts are only supported for bind mounts, not type %s", clip.Quote(m.Type))
			continue
		}
		switch {
		case uids && !gids:
			c.errorf(f+".gidMappings", "add gidMappings for the mount's group ids",
				"missing: the mount has uidMappings, and id-mapped mounts need gidMappings with them")
		case gids && !uids:
			c.errorf(f+".uidMappings", "add uidMappings for the mount's user ids",
				"missing: the mount has gidMappings, and id-mapped mounts need uidMappings with them")
		}
		if opt < 0 && recursive {
			c.warnf(f+".options", `add "idmap" to map this mount only, or "ridmap" to map its submounts too`,
				"uidMappings and gidMappings without an idmap or ridmap option: hull maps the rbind's top mount only, not its submounts")
		}
		if !c.h.initialUserNS() {
			c.errorf(field, "run hull as root on the host, or remove the id mapping",
				"id-mapped mounts need hull to run in the host's initial user namespace (it holds no privilege over the host's filesystems from this one)")
		}
	}
}

// hooks reports hook programs that do not exist or cannot be executed.
// startContainer hooks run in the container, after pivot_root: their path is
// resolved in the rootfs. Failing poststart and poststop hooks are only
// logged, so those are warnings.
func (c *checker) hooks() {
	h := c.s.Hooks
	if h == nil {
		return
	}
	for _, k := range []struct {
		name    string
		hooks   []specs.Hook
		sev     Severity
		inRoot  bool
		outcome string
	}{
		{"prestart", h.Prestart, SeverityError, false, "create would fail"}, //nolint:staticcheck // deprecated but still run
		{"createRuntime", h.CreateRuntime, SeverityError, false, "create would fail"},
		{"createContainer", h.CreateContainer, SeverityError, false, "create would fail"},
		{"startContainer", h.StartContainer, SeverityError, true, "start would fail"},
		{"poststart", h.Poststart, SeverityWarning, false, "the hook would fail, which is only logged"},
		{"poststop", h.Poststop, SeverityWarning, false, "the hook would fail, which is only logged"},
	} {
		for i, hk := range k.hooks {
			if !filepath.IsAbs(hk.Path) {
				continue // config.ValidateAll reports it
			}
			field := index("hooks."+k.name, i) + ".path"
			where, p := "on the host", hk.Path
			if k.inRoot {
				if c.rootfs == "" {
					continue
				}
				var err error
				if p, err = c.inRootfs(hk.Path); err != nil || c.mounted(p) {
					continue
				}
				where = "in the container's root filesystem"
			}
			fi, err := os.Stat(p)
			why := ""
			switch {
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENOTDIR):
				why = "does not exist " + where
			case err != nil:
				why = fmt.Sprintf("cannot be accessed %s (%v)", where, clip.PathError(err))
			case !fi.Mode().IsRegular():
				why = "is not a regular file " + where
			case k.inRoot && fi.Mode().Perm()&0o111 == 0,
				!k.inRoot && unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS) != nil:
				why = "is not executable " + where
			default:
				continue
			}
			c.add(k.sev, field, fmt.Sprintf("%s %s: %s", clip.String(hk.Path), why, k.outcome),
				"install an executable hook program at this path, or correct the path")
		}
	}
}

// nsFiles maps the namespace types to their file under /proc/<pid>/ns.
var nsFiles = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// nsGetNSType is ioctl NS_GET_NSTYPE (_IO(0xb7, 0x3)): the CLONE_NEW* type of
// a namespace file.
const nsGetNSType = 0xb703

// namespaces reports namespaces the kernel lacks and namespace paths that
// cannot be joined.
func (c *checker) namespaces() {
	var joins []nsenter.Join
	for i, ns := range c.s.Linux.Namespaces {
		file, known := nsFiles[ns.Type]
		if !known {
			continue // config.ValidateAll reports it
		}
		f := index("linux.namespaces", i)
		if !c.h.hasNS(file) {
			c.errorf(f+".type", fmt.Sprintf("remove it, or run on a kernel built with %s namespaces", ns.Type),
				"this kernel has no %s namespaces (/proc/self/ns/%s does not exist)", ns.Type, file)
			continue
		}
		if ns.Path == "" {
			continue
		}
		if !filepath.IsAbs(ns.Path) {
			continue // config.ValidateAll reports it
		}
		joins = append(joins, nsenter.Join{Type: ns.Type, Path: ns.Path})
		c.joinable(f+".path", ns)
	}
	// With a new user namespace, init makes a new time namespace itself and enters it at
	// its execve, which older kernels do not do (nsenter.ExecEntersTimeNS).
	if c.newUserNS && c.h.execEntersTimeNS != nil {
		for i, ns := range c.s.Linux.Namespaces {
			if ns.Type != specs.TimeNamespace || ns.Path != "" {
				continue
			}
			ok, err := c.h.execEntersTimeNS()
			switch {
			case err != nil:
				c.errorf(index("linux.namespaces", i)+".type", "remove the time namespace or the user namespace",
					"cannot tell whether this kernel's execve enters a new time namespace: %v", err)
			case !ok:
				c.errorf(index("linux.namespaces", i)+".type", "remove the time namespace or the user namespace, or run on a newer kernel",
					"with a new user namespace the container's process would not enter its new time namespace: this kernel's execve does not enter a time namespace its caller made (only children do)")
			}
		}
	}
	// A joined pid namespace is entered by the container's process, forked from init in
	// the new user namespace, which holds no capability over it.
	singleThreaded := func(j nsenter.Join) bool {
		return j.Type == specs.PIDNamespace || nsenter.NeedsSpawn([]nsenter.Join{j})
	}
	if c.newUserNS && slices.ContainsFunc(joins, singleThreaded) {
		for i, ns := range c.s.Linux.Namespaces {
			if ns.Path != "" && singleThreaded(nsenter.Join{Type: ns.Type, Path: ns.Path}) {
				c.errorf(index("linux.namespaces", i)+".path",
					fmt.Sprintf("remove the path to get a new %s namespace, or join the user namespace too", ns.Type),
					"joining a %s namespace by path together with a new user namespace is not supported yet", ns.Type)
			}
		}
	}
}

// joinable checks that ns.Path is a namespace file of type ns.Type.
func (c *checker) joinable(field string, ns specs.LinuxNamespace) {
	path := clip.String(ns.Path)
	fix := fmt.Sprintf("point it at a %s namespace, such as /proc/<pid>/ns/%s of a running process, or remove path to get a new namespace", ns.Type, nsFiles[ns.Type])
	var st unix.Statfs_t
	err := unix.Statfs(ns.Path, &st)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		c.errorf(field, fix, "%s does not exist", path)
		return
	case err != nil:
		c.errorf(field, fix, "cannot access %s: %v", path, err)
		return
	case st.Type != unix.NSFS_MAGIC:
		c.errorf(field, fix, "%s is not a namespace file", path)
		return
	}
	// An nsfs file opens without side effects.
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		c.errorf(field, fix, "cannot open %s: %v", path, err)
		return
	}
	defer unix.Close(fd)
	typ, err := unix.IoctlRetInt(fd, nsGetNSType)
	if err != nil {
		return // an old kernel: joining tells
	}
	want, err := nsenter.CloneFlag(ns.Type)
	if err != nil || uintptr(typ) == want {
		return
	}
	got := fmt.Sprintf("%#x", typ)
	for t := range nsFiles {
		if f, err := nsenter.CloneFlag(t); err == nil && uintptr(typ) == f {
			got = string(t)
		}
	}
	c.errorf(field, fix, "%s is a namespace of type %s, not %s", path, got, ns.Type)
}

// userNS reports a new user namespace that does not map the container's
// root: hull's init becomes uid 0 and gid 0 of the namespace before it execs.
func (c *checker) userNS() {
	if !c.newUserNS {
		return
	}
	l := c.s.Linux
	for _, m := range []struct {
		field, kind string
		maps        []specs.LinuxIDMapping
	}{
		{"linux.uidMappings", "uid", l.UIDMappings},
		{"linux.gidMappings", "gid", l.GIDMappings},
	} {
		if len(m.maps) == 0 {
			continue // config.ValidateAll reports it
		}
		mapped := false
		for _, e := range m.maps {
			if e.ContainerID == 0 && e.Size > 0 {
				mapped = true
			}
		}
		if !mapped {
			c.errorf(m.field, `add a mapping with "containerID": 0, e.g. {"containerID": 0, "hostID": 100000, "size": 65536}`,
				"no mapping for %s 0 of the container: hull needs the container's root mapped to set the container up", m.kind)
		}
	}
}
