// Package nsenter starts hull's init process inside the namespaces a container asks for,
// without cgo.
//
// New namespaces are made by the clone flags of the child (exec.Cmd's SysProcAttr), which
// the kernel applies atomically, user namespace first, or, for the network, ipc and uts
// ones, ahead of the clone on the thread it is made from (Ahead). Namespaces given by path are joined
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
	start, closeJoins, err := joiner(cmd, join)
	if err != nil {
		return err
	}
	defer closeJoins()
	errc := make(chan error, 1)
	onOwnThread(func() { errc <- start() })
	return <-errc
}

// joiner opens the namespaces in join and returns what joins them on the calling
// thread (which must be locked, and is left in them) and starts cmd there.
func joiner(cmd *exec.Cmd, join []Join) (start func() error, closeJoins func(), err error) {
	type opened struct {
		f    *os.File
		flag uintptr
		j    Join
	}
	var fds []opened
	closeJoins = func() {
		for _, o := range fds {
			o.f.Close()
		}
	}
	needFS := false
	for _, j := range join {
		flag, err := CloneFlag(j.Type)
		if err != nil {
			closeJoins()
			return nil, nil, err
		}
		if flag == unix.CLONE_NEWUSER || flag == unix.CLONE_NEWTIME {
			closeJoins()
			return nil, nil, fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, ErrUnsupportedJoin)
		}
		if flag == unix.CLONE_NEWPID {
			closeJoins()
			return nil, nil, fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, ErrPidJoin)
		}
		f, err := os.Open(j.Path)
		if err != nil {
			closeJoins()
			return nil, nil, fmt.Errorf("join %s namespace: %w", j.Type, err)
		}
		fds = append(fds, opened{f, flag, j})
		if flag == unix.CLONE_NEWNS {
			needFS = true
		}
	}
	start = func() error {
		if needFS {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return os.NewSyscallError("unshare CLONE_FS", err)
			}
		}
		for _, o := range fds {
			if err := unix.Setns(int(o.f.Fd()), int(o.flag)); err != nil {
				return fmt.Errorf("join %s namespace %s: %w", o.j.Type, o.j.Path, os.NewSyscallError("setns", err))
			}
		}
		return cmd.Start()
	}
	return start, closeJoins, nil
}

// onOwnThread runs work on a goroutine locked to an OS thread other than the main
// one and never unlocked: see the package comment. It returns at once.
func onOwnThread(work func()) {
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
			runtime.LockOSThread()
			work()
		}()
		<-done
	}()
}

// Ahead makes new namespaces on an OS thread of its own while the caller goes on
// with other work, and clones the child from that thread later (Start), the child
// inheriting them as it would have made them with clone flags: a network
// namespace costs the kernel most of a clone (~0.7 ms), which this takes off the
// caller's path. The thread is never unlocked, so it dies with its goroutine.
type Ahead struct {
	made  chan error
	reqs  chan func() // one request, or nil to end
	used  bool
	flags uintptr
}

// NewAhead starts making the namespaces of flags, which unshare(2) must make alone
// on a thread of a multi-threaded process (network, ipc, uts: not user, pid, mount,
// time or cgroup, whose semantics differ there).
func NewAhead(flags uintptr) *Ahead {
	a := &Ahead{made: make(chan error, 1), reqs: make(chan func(), 1), flags: flags}
	onOwnThread(func() {
		err := unix.Unshare(int(flags))
		a.made <- err
		if req := <-a.reqs; req != nil {
			req()
		}
	})
	return a
}

// Made waits for the namespaces and returns the flags of those the thread is in: all
// of NewAhead's, or none (the caller then asks the clone for them).
func (a *Ahead) Made() uintptr {
	if a == nil {
		return 0
	}
	if err, ok := <-a.made; ok {
		close(a.made)
		if err != nil {
			a.flags = 0
		}
	}
	return a.flags
}

// Start starts cmd from the thread, after joining the namespaces in join there, as
// the package's Start does; cmd's clone flags must not ask again for what Made says
// the thread has. Start or Close may be called once.
func (a *Ahead) Start(cmd *exec.Cmd, join []Join) error {
	a.Made()
	start, closeJoins, err := joiner(cmd, join)
	if err != nil {
		return err
	}
	defer closeJoins()
	a.used = true
	errc := make(chan error, 1)
	a.reqs <- func() { errc <- start() }
	return <-errc
}

// Close ends the thread, and with it the namespaces, if Start did not use them.
func (a *Ahead) Close() {
	if a == nil || a.used {
		return
	}
	a.used = true
	a.reqs <- nil
}
