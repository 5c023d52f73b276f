// Package container is hull's container object: creating one from a bundle, its status
// state machine, the on-disk state store under --root, and the lifecycle operations
// (start, signal, delete).
package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/hooks"
	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/libruntime/internal/linux"
	"github.com/hull-runtime/hull/libruntime/logs"
)

// Container is one container known to the state store.
type Container struct {
	root string
	dir  string
	p    *persisted
	// noCreator is set once no create can be running: this process holds the lock.
	noCreator bool
	// adopted is, during create, the container's process when init forked it into
	// a pid namespace it joins instead of becoming it (see buildsOutside).
	adopted int
}

func validID(id string) error { return config.ValidateID(id) }

// Load returns the container id under root, or an error matching ErrNotExist.
func Load(root, id string) (*Container, error) {
	dir, err := stateDir(root, id)
	if err != nil {
		return nil, err
	}
	// Only hull makes entries under --root; a symlink there was planted, and following
	// it would let a forged state name any process.
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("state of container %q: %s is a symlink, refusing to follow it", id, dir)
	}
	p, err := readState(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Lstat(dir); serr == nil {
				// The directory exists but create has not written state yet.
				return &Container{root: root, dir: dir, p: &persisted{ID: id}}, nil
			}
			return nil, &notExistError{id: id}
		}
		return nil, err
	}
	if p.ID != id {
		// Another runtime's state under the same --root, or a damaged file.
		return nil, fmt.Errorf("state of container %q in %s is not hull's or is damaged (id %q)", id, dir, p.ID)
	}
	return &Container{root: root, dir: dir, p: p}, nil
}

// List returns every container under root, sorted by id.
func List(root string) ([]*Container, error) {
	// A missing root is an error, as with runc 1.5 ("open ROOT: no such file or
	// directory"): a mistyped --root must not look like a host with no containers.
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].p.ID < out[j].p.ID })
	return out, nil
}

func (c *Container) ID() string         { return c.p.ID }
func (c *Container) Bundle() string     { return c.p.Bundle }
func (c *Container) Rootfs() string     { return c.p.Rootfs }
func (c *Container) Created() time.Time { return c.p.Created }
func (c *Container) Owner() string      { return c.p.Owner }

// Config returns the container's config (nil while create has not recorded it),
// decoded on first use.
func (c *Container) Config() (*specs.Spec, error) { return c.p.spec() }

// Process returns the config's process (nil while create has not recorded it), for
// exec, without decoding the rest of the config.
func (c *Container) Process() (*specs.Process, error) {
	e, err := c.p.execSpec()
	if err != nil || e == nil {
		return nil, err
	}
	return e.Process, nil
}

// Annotations returns the config's annotations.
func (c *Container) Annotations() map[string]string { return c.p.annotations() }

// Status derives the current status from the init process and the exec fifo.
func (c *Container) Status() Status {
	if c.p.InitPid == 0 {
		if c.creating() {
			return Creating
		}
		// As runc reports a container whose init died: its remains can be deleted.
		return Stopped
	}
	if !alive(c.p.InitPid, c.p.InitStartTime) {
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoName)); err == nil {
		// Paused wins, as with runc: a frozen created container must not be started
		// (init could not take the fifo) and reads as paused until it is resumed.
		// cgroup.freeze is read directly: cgroups.Load would parse mountinfo on the
		// path of every start, and the path came from the state hull wrote.
		if c.p.CgroupPath != "" {
			if b, err := os.ReadFile(filepath.Join(c.p.CgroupPath, "cgroup.freeze")); err == nil && strings.TrimSpace(string(b)) == "1" {
				return Paused
			}
		}
		return Created
	}
	if cg, err := c.cgroup(); err == nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return Paused
		}
	}
	return Running
}

// creating reports whether a `hull create` is still building the container, which
// has no init recorded yet.
func (c *Container) creating() bool {
	if c.noCreator || c.p.hasConfig() {
		return false
	}
	if c.p.CreatorPid != 0 {
		return alive(c.p.CreatorPid, c.p.CreatorStartTime)
	}
	// Create has not written its record yet (or an older hull wrote one without the
	// creator): create holds the lock from just after making the directory, so a free
	// lock means it died, or is microseconds old and has made nothing yet.
	return lockHeld(c.dir)
}

// cgroup returns the manager of the container's cgroup.
func (c *Container) cgroup() (cgroups.Manager, error) {
	if c.p.CgroupPath == "" {
		return nil, errNoCgroup
	}
	d, err := madeBy(c.p.CgroupDriver)
	if err != nil {
		return nil, err
	}
	return d.Load(c.p.CgroupPath)
}

// madeBy is the cgroup driver that made a container, by the name its state records.
// Create picks its driver with selectDriver. Both are variables so that unit tests
// run the container's code on a fake driver.
var (
	madeBy       = cgroups.ByName
	selectDriver = cgroups.Select
)

var errNoCgroup = errors.New("container has no cgroup")

// Pid returns init's host pid while it runs, else 0 (runc reports 0 for a stopped container).
func (c *Container) Pid() int {
	switch c.Status() {
	case Stopped, Creating:
		return 0
	}
	return c.p.InitPid
}

// OCIState is the state the runtime spec defines, given to hooks on stdin.
func (c *Container) OCIState() *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          c.p.ID,
		Status:      specs.ContainerState(c.Status()),
		Pid:         c.Pid(),
		Bundle:      c.p.Bundle,
		Annotations: c.Annotations(),
	}
}

// Start lets a created container's init exec the user's process, then runs the
// poststart hooks.
func (c *Container) Start() error {
	t := newPhaseTimer("start")
	defer t.log()
	unlock, err := c.lockFresh()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := c.Gate(OpStart); err != nil {
		return err
	}
	if err := c.releaseInit(t); err != nil {
		return err
	}
	if h := c.p.hooks(); h != nil && len(h.Poststart) > 0 {
		// Runtime-spec 1.3: a failing poststart hook is an error, and the container is
		// stopped; `delete` then destroys it and runs the poststop hooks (runc does
		// the same; 1.0 only asked for a warning).
		if err := hooks.Run("poststart", h.Poststart, c.OCIState()); err != nil {
			if kerr := c.killAndWait(); kerr != nil {
				logs.Warnf("stop the container after its poststart hook failed: %v", kerr)
			}
			return err
		}
		t.mark("poststart hooks")
	}
	return nil
}

// releaseInit reads the exec fifo, which unblocks init's open for writing. Init writes
// one byte once it is past every set-up step (and the startContainer hooks), and its
// write end closes at execve: reading on to end-of-file means the user's process runs.
// Polling together with a pidfd makes a dead init an error, never a hang.
func (c *Container) releaseInit(t *phaseTimer) error {
	// The pidfd first: once the fifo is open, init may exec a short-lived process that
	// exits and is reaped (by a fast subreaper) before a pidfd could be opened.
	pidfd, err := pidfdOpen(c.p.InitPid, c.p.InitStartTime)
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	fifo := filepath.Join(c.dir, fifoName)
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: fifo, Err: err}
	}
	defer unix.Close(fd)
	got := 0
	writerSeen := false
	var buf [512]byte
	var report []byte // what init wrote: StartOK, or StartFailed and the error
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
		if _, err := linux.Poll(fds, -1); err != nil {
			return os.NewSyscallError("poll", err)
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0 {
			n, err := linux.Read(fd, buf[:])
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			if err != nil {
				return &os.PathError{Op: "read", Path: fifo, Err: err}
			}
			if n > 0 {
				if got == 0 {
					t.mark("exec fifo (init released, startContainer hooks)")
				}
				got += n
				if len(report) < 8192 {
					report = append(report, buf[:n]...)
				}
				writerSeen = true
				continue
			}
			// End of file: every writer is gone. Before init opened the fifo there
			// was none either, which poll does not report as a hangup.
			if writerSeen || got > 0 {
				break
			}
		}
		if fds[1].Revents != 0 && got == 0 {
			return errors.New("cannot start container: init process exited before start")
		}
		if fds[1].Revents != 0 {
			break
		}
	}
	if got == 0 {
		return errors.New("cannot start container: init exited during start (see the container's stderr)")
	}
	// StartFailed comes first (a startContainer hook) or right after StartOK (the
	// filter or execve).
	for i := 0; i < len(report) && i < 2; i++ {
		if report[i] == initproc.StartFailed {
			return fmt.Errorf("cannot start container: %s", report[i+1:])
		}
	}
	t.mark("execve")
	// The process may already have exited: a short-lived one is not a failed start.
	return os.Remove(fifo)
}

// Signal sends sig to init, or with all to every process of the container.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	op := OpKill
	if all {
		op = OpKillAll
	}
	s, err := c.Gate(op)
	if err != nil {
		return err
	}
	if s == Stopped {
		// Only kill --all gets here. containerd's shim sends it after init exits, to
		// end processes that outlive it in a container without its own pid
		// namespace: signal what is left in the cgroup; nothing left is success, as
		// with runc.
		if cg, err := c.cgroup(); err == nil {
			return signalCgroup(cg, sig)
		}
		return nil
	}
	if all {
		return c.signalAll(sig)
	}
	return signalInit(c.p.InitPid, c.p.InitStartTime, sig)
}

// Delete removes the container. A created container's init is killed; a running one
// needs force.
func (c *Container) Delete(force bool) error {
	t := newPhaseTimer("delete")
	defer t.log()
	unlock, err := c.lockFresh()
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	defer unlock()
	op := OpDelete
	if force {
		op = OpDeleteForce
	}
	s, err := c.Gate(op)
	if err != nil {
		return err
	}
	// A status that may be signalled has a live init to end first.
	if check(OpKill, s) == nil {
		if err := c.killAndWait(); err != nil {
			return err
		}
	}
	t.mark("lock+status+kill")
	if cg, err := c.cgroup(); err == nil {
		// Without a pid namespace of its own, processes may outlive init.
		if err := cg.Kill(); err != nil {
			return fmt.Errorf("kill the processes left in cgroup %s: %w", cg.Path(), err)
		}
		if err := cg.Destroy(); err != nil {
			return err
		}
	} else if _, serr := os.Lstat(c.p.CgroupPath); c.p.CgroupPath != "" && errors.Is(serr, os.ErrNotExist) {
		// Its create was killed after making (and marking) ancestors of the
		// cgroup, before the cgroup itself; or, with systemd, its scope is gone
		// with its processes and the unit may be left failed.
		d, err := madeBy(c.p.CgroupDriver)
		if err == nil {
			err = d.RemoveMadeAncestors(c.p.CgroupPath)
		}
		if err != nil {
			logs.Warnf("%v", err)
		}
	}
	t.mark("cgroup kill+remove")
	if h := c.p.hooks(); h != nil && len(h.Poststop) > 0 {
		st := c.OCIState()
		st.Status = specs.StateStopped
		// The spec: a failing poststop hook is logged, and the others and deletion go on.
		for _, err := range hooks.RunEach("poststop", h.Poststop, st) {
			logs.Warnf("%v", err)
		}
	}
	err = os.RemoveAll(c.dir)
	t.mark("state dir")
	return err
}

// killAndWait SIGKILLs every process of the container and waits for init to be gone.
func (c *Container) killAndWait() error {
	if err := c.signalAll(unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return waitGone(c.p.InitPid, c.p.InitStartTime, 10*time.Second)
}
