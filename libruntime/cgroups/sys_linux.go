package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// Thin wrappers: errors as *os.PathError or *os.SyscallError.

func open(path string, flags int) (int, error) {
	fd, err := linux.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// writeFile writes data to the cgroup file dir/name in one write(2): cgroup
// files parse each write on its own, so a value split over two writes is two
// values. It never creates the file (O_CREAT on cgroupfs fails with a
// misleading EACCES or makes nothing).
func writeFile(dir, name, data string) error {
	path := filepath.Join(dir, name)
	fd, err := open(path, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return linux.WriteValue(fd, path, data)
}

// writeCgroup is how resources are written: writeFile, which the tests of
// the value conversions replace with a recorder.
var writeCgroup = writeFile

// writeLinesCgroup writes each non-empty line of data with its own write(2),
// for files such as io.max that take one entry per write.
func writeLinesCgroup(dir, name, data string) error {
	for _, line := range strings.Split(data, "\n") {
		if line == "" {
			continue
		}
		if err := writeCgroup(dir, name, line); err != nil {
			return err
		}
	}
	return nil
}

// readFile returns the content of the cgroup file dir/name without its
// trailing newline.
func readFile(dir, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func mkdir(path string) error {
	if err := linux.Mkdir(path, 0o755); err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return nil
}

func rmdir(path string) error {
	if err := linux.Rmdir(path); err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

func setxattr(path, name, value string) error {
	if err := linux.Setxattr(path, name, []byte(value), 0); err != nil {
		return &os.PathError{Op: "setxattr " + name, Path: path, Err: err}
	}
	return nil
}

// getxattr returns the value of the attribute, or "" if path has none of
// that name.
func getxattr(path, name string) (string, error) {
	buf := make([]byte, 64)
	n, err := linux.Getxattr(path, name, buf)
	if errors.Is(err, unix.ENODATA) {
		return "", nil
	}
	if err != nil {
		return "", &os.PathError{Op: "getxattr " + name, Path: path, Err: err}
	}
	return string(buf[:n]), nil
}

func statfs(path string, st *unix.Statfs_t) error {
	if err := linux.Statfs(path, st); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return nil
}

func kill(pid int, sig unix.Signal) error {
	if err := linux.Kill(pid, sig); err != nil {
		return os.NewSyscallError("kill", err)
	}
	return nil
}
