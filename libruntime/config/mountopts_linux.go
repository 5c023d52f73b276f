package config

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// MountOptions is what a mount's options list asks for, split by the system
// call that carries each part.
type MountOptions struct {
	// Flags are the MS_* flags to pass to mount(2). They include MS_BIND for
	// "bind" and MS_BIND|MS_REC for "rbind".
	Flags uintptr
	// ClearFlags are the MS_* flags the options explicitly turn off ("rw",
	// "suid", "dev", ...). A bind remount starts from the flags of the
	// source mount; these must not be carried over. Flags and ClearFlags
	// never share a bit: the later option wins, as with mount(8).
	ClearFlags uintptr
	// Propagation are the propagation changes (MS_SHARED, MS_SLAVE,
	// MS_PRIVATE or MS_UNBINDABLE, with MS_REC for the r* forms), in option
	// order. mount(2) cannot combine them with other flags, so each is a
	// separate call after the mount.
	Propagation []uintptr
	// AttrSet and AttrClr are the MOUNT_ATTR_* values for mount_setattr(2)
	// with AT_RECURSIVE, from the recursive options (rro, rnosuid, ...). An
	// atime option puts MOUNT_ATTR__ATIME in AttrClr and the mode in AttrSet,
	// as the kernel requires (MOUNT_ATTR_RELATIME is 0).
	AttrSet, AttrClr uint64
	// Data is every option that is not a known flag, in order, joined with
	// commas: the filesystem-specific data argument of mount(2).
	Data string
	// Bind is set by "bind" and "rbind"; Recursive by "rbind".
	Bind, Recursive bool
	// IDMap and RIDMap are set by "idmap" and "ridmap": the mount gets an
	// id mapping (recursively for ridmap). Neither goes to mount(2).
	IDMap, RIDMap bool
	// TmpCopyUp is set by "tmpcopyup": copy the directory's content into
	// the new tmpfs.
	TmpCopyUp bool
}

// flagOption is a mount(8) option that sets or clears MS_* flags.
type flagOption struct {
	clear bool
	flag  uintptr
}

// atimeFlags are the exclusive atime modes of mount(2). When both
// MS_NOATIME and MS_STRICTATIME are set the kernel picks strictatime
// regardless of option order, so choosing one mode drops the others.
const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

var flagOptions = map[string]flagOption{
	"async": {true, unix.MS_SYNCHRONOUS},
	"atime": {true, unix.MS_NOATIME},
	// As runc: "defaults" sets nothing and clears nothing. Treating it as mount(8)'s
	// rw,suid,dev,exec would make a bind of a locked nosuid mount fail in a user ns.
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// superblockOptions are the flag options that belong to a filesystem instance,
// not to one of its mounts: mount_setattr(2) and a bind remount cannot change them.
var superblockOptions = map[string]bool{
	"sync":       true,
	"async":      true,
	"dirsync":    true,
	"mand":       true,
	"nomand":     true,
	"iversion":   true,
	"noiversion": true,
	"lazytime":   true,
	"nolazytime": true,
}

// propagationOptions are the propagation words of both a mount's options and
// linux.rootfsPropagation, with their MS_* flags.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_REC | unix.MS_PRIVATE,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_REC | unix.MS_SHARED,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_REC | unix.MS_SLAVE,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_REC | unix.MS_UNBINDABLE,
}

// PropagationFlags returns the MS_* flags of a propagation word ("rslave",
// "shared", ...), as linux.rootfsPropagation and a mount's options name them.
func PropagationFlags(name string) (uintptr, bool) {
	f, ok := propagationOptions[name]
	return f, ok
}

// attrOption is a recursive option that sets or clears a MOUNT_ATTR_* bit.
type attrOption struct {
	clear bool
	attr  uint64
}

var attrOptions = map[string]attrOption{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// atimeAttrOptions map the recursive atime options to the single atime mode
// mount_setattr(2) takes. The kernel refuses clearing only part of
// MOUNT_ATTR__ATIME, so the "no" forms pick the mode that remains: without
// noatime or strictatime the kernel default is relatime, and without relatime
// or noatime only strictatime is left.
var atimeAttrOptions = map[string]uint64{
	"ratime":         unix.MOUNT_ATTR_RELATIME,
	"rnoatime":       unix.MOUNT_ATTR_NOATIME,
	"rrelatime":      unix.MOUNT_ATTR_RELATIME,
	"rnorelatime":    unix.MOUNT_ATTR_STRICTATIME,
	"rstrictatime":   unix.MOUNT_ATTR_STRICTATIME,
	"rnostrictatime": unix.MOUNT_ATTR_RELATIME,
}

// checkMountOption returns why a single option can never be passed to the
// kernel, or nil.
func checkMountOption(opt string) error {
	if opt == "" {
		return errors.New("empty mount option")
	}
	if strings.IndexByte(opt, 0) >= 0 {
		return fmt.Errorf("mount option %s contains a NUL byte", clip.Quote(opt))
	}
	return nil
}

// ParseMountOptions interprets a mount's options as the runtime-spec and
// mount(8) define them. Later options override earlier ones ("ro", "rw" gives
// a writable mount). Unknown options are filesystem data. It fails only for
// options that cannot be passed to the kernel at all (empty, or containing a
// NUL byte).
func ParseMountOptions(opts []string) (MountOptions, error) {
	var (
		mo   MountOptions
		data []string
	)
	for i, opt := range opts {
		if err := checkMountOption(opt); err != nil {
			return MountOptions{}, fmt.Errorf("mount option %d: %w", i, err)
		}
		if f, ok := flagOptions[opt]; ok {
			mo.applyFlag(f)
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			mo.Propagation = append(mo.Propagation, p)
			continue
		}
		if a, ok := attrOptions[opt]; ok {
			if a.clear {
				mo.AttrClr |= a.attr
				mo.AttrSet &^= a.attr
			} else {
				mo.AttrSet |= a.attr
				mo.AttrClr &^= a.attr
			}
			continue
		}
		if mode, ok := atimeAttrOptions[opt]; ok {
			mo.AttrClr |= unix.MOUNT_ATTR__ATIME
			mo.AttrSet = mo.AttrSet&^unix.MOUNT_ATTR__ATIME | mode
			continue
		}
		switch opt {
		case "bind":
			mo.Bind = true
			mo.Flags |= unix.MS_BIND
		case "rbind":
			mo.Bind = true
			mo.Recursive = true
			mo.Flags |= unix.MS_BIND | unix.MS_REC
		case "idmap":
			mo.IDMap = true
		case "ridmap":
			mo.RIDMap = true
		case "tmpcopyup":
			mo.TmpCopyUp = true
		default:
			// x-* options are for userspace tools (mount(8), systemd), never the kernel.
			if strings.HasPrefix(opt, "x-") {
				continue
			}
			data = append(data, opt)
		}
	}
	mo.Data = strings.Join(data, ",")
	return mo, nil
}

func (mo *MountOptions) applyFlag(f flagOption) {
	if f.clear {
		mo.ClearFlags |= f.flag
		mo.Flags &^= f.flag
		return
	}
	set := f.flag
	clr := uintptr(0)
	if set&atimeFlags != 0 {
		clr = atimeFlags &^ set
	}
	mo.Flags = mo.Flags&^clr | set
	mo.ClearFlags = mo.ClearFlags&^set | clr
}
