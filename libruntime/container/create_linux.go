package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/cgroups"
	bundlecheck "github.com/hull-runtime/hull/libruntime/check"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/hooks"
	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/libruntime/logs"
	"github.com/hull-runtime/hull/libruntime/netdev"
	"github.com/hull-runtime/hull/libruntime/process"
	hullrootfs "github.com/hull-runtime/hull/libruntime/rootfs"
	"github.com/hull-runtime/hull/libruntime/seccomp"
	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
	"github.com/hull-runtime/hull/nsenter"
)

// CreateOpts are the caller's choices for Create beyond the bundle's config.json.
type CreateOpts struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string   // path of a unix socket that receives the pty master
	ConsoleConn   *os.File // or an already connected socket (hull run with a terminal)
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	// ListenFDs are fds 3..3+ListenFDs-1 that systemd's socket activation handed to
	// hull (LISTEN_FDS): as runc does, they go to the container's process ahead of
	// the --preserve-fds ones, which then start at 3+ListenFDs, and the process is
	// told with LISTEN_FDS and LISTEN_PID=1 (it is the one the fds are meant for).
	ListenFDs int
	// SystemdCgroup is --systemd-cgroup: the systemd cgroup driver (cgroups.Select),
	// a transient scope per container.
	SystemdCgroup bool
	// Stdio for a container without a terminal; nil means hull's own.
	Stdin, Stdout, Stderr *os.File
	// Validated, if set, is called once the bundle has passed validation, before
	// anything is made: `hull run` waits there until its signal handlers are in place,
	// so a signal cannot kill it halfway and leave a half-made container behind.
	Validated func()

	// PidfdSocket is the path of a unix socket that receives a pidfd of the container's
	// process (runc 1.2's --pidfd-socket).
	PidfdSocket string
	// NotifySocket is hull's NOTIFY_SOCKET: the container's process is given a socket
	// of its own to sd_notify on, which start and run relay there (see notify_linux.go).
	NotifySocket string
}

// logCheckWarnings logs what `hull check` warns about, in its text, once, and only
// when create goes on: a create refused says only why.
// Some kinds are left out or kept for --debug. Capabilities that cannot be granted are reported by init
// from what it actually got (in a new user namespace it holds more than hull does),
// and logging check's prediction as well would say it twice. A syscall listed under
// two actions goes to the debug log only: podman's stock profile does that and
// relays hull's stderr on every container, where runc is silent.
func logCheckWarnings(warnings []bundlecheck.Finding) {
	for _, w := range warnings {
		switch {
		case strings.HasPrefix(w.Field, "process.capabilities."):
		case w.Field == "ociVersion":
			// A newer 1.x runs as what hull knows; `hull check` warns, create tells
			// only at --debug (every container of a newer engine would warn).
			logs.Debugf("%s", w.Error())
		case strings.HasPrefix(w.Field, "linux.seccomp.") && strings.Contains(w.Message, "already has its action"):
			logs.Debugf("%s", w.Error())
		case w.Field == "process.selinuxLabel" || w.Field == "linux.mountLabel":
			// The only warning on a label is that SELinux is permissive: a choice of
			// the host's, which every labelled container would repeat (podman relays
			// it); runc and crun say nothing. `hull check` says it.
			logs.Debugf("%s", w.Error())
		default:
			logs.Warnf("%s", w.Error())
		}
	}
}

// Init is the init process of a container created by this process: `hull run` waits on it.
type Init struct {
	proc *os.Process
}

// Wait waits for init (the container's process once started) and returns its exit status
// the way a shell reports it: the code, or 128+signal.
func (i *Init) Wait() (int, error) {
	ps, err := i.proc.Wait()
	if err != nil {
		return -1, err
	}
	st, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return -1, fmt.Errorf("init: unexpected wait status %v", ps)
	}
	if st.Signaled() {
		return 128 + int(st.Signal()), nil
	}
	return st.ExitStatus(), nil
}

// Pid returns init's host pid.
func (i *Init) Pid() int { return i.proc.Pid }

// Signal signals the process through its pidfd (os.Process), so a signal sent after it
// was reaped cannot reach a process that reused its pid.
func (i *Init) Signal(sig os.Signal) error { return i.proc.Signal(sig) }

// undo runs cleanup steps in reverse order unless disarmed: every step of Create that
// makes something registers how to remove it, so a failure leaves nothing behind.
type undo []func()

func (u *undo) add(f func()) { *u = append(*u, f) }
func (u *undo) run() {
	for i := len(*u) - 1; i >= 0; i-- {
		(*u)[i]()
	}
	*u = nil
}

// Create validates the bundle, starts init in the container's namespaces, waits until it
// is set up and blocked on the exec fifo, and records the container in the state store.
func Create(root, id string, o *CreateOpts) (c *Container, in *Init, err error) {
	t := newPhaseTimer("create")
	defer t.log()
	primePidfd()
	if err := validID(id); err != nil {
		return nil, nil, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, nil, err
	}
	spec, err := config.Load(bundle)
	if err != nil {
		return nil, nil, err
	}
	ahead := newAhead(spec)
	defer ahead.Close()
	t.mark("config load")
	// The one validation pass: the checks of `hull check`, so create fails with
	// exactly the text check prints for the first error it finds and warns as check
	// says it would, then what depends on create's flags. The seccomp filter is
	// compiled there once (or read from the cache), for init too.
	sc := newSeccompCompiler(root)
	warnings, err := bundlecheck.ForCreate(spec, bundle, sc.compile, bundlecheck.Create{
		SystemdCgroup: o.SystemdCgroup,
		ConsoleSocket: o.ConsoleSocket != "",
		ConsoleRelay:  o.ConsoleConn != nil,
	})
	if err != nil {
		return nil, nil, err
	}
	// Fail closed: a container must never run without the filter its config asks for.
	if spec.Linux.Seccomp != nil && sc.filter() == nil {
		return nil, nil, errors.New("linux.seccomp: the filter was not compiled; this is a bug in hull")
	}
	logCheckWarnings(warnings)
	t.mark("validate")
	if o.Validated != nil {
		o.Validated()
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	rootfs = filepath.Clean(rootfs)
	if err := ensureRoot(root); err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, fmt.Errorf("%w: %s", ErrExist, id)
		}
		return nil, nil, fmt.Errorf("create state dir: %w", err)
	}
	// Between the mkdir and the lock a delete of the id may remove the directory, and
	// another create make a new one: lock then waits for, and checks, whatever
	// directory is at the path, and the state file says whether it is still ours.
	unlock, err := lock(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			// Only an empty directory goes, which has nothing of anybody's.
			_ = os.Remove(dir)
		}
		return nil, nil, fmt.Errorf("create state dir: %w", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, stateFile)); err == nil {
		unlock()
		return nil, nil, fmt.Errorf("%w: %s", ErrExist, id)
	}
	var cleanup undo
	cleanup.add(func() {
		if err := os.RemoveAll(dir); err != nil {
			logs.Warnf("create of %s failed, and its state directory is left behind: %v", id, err)
		}
	})
	// Runs after every other undo step: the spec's lifecycle goes from a failed create
	// (a prestart, createRuntime or createContainer hook, or any later step) to
	// destroying the container and then its poststop hooks, as runc's destroy does.
	initStarted := false
	cleanup.add(func() {
		if initStarted && spec.Hooks != nil && len(spec.Hooks.Poststop) > 0 {
			st := &specs.State{Version: specs.Version, ID: id, Status: specs.StateStopped, Bundle: bundle, Annotations: spec.Annotations}
			for _, err := range hooks.RunEach("poststop", spec.Hooks.Poststop, st) {
				logs.Warnf("%v", err)
			}
		}
	})
	// The undo runs before the lock is released, so a command waiting for the lock never
	// sees a half-built container.
	defer func() {
		if err != nil {
			cleanup.run()
		}
		unlock()
	}()

	cgDriver, err := selectDriver(o.SystemdCgroup, spec.Linux.CgroupsPath)
	if err != nil {
		return nil, nil, err
	}
	cgPath, err := cgDriver.Path(spec.Linux.CgroupsPath, id)
	if err != nil {
		return nil, nil, err
	}
	_, selfStart, err := procStat(os.Getpid())
	if err != nil {
		return nil, nil, fmt.Errorf("read own start time: %w", err)
	}
	// The first record, before anything is made outside the state dir: if this process
	// is killed from here on, `hull delete` finds the cgroup, and state and list see
	// that nobody is creating the container any more.
	early := &persisted{ID: id, Bundle: bundle, Rootfs: rootfs, Created: time.Now().UTC(),
		CreatorPid: os.Getpid(), CreatorStartTime: selfStart, CgroupDriver: cgDriver.Name()}
	// A cgroup that exists already (create may reuse an unused one) is not ours to kill
	// and remove until Make has checked that nothing uses it: it is recorded after.
	_, cgErr := os.Lstat(cgPath)
	cgNew := errors.Is(cgErr, os.ErrNotExist)
	if cgNew {
		early.CgroupPath = cgPath
	}
	if err := writeState(dir, early); err != nil {
		return nil, nil, fmt.Errorf("write state: %w", err)
	}
	if err := sc.save(dir); err != nil {
		return nil, nil, err
	}

	fifo := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, nil, &os.PathError{Op: "mkfifo", Path: fifo, Err: err}
	}
	// Mkfifo is subject to the umask; init may open it as a non-root user.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, nil, err
	}
	fifoFd, err := unix.Open(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: fifo, Err: err}
	}
	fifoFile := os.NewFile(uintptr(fifoFd), fifo)
	defer fifoFile.Close()

	conn, err := newSyncConn(t, createWords)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	var consoleFile *os.File
	if spec.Process.Terminal {
		if consoleFile, err = conn.console(o.ConsoleConn, o.ConsoleSocket); err != nil {
			return nil, nil, err
		}
	}
	if err := conn.dialPidfd(o.PidfdSocket); err != nil {
		return nil, nil, err
	}
	if o.NotifySocket != "" {
		if err := makeNotifyDir(dir); err != nil {
			return nil, nil, err
		}
	}

	// Limits and the device filter come after init is cloned (cg.Limit below), while
	// init starts up, and before it is sent its config.
	cg, _, err := cgDriver.Make(cgPath, cgroups.MakeOpts{Annotations: spec.Annotations, Resources: spec.Linux.Resources})
	if err != nil {
		return nil, nil, err
	}
	cleanup.add(func() {
		// Hooks or init may have started processes that outlive init.
		_ = cg.Kill()
		if err := cg.Destroy(); err != nil {
			logs.Warnf("remove cgroup of failed container %s: %v", id, err)
		}
	})
	if !cgNew {
		early.CgroupPath = cgPath
		if err := writeState(dir, early); err != nil {
			return nil, nil, fmt.Errorf("write state: %w", err)
		}
	}
	t.mark("state dir+cgroup dir")
	// Init is born in the container's cgroup (clone3 CLONE_INTO_CGROUP), so nothing it
	// runs is ever accounted elsewhere, and a cgroup namespace is rooted there. A
	// driver that makes the cgroup only with its first process (ErrNoFD) gets init
	// right after the clone instead, before init is sent anything.
	var into cgroups.Manager
	cgFile, err := cg.FD()
	switch {
	case err == nil:
		defer cgFile.Close()
		into = cg
	case !errors.Is(err, cgroups.ErrNoFD):
		return nil, nil, err
	}

	// The state dir is the overlay's second layer (see exeseal.Open).
	exe, err := conn.sealedExe(root, dir)
	if err != nil {
		return nil, nil, err
	}
	cmd, joins, err := initCommand(spec, o, conn, fifoFile, consoleFile)
	if err != nil {
		return nil, nil, err
	}
	// A cgroup namespace made at the clone would then be rooted at hull's caller's
	// cgroup (the shim's), where init is born: init makes it once it has been moved
	// in (runc and crun defer the unshare likewise).
	cgroupNSLate := false
	if into == nil && cmd.SysProcAttr.Cloneflags&unix.CLONE_NEWCGROUP != 0 {
		cmd.SysProcAttr.Cloneflags &^= unix.CLONE_NEWCGROUP
		cgroupNSLate = true
	}
	if slices.Contains(cmd.Env, initproc.EnvPidNSMode+"="+initproc.PidNSHandover) {
		// The second stage is started from it, inside the pid namespace.
		cmd.Env = append(cmd.Env, initproc.EnvExeFd+"="+strconv.Itoa(3+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, exe)
	}
	cmd.Env = append(cmd.Env, initproc.EnvNumFds+"="+strconv.Itoa(3+len(cmd.ExtraFiles)))
	// A new time namespace is prepared here and joined by init at birth, unless a new
	// user namespace is asked for too (Spawn cannot make one): then init unshares it
	// itself, which takes effect at its execve only on recent kernels.
	timeReady := false
	if hasNewNamespace(spec, specs.TimeNamespace) && cmd.SysProcAttr.Cloneflags&unix.CLONE_NEWUSER == 0 {
		tns, err := nsenter.NewTimeNS(spec.Linux.TimeOffsets)
		if err != nil {
			return nil, nil, err
		}
		defer tns.Close()
		joins = append(joins, nsenter.Join{Type: specs.TimeNamespace, Path: tns.Path})
		timeReady = true
	}
	// Init runs inside the container: start it from a handle the container cannot write
	// through, never /proc/self/exe (CVE-2019-5736). The path resolves in the child at
	// execve, before close-on-exec drops the fd. Go's child first moves files out of
	// the way, onto M+1, M+2, ... (M the highest of their fd numbers and N-1, N = 3 +
	// ExtraFiles; at most N of them, and its report pipe), and then places them at
	// 0..N-1, each time over whatever had those numbers: the handle must sit above
	// all of them, or the path names one of init's files (EACCES).
	exeFd := int(exe.Fd())
	n := 3 + len(cmd.ExtraFiles)
	top := n - 1
	for _, f := range append([]*os.File{cmd.Stdin.(*os.File), cmd.Stdout.(*os.File), cmd.Stderr.(*os.File)}, cmd.ExtraFiles...) {
		top = max(top, int(f.Fd()))
	}
	if safe := top + n + 3; exeFd < safe {
		if exeFd, err = unix.FcntlInt(exe.Fd(), unix.F_DUPFD_CLOEXEC, safe); err != nil {
			return nil, nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
		}
		defer unix.Close(exeFd)
	}
	cmd.Path = "/proc/self/fd/" + strconv.Itoa(exeFd)
	if cgFile != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cgFile.Fd())
	}
	if made := ahead.Made(); made == 0 || nsenter.NeedsSpawn(joins) || cmd.SysProcAttr.Cloneflags&made != made {
		ahead.Close()
		ahead = nil
	} else {
		cmd.SysProcAttr.Cloneflags &^= made
	}
	conn.spawning()
	proc, err := startInit(cmd, joins, exe, into, ahead)
	// Init has its own copies of its end of the socket and of its /dev/null stdio.
	conn.started()
	if err != nil {
		return nil, nil, fmt.Errorf("start init: %w", err)
	}
	t.mark("clone init")
	initStarted = true
	cleanup.add(func() {
		_ = proc.Kill()
		_, _ = proc.Wait()
	})
	if into == nil {
		if err := cg.Apply(proc.Pid); err != nil {
			return nil, nil, fmt.Errorf("start init: join the container's cgroup: %w", err)
		}
	}
	// Init is still starting up (execve, Go runtime) and waits for its config: nothing
	// of the container runs before these limits and the device filter are in place.
	if err := cg.Limit(spec.Linux.Resources); err != nil {
		return nil, nil, err
	}
	t.mark("cgroup limits+device filter")
	if len(spec.Linux.NetDevices) > 0 {
		moved, merr := moveNetDevices(spec, proc.Pid)
		if merr != nil {
			return nil, nil, merr
		}
		// Registered after init's kill, so it runs first: the namespace is still
		// there (held by moved anyway) and the devices go back to hull's.
		cleanup.add(func() {
			if err := moved.Undo(); err != nil {
				logs.Warnf("%v", err)
			}
			moved.Close()
		})
		defer func() {
			if err == nil {
				moved.Close()
			}
		}()
		t.mark("netDevices")
	}
	_, start, err := procStat(proc.Pid)
	if err != nil {
		return nil, nil, fmt.Errorf("read init start time: %w", err)
	}

	p := &persisted{
		ID:            id,
		Bundle:        bundle,
		Rootfs:        rootfs,
		InitPid:       proc.Pid,
		InitStartTime: start,
		Created:       time.Now().UTC(),
		Config:        spec,
		CgroupPath:    cgPath,
		CgroupDriver:  cgDriver.Name(),
	}
	c = &Container{root: root, dir: dir, p: p}
	err = c.syncInit(conn, o, timeReady, cgroupNSLate, sc.filter())
	if c.adopted != 0 {
		// Init forked the container's process (our child) and exits on "go".
		adopted, ferr := os.FindProcess(c.adopted)
		if ferr == nil {
			cleanup.add(func() {
				_ = adopted.Kill()
				_, _ = adopted.Wait()
			})
		} else if err == nil {
			err = ferr
		}
		if err == nil {
			_, _ = proc.Wait()
			proc = adopted
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return c, &Init{proc: proc}, nil
}

// startInit starts init through Go's fork (namespaces joined on a locked thread: ahead's,
// if set) or, when a namespace needs a single-threaded process to join, through
// nsenter's raw fork, born in cg (nil: where hull is).
func startInit(cmd *exec.Cmd, joins []nsenter.Join, exe *os.File, cg cgroups.Manager, ahead *nsenter.Ahead) (*os.Process, error) {
	if !nsenter.NeedsSpawn(joins) {
		start := nsenter.Start
		if ahead != nil {
			start = ahead.Start
		}
		if err := start(cmd, joins); err != nil {
			return nil, err
		}
		return cmd.Process, nil
	}
	attr := cmd.SysProcAttr
	if attr.Cloneflags&unix.CLONE_NEWUSER != 0 {
		return nil, errors.New("linux.namespaces: joining namespaces by path together with a new user namespace is not supported yet")
	}
	files := []*os.File{cmd.Stdin.(*os.File), cmd.Stdout.(*os.File), cmd.Stderr.(*os.File)}
	files = append(files, cmd.ExtraFiles...)
	return spawnInto(&nsenter.SpawnOpts{
		Exe:        exe,
		Args:       cmd.Args,
		Env:        cmd.Env,
		Files:      files,
		Join:       joins,
		CloneFlags: attr.Cloneflags,
	}, cg)
}

// newAhead starts making, on a thread of its own, the new namespaces that unshare
// makes there as the clone would (network, the costly one, with ipc and uts), while
// create validates and records the container; nil if there is nothing to make or
// init cannot be cloned from that thread. A user namespace must own the network
// namespace made with it, so neither is made ahead then; a namespace joined by path
// (and a new time namespace, joined at birth) may need nsenter's raw fork.
func newAhead(spec *specs.Spec) *nsenter.Ahead {
	if spec.Linux == nil {
		return nil
	}
	var flags uintptr
	for _, ns := range spec.Linux.Namespaces {
		switch {
		case ns.Path != "", ns.Type == specs.UserNamespace, ns.Type == specs.TimeNamespace:
			return nil
		case ns.Type == specs.NetworkNamespace:
			flags |= unix.CLONE_NEWNET
		case ns.Type == specs.IPCNamespace:
			flags |= unix.CLONE_NEWIPC
		case ns.Type == specs.UTSNamespace:
			flags |= unix.CLONE_NEWUTS
		}
	}
	if flags&unix.CLONE_NEWNET == 0 {
		return nil
	}
	return nsenter.NewAhead(flags)
}

// moveNetDevices moves linux.netDevices into init's network namespace (new, or the
// one joined by path), while init starts up and before it is sent its config: the
// devices are there before any hook runs, as with runc.
func moveNetDevices(spec *specs.Spec, pid int) (*netdev.Moved, error) {
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("linux.netDevices: init's network namespace: %w", err)
	}
	defer ns.Close()
	return netdev.Move(spec.Linux.NetDevices, ns)
}

// passedFDs is how many fds from 3 on the container's process gets besides stdio.
func (o *CreateOpts) passedFDs() int { return o.ListenFDs + o.PreserveFDs }

// listenEnv is env with LISTEN_FDS=n and LISTEN_PID=1 in place of any the config
// has: the process must see the count hull passes, and an application that checks
// LISTEN_PID against its own pid would otherwise ignore the fds.
func listenEnv(env []string, n int) []string {
	out := make([]string, 0, len(env)+2)
	for _, e := range env {
		if !strings.HasPrefix(e, "LISTEN_FDS=") && !strings.HasPrefix(e, "LISTEN_PID=") {
			out = append(out, e)
		}
	}
	return append(out, "LISTEN_FDS="+strconv.Itoa(n), "LISTEN_PID=1")
}

// initCommand builds the exec.Cmd for `hull init` and the namespaces it must join.
func initCommand(spec *specs.Spec, o *CreateOpts, conn *syncConn, fifo, console *os.File) (*exec.Cmd, []nsenter.Join, error) {
	cmd := exec.Command("/proc/self/exe", initproc.Arg)
	// Preserved fds keep their numbers: they are the first ExtraFiles (fd 3 onwards).
	for i := 0; i < o.passedFDs(); i++ {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	next := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, conn.Child(), fifo)
	cmd.Env = []string{
		initproc.EnvSyncFd + "=" + strconv.Itoa(next),
		initproc.EnvFifoFd + "=" + strconv.Itoa(next+1),
		initproc.GoMaxProcs, initproc.GoGC,
	}
	// With a console the pty replaces init's stdio: /dev/null, so the caller's pipes
	// are not held open in it.
	stdio, err := conn.stdio(o.Stdin, o.Stdout, o.Stderr, console != nil)
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	if console != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, console)
		cmd.Env = append(cmd.Env, initproc.EnvConsoleFd+"="+strconv.Itoa(next+2))
	}

	attr := &syscall.SysProcAttr{}
	var joins []nsenter.Join
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace && ns.Path != "" {
			f, err := os.Open(ns.Path)
			if err != nil {
				return nil, nil, fmt.Errorf("linux.namespaces pid: %w", err)
			}
			cmd.Env = append(cmd.Env, initproc.EnvPidNSFd+"="+strconv.Itoa(3+len(cmd.ExtraFiles)), initproc.EnvPidNSMode+"="+pidNSMode(spec))
			cmd.ExtraFiles = append(cmd.ExtraFiles, f)
			continue
		}
		if ns.Path != "" {
			joins = append(joins, nsenter.Join{Type: ns.Type, Path: ns.Path})
			continue
		}
		// A new time namespace is made by init itself: only unshare can create one,
		// and its clock offsets must be written before any process enters it.
		if ns.Type == specs.TimeNamespace {
			continue
		}
		flag, err := nsenter.CloneFlag(ns.Type)
		if err != nil {
			return nil, nil, err
		}
		attr.Cloneflags |= flag
		if ns.Type == specs.UserNamespace {
			for _, m := range spec.Linux.UIDMappings {
				attr.UidMappings = append(attr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
			}
			for _, m := range spec.Linux.GIDMappings {
				attr.GidMappings = append(attr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
			}
			attr.GidMappingsEnableSetgroups = true
			// After the clone init's uid is host root, which the new namespace does not
			// map: become the namespace's root before exec, or execve drops every
			// capability init needs to build the container.
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		}
	}
	cmd.SysProcAttr = attr
	return cmd, joins, nil
}

// pidNSMode says how init enters a pid namespace the container joins, so that no
// process appearing there (visible at once to every process already in it) is ever a
// copy of hull's host binary or holds a host handle, init's working fds and its root
// before pivot_root included:
//   - PidNSOutside: init builds the container outside the namespace and forks only the
//     container's process into it (initproc's runOutside). It needs procfs' pidns=
//     (Linux 6.18) for the container's /proc, and nothing that only a Go init inside
//     the namespace can do after start: startContainer hooks, a seccomp notify
//     listener to hand over.
//   - PidNSHandover: otherwise, init builds it outside up to pivot_root and hands over
//     to a second stage forked into the namespace, which mounts procfs there (one more
//     Go start-up); mounts inside it (lxcfs files) are handed over detached.
func pidNSMode(spec *specs.Spec) string {
	var procs []string
	for _, m := range spec.Mounts {
		if m.Type == "proc" {
			procs = append(procs, filepath.Clean(m.Destination))
		}
	}
	outside := len(procs) == 1 && procs[0] == "/proc" && hullrootfs.ProcPidNSSupported()
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		outside = false
	}
	if spec.Linux != nil && seccomp.HasNotify(spec.Linux.Seccomp) {
		outside = false
	}
	if outside {
		return initproc.PidNSOutside
	}
	return initproc.PidNSHandover
}

// adoptProcess makes pid, a child of this hull (checked, not trusted), the container's
// process instead of init.
func (c *Container) adoptProcess(pid int) error {
	if !ownChild(pid) {
		return fmt.Errorf("init reported pid %d, which is not hull's child", pid)
	}
	_, start, err := procStat(pid)
	if err != nil {
		return fmt.Errorf("read the container process's start time: %w", err)
	}
	c.adopted = pid
	c.p.InitPid, c.p.InitStartTime = pid, start
	return nil
}

// syncInit sends init its config and serves its requests until it is ready: running the
// prestart and createRuntime hooks when asked, then writing state and the pid file before
// letting init go on to wait for start.
func (c *Container) syncInit(conn *syncConn, o *CreateOpts, timeReady, cgroupNSLate bool, filter *bpf.Program) error {
	spec := c.p.Config
	// Init's copy only: the recorded config stays the bundle's, which exec and state
	// read, as runc's does.
	initSpec := spec
	if o.ListenFDs > 0 || o.NotifySocket != "" {
		// Init's copy only: the recorded config stays the bundle's, which exec and
		// state read, as runc's does (runc exec's processes get neither).
		cp, proc := *spec, *spec.Process
		if o.ListenFDs > 0 {
			proc.Env = listenEnv(proc.Env, o.ListenFDs)
		}
		if o.NotifySocket != "" {
			proc.Env = notifyEnv(proc.Env)
			cp.Mounts = append(slices.Clip(cp.Mounts), notifyMount(c.dir))
		}
		cp.Process = &proc
		initSpec = &cp
	}
	if spec.Linux.Seccomp != nil || spec.Linux.Resources != nil {
		// What init never reads stays out of its copy: the seccomp profile (it gets
		// the compiled filter) and the resources (limits and the device filter are
		// this process's job). Decoding them cold, in a fresh process, costs init
		// its JSON decoder's set-up for each of their types: ~0.2 ms for Docker's
		// devices, memory and cpu.
		cp, linux := *initSpec, *initSpec.Linux
		linux.Seccomp, linux.Resources = nil, nil
		cp.Linux = &linux
		initSpec = &cp
	}
	cfg := &initproc.Config{
		ID:           c.p.ID,
		Bundle:       c.p.Bundle,
		Rootfs:       c.p.Rootfs,
		Spec:         initSpec,
		NoPivot:      o.NoPivot,
		NoNewKeyring: o.NoNewKeyring,
		PreserveFDs:  o.passedFDs(),
		InitPid:      c.p.InitPid,
		TimeNSReady:  timeReady,
		CgroupNSLate: cgroupNSLate,
		Hooks:        spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0), //nolint:staticcheck // prestart is deprecated but still honoured
		Filter:       filter,
		// Init is in the container's user namespace by now.
		SetgroupsDenied: setgroupsDenied(spec.Linux.Namespaces, c.p.InitPid),
	}
	if err := conn.sendConfig(cfg); err != nil {
		return err
	}
	var sources *hullrootfs.SourceServer
	defer sources.Close()
	lost := func(err error) error {
		return fmt.Errorf("init exited before the container was set up (%w)", err)
	}
	return conn.serve(lost, map[string]msgHandler{
		initproc.MsgSeccompFd: func(m *initproc.Message) (bool, error) {
			if err := c.passNotifyFd(c.p.InitPid, m.Fd, spec.Linux.Seccomp, specs.StateCreating); err != nil {
				return false, err
			}
			return false, conn.send(initproc.Message{Type: initproc.MsgSeccompFdOK})
		},
		initproc.MsgMountSource: func(m *initproc.Message) (bool, error) {
			// Id-mapped mounts, and in a user namespace the bind sources init may
			// not reach, need the host's privileges that init lacks: they are
			// cloned here, in init's mount namespace, when init reaches them.
			if sources == nil {
				mntns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", c.p.InitPid))
				if err != nil {
					return false, fmt.Errorf("open init's mount namespace: %w", err)
				}
				sources = hullrootfs.NewSourceServer(spec, c.p.Bundle, mntns)
			}
			return false, sendSource(conn.sock, sources, m.Mount)
		},
		initproc.MsgHooks: func(*initproc.Message) (bool, error) {
			st := c.creatingState()
			if err := hooks.Run("prestart", spec.Hooks.Prestart, st); err != nil { //nolint:staticcheck // deprecated in the spec, still sent by engines: run as runc does
				return false, err
			}
			if err := hooks.Run("createRuntime", spec.Hooks.CreateRuntime, st); err != nil {
				return false, err
			}
			if err := conn.send(initproc.Message{Type: initproc.MsgHooksOK}); err != nil {
				return false, fmt.Errorf("tell init hooks ran: %w", err)
			}
			return false, nil
		},
		initproc.MsgHandover: func(m *initproc.Message) (bool, error) {
			// The first stage exits; the second, our child, takes its place.
			conn.t.sub(m.Phases)
			if err := c.adoptProcess(m.Pid); err != nil {
				return false, err
			}
			cfg.InitPid = m.Pid
			if err := conn.send(cfg); err != nil {
				return false, fmt.Errorf("send config to init's second stage: %w", err)
			}
			return false, nil
		},
		initproc.MsgReady: func(m *initproc.Message) (bool, error) {
			conn.ready(m)
			if m.Pid != 0 {
				// Init built the container outside the pid namespace it joins and
				// forked the container's process into it: that one waits for start.
				if err := c.adoptProcess(m.Pid); err != nil {
					return false, err
				}
			}
			// As runc, before create returns and before the process can run: the
			// process that will run the user's program, a child of ours not yet reapable
			// by anyone else.
			if err := conn.sendPidfd(c.p.InitPid, pidfdKindInit); err != nil {
				return false, err
			}
			if err := writeState(c.dir, c.p); err != nil {
				return false, fmt.Errorf("write state: %w", err)
			}
			if o.PidFile != "" {
				if err := writePidFile(o.PidFile, c.p.InitPid); err != nil {
					return false, err
				}
			}
			return true, conn.release()
		},
	})
}

// sendSource hands init the clone of the source of spec.Mounts[i] as the only
// answer to its request: one byte carrying the fd.
func sendSource(sock *os.File, sources *hullrootfs.SourceServer, i int) error {
	tree, err := sources.Open(i)
	if err != nil {
		return err
	}
	defer tree.Close()
	raw, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	cerr := raw.Write(func(fd uintptr) bool {
		err = unix.Sendmsg(int(fd), []byte{0}, unix.UnixRights(int(tree.Fd())), nil, 0)
		return !errors.Is(err, unix.EAGAIN)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("send the source of mounts[%d] to init: %w", i, os.NewSyscallError("sendmsg", err))
	}
	return nil
}

func (c *Container) creatingState() *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          c.p.ID,
		Status:      specs.StateCreating,
		Pid:         c.p.InitPid,
		Bundle:      c.p.Bundle,
		Annotations: c.p.Config.Annotations,
	}
}

// writePidFile writes the pid atomically, as runc does, so a reader never sees a partial
// number.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// setgroupsDenied is process.SetgroupsDenied of pid, a process in the container's
// user namespace. Only a joined one can deny it: the host's never does, and hull
// makes a new one with setgroups allowed (initCommand).
func setgroupsDenied(namespaces []specs.LinuxNamespace, pid int) bool {
	if !slices.ContainsFunc(namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type == specs.UserNamespace && n.Path != ""
	}) {
		return false
	}
	return process.SetgroupsDenied(pid)
}

func hasNewNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, n := range s.Linux.Namespaces {
		if n.Type == t && n.Path == "" {
			return true
		}
	}
	return false
}
