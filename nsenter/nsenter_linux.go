// Package nsenter starts hull's init process inside the namespaces a container asks for,
// without cgo.
//
// New namespaces are made by the clone flags of the child (exec.Cmd's SysProcAttr), which
// the kernel applies atomically, user namespace first. Namespaces given by path are joined
// before the clone: setns(2) changes only the calling thread for every namespace type
// except user, mount (which needs an unshared fs_struct) and time (which needs a
// single-threaded caller). So Start joins them on a goroutine locked to a fresh OS thread,
// after unsharing that thread's fs_struct, and clones the child from that thread; the
// child inherits the thread's namespaces. The thread is never unlocked, so the Go runtime
// destroys it when the goroutine ends instead of reusing a thread in foreign namespaces.
//
// Joining a user or time namespace needs a single-threaded process, which a Go program
// never is: Start refuses those, and Spawn (rawfork_linux.go) does them from a raw fork.
package nsenter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrUnsupportedJoin is returned by Start for namespaces that a multi-threaded process
// cannot join; use Spawn for those.
var ErrUnsupportedJoin = errors.New("this namespace type cannot be joined from a multi-threaded process; use Spawn")

// ErrPidJoin is returned by Start and Spawn for a pid namespace: a process entering one
// is visible there at once to everything in it, so no process of hull's may (the
// container's processes could open its executable and fds through /proc). Callers
// fork the user's process into it from outside with ForkTail.
var ErrPidJoin = errors.New("hull never enters a joined pid namespace itself; fork the container's process into it with ForkTail")

// NeedsSpawn reports whether joins must go through Spawn: user and time namespaces need
// a single-threaded caller, and after joining a mount namespace the executable must be
// run by fd (execveat), since any path, /proc/self/fd/N included, would be resolved in
// the joined namespace, which another container may control.
func NeedsSpawn(joins []Join) bool {
	for _, j := range joins {
		switch j.Type {
		case specs.UserNamespace, specs.TimeNamespace, specs.MountNamespace:
			return true
		}
	}
	return false
}

// CloneFlag maps a spec namespace type to its CLONE_NEW* flag.
func CloneFlag(t specs.LinuxNamespaceType) (uintptr, error) {
	switch t {
	case specs.PIDNamespace:
		return unix.CLONE_NEWPID, nil
	case specs.NetworkNamespace:
		return unix.CLONE_NEWNET, nil
	case specs.MountNamespace:
		return unix.CLONE_NEWNS, nil
	case specs.IPCNamespace:
		return unix.CLONE_NEWIPC, nil
	case specs.UTSNamespace:
		return unix.CLONE_NEWUTS, nil
	case specs.UserNamespace:
		return unix.CLONE_NEWUSER, nil
	case specs.CgroupNamespace:
		return unix.CLONE_NEWCGROUP, nil
	case specs.TimeNamespace:
		return unix.CLONE_NEWTIME, nil
	}
	return 0, fmt.Errorf("unknown namespace type %q", t)
}

// Join is a namespace to enter by path.
type Join struct {
	Type specs.LinuxNamespaceType
	Path string
}

// Start starts cmd after joining the namespaces in join. Bad paths are reported naming the
// path and the namespace type; nothing is started then.
func Start(cmd *exec.Cmd, join []Join) error {
	if len(join) == 0 {
		return cmd.Start()
	}
	type opened struct {
		f    *os.File
		flag uintptr
		j    Join
	}
	var fds []opened
	defer func() {
		for _, o := range fds {
			o.f.Close()
		}
	}()
	needFS := false
	for _, j := range join {
		flag, err := CloneFlag(j.Type)
		if err != nil {
			return err
		}
		if flag == unix.CLONE_NEWUSER || flag == unix.CLONE_NEWTIME {
			return fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, ErrUnsupportedJoin)
		}
		if flag == unix.CLONE_NEWPID {
			return fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, ErrPidJoin)
		}
		f, err := os.Open(j.Path)
		if err != nil {
			return fmt.Errorf("join %s namespace: %w", j.Type, err)
		}
		fds = append(fds, opened{f, flag, j})
		if flag == unix.CLONE_NEWNS {
			needFS = true
		}
	}
	errc := make(chan error, 1)
	work := func() {
		// Never unlocked: see the package comment.
		runtime.LockOSThread()
		if needFS {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				errc <- os.NewSyscallError("unshare CLONE_FS", err)
				return
			}
		}
		for _, o := range fds {
			if err := unix.Setns(int(o.f.Fd()), int(o.flag)); err != nil {
				errc <- fmt.Errorf("join %s namespace %s: %w", o.j.Type, o.j.Path, os.NewSyscallError("setns", err))
				return
			}
		}
		errc <- cmd.Start()
	}
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			work()
			return
		}
		// On the main thread, which the runtime never destroys: a thread left in foreign
		// namespaces would stay so, and /proc/self/ns names the main thread's. Hold it
		// while a worker does the job on another thread.
		defer runtime.UnlockOSThread()
		done := make(chan struct{})
		go func() {
			defer close(done)
			work()
		}()
		<-done
	}()
	return <-errc
}
