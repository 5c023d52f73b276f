// Package mountfd makes filesystems that are mounted nowhere: a new mount API
// (fsopen/fsmount) file descriptor that no path in any mount namespace reaches.
package mountfd

import (
	"os"

	"golang.org/x/sys/unix"
)

// Tmpfs returns a new, empty tmpfs mounted nowhere, with the MOUNT_ATTR_* flags
// in attr. Closing the file unmounts it.
func Tmpfs(attr int) (*os.File, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen tmpfs", err)
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, os.NewSyscallError("fsconfig create tmpfs", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return nil, os.NewSyscallError("fsmount tmpfs", err)
	}
	return os.NewFile(uintptr(mnt), "detached:tmpfs"), nil
}
