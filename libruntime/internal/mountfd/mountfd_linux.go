// Package mountfd makes filesystems that are mounted nowhere: a new mount API
// (fsopen/fsmount) file descriptor that no path in any mount namespace reaches.
package mountfd

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Tmpfs returns a new, empty tmpfs mounted nowhere, with the MOUNT_ATTR_* flags
// in attr and the filesystem parameters in params, each "key=value" or the name
// of a flag ("ro"). Closing the file unmounts it.
func Tmpfs(attr int, params ...string) (*os.File, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen tmpfs", err)
	}
	defer unix.Close(ctx)
	for _, p := range params {
		if k, v, ok := strings.Cut(p, "="); ok {
			err = unix.FsconfigSetString(ctx, k, v)
		} else {
			err = unix.FsconfigSetFlag(ctx, p)
		}
		if err != nil {
			return nil, fmt.Errorf("fsconfig tmpfs %s: %w", p, err)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, os.NewSyscallError("fsconfig create tmpfs", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return nil, os.NewSyscallError("fsmount tmpfs", err)
	}
	return os.NewFile(uintptr(mnt), "detached:tmpfs"), nil
}
