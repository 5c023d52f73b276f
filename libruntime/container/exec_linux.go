package container

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/libruntime/logs"
	"github.com/hull-runtime/hull/libruntime/lsm"
	"github.com/hull-runtime/hull/libruntime/process"
	"github.com/hull-runtime/hull/nsenter"
)

// ExecOpts describe a process to run in an existing container.
type ExecOpts struct {
	Process               *specs.Process
	ConsoleSocket         string
	ConsoleConn           *os.File
	PidFile               string
	PreserveFDs           int
	IgnorePaused          bool
	Stdin, Stdout, Stderr *os.File
	// BeforeStart, if set, is called once the process is set up, before it is let go
	// to exec the user's program: `hull exec` waits there until it forwards signals.
	BeforeStart func()

	// PidfdSocket is the path of a unix socket that receives a pidfd of the process.
	PidfdSocket string
	// SubCgroup is `exec --cgroup`: an existing cgroup below the container's, relative
	// to it, that the process is started in.
	SubCgroup string
}

// Process is a process exec'd into a container by this hull; the caller waits on it.
type Process struct {
	Init
}

// Exec starts o.Process inside every namespace of the container, set up like the
// container's own process (user, capabilities, rlimits, no_new_privs, cwd), and returns
// once it has exec'd.
func (c *Container) Exec(o *ExecOpts) (*Process, error) {
	t := newPhaseTimer("exec")
	defer t.log()
	primePidfd()
	// A paused container is refused even with --ignore-paused (status.go): the helper
	// is born in the container's cgroup, frozen with it, and would wait there for
	// ever; started outside, the process would run unfrozen and outside the cgroup
	// until moved in. Neither is acceptable.
	op := OpExec
	if o.IgnorePaused {
		op = OpExecIgnorePaused
	}
	s, err := c.Gate(op)
	if err != nil {
		return nil, err
	}
	// What exec reads of the config: the whole of it (c.p.spec) only where the
	// seccomp profile itself is needed.
	ec, err := c.p.execSpec()
	if err != nil {
		return nil, err
	}
	if ec == nil || ec.Linux == nil {
		return nil, fmt.Errorf("exec: container %s has no linux config recorded", c.p.ID)
	}
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return nil, errors.New("process.args: empty; give the command to run")
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if err := config.ValidateExec(p); err != nil {
		return nil, err
	}
	if err := lsm.CheckProcess(p); err != nil {
		return nil, err
	}
	var initialCPUs *unix.CPUSet
	if a := p.ExecCPUAffinity; a != nil {
		var cerr *config.Error
		if initialCPUs, cerr = config.CPUAffinity("process.execCPUAffinity.initial", a.Initial); cerr != nil {
			return nil, cerr
		}
	}
	if p.Terminal && o.ConsoleSocket == "" && o.ConsoleConn == nil {
		return nil, errors.New("cannot allocate tty if hull will detach without setting console socket")
	}

	// Every namespace the container has, new or joined, is entered through init's
	// /proc/<pid>/ns links: those name exactly what init is in. They are opened here and
	// init is checked to still be the container's afterwards, so a pid reused in between
	// cannot hand us someone else's namespaces; Spawn then joins the open files.
	pidfd, err := pidfdOpen(c.p.InitPid, c.p.InitStartTime)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pidfd)
	var joins []nsenter.Join
	var pidNS *os.File
	var nsFiles []*os.File
	defer func() {
		for _, f := range nsFiles {
			f.Close()
		}
	}()
	for _, ns := range ec.Linux.Namespaces {
		name, ok := config.NamespaceFile(ns.Type)
		if !ok {
			continue
		}
		if ns.Type == specs.TimeNamespace && s == Created {
			// Init itself enters its new time namespace only when it execs.
			name = "time_for_children"
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", c.p.InitPid, name))
		if err != nil {
			return nil, fmt.Errorf("exec: open the container's %s namespace: %w", ns.Type, err)
		}
		nsFiles = append(nsFiles, f)
		if ns.Type == specs.PIDNamespace {
			// Joined by the helper itself, at the very end (initproc.runExec).
			pidNS = f
			continue
		}
		joins = append(joins, nsenter.Join{Type: ns.Type, Path: fmt.Sprintf("/proc/self/fd/%d", f.Fd())})
	}
	if pidNS == nil {
		// A container in hull's own pid namespace: the helper joins that one, as
		// init's link names it.
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", c.p.InitPid))
		if err != nil {
			return nil, fmt.Errorf("exec: open the container's pid namespace: %w", err)
		}
		nsFiles = append(nsFiles, f)
		pidNS = f
	}
	// Without a mount namespace of its own the container shares hull's, where
	// joining it changes nothing: its root is init's chroot, entered by the helper.
	var rootDir *os.File
	if !slices.ContainsFunc(ec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.MountNamespace }) {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", c.p.InitPid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("exec: open the container's root: %w", err)
		}
		rootDir = os.NewFile(uintptr(fd), "container-root")
		nsFiles = append(nsFiles, rootDir)
	}
	if !alive(c.p.InitPid, c.p.InitStartTime) {
		// Init exited since the gate: the refusal it would give now.
		return nil, &TransitionError{ID: c.p.ID, From: Stopped, Op: op}
	}
	t.mark("status+namespaces")
	conn, err := newSyncConn(t, execWords)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.dialPidfd(o.PidfdSocket); err != nil {
		return nil, err
	}

	stdio, err := conn.stdio(o.Stdin, o.Stdout, o.Stderr, p.Terminal)
	if err != nil {
		return nil, err
	}
	files := stdio[:]
	for i := 0; i < o.PreserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved-fd-"+strconv.Itoa(3+i)))
	}
	env := []string{initproc.EnvSyncFd + "=" + strconv.Itoa(len(files)), initproc.GoMaxProcs, initproc.GoGC}
	files = append(files, conn.Child())
	env = append(env, initproc.EnvPidNSFd+"="+strconv.Itoa(len(files)))
	files = append(files, pidNS)
	if rootDir != nil {
		env = append(env, initproc.EnvRootFd+"="+strconv.Itoa(len(files)))
		files = append(files, rootDir)
	}
	filter, err := c.seccompFilter(ec.hasSeccomp())
	if err != nil {
		return nil, err
	}
	// The process sends its seccomp listener straight here (SCM_RIGHTS) from the raw
	// child: a datagram socket keeps the one byte and its fd together.
	var notifyRecv *os.File
	if filter.Notify() {
		nfds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, os.NewSyscallError("socketpair", err)
		}
		notifyRecv = os.NewFile(uintptr(nfds[0]), "notify-recv")
		notifySend := os.NewFile(uintptr(nfds[1]), "notify-send")
		defer notifyRecv.Close()
		defer notifySend.Close()
		env = append(env, initproc.EnvNotifyFd+"="+strconv.Itoa(len(files)))
		files = append(files, notifySend)
	}
	if p.Terminal {
		console, err := conn.console(o.ConsoleConn, o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		env = append(env, initproc.EnvConsoleFd+"="+strconv.Itoa(len(files)))
		files = append(files, console)
	}
	exe, err := conn.sealedExe(c.root, c.dir)
	if err != nil {
		return nil, err
	}
	t.mark("sealed exe")
	// Born in the container's cgroup: moving it there afterwards would cost the
	// kernel's cgroup migration, an RCU grace period of often 10-20 ms.
	// Fail closed: a process outside the container's cgroup escapes its limits,
	// its device filter and `kill --all`.
	cg, err := c.cgroup()
	if err != nil && !errors.Is(err, errNoCgroup) {
		return nil, fmt.Errorf("exec: load the container's cgroup: %w", err)
	}
	into, err := execCgroup(cg, o.SubCgroup)
	if err != nil {
		return nil, err
	}
	// With the pids controller on, a refused fork is counted: if the process dies
	// starting up and the count rose, the limit is what to tell the user about.
	var pidsHits uint64
	pidsKnown := false
	if cg != nil {
		if n, _, err := cg.PidsLimitHits(); err == nil {
			pidsHits, pidsKnown = n, true
		}
	}
	conn.spawning()
	proc, err := spawnWithCPUs(initialCPUs, &nsenter.SpawnOpts{
		Exe:   exe,
		Args:  []string{"hull", initproc.Arg},
		Env:   env,
		Files: files,
		Join:  joins,
	}, into)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	conn.started()
	t.mark("fork+setns+execve")
	ok := false
	defer func() {
		if !ok {
			_ = proc.Kill()
			_, _ = proc.Wait()
		}
	}()
	cfg := &initproc.Config{
		ID:          c.p.ID,
		Bundle:      c.p.Bundle,
		Exec:        true,
		Process:     p,
		PreserveFDs: o.PreserveFDs,
		InitPid:     c.p.InitPid,
		Filter:      filter,
		// The process runs as its container does.
		Personality:  ec.Linux.Personality,
		MemoryPolicy: ec.Linux.MemoryPolicy,
		// Init's user namespace is the process's; init was checked alive since
		// its namespaces were opened.
		SetgroupsDenied: setgroupsDenied(ec.Linux.Namespaces, c.p.InitPid),
	}
	if err := conn.sendConfig(cfg); err != nil {
		return nil, err
	}
	err = conn.serve(func(err error) error {
		if pidsKnown {
			if n, limit, perr := cg.PidsLimitHits(); perr == nil && n > pidsHits {
				return fmt.Errorf("exec: the container is at its pids limit (pids.max %s): hull's exec helper could not start its threads; raise linux.resources.pids.limit (hull update --pids-limit N) or end processes in the container", limit)
			}
		}
		return fmt.Errorf("exec: process exited before it was set up (%w)", err)
	}, map[string]msgHandler{
		initproc.MsgReady: func(m *initproc.Message) (bool, error) {
			conn.ready(m)
			return true, nil
		},
	})
	if err != nil {
		return nil, err
	}
	if o.BeforeStart != nil {
		o.BeforeStart()
	}
	if err := conn.release(); err != nil {
		return nil, err
	}
	// The helper forks the process into the container and reports it, or why it
	// failed; it then exits.
	pid := 0
	err = conn.serve(func(err error) error {
		return fmt.Errorf("exec: process exited before it was started (%w)", err)
	}, map[string]msgHandler{
		initproc.MsgPid: func(m *initproc.Message) (bool, error) {
			pid = m.Pid
			return true, nil
		},
	})
	if err != nil {
		return nil, err
	}
	// Only our own child: the helper's word is checked, not trusted.
	if !ownChild(pid) {
		return nil, fmt.Errorf("exec: the helper reported pid %d, which is not hull's child", pid)
	}
	user, err := os.FindProcess(pid)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	_, _ = proc.Wait()
	ok = true
	done := false
	defer func() {
		if !done {
			_ = user.Kill()
			_, _ = user.Wait()
		}
	}()
	if notifyRecv != nil {
		nfd, err := recvListener(notifyRecv)
		if err != nil {
			return nil, fmt.Errorf("exec: seccomp notify: %w", err)
		}
		var spec *specs.Spec
		if spec, err = c.p.spec(); err == nil {
			err = c.sendNotifyListener(pid, nfd, spec.Linux.Seccomp, specs.StateRunning)
		}
		unix.Close(nfd)
		if err != nil {
			return nil, err
		}
	}
	// Our child, not reaped: the pidfd names the user's program itself (the raw
	// child in the container), not the helper that forked it.
	if err := conn.sendPidfd(pid, pidfdKindExec); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return nil, err
		}
	}
	done = true
	return &Process{Init{proc: user}}, nil
}

// execCgroup is the cgroup exec's process is born in: the container's, or the
// existing sub-cgroup rel below it.
func execCgroup(cg cgroups.Manager, rel string) (cgroups.Manager, error) {
	if rel == "" {
		return cg, nil
	}
	if cg == nil {
		return nil, fmt.Errorf("--cgroup %s: the container has no cgroup to take a sub-cgroup of", clip.Quote(rel))
	}
	sub, err := cg.Sub(rel)
	if err != nil {
		return nil, fmt.Errorf("--cgroup: %w", err)
	}
	// A frozen sub-cgroup would hold the helper there for ever, as a paused
	// container would (Exec refuses that above).
	if frozen, err := sub.EffectivelyFrozen(); err == nil && frozen {
		return nil, fmt.Errorf("--cgroup %s: %s is frozen; thaw it first (echo 0 > cgroup.freeze)", clip.Quote(rel), sub.Path())
	}
	return sub, nil
}

// recvListener takes the seccomp listener the process sent before its execve.
func recvListener(f *os.File) (int, error) {
	var b [1]byte
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), b[:], oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("recvmsg", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, errors.New("no listener fd received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, errors.New("no listener fd received")
	}
	return fds[0], nil
}

// spawnInto starts o's process through nsenter.Spawn, born in cg (clone3
// CLONE_INTO_CGROUP): moving it in afterwards costs the kernel's cgroup migration, an
// RCU grace period of often 10-20 ms. Where the birth is refused (a kernel before
// 5.7), or the driver has no cgroup to be born in before a process is in it
// (cgroups.ErrNoFD), the process is started outside and moved in before it runs
// anything of the user's (it waits for its config). A nil cg starts it where hull is.
//
// A cgroup at its pids.max refuses either way: the helper's Go runtime creates its
// threads there, after the birth or the move, as runc's init does.
// spawnWithCPUs is spawnInto with the helper started on the CPUs of
// execCPUAffinity.initial, if set: hull's forking thread takes them for the fork
// (the child inherits them) and gets its own back after. The helper then sets the
// final affinity (initproc.prepareProcess) once in the container's cgroup.
func spawnWithCPUs(cpus *unix.CPUSet, o *nsenter.SpawnOpts, cg cgroups.Manager) (*os.Process, error) {
	if cpus == nil {
		return spawnInto(o, cg)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, os.NewSyscallError("sched_getaffinity", err)
	}
	if err := process.SetCPUAffinity("process.execCPUAffinity.initial", cpus); err != nil {
		return nil, err
	}
	logs.Debugf("exec: helper started on CPUs %s (execCPUAffinity.initial)", cpuList(cpus))
	proc, err := spawnInto(o, cg)
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil {
		// A thread of hull left pinned: never given back to the runtime.
		runtime.LockOSThread()
	}
	return proc, err
}

// cpuList writes a CPU set as a list of numbers.
func cpuList(set *unix.CPUSet) string {
	var b []byte
	for c := range 1024 { // CPU_SETSIZE
		if set.IsSet(c) {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(c), 10)
		}
	}
	return string(b)
}

func spawnInto(o *nsenter.SpawnOpts, cg cgroups.Manager) (*os.Process, error) {
	if cg == nil {
		return nsenter.Spawn(o)
	}
	f, err := cg.FD()
	if errors.Is(err, cgroups.ErrNoFD) {
		return spawnThenMove(o, cg)
	}
	if err != nil {
		return nil, fmt.Errorf("open the container's cgroup: %w", err)
	}
	defer f.Close()
	o.Cgroup = f
	proc, err := nsenter.Spawn(o)
	if err == nil {
		return proc, nil
	}
	logs.Debugf("start in cgroup %s: %v; starting outside and moving it in", cg.Path(), err)
	o.Cgroup = nil
	return spawnThenMove(o, cg)
}

func spawnThenMove(o *nsenter.SpawnOpts, cg cgroups.Manager) (*os.Process, error) {
	proc, err := nsenter.Spawn(o)
	if err != nil {
		return nil, err
	}
	if err := cg.Apply(proc.Pid); err != nil {
		_ = proc.Kill()
		_, _ = proc.Wait()
		return nil, fmt.Errorf("join the container's cgroup: %w", err)
	}
	return proc, nil
}
