// Package exeseal gives hull a handle on its own executable that a container cannot
// write through (the CVE-2019-5736 class: a process in the container opens
// /proc/<pid>/exe of a hull process running inside it and overwrites the host's binary).
//
// The processes hull runs inside a container (init, and exec's helper) are started from
// this handle instead of /proc/self/exe, so their /proc/<pid>/exe names a file that
// cannot be opened for writing:
//
//   - First choice, zero-copy: a read-only overlayfs whose top lower layer is the binary's
//     own directory, created with fsopen/fsmount and never attached to any mount
//     namespace. A lower-only overlay has nowhere to copy a file up to, so every open for
//     writing fails with EROFS, and unlike a read-only bind mount it cannot be remounted
//     writable from the file. It costs a few syscalls per start, no copy.
//   - Fallback (no overlayfs, or a binary on a filesystem overlay cannot stack on): a
//     sealed memfd copy of the binary, which costs a copy per start.
package exeseal

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/mountfd"
)

// Open returns an O_PATH (overlay) or sealed memfd handle on hull's executable, close-on-
// exec. layer must be a directory hull owns outside the binary's own directory:
// overlayfs needs a second lower layer to run lower-only. It need not be empty (the
// container's state directory serves, sparing a mkdir and rmdir per container): it lies
// under the binary's directory, so nothing in it can shadow the binary, and nothing
// else of the overlay is reachable from the handle, which is the file alone.
func Open(layer string) (*os.File, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("exeseal: %w", err)
	}
	return open(exe, layer, memfdCopy)
}

// open tries the overlay, then the overlay on a detached tmpfs, then fallback (a
// sealed memfd of the same bytes).
func open(exe, layer string, fallback func() (*os.File, error)) (*os.File, error) {
	f, oerr := overlay(exe, layer)
	if oerr == nil {
		return f, nil
	}
	// overlayfs refuses layers inside one another: a state root below the binary's own
	// directory (hull in /tmp, --root /tmp/state) gives such a layer. A detached empty
	// tmpfs, which no path reaches, is a layer inside nothing.
	f, terr := overlayOnTmpfs(exe)
	if terr == nil {
		return f, nil
	}
	f, merr := fallback()
	if merr != nil {
		return nil, fmt.Errorf("exeseal: overlay: %v; overlay on tmpfs: %v; memfd copy: %w", oerr, terr, merr) //nolint:errorlint // the last fallback's error is the cause
	}
	return f, nil
}

// overlayOnTmpfs is overlay with a fresh detached tmpfs as the empty layer. Not the
// first choice because it makes a superblock per call, and because overlayfs takes
// a detached mount as a layer only since Linux 6.15 (EINVAL before: the memfd copy
// follows).
func overlayOnTmpfs(exe string) (*os.File, error) {
	empty, err := mountfd.Tmpfs(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil, err
	}
	defer empty.Close()
	return overlay(exe, "/proc/self/fd/"+strconv.Itoa(int(empty.Fd())))
}

func escapeLower(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

func overlay(exe, layer string) (*os.File, error) {
	// layer is the caller's (the container's state directory); never created here, so a
	// racing delete cannot see it brought back.
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen overlay", err)
	}
	defer unix.Close(ctx)
	dir, name := filepath.Split(exe)
	// The binary's directory on top, so nothing in layer can shadow it.
	lower := escapeLower(filepath.Clean(dir)) + ":" + escapeLower(layer)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("fsconfig lowerdir=%s: %w", lower, err)
	}
	// Only to keep the kernel log quiet when the layers are on different filesystems.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, os.NewSyscallError("fsconfig create overlay", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, os.NewSyscallError("fsmount overlay", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name + " in overlay", Err: err}
	}
	return os.NewFile(uintptr(fd), "hull (sealed overlay)"), nil
}

func memfdCopy() (*os.File, error) {
	return sealedMemfd("hull", func(w io.Writer) error {
		src, err := os.Open("/proc/self/exe")
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
}

// sealedMemfd is a memfd called name holding what fill writes, sealed for good.
func sealedMemfd(name string, fill func(io.Writer) error) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	f := os.NewFile(uintptr(fd), name+" (sealed memfd)")
	if err := fill(f); err != nil {
		f.Close()
		return nil, err
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, os.NewSyscallError("fcntl F_ADD_SEALS", err)
	}
	return f, nil
}
