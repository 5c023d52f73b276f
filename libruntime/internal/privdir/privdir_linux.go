// Package privdir is what hull keeps under its state root beside the containers'
// state: a directory only this user may enter (the seccomp cache, the written-out
// init stage), whose files are trusted because nobody else can have put them there,
// and are therefore only ever replaced whole.
package privdir

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens dir, which must be a directory of this user's that nobody else may
// enter (0700), never through a symlink.
func Open(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "fstat", Path: dir, Err: err}
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is not private to uid %d (owner %d, mode %#o): not used", dir, os.Geteuid(), st.Uid, st.Mode&0o7777)
	}
	return fd, nil
}

// Replace makes name in the directory dirfd (as Open gives) hold what fill writes:
// fill writes a new temporary file (0600, named tmpPrefix and a random suffix),
// which is then renamed over name, so a reader sees the old file or the whole new
// one, and two writers of the same bytes both succeed. A temporary file a failure
// leaves behind (the process killed) is the caller's to tidy: its name starts with
// tmpPrefix.
func Replace(dirfd int, name, tmpPrefix string, fill func(*os.File) error) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := tmpPrefix + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dirfd, tmp, dirfd, name)
	}
	if err != nil {
		_ = unix.Unlinkat(dirfd, tmp, 0)
		return err
	}
	return nil
}
