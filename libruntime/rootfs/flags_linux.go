package rootfs

import "golang.org/x/sys/unix"

// mountAttrFlags are the MS_* flags that live on a mount (not on the
// superblock) and so can be changed on a bind mount, with their
// mount_setattr(2) equivalents.
var mountAttrFlags = []struct {
	ms   uintptr
	attr uint64
}{
	{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
	{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
	{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
	{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_NODIRATIME

// bindAttr turns the flags of a bind mount into the mount_setattr(2) request
// that matches "mount --bind -o <flags>": requested per-mount flags are set,
// the others cleared, and access-time handling is left alone unless an
// atime option was given (as a bind remount does).
func bindAttr(flags uintptr) unix.MountAttr {
	var a unix.MountAttr
	for _, f := range mountAttrFlags {
		if flags&f.ms != 0 {
			a.Attr_set |= f.attr
		} else {
			a.Attr_clr |= f.attr
		}
	}
	if flags&atimeFlags == 0 {
		return a
	}
	// As in mount(2): relatime by default, strictatime beats noatime.
	a.Attr_clr |= unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODIRATIME
	switch {
	case flags&unix.MS_STRICTATIME != 0:
		a.Attr_set |= unix.MOUNT_ATTR_STRICTATIME
	case flags&unix.MS_NOATIME != 0:
		a.Attr_set |= unix.MOUNT_ATTR_NOATIME
	default:
		a.Attr_set |= unix.MOUNT_ATTR_RELATIME
	}
	if flags&unix.MS_NODIRATIME != 0 {
		a.Attr_set |= unix.MOUNT_ATTR_NODIRATIME
		a.Attr_clr &^= unix.MOUNT_ATTR_NODIRATIME
	}
	return a
}

// bindAttrCleared is bindAttr for a bind whose options also clear flags. The
// clearing atime options name no mode of their own ("atime", "norelatime",
// "nostrictatime"): they get the mode that remains, as the recursive forms do
// in config (rnorelatime is strictatime, the others relatime); "diratime"
// clears nodiratime. Without this a bind of a noatime source with "atime"
// would keep noatime.
func bindAttrCleared(flags, cleared uintptr) unix.MountAttr {
	if flags&(unix.MS_NOATIME|unix.MS_RELATIME|unix.MS_STRICTATIME) == 0 {
		switch {
		case cleared&unix.MS_RELATIME != 0:
			flags |= unix.MS_STRICTATIME
		case cleared&(unix.MS_NOATIME|unix.MS_STRICTATIME) != 0:
			flags |= unix.MS_RELATIME
		}
	}
	a := bindAttr(flags)
	if cleared&unix.MS_NODIRATIME != 0 && flags&unix.MS_NODIRATIME == 0 {
		a.Attr_clr |= unix.MOUNT_ATTR_NODIRATIME
	}
	return a
}

// stNoSymfollow is ST_NOSYMFOLLOW, missing from x/sys/unix.
const stNoSymfollow = 0x2000

// statfsFlags converts the ST_* flags statfs(2) reports for a mount into
// their MS_* equivalents.
func statfsFlags(st *unix.Statfs_t) uintptr {
	var ms uintptr
	for _, f := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
		{stNoSymfollow, unix.MS_NOSYMFOLLOW},
	} {
		if int64(st.Flags)&f.st != 0 { //nolint:unconvert // Statfs_t.Flags is narrower on 32-bit architectures
			ms |= f.ms
		}
	}
	return ms
}
