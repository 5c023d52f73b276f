package process

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"

	"github.com/hull-runtime/hull/internal/clip"
)

// defaultPath is searched when the container's environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath finds the program to execute for file the way execvp(3) does,
// but with the PATH from env (the container's "KEY=value" list, last PATH
// wins; the usual /usr/local/sbin:...:/bin if there is none) instead of
// hull's own. A file containing a slash is checked as it is. Execute permission is checked with
// the calling thread's credentials, in whatever root the caller is in, so
// call it after pivot_root.
//
// Errors are *exec.Error, as runc reports them: errors.Is(err,
// exec.ErrNotFound) when nothing matched, or a permission error
// (errors.Is(err, fs.ErrPermission)) naming the path that matched but cannot
// be executed, when no later PATH entry had an executable one.
func LookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := checkExecutable(file); err != nil {
			return "", &exec.Error{Name: clip.String(file), Err: clip.PathError(err)}
		}
		return file, nil
	}
	if file == "" {
		return "", &exec.Error{Name: clip.String(file), Err: exec.ErrNotFound}
	}
	path, ok := envPath(env)
	if !ok {
		path = defaultPath
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		// An empty entry means the working directory (POSIX).
		if dir == "" {
			dir = "."
		}
		// Not filepath.Join: it would turn "./foo" into "foo", which a
		// later exec could search in PATH again.
		p := strings.TrimSuffix(dir, "/") + "/" + file
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		// Like execvp, remember a match we may not run but keep looking.
		if denied == nil && errors.Is(err, fs.ErrPermission) {
			denied = err
		}
	}
	if denied != nil {
		return "", &exec.Error{Name: clip.String(file), Err: clip.PathError(denied)}
	}
	return "", &exec.Error{Name: clip.String(file), Err: exec.ErrNotFound}
}

// envPath returns the value of the last PATH in env, which is the one a
// program would see.
func envPath(env []string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v, true
		}
	}
	return "", false
}

// notExecutableError is a path that exists but that execve would refuse
// with EACCES.
type notExecutableError struct {
	path, why string
}

func (e *notExecutableError) Error() string {
	return clip.String(e.path) + ": permission denied (" + e.why + ")"
}

func (e *notExecutableError) Unwrap() error { return unix.EACCES }

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	switch {
	case st.IsDir():
		return &notExecutableError{path: path, why: "it is a directory"}
	case !st.Mode().IsRegular():
		return &notExecutableError{path: path, why: "it is not a regular file"}
	}
	// AT_EACCESS checks the effective ids, which execve uses; it also
	// catches noexec mounts, which the mode bits do not show.
	err = linux.Faccessat(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EACCES):
		return &notExecutableError{path: path, why: "no execute permission for this user, or a noexec mount"}
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		// A seccomp filter may refuse faccessat2; the mode bits are the
		// best remaining answer.
		if st.Mode().Perm()&0o111 == 0 {
			return &notExecutableError{path: path, why: "no execute permission"}
		}
		return nil
	}
	return &os.PathError{Op: "faccessat", Path: path, Err: err}
}
