package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file is the raw-fork path: it joins namespaces that a multi-threaded process cannot
// enter (user, time; mount too, for symmetry with the order rules) from a forked copy of
// hull that is single-threaded by construction, and that child (or, for new namespaces,
// a second one it forks into them) execs hull's own binary. A pid namespace is never
// joined here: whatever enters one is visible there at once, so nothing of hull's may
// (ForkTail forks the user's process into it from outside instead).
//
// Why this is safe without cgo: the forked children run only the nosplit function
// rawChild, which calls nothing but syscall.RawSyscall6 (nosplit assembly) on data
// prepared by the parent. They never allocate, never take a lock, never return into the
// Go scheduler, and run with every signal blocked, so no Go signal handler runs in them.
// That is the same discipline as the syscall package's own forkAndExecInChild. Between
// the fork and execve nothing else happens; an error is written to a pipe as two
// integers and the child exits.

const maxJoin = 8
const maxFiles = 64

// rawArgs is everything the forked children read. It is filled by the parent and only
// read afterwards, so the children never write a pointer (no write barriers).
type rawArgs struct {
	nsFds   [maxJoin]uintptr
	nsTypes [maxJoin]uintptr
	// joinIdx is each one's place in sortUserFirst(Join), for the error report.
	joinIdx [maxJoin]uintptr
	nJoin   uintptr

	files  [maxFiles]uintptr // files[i] becomes fd i in the final child
	nFiles uintptr
	// high is above every fd in files and every target, so the shuffle cannot clobber.
	high uintptr
	// extra are fds that follow files in the exec'ing child: the executable and the
	// report pipe. They are moved to nFiles and nFiles+1, close-on-exec; everything
	// above them is closed before the child can enter any namespace, so none of hull's
	// other fds is ever visible in one.
	extra  [2]uintptr
	nExtra uintptr
	// maxFd bounds the close loop where close_range(2) is missing (before Linux 5.9).
	maxFd uintptr
	// second: child 1 forks child 2 into the new namespaces of cloneFlags (a new pid
	// namespace applies only to children). Without it child 1 execs itself.
	second bool

	cloneFlags uintptr
	// cgroup is the clone_args for child 1 when it must be born in a cgroup (clone3
	// CLONE_INTO_CGROUP): child 2 inherits it, and neither is ever migrated, which
	// costs an RCU grace period (often 10-20 ms) in the kernel's cgroup.procs write.
	cgroup    cloneArgs
	useCgroup bool
	// vfork: both children share hull's memory while it is suspended, instead of
	// copying its page tables (and then taking a copy-on-write fault for every page
	// hull writes afterwards): about 0.3 ms less per spawn. Not with a time namespace
	// to join, which refuses a caller whose memory another process shares.
	vfork   bool
	exeFd   uintptr
	empty   *byte
	argv    **byte
	envv    **byte
	errPipe uintptr
	oldMask uint64
	// rootInUserNS: after joining a user namespace, become its root. Host root is not
	// mapped there, and execve with an unmapped uid would drop every capability.
	rootInUserNS bool
	// dflAction is a zeroed struct sigaction: SIG_DFL, no flags, empty mask.
	dflAction [4]uint64
}

// cloneArgs is struct clone_args up to the cgroup field (CLONE_ARGS_SIZE_VER2).
type cloneArgs struct {
	flags      uint64
	pidfd      uint64
	childTid   uint64
	parentTid  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTid     uint64
	setTidSize uint64
	cgroup     uint64
}

// Error reports sent through the pipe: kind, index and errno as three uint32s.
const (
	repPid      = 1 // child 1: the final child's pid (in index)
	repJoin     = 2 // child 1: setns of nsFds[index] failed
	repFork     = 3 // child 1: the second fork failed
	repDup      = 4 // child 2: placing fd index failed
	repExec     = 5 // child 2: execveat failed
	repMaskStep = 6 // child 2: restoring the signal mask failed
	repSetID    = 7 // child 1: becoming root of the joined user namespace failed
	repClose    = 8 // child 1: closing hull's other fds failed
)

//go:nosplit
//go:norace
func rawReport(fd uintptr, kind, index, errno uintptr) {
	var b [12]byte
	b[0], b[1], b[2], b[3] = byte(kind), byte(kind>>8), byte(kind>>16), byte(kind>>24)
	b[4], b[5], b[6], b[7] = byte(index), byte(index>>8), byte(index>>16), byte(index>>24)
	b[8], b[9], b[10], b[11] = byte(errno), byte(errno>>8), byte(errno>>16), byte(errno>>24)
	syscall.RawSyscall6(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), 12, 0, 0, 0)
}

//go:nosplit
//go:norace
func rawExit(code uintptr) {
	for {
		syscall.RawSyscall6(unix.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}

// rawFork forks child 1 and returns its pid in the parent. Child 1 never returns.
//
//go:nosplit
//go:norace
func rawFork(a *rawArgs) (uintptr, syscall.Errno) {
	var pid uintptr
	var e syscall.Errno
	switch {
	case a.vfork && a.useCgroup:
		// No stack given: the child goes on from here, on this very stack (vfork)
		// or on a copy of it (fork).
		var en uintptr
		pid, en = rawVfork(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&a.cgroup)), unsafe.Sizeof(a.cgroup), 0)
		e = syscall.Errno(en)
	case a.vfork:
		var en uintptr
		pid, en = rawVfork(unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_VFORK|uintptr(unix.SIGCHLD), 0, 0)
		e = syscall.Errno(en)
	case a.useCgroup:
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&a.cgroup)), unsafe.Sizeof(a.cgroup), 0, 0, 0, 0)
	default:
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	}
	if e != 0 || pid != 0 {
		// The parent. After a vfork only pid and e, fresh from registers, are read:
		// the children have used this frame.
		return pid, e
	}
	// Child 1. The namespaces are joined in three passes, as runc's nsexec joins
	// them: first every one but the user namespace, as host root, where a namespace
	// owned by another user namespace than the one joined (a network namespace made
	// by the host, say, next to a container's user namespace) can still be entered;
	// then the user namespace; then, with the capabilities it gives, the ones the
	// first pass was not allowed to join (EPERM), which it owns.
	var joined uintptr // bit i: nsFds[i] is joined
	for pass := uintptr(0); pass < 3; pass++ {
		for i := uintptr(0); i < a.nJoin && i < maxJoin; i++ {
			user := a.nsTypes[i] == unix.CLONE_NEWUSER
			if joined&(1<<i) != 0 || user != (pass == 1) {
				continue
			}
			_, _, e := syscall.RawSyscall6(unix.SYS_SETNS, a.nsFds[i], a.nsTypes[i], 0, 0, 0, 0)
			if e == unix.EPERM && pass == 0 {
				continue
			}
			if e != 0 {
				rawReport(a.errPipe, repJoin, a.joinIdx[i], uintptr(e))
				rawExit(1)
			}
			joined |= 1 << i
		}
	}
	if a.rootInUserNS {
		// setgroups may be denied in the namespace ("deny" in /proc/pid/setgroups); then
		// the group list is already what it can be.
		syscall.RawSyscall6(unix.SYS_SETGROUPS, 0, 0, 0, 0, 0, 0)
		if _, _, e := syscall.RawSyscall6(unix.SYS_SETRESGID, 0, 0, 0, 0, 0, 0); e != 0 {
			rawReport(a.errPipe, repSetID, 0, uintptr(e))
			rawExit(1)
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_SETRESUID, 0, 0, 0, 0, 0, 0); e != 0 {
			rawReport(a.errPipe, repSetID, 1, uintptr(e))
			rawExit(1)
		}
	}
	// Only what the final process needs stays open, before anything can enter the
	// container's pid namespace: the copy of hull's fd table a fork makes would
	// otherwise show every fd of the caller (cgroup dirs, state dirs, the caller's
	// own leftovers) through /proc/<pid>/fd to a process there with CAP_SYS_PTRACE.
	placeFiles(a)
	if !a.second {
		execSelf(a)
	}
	// Child 2 lands in the new pid namespace; child 1 only exists to make it.
	pid2, e := rawSecond(a)
	if e != 0 {
		rawReport(a.errPipe, repFork, 0, uintptr(e))
		rawExit(1)
	}
	rawReport(a.errPipe, repPid, pid2, 0)
	rawExit(0)
	return 0, 0
}

// rawSecond forks the final child with CLONE_PARENT (so it is hull's child, which waits
// for it) into a.cloneFlags' new namespaces; the child execs a.exeFd. After a vfork the
// parent resumes once the child has exec'd or exited.
//
//go:nosplit
//go:norace
func rawSecond(a *rawArgs) (uintptr, syscall.Errno) {
	var pid uintptr
	var e syscall.Errno
	if a.vfork {
		var en uintptr
		pid, en = rawVfork(unix.SYS_CLONE, unix.CLONE_PARENT|unix.CLONE_VM|unix.CLONE_VFORK|a.cloneFlags|uintptr(unix.SIGCHLD), 0, 0)
		e = syscall.Errno(en)
	} else {
		pid, _, e = syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_PARENT|a.cloneFlags|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	}
	if e != 0 || pid != 0 {
		return pid, e
	}
	execSelf(a)
	return 0, 0
}

// placeFiles moves files[i] to fd i and the extra fds right after them, then closes
// every other fd of this (child's own) table.
//
//go:nosplit
//go:norace
func placeFiles(a *rawArgs) {
	// Every file above all targets first, then down to its place, so that no target
	// overwrites a source still needed.
	for i := uintptr(0); i < a.nFiles && i < maxFiles; i++ {
		nfd, _, e := syscall.RawSyscall6(unix.SYS_FCNTL, a.files[i], unix.F_DUPFD_CLOEXEC, a.high, 0, 0, 0)
		if e != 0 {
			rawReport(a.errPipe, repDup, i, uintptr(e))
			rawExit(1)
		}
		a.files[i] = nfd // a plain integer: no write barrier
	}
	for i := uintptr(0); i < a.nFiles && i < maxFiles; i++ {
		if _, _, e := syscall.RawSyscall6(unix.SYS_DUP3, a.files[i], i, 0, 0, 0, 0); e != 0 {
			rawReport(a.errPipe, repDup, i, uintptr(e))
			rawExit(1)
		}
	}
	// The extras sit at or above high (the parent put them there), above every target.
	for k := uintptr(0); k < a.nExtra && k < 2; k++ {
		to := a.nFiles + k
		if _, _, e := syscall.RawSyscall6(unix.SYS_DUP3, a.extra[k], to, unix.O_CLOEXEC, 0, 0, 0); e != 0 {
			rawReport(a.errPipe, repDup, to, uintptr(e))
			rawExit(1)
		}
		a.extra[k] = to
	}
	a.exeFd, a.errPipe = a.extra[0], a.extra[1]
	first := a.nFiles + a.nExtra
	if e := rawCloseRange(first, ^uintptr(0)>>32, a.maxFd); e != 0 {
		rawReport(a.errPipe, repClose, first, uintptr(e))
		rawExit(1)
	}
}

// execSelf puts every signal back to its default and execs the executable.
//
//go:nosplit
//go:norace
func execSelf(a *rawArgs) {
	if e := rawResetSignals(&a.dflAction, a.oldMask); e != 0 {
		rawReport(a.errPipe, repMaskStep, 0, uintptr(e))
		rawExit(1)
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_EXECVEAT, a.exeFd, uintptr(unsafe.Pointer(a.empty)),
		uintptr(unsafe.Pointer(a.argv)), uintptr(unsafe.Pointer(a.envv)), unix.AT_EMPTY_PATH, 0)
	rawReport(a.errPipe, repExec, 0, uintptr(e))
	rawExit(127)
}

// rawResetSignals puts every signal back to its default and then restores mask. Go's
// handlers are still installed in a forked copy: nothing delivered before execve may
// run Go code.
//
//go:nosplit
//go:norace
func rawResetSignals(dfl *[4]uint64, mask uint64) syscall.Errno {
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) {
			continue
		}
		syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(dfl)), 0, 8, 0, 0)
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&mask)), 0, 8, 0, 0)
	return e
}

// rawCloseRange closes fds from..to, one by one below maxFd where close_range(2) is
// missing (before Linux 5.9).
//
//go:nosplit
//go:norace
func rawCloseRange(from, to, maxFd uintptr) syscall.Errno {
	_, _, e := syscall.RawSyscall6(unix.SYS_CLOSE_RANGE, from, to, 0, 0, 0, 0)
	if e != unix.ENOSYS {
		return e
	}
	for fd := from; fd <= to && fd < maxFd; fd++ {
		syscall.RawSyscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	}
	return 0
}

// fdLimit bounds the fds a raw child closes one by one without close_range(2).
func fdLimit() uintptr {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur > 0 && rl.Cur < 1<<20 {
		return uintptr(rl.Cur)
	}
	return 1024
}

// spawnFork makes Spawn fork with copied page tables even where it could vfork: the
// tests run every case both ways.
var spawnFork = false

// SpawnOpts describes a process started by Spawn.
type SpawnOpts struct {
	// Exe is hull's own executable (or any ELF), opened before joining anything: paths
	// would resolve in the joined mount namespace.
	Exe  *os.File
	Args []string
	Env  []string
	// Files become fds 0, 1, 2, ... of the child, in order.
	Files []*os.File
	// Join is entered in this order; put the user namespace first.
	Join []Join
	// CloneFlags makes new namespaces for the final child (not CLONE_NEWUSER).
	CloneFlags uintptr
	// Cgroup, if set, is an open cgroup2 directory the children are born in (Linux
	// 5.7+), so the caller need not move the final child there afterwards.
	Cgroup *os.File
}

// Spawn starts a process in joined and new namespaces through two raw forks, and returns
// it as a child of the caller (os.Process.Wait works).
func Spawn(o *SpawnOpts) (*os.Process, error) {
	if len(o.Join) > maxJoin || len(o.Files) > maxFiles {
		return nil, errors.New("nsenter: too many namespaces or files")
	}
	if o.CloneFlags&unix.CLONE_NEWUSER != 0 {
		return nil, errors.New("nsenter: a new user namespace cannot be combined with joined namespaces yet")
	}
	a := &rawArgs{cloneFlags: o.CloneFlags, exeFd: o.Exe.Fd(), vfork: haveVfork && !spawnFork}
	for _, j := range o.Join {
		if j.Type == "time" {
			a.vfork = false
		}
	}
	if o.Cgroup != nil {
		a.useCgroup = true
		a.cgroup = cloneArgs{flags: unix.CLONE_INTO_CGROUP, exitSignal: uint64(unix.SIGCHLD), cgroup: uint64(o.Cgroup.Fd())}
		if a.vfork {
			a.cgroup.flags |= unix.CLONE_VM | unix.CLONE_VFORK
		}
	}
	var keep []*os.File
	defer func() {
		for _, f := range keep {
			f.Close()
		}
	}()
	for i, j := range sortUserFirst(o.Join) {
		flag, err := CloneFlag(j.Type)
		if err != nil {
			return nil, err
		}
		if flag == unix.CLONE_NEWPID {
			return nil, fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, ErrPidJoin)
		}
		f, err := os.Open(j.Path)
		if err != nil {
			return nil, fmt.Errorf("join %s namespace: %w", j.Type, err)
		}
		keep = append(keep, f)
		a.nsFds[a.nJoin], a.nsTypes[a.nJoin] = f.Fd(), flag
		a.joinIdx[a.nJoin] = uintptr(i)
		a.nJoin++
		if flag == unix.CLONE_NEWUSER {
			a.rootInUserNS = true
		}
	}
	high := uintptr(len(o.Files))
	for i, f := range o.Files {
		a.files[i] = f.Fd()
		if a.files[i] >= high {
			high = a.files[i] + 1
		}
	}
	a.nFiles = uintptr(len(o.Files))
	// Above every source and every target, the extras' targets included.
	a.high = max(high, a.nFiles+2) + 1
	a.maxFd = fdLimit()
	env := o.Env
	if o.CloneFlags != 0 {
		// A new pid namespace is empty until child 2 execs: nothing can see it.
		a.second = true
	}
	argv, err := syscall.SlicePtrFromStrings(o.Args)
	if err != nil {
		return nil, err
	}
	envv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return nil, err
	}
	a.argv, a.envv = &argv[0], &envv[0]
	var empty [1]byte
	a.empty = &empty[0]

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	rd := os.NewFile(uintptr(p[0]), "nsenter-report")
	defer rd.Close()
	// The shuffle overwrites fds 0..nFiles+1: the executable and the report pipe must
	// sit above every fd it touches, or dup3 would replace them.
	above := func(fd uintptr) (uintptr, error) {
		nfd, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, int(a.high))
		if err != nil {
			return 0, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
		}
		return uintptr(nfd), nil
	}
	wfd, err := above(uintptr(p[1]))
	unix.Close(p[1])
	if err != nil {
		return nil, err
	}
	p[1] = int(wfd)
	a.errPipe = wfd
	efd, err := above(a.exeFd)
	if err != nil {
		unix.Close(p[1])
		return nil, err
	}
	defer unix.Close(int(efd))
	a.exeFd = efd
	a.extra[0], a.extra[1], a.nExtra = efd, wfd, 2

	pid1, err := forkLocked(a)
	unix.Close(p[1])
	if err != nil {
		return nil, err
	}
	var ws unix.WaitStatus
	if !a.second {
		// Child 1 is the final process: its execve closed the report pipe.
		runtime.KeepAlive(o)
		runtime.KeepAlive(argv)
		runtime.KeepAlive(envv)
		runtime.KeepAlive(&empty)
		return spawnResult(rd, o, int(pid1), ws)
	}
	// Child 1 exits once child 2 has exec'd; reap it so it never
	// lingers as a zombie.
	for {
		_, err := unix.Wait4(int(pid1), &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	runtime.KeepAlive(o)
	runtime.KeepAlive(o.Cgroup)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	runtime.KeepAlive(&empty)
	return spawnResult(rd, o, 0, ws)
}

// spawnResult reads every report until EOF, which comes once child 1 has
// exited and the final child has exec'd (its copy of the pipe is close-on-exec) or
// exited. With vfork, the final child's failure is written before the pid report.
// final is the final child when child 1 is it (no report of its pid then).
func spawnResult(rd *os.File, o *SpawnOpts, final int, ws unix.WaitStatus) (*os.Process, error) {
	pid2 := final
	var kind, idx uint32
	var errno syscall.Errno
	var buf [12]byte
	for {
		n, err := readFull(rd, buf[:])
		if n == 0 && err != nil {
			break
		}
		if n != 12 {
			return nil, fmt.Errorf("nsenter: short report (%d bytes)", n)
		}
		k := binary.LittleEndian.Uint32(buf[0:])
		if k == repPid {
			if pid2 == 0 {
				pid2 = int(binary.LittleEndian.Uint32(buf[4:]))
			}
			continue
		}
		if kind == 0 {
			kind, idx = k, binary.LittleEndian.Uint32(buf[4:])
			errno = syscall.Errno(binary.LittleEndian.Uint32(buf[8:]))
		}
	}
	if kind == 0 {
		if pid2 == 0 {
			return nil, fmt.Errorf("nsenter: child exited without reporting (status %v)", ws)
		}
		// The final child held the pipe until its execve: take only a pid that is
		// really a child of ours.
		var si unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid2, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
			return nil, fmt.Errorf("nsenter: reported pid %d is not a child of hull: %w", pid2, err)
		}
		return os.FindProcess(pid2)
	}
	// The final child failed before or at exec: it has exited; reap it.
	if pid2 != 0 {
		_, _ = unix.Wait4(pid2, &ws, 0, nil)
	}
	switch kind {
	case repJoin:
		j := sortUserFirst(o.Join)[idx]
		return nil, fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, os.NewSyscallError("setns", errno))
	case repFork:
		return nil, fmt.Errorf("nsenter: fork into namespaces: %w", os.NewSyscallError("clone", errno))
	case repClose:
		return nil, fmt.Errorf("nsenter: close fds from %d: %w", idx, os.NewSyscallError("close_range", errno))
	case repSetID:
		call := "setresgid"
		if idx == 1 {
			call = "setresuid"
		}
		return nil, fmt.Errorf("nsenter: become root of the joined user namespace (uid/gid 0 must be mapped): %w", os.NewSyscallError(call, errno))
	}
	switch kind {
	case repDup:
		return nil, fmt.Errorf("nsenter: set up fd %d: %w", idx, os.NewSyscallError("dup", errno))
	case repExec:
		err := fmt.Errorf("nsenter: exec %s: %w", o.Exe.Name(), os.NewSyscallError("execveat", errno))
		if errno == unix.ENOENT {
			// The binary exists (it is an open fd): what is missing is its ELF
			// interpreter, looked up in the joined mount namespace.
			err = fmt.Errorf("%w (hull must be a static binary: build it with CGO_ENABLED=0 or -extldflags -static)", err)
		}
		return nil, err
	default:
		return nil, fmt.Errorf("nsenter: child failed (step %d): %w", kind, errno)
	}
}

// forkLocked blocks every signal on a locked thread around the fork, as the syscall
// package does, so the children start with no Go signal handler able to run.
func forkLocked(a *rawArgs) (uintptr, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all := ^uint64(0)
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&a.oldMask)), 8, 0, 0); e != 0 {
		return 0, os.NewSyscallError("rt_sigprocmask", e)
	}
	pid, e := rawFork(a)
	old := a.oldMask
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	if e != 0 {
		if a.useCgroup {
			return 0, fmt.Errorf("fork into cgroup: %w", os.NewSyscallError("clone3", e))
		}
		return 0, os.NewSyscallError("clone", e)
	}
	return pid, nil
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// sortUserFirst returns joins with the user namespace first and the others in their
// order; child 1 joins them in passes (rawFork) and reports failures by this index.
func sortUserFirst(js []Join) []Join {
	out := make([]Join, 0, len(js))
	for _, j := range js {
		if j.Type == "user" {
			out = append(out, j)
		}
	}
	for _, j := range js {
		if j.Type != "user" {
			out = append(out, j)
		}
	}
	return out
}
