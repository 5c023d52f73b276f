package check

import (
	"errors"
	"fmt"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// netDevices reports devices of linux.netDevices that hull's network namespace does not
// have: create would fail to move them.
func (c *checker) netDevices() {
	if c.h.netDevice == nil {
		return
	}
	names := make([]string, 0, len(c.s.Linux.NetDevices))
	for k := range c.s.Linux.NetDevices {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !c.h.netDevice(k) {
			c.errorf("linux.netDevices."+clip.String(k), "create the device before the container, or correct the name",
				"no network device %s in hull's network namespace", clip.Quote(k))
		}
	}
}

// ioctls on namespace files (linux/nsfs.h): _IO(0xb7, 1) and _IO(0xb7, 2).
const (
	nsGetUserNS = 0xb701
	nsGetParent = 0xb702
)

// sysfsNetNS reports a sysfs mount that the kernel will refuse: mounting sysfs takes
// CAP_SYS_ADMIN over the owner of the network namespace, which the container's root
// lacks when the namespace is joined by path and belongs to another user namespace than
// the container's (or an ancestor of it). runc 1.5 fails there too, at the mount;
// joining such a namespace without a sysfs mount works with both.
func (c *checker) sysfsNetNS() {
	var netPath, userPath string
	netIdx, hasUser := -1, false
	for i, ns := range c.s.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace:
			netPath, netIdx = ns.Path, i
		case specs.UserNamespace:
			hasUser, userPath = true, ns.Path
		}
	}
	if !hasUser || netPath == "" {
		return
	}
	mnt := -1
	for i, m := range c.s.Mounts {
		if m.Type == "sysfs" {
			mnt = i
			break
		}
	}
	if mnt < 0 {
		return
	}
	owned, err := ownedBy(netPath, userPath)
	if err != nil || owned {
		return // joinable() reports a path that cannot be opened
	}
	whose := "a new user namespace"
	if userPath != "" {
		whose = "the user namespace it joins"
	}
	c.errorf(index("mounts", mnt), fmt.Sprintf("remove the sysfs mount, or have %s give a network namespace made in the container's user namespace (or no path, for a new one)", index("linux.namespaces", netIdx)),
		"sysfs cannot be mounted: the container's network namespace %s belongs to another user namespace than the container's (%s), whose root has no privilege over it",
		clip.Quote(netPath), whose)
}

// ownedBy reports whether the network namespace at netPath belongs to the user namespace
// at userPath or to one below it; with userPath "" (a new user namespace, made after the
// network namespace is joined) it never does.
func ownedBy(netPath, userPath string) (bool, error) {
	if userPath == "" {
		return false, nil
	}
	var want unix.Stat_t
	if err := unix.Stat(userPath, &want); err != nil {
		return false, &os.PathError{Op: "stat", Path: userPath, Err: err}
	}
	f, err := os.Open(netPath)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), nsGetUserNS)
	if err != nil {
		return false, os.NewSyscallError("ioctl NS_GET_USERNS", err)
	}
	for {
		var st unix.Stat_t
		err := unix.Fstat(fd, &st)
		if err == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			unix.Close(fd)
			return true, nil
		}
		parent, perr := unix.IoctlRetInt(fd, nsGetParent)
		unix.Close(fd)
		if err != nil {
			return false, os.NewSyscallError("fstat", err)
		}
		if errors.Is(perr, unix.EPERM) {
			// Above hull's own user namespace: the top is reached.
			return false, nil
		}
		if perr != nil {
			return false, os.NewSyscallError("ioctl NS_GET_PARENT", perr)
		}
		fd = parent
	}
}
