package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/console"
	"github.com/hull-runtime/hull/libruntime/hooks"
	"github.com/hull-runtime/hull/libruntime/internal/linux"
	"github.com/hull-runtime/hull/libruntime/lsm"
	"github.com/hull-runtime/hull/libruntime/process"
	"github.com/hull-runtime/hull/libruntime/rootfs"
	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
	"github.com/hull-runtime/hull/nsenter"
)

// Main runs the init stage. It returns only on failure, after reporting the error to the
// parent; on success it never returns (execve).
//
// The caller must have locked the main goroutine to its OS thread (runtime.LockOSThread
// in an init function): capabilities, no_new_privs and the seccomp filter are per thread,
// and execve must happen from the thread that has them.
func Main() error {
	entered := time.Now()
	// Until it execs the user's program, init is hull: no process of the container may
	// ptrace it or open its /proc entries (its exe, its fds). execve makes the new
	// program dumpable again.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_DUMPABLE", err)
	}
	// Before anything is opened here: what the parent passed is 0..N-1, and anything
	// above is a leftover of whoever started hull (a directory, a pipe), which a
	// process of the container with CAP_SYS_PTRACE could reach through
	// /proc/1/fd while init waits for start. The Go runtime holds no fd yet
	// (containermaxprocs=0, see main.go).
	if v := os.Getenv(EnvNumFds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 {
			return fmt.Errorf("init: bad %s %q", EnvNumFds, v)
		}
		if err := unix.CloseRange(uint(n), ^uint(0)>>32, 0); err != nil {
			return fmt.Errorf("init: close inherited fds: %w", os.NewSyscallError("close_range", err))
		}
	}
	sync, err := fdFromEnv(EnvSyncFd, "sync")
	if err != nil {
		return err
	}
	dec := json.NewDecoder(sync)
	enc := json.NewEncoder(sync)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("init: read config: %w", err)
	}
	i := &initState{cfg: &cfg, dec: dec, enc: enc, sync: sync}
	i.last = time.Now()
	if cfg.Debug && cfg.Cloned != 0 {
		// Hull is re-executed here: these two are what a Go init costs over a C one.
		i.phases = append(i.phases,
			"execve+runtime start "+entered.Sub(time.Unix(0, cfg.Cloned)).String(),
			"read config "+i.last.Sub(entered).String())
	}
	if cfg.Exec {
		err = i.runExec()
	} else {
		err = i.run()
	}
	// Only failures get here.
	_ = enc.Encode(Message{Type: MsgError, Error: clip.Message(err.Error())})
	return err
}

type initState struct {
	// phases and last time init's steps when cfg.Debug is set.
	phases []string
	last   time.Time

	cfg  *Config
	dec  *json.Decoder
	enc  *json.Encoder
	sync *os.File
	proc *os.File // verified handle on the host's procfs, kept across pivot_root
}

// mark records how long the step that just ended took.
func (i *initState) mark(name string) {
	if !i.cfg.Debug {
		return
	}
	now := time.Now()
	i.phases = append(i.phases, name+" "+now.Sub(i.last).String())
	i.last = now
}

func (i *initState) run() error {
	runtime.LockOSThread()
	cfg := i.cfg
	spec := cfg.Spec
	if os.Getenv(EnvStage2) != "" {
		return i.runStage2()
	}
	// Relative bind-mount sources and hook paths are relative to the bundle.
	if err := os.Chdir(cfg.Bundle); err != nil { //nolint:forbidigo // host path: the bundle, before any mount
		return fmt.Errorf("init: enter bundle: %w", err)
	}
	fifo, err := fdFromEnv(EnvFifoFd, "exec fifo")
	if err != nil {
		return err
	}
	var consoleSock *os.File
	if os.Getenv(EnvConsoleFd) != "" {
		if consoleSock, err = fdFromEnv(EnvConsoleFd, "console socket"); err != nil {
			return err
		}
	}
	// Opened before pivot_root, while /proc is still the host's, so later writes to
	// /proc/sys and /proc/self cannot be redirected by anything in the container's rootfs.
	if i.proc, err = process.OpenProcRoot(); err != nil {
		return err
	}

	// On this thread, the one that mounts cgroup2, forks stage 2 and execs.
	if cfg.CgroupNSLate {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("linux.namespaces cgroup: %w", os.NewSyscallError("unshare", err))
		}
	}
	if hasNewNS(spec, specs.TimeNamespace) && !cfg.TimeNSReady {
		if err := setupTimeNS(i.proc, cfg.InitPid, spec.Linux.TimeOffsets); err != nil {
			return err
		}
	}
	// In a joined uts namespace too, as runc does: validation refuses only the
	// host's own.
	if hasNS(spec, specs.UTSNamespace) {
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return fmt.Errorf("hostname %s: %w", clip.Quote(spec.Hostname), os.NewSyscallError("sethostname", err))
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("domainname %s: %w", clip.Quote(spec.Domainname), os.NewSyscallError("setdomainname", err))
			}
		}
	}

	// A pid namespace to join, handed over instead of joined: init builds the
	// container outside it (where no process of it can see init's host handles) and
	// forks the container's process into it at the end (runOutside).
	var pidNS *os.File
	if os.Getenv(EnvPidNSFd) != "" {
		if pidNS, err = fdFromEnv(EnvPidNSFd, "pid namespace"); err != nil {
			return err
		}
	}
	handover := pidNS != nil && os.Getenv(EnvPidNSMode) == PidNSHandover
	rc := &rootfs.Config{Spec: spec, Rootfs: cfg.Rootfs, NoPivot: cfg.NoPivot, InUserNS: hasNS(spec, specs.UserNamespace),
		Sources: i.mountSource, HostMountNS: !hasNS(spec, specs.MountNamespace), Proc: i.proc}
	if handover {
		rc.LateProc = true
	} else {
		rc.PidNS = pidNS
	}
	i.mark("namespaces")
	if err := rootfs.Prepare(rc); err != nil {
		return err
	}
	i.mark("mounts")
	if cfg.Hooks {
		if err := i.enc.Encode(Message{Type: MsgHooks}); err != nil {
			return fmt.Errorf("ask for hooks: %w", err)
		}
		if err := i.expect(MsgHooksOK); err != nil {
			return err
		}
		i.mark("prestart+createRuntime hooks")
	}
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		// In the container's root, as runc runs them (the spec names no directory;
		// init's own is the bundle, for relative mount sources).
		o := hooks.Options{Dir: cfg.Rootfs}
		if err := hooks.RunWith("createContainer", spec.Hooks.CreateContainer, i.state(specs.StateCreating), o); err != nil {
			return err
		}
	}
	if err := rootfs.Pivot(rc); err != nil {
		return err
	}
	i.mark("pivot_root")
	if consoleSock != nil {
		var size *specs.Box
		if spec.Process.ConsoleSize != nil {
			size = spec.Process.ConsoleSize
		}
		setup := console.Setup
		if pidNS != nil {
			setup = console.SetupNoCtty
		}
		if err := setup(consoleSock, size, spec.Process.User.UID); err != nil {
			return fmt.Errorf("process.terminal: %w", err)
		}
		consoleSock.Close()
	}
	if spec.Linux != nil {
		for k, v := range spec.Linux.Sysctl {
			if err := process.WriteProcFile(i.proc, process.SysctlPath(k), v); err != nil {
				return fmt.Errorf("linux.sysctl.%s: %w", clip.Quote(k), err)
			}
		}
	}
	if !handover {
		// With a handover, masked and read-only paths (many under /proc) wait for
		// the procfs mounts, made by the next stage inside the pid namespace.
		if err := rootfs.Finalize(rc); err != nil {
			return err
		}
	}
	i.mark("console+sysctl+masked/readonly")

	p := spec.Process
	if p.OOMScoreAdj != nil {
		if err := process.SetOOMScoreAdj(i.proc, *p.OOMScoreAdj); err != nil {
			return err
		}
	}
	if !cfg.NoNewKeyring {
		if err := i.joinSessionKeyring(p.SelinuxLabel); err != nil {
			return err
		}
	}
	if handover {
		return i.handOver(fifo, pidNS, consoleSock != nil, rc.LateTrees)
	}
	if pidNS != nil {
		return i.runOutside(p, fifo, pidNS, consoleSock != nil)
	}
	return i.waitAndExec(p, fifo)
}

// joinSessionKeyring gives the container its own session keyring, labelled as the
// process (runc does so): keycreate labels what this thread creates, and is reset
// afterwards so nothing else init creates gets the container's label.
func (i *initState) joinSessionKeyring(label string) error {
	if label != "" {
		if err := lsm.SetKeyLabel(i.proc, label); err != nil {
			return err
		}
	}
	if err := process.JoinSessionKeyring("_ses." + i.cfg.ID); err != nil {
		return err
	}
	if label != "" {
		return lsm.SetKeyLabel(i.proc, "")
	}
	return nil
}

// waitAndExec ends init: the process's own set-up, "ready", the wait for start, the
// startContainer hooks and execve.
func (i *initState) waitAndExec(p *specs.Process, fifo *os.File) error {
	spec := i.cfg.Spec
	// The host's procfs is done with: nothing of the host stays in init while it
	// waits, where a process exec'd into the container (or a sibling sharing its pid
	// namespace) with CAP_SYS_PTRACE could reach it through /proc/1/fd.
	waitProc := i.proc
	if cp, err := containerProcFor(fifo); err == nil {
		waitProc = cp
		if i.proc != nil {
			i.proc.Close()
		}
		i.proc = nil
	} else if waitProc == nil {
		return fmt.Errorf("init: the container's procfs at /proc, through which init waits for start: %w", err)
	} else {
		_ = i.enc.Encode(Message{Type: MsgWarning, Error: fmt.Sprintf("no procfs of the container's at /proc (%v): init holds the host's procfs while it waits for start; mount proc at /proc", err)})
	}
	path, late, err := i.setupProcess(p, waitProc)
	if err != nil {
		return err
	}
	if err := i.ready(); err != nil {
		return err
	}

	w, err := waitForStart(waitProc, fifo)
	if err != nil {
		// Nobody listens any more; the exit status is all that is left.
		os.Exit(1)
	}
	if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
		// A hook without env gets the process's environment, and every one runs in
		// the process's cwd, as its user: runc runs them so (its init has taken on
		// the process's environment by then), and ldconfig-like hooks rely on PATH.
		// The spec gives a hook exactly its env; with none given it says nothing.
		o := hooks.Options{Env: p.Env}
		if err := hooks.RunWith("startContainer", spec.Hooks.StartContainer, i.state(specs.StateCreated), o); err != nil {
			failStart(w, err)
		}
	}
	// The byte tells start that set-up is over; the fifo's close at execve (it is
	// O_CLOEXEC) tells it the user's process runs, so poststart hooks run after it.
	if _, err := unix.Write(w, []byte{StartOK}); err != nil {
		os.Exit(1)
	}
	execProcess(path, p, late, w)
	return nil
}

// failStart reports a failure after create returned to `hull start`, which reads the
// exec fifo (StartFailed and the text), and to the container's stderr; init exits.
func failStart(w int, err error) {
	msg := clip.Message(err.Error())
	fmt.Fprintf(os.Stderr, "hull init: %s\n", msg)
	if w >= 0 {
		// One write of at most PIPE_BUF bytes arrives whole.
		b := append([]byte{StartFailed}, msg...)
		if len(b) > 4096 {
			b = b[:4096]
		}
		_, _ = unix.Write(w, b)
	}
	os.Exit(1)
}

// runExec prepares a process joining a running container. nsenter has put this helper
// in every namespace of the container but its pid namespace: it is invisible to the
// container while it works, and forks the process into that namespace only at the end
// (nsenter.ForkTail), as a child of `hull exec`, which does nothing there but switch
// user, capabilities and seccomp and exec.
func (i *initState) runExec() error {
	runtime.LockOSThread()
	p := i.cfg.Process
	pidNS, err := fdFromEnv(EnvPidNSFd, "pid namespace")
	if err != nil {
		return err
	}
	// This locked thread alone: its children land there, and the runtime never
	// clones new threads from a locked one (they would be refused).
	if err := unix.Setns(int(pidNS.Fd()), unix.CLONE_NEWPID); err != nil {
		return fmt.Errorf("join the container's pid namespace: %w", os.NewSyscallError("setns", err))
	}
	pidNS.Close()
	if os.Getenv(EnvRootFd) != "" {
		root, err := fdFromEnv(EnvRootFd, "container root")
		if err != nil {
			return err
		}
		// Before anything is looked up (console, cwd, the program): the container
		// shares hull's mount namespace, and its root is init's chroot.
		if err := unix.Fchdir(int(root.Fd())); err != nil {
			return fmt.Errorf("enter the container's root: %w", os.NewSyscallError("fchdir", err))
		}
		root.Close()
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("enter the container's root: %w", os.NewSyscallError("chroot", err))
		}
	}
	var notify *os.File
	if os.Getenv(EnvNotifyFd) != "" {
		if notify, err = fdFromEnv(EnvNotifyFd, "seccomp notify socket"); err != nil {
			return err
		}
	}
	if os.Getenv(EnvConsoleFd) != "" {
		sock, err := fdFromEnv(EnvConsoleFd, "console socket")
		if err != nil {
			return err
		}
		if err := console.SetupExec(sock, p.ConsoleSize, p.User.UID); err != nil {
			return fmt.Errorf("process.terminal: %w", err)
		}
		sock.Close()
	}
	// The profile and label are written by the process itself, in the tail, under
	// the container's procfs (its pid namespace's, where thread-self is the
	// process): a verified procfs root, and the writes cross no mount (see nsenter).
	// Never the host's procfs: the process holds the handle inside the container.
	var proc *os.File
	if p.ApparmorProfile != "" || p.SelinuxLabel != "" {
		if proc, err = process.OpenProcRoot(); err != nil {
			return fmt.Errorf("the container's procfs at /proc, to apply the process's AppArmor profile or SELinux label: %w", err)
		}
		defer proc.Close()
	}
	t, err := i.planTail(p, proc)
	if err != nil {
		return err
	}
	t.NotifySock = notify
	i.mark("process (rlimits, caps, user, seccomp)")
	if err := i.enc.Encode(Message{Type: MsgReady, Phases: i.phases}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	if err := i.expect(MsgGo); err != nil {
		return err
	}
	pid, err := nsenter.ForkTail(t)
	if err != nil {
		return err
	}
	if err := i.enc.Encode(Message{Type: MsgPid, Pid: pid}); err != nil {
		// The process runs; hull exec learns nothing more. Its wait on us ends.
		os.Exit(1) //nolint:gocritic // the exit closes proc; the deferred Close serves the error returns above
	}
	os.Exit(0)
	return nil
}

// handOver ends the first stage of a container that joins a pid namespace where
// runOutside cannot be used (no procfs pidns=, startContainer hooks, a notify
// listener): after pivot_root, it forks hull's sealed binary into the namespace as the
// second stage (runStage2) with only stdio, --preserve-fds, the sync socket and the
// fifo, reports its pid to the parent, which then talks to it, and exits. Nothing of
// the host is ever visible in the namespace: the second stage starts in the
// container's root, and the first never enters.
func (i *initState) handOver(fifo, pidNS *os.File, ctty bool, trees map[int]*os.File) error {
	exe, err := fdFromEnv(EnvExeFd, "executable")
	if err != nil {
		return err
	}
	i.proc.Close()
	i.proc = nil
	env := []string{
		EnvSyncFd + "=" + strconv.Itoa(int(i.sync.Fd())),
		EnvFifoFd + "=" + strconv.Itoa(int(fifo.Fd())),
		EnvStage2 + "=1",
		GoMaxProcs, GoGC,
	}
	if ctty {
		env = append(env, EnvCtty+"=1")
	}
	keep := []*os.File{i.sync, fifo}
	var pairs []string
	for idx, t := range trees {
		pairs = append(pairs, strconv.Itoa(idx)+"="+strconv.Itoa(int(t.Fd())))
		keep = append(keep, t)
	}
	if len(pairs) > 0 {
		env = append(env, EnvLateTrees+"="+strings.Join(pairs, ","))
	}
	// They cross the execve; the second stage marks them close-on-exec again.
	for _, f := range keep {
		if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
			return os.NewSyscallError("fcntl F_SETFD", err)
		}
	}
	if err := unix.Setns(int(pidNS.Fd()), unix.CLONE_NEWPID); err != nil {
		return fmt.Errorf("linux.namespaces pid: join: %w", os.NewSyscallError("setns", err))
	}
	pidNS.Close()
	pid, err := nsenter.ForkTail(&nsenter.Tail{
		ExecFd: exe, Args: []string{"hull", Arg}, Env: env,
		Keep: 3 + i.cfg.PreserveFDs, KeepFds: keep, NoCreds: true,
	})
	if err != nil {
		return err
	}
	i.mark("fork the second stage into the pid namespace")
	if err := i.enc.Encode(Message{Type: MsgHandover, Pid: pid, Phases: i.phases}); err != nil {
		return fmt.Errorf("report the handover: %w", err)
	}
	os.Exit(0)
	return nil
}

// runStage2 is init's second stage for a container that joins a pid namespace (see
// handOver): in the container's root and pid namespace, it mounts the procfs mounts,
// the masked and read-only paths, makes the console its controlling terminal, and ends
// as init does.
func (i *initState) runStage2() error {
	fifo, err := fdFromEnv(EnvFifoFd, "exec fifo")
	if err != nil {
		return err
	}
	spec := i.cfg.Spec
	trees, err := lateTreesFromEnv()
	if err != nil {
		return err
	}
	if err := rootfs.MountProcLate(spec, trees); err != nil {
		return err
	}
	rc := &rootfs.Config{Spec: spec, Rootfs: i.cfg.Rootfs, NoPivot: i.cfg.NoPivot, InUserNS: hasNS(spec, specs.UserNamespace),
		HostMountNS: !hasNS(spec, specs.MountNamespace)}
	if err := rootfs.Finalize(rc); err != nil {
		return err
	}
	if os.Getenv(EnvCtty) != "" {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("process.terminal: %w", os.NewSyscallError("setsid", err))
		}
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("process.terminal: set the controlling terminal: %w", err)
		}
	}
	i.mark("stage 2: procfs, masked/readonly, console")
	return i.waitAndExec(spec.Process, fifo)
}

// runOutside ends the set-up of a container that joins a pid namespace: init is not in
// it, and forks the container's process into it (nsenter.ForkTail with Wait), which
// waits there for start holding only its stdio, --preserve-fds, the fifo and the
// container's procfs; init reports its pid with "ready" and exits on "go".
func (i *initState) runOutside(p *specs.Process, fifo, pidNS *os.File, ctty bool) error {
	proc, err := process.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("init: the container's procfs at /proc, through which its process waits for start: %w", err)
	}
	i.proc.Close()
	i.proc = nil
	t, err := i.planTail(p, proc)
	if err != nil {
		return err
	}
	t.Ctty = ctty
	t.Wait, t.FifoDir, t.FifoRel = true, proc, "thread-self/fd/"+strconv.Itoa(int(fifo.Fd()))
	if err := unix.Setns(int(pidNS.Fd()), unix.CLONE_NEWPID); err != nil {
		return fmt.Errorf("linux.namespaces pid: join: %w", os.NewSyscallError("setns", err))
	}
	pidNS.Close()
	pid, err := nsenter.ForkTail(t)
	if err != nil {
		return err
	}
	i.mark("process (rlimits, caps, user, seccomp), fork into the pid namespace")
	if err := i.enc.Encode(Message{Type: MsgReady, Phases: i.phases, Pid: pid}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	if err := i.expect(MsgGo); err != nil {
		return err
	}
	os.Exit(0)
	return nil
}

// linuxAttrs are the container's personality and memory policy, which every process
// of it gets: exec's copy, or the container's own.
func (i *initState) linuxAttrs() (*specs.LinuxPersonality, *specs.LinuxMemoryPolicy) {
	if i.cfg.Exec {
		return i.cfg.Personality, i.cfg.MemoryPolicy
	}
	if l := i.cfg.Spec.Linux; l != nil {
		return l.Personality, l.MemoryPolicy
	}
	return nil, nil
}

// prepareProcess does on this thread what the process inherits from it, for
// setupProcess (init execs from this thread) and planTail (a child forked from it
// execs): CPU affinity, I/O priority, personality, memory policy, HOME, rlimits,
// bounding set, umask, cwd. The seccomp filter came compiled in the config
// (Config.Filter): nothing here allocates for it, so an RLIMIT_AS below what the Go
// runtime has reserved cannot stop it.
func (i *initState) prepareProcess(p *specs.Process) error {
	// The affinity is the cpuset's, not the caller's, unless an exec'd process asks
	// for execCPUAffinity.final (it applies once the process is in the container's
	// cgroup, which this helper was born in; runc sets it from outside at that point).
	// The spec does not apply execCPUAffinity to the container's own process.
	var final *unix.CPUSet
	if i.cfg.Exec && p.ExecCPUAffinity != nil {
		var cerr *config.Error
		if final, cerr = config.CPUAffinity("process.execCPUAffinity.final", p.ExecCPUAffinity.Final); cerr != nil {
			return cerr
		}
	}
	if final != nil {
		if err := process.SetCPUAffinity("process.execCPUAffinity.final", final); err != nil {
			return err
		}
	} else {
		process.ResetCPUAffinity()
	}
	if err := i.setThreadAttrs(p); err != nil {
		return err
	}
	// HOME is read from the container's passwd while still root, as runc does.
	p.Env = process.WithHome(p.Env, p.User.UID)
	if err := process.ApplyRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := i.warnable(process.DropBounding(p.Capabilities)); err != nil {
		return err
	}
	// runc's default, so files the container creates are not world-writable by
	// accident of whatever umask hull was started with.
	if p.User.Umask == nil {
		unix.Umask(0o022)
	} else {
		unix.Umask(int(*p.User.Umask & 0o777))
	}
	// Entered as root, as runc does, so a cwd only root may enter works; and before
	// any filter, so a profile that denies getcwd cannot break the check.
	if err := os.Chdir(p.Cwd); err != nil { //nolint:forbidigo // after pivot_root / is the container's root; a cwd that escapes through a magic link is refused below
		return fmt.Errorf("process.cwd %s: %w", clip.String(p.Cwd), clip.PathError(err))
	}
	// A cwd reached through a magic link such as /proc/self/fd/N may lie outside the
	// container's root (CVE-2024-21626); the kernel then reports it "(unreachable)".
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("process.cwd %s: resolves outside the container's root filesystem; use a path inside it", clip.String(p.Cwd))
	}
	return nil
}

// setThreadAttrs sets on this thread the I/O priority, the personality and the
// memory policy of the process, which what it forks or execs keeps: while root with
// every capability, before any filter. Not the scheduler (schedAttr).
func (i *initState) setThreadAttrs(p *specs.Process) error {
	if p.IOPriority != nil {
		prio, cerr := config.IOPriority("process.ioPriority", p.IOPriority)
		if cerr != nil {
			return cerr
		}
		if err := process.SetIOPriority(prio); err != nil {
			return err
		}
	}
	pers, mpol := i.linuxAttrs()
	if mpol != nil {
		mp, cerr := config.MemoryPolicy("linux.memoryPolicy", mpol)
		if cerr != nil {
			return cerr
		}
		if err := process.SetMemPolicy(mp.Mode, mp.Mask, mp.MaxNode); err != nil {
			return err
		}
	}
	if pers != nil {
		v, cerr := config.Personality("linux.personality", pers)
		if cerr != nil {
			return cerr
		}
		if err := process.SetPersonality(v); err != nil {
			return err
		}
	}
	return nil
}

// schedAttr is process.scheduler as sched_setattr takes it, nil if unset.
func schedAttr(p *specs.Process) (*unix.SchedAttr, error) {
	attr, cerr := config.SchedAttr("process.scheduler", p.Scheduler)
	if cerr != nil {
		return nil, cerr
	}
	return attr, nil
}

// planTail does, on this thread, what the exec'd process inherits (rlimits, bounding
// set, umask, cwd) and prepares what it must do itself (scheduler, user,
// capabilities, no_new_privs, seccomp), in the order setupProcess follows.
func (i *initState) planTail(p *specs.Process, proc *os.File) (*nsenter.Tail, error) {
	if err := i.prepareProcess(p); err != nil {
		return nil, err
	}
	sched, err := schedAttr(p)
	if err != nil {
		return nil, err
	}
	path, err := process.LookPath(p.Args[0], p.Env)
	if err != nil {
		return nil, fmt.Errorf("process.args[0]: %w", err)
	}
	u, err := process.PlanUser(p.User, i.cfg.SetgroupsDenied)
	if err != nil {
		return nil, err
	}
	caps, err := process.PlanCaps(p.Capabilities)
	if err := i.warnable(err); err != nil {
		return nil, err
	}
	t := &nsenter.Tail{
		Path: path, Args: p.Args, Env: p.Env,
		Keep: 3 + i.cfg.PreserveFDs,
		Ctty: os.Getenv(EnvConsoleFd) != "",
		UID:  u.UID, GID: u.GID, Groups: u.Groups, SetGroups: u.SetGroups,
		Caps: caps.Data, Ambient: caps.Ambient, ClearAmb: caps.ClearAmbient,
		NoNewPrivs: p.NoNewPrivileges,
		Sched:      sched,
	}
	if w := lsm.ExecWrites(proc, p); len(w) > 0 {
		t.ProcDir = proc
		for _, x := range w {
			t.ProcWrites = append(t.ProcWrites, nsenter.ProcWrite{Rel: x.Rel, Data: x.Data, What: x.What()})
		}
	}
	if f := i.cfg.Filter; f != nil {
		// Without no_new_privs, loading needs CAP_SYS_ADMIN, which the user switch
		// may take away: first then, as runc does; else last, right before execve.
		t.Seccomp, t.SeccompFlags, t.SeccompFirst = f.Insns, f.Flags, !p.NoNewPrivileges
	}
	return t, nil
}

// ready tells the parent the process is set up, with init's phase timings, and waits
// for its go: the parent has recorded the state (and pid file) by then. The sync socket
// is done with.
func (i *initState) ready() error {
	i.mark("process (rlimits, caps, user, seccomp)")
	if err := i.enc.Encode(Message{Type: MsgReady, Phases: i.phases}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	if err := i.expect(MsgGo); err != nil {
		return err
	}
	i.sync.Close()
	return nil
}

// execProcess replaces init with the user's program. Past this point the parent is gone:
// an error goes to `hull start` through the fifo w (and to the container's stderr).
// late, if set, loads the seccomp filter: the one syscall before execve.
func execProcess(path string, p *specs.Process, late *bpf.Program, w int) {
	if late != nil {
		if _, err := bpf.Install(late); err != nil {
			failStart(w, err)
		}
	}
	err := unix.Exec(path, p.Args, p.Env)
	failStart(w, fmt.Errorf("exec %s: %w", clip.String(path), err))
}

// Only the locked thread changes credentials here (per-thread syscalls): the Go
// runtime's other threads keep uid 0 and full capabilities until execve ends them.
// Harmless: init is non-dumpable, runs no container code, and those threads run only
// the runtime.
//
// setupProcess applies the process's rlimits, capabilities, user, cwd and no_new_privs on
// this thread, in the order that keeps the capabilities each step needs, and resolves
// the executable as the container's user sees it. With no_new_privs the seccomp filter
// is returned compiled, for execProcess to load as the very last step, as runc does:
// the fifo wait, startContainer hooks and execve's preparation run before it, so a
// profile need not allow what hull does.
func (i *initState) setupProcess(p *specs.Process, proc *os.File) (string, *bpf.Program, error) {
	// Every fd but stdio and --preserve-fds is close-on-exec from here, before any
	// filter: a profile that does not list close_range must not break the container.
	if err := process.CloseExecFrom(3 + i.cfg.PreserveFDs); err != nil {
		return "", nil, err
	}
	if err := i.prepareProcess(p); err != nil {
		return "", nil, err
	}
	// The AppArmor profile and SELinux label take effect at this thread's execve,
	// and startContainer hooks, forked from it, run under them too (as with runc).
	// Written while root with every capability and before any filter, which could
	// deny the open or the write: runc's order too.
	if err := lsm.ApplyExec(proc, p); err != nil {
		return "", nil, err
	}
	// On this thread, which execs the program: still root, before any filter. As
	// with runc, init then waits for start and runs startContainer hooks with it
	// (a SCHED_DEADLINE init cannot fork them).
	sched, err := schedAttr(p)
	if err != nil {
		return "", nil, err
	}
	if sched != nil {
		if err := process.SetScheduler(sched); err != nil {
			return "", nil, err
		}
	}
	prog := i.cfg.Filter
	if prog != nil && (!p.NoNewPrivileges || prog.Notify()) {
		// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the user
		// switch below may take away: load it now, as runc does. A notify filter's
		// listener must reach the parent, which is gone after start.
		if err := i.loadSeccomp(prog); err != nil {
			return "", nil, err
		}
		prog = nil
	}
	if err := process.SetUser(p.User, i.cfg.SetgroupsDenied); err != nil {
		return "", nil, err
	}
	if err := i.warnable(process.ApplyCaps(p.Capabilities)); err != nil {
		return "", nil, err
	}
	if p.NoNewPrivileges {
		if err := process.SetNoNewPrivs(); err != nil {
			return "", nil, err
		}
	}
	path, err := process.LookPath(p.Args[0], p.Env)
	if err != nil {
		return "", nil, fmt.Errorf("process.args[0]: %w", err)
	}
	return path, prog, nil
}

// loadSeccomp loads the filter on this thread. A notify listener fd is announced to the
// parent, which copies it out with pidfd_getfd and hands it to the listener: sending it
// from here would need sendmsg, which the filter itself may trap.
func (i *initState) loadSeccomp(prog *bpf.Program) error {
	fd, err := bpf.Install(prog)
	if err != nil {
		return err
	}
	if fd < 0 {
		return nil
	}
	if err := i.enc.Encode(Message{Type: MsgSeccompFd, Fd: fd}); err != nil {
		return err
	}
	return i.expect(MsgSeccompFdOK)
}

// warnable passes capabilities that could not be granted to the parent as a warning (the
// spec wants them logged, not fatal) and returns every other error.
func (i *initState) warnable(err error) error {
	var ng *process.NotGrantedError
	if errors.As(err, &ng) {
		return i.enc.Encode(Message{Type: MsgWarning, Error: clip.Message(err.Error())})
	}
	return err
}

// expect reads the next message from the parent and checks its type. EOF means the
// parent (hull create) died: init must not outlive a create that failed.
// mountSource asks the parent for the detached clone of the source of
// spec.Mounts[idx] and receives it as the one message the parent answers with.
// The decoder has nothing buffered here: the parent sends nothing unasked.
func (i *initState) mountSource(idx int) (*os.File, error) {
	if err := i.enc.Encode(Message{Type: MsgMountSource, Mount: idx}); err != nil {
		return nil, fmt.Errorf("ask for the source of mounts[%d]: %w", idx, err)
	}
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	var (
		n, oobn int
		err     error
	)
	raw, err := i.sync.SyscallConn()
	if err != nil {
		return nil, err
	}
	cerr := raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, err = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(err, unix.EAGAIN)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("receive the source of mounts[%d]: %w", idx, os.NewSyscallError("recvmsg", err))
	}
	if n == 0 {
		// The parent failed (and reports why) and is tearing the container down.
		os.Exit(1)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive the source of mounts[%d]: no fd in the answer", idx)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive the source of mounts[%d]: want one fd, got %d", idx, len(fds))
	}
	return os.NewFile(uintptr(fds[0]), "source:mounts["+strconv.Itoa(idx)+"]"), nil
}

func (i *initState) expect(t string) error {
	var m Message
	if err := i.dec.Decode(&m); err != nil {
		os.Exit(1)
	}
	if m.Type != t {
		return fmt.Errorf("init: expected %q from parent, got %q", t, m.Type)
	}
	return nil
}

func (i *initState) state(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          i.cfg.ID,
		Status:      status,
		Pid:         i.cfg.InitPid,
		Bundle:      i.cfg.Bundle,
		Annotations: i.cfg.Spec.Annotations,
	}
}

// containerProcFor opens the container's /proc (after pivot_root) if it is a procfs
// root in which init's fd of the fifo is reachable: waitForStart then needs nothing of
// the host. Nothing of the container has run yet, so /proc is what init mounted.
func containerProcFor(fifo *os.File) (*os.File, error) {
	proc, err := process.OpenProcRoot()
	if err != nil {
		return nil, err
	}
	var want, got unix.Stat_t
	if err := unix.Fstat(int(fifo.Fd()), &want); err != nil {
		proc.Close()
		return nil, err
	}
	rel := "thread-self/fd/" + strconv.Itoa(int(fifo.Fd()))
	if err := unix.Fstatat(int(proc.Fd()), rel, &got, 0); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		proc.Close()
		if err == nil {
			err = errors.New("it shows another process's fds")
		}
		return nil, err
	}
	return proc, nil
}

// waitForStart blocks in open(2) of the exec fifo for writing until `hull start` opens
// it for reading, and returns the write end. The fifo is reopened through a procfs
// handle (the container's, see containerProcFor): init's own O_PATH fd needs no path.
func waitForStart(proc, fifo *os.File) (int, error) {
	rel := "thread-self/fd/" + strconv.Itoa(int(fifo.Fd()))
	fd, err := linux.Openat(int(proc.Fd()), rel, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: "exec fifo", Err: err}
	}
	fifo.Close()
	proc.Close()
	return fd, nil
}

// setupTimeNS makes a new time namespace for init's children and for init itself at
// execve (nsenter.UnshareTimeNS), offsets written through the verified procfs handle.
func setupTimeNS(proc *os.File, pid int, offsets map[string]specs.LinuxTimeOffset) error {
	write := func(rel, data string) error { return process.WriteProcFile(proc, rel, data) }
	return nsenter.UnshareTimeNS(write, pid, offsets)
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == t {
			return true
		}
	}
	return false
}

func hasNewNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == t && n.Path == "" {
			return true
		}
	}
	return false
}

func fdFromEnv(name, what string) (*os.File, error) {
	v := os.Getenv(name)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("init: bad %s fd %q in %s", what, v, name)
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), what), nil
}

// lateTreesFromEnv takes the detached mounts the first stage handed over
// (EnvLateTrees: "index=fd,...").
func lateTreesFromEnv() (map[int]*os.File, error) {
	v := os.Getenv(EnvLateTrees)
	if v == "" {
		return nil, nil
	}
	trees := map[int]*os.File{}
	for pair := range strings.SplitSeq(v, ",") {
		is, fs, ok := strings.Cut(pair, "=")
		idx, ierr := strconv.Atoi(is)
		fd, ferr := strconv.Atoi(fs)
		if !ok || ierr != nil || ferr != nil || idx < 0 || fd < 3 {
			return nil, fmt.Errorf("init: bad %s %q", EnvLateTrees, v)
		}
		unix.CloseOnExec(fd)
		trees[idx] = os.NewFile(uintptr(fd), "mounts["+is+"]")
	}
	return trees, nil
}
