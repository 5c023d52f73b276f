package nsenter

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relayEnv marks a process Spawn started as its relay, with "nFiles:cloneFlags:index":
// the executable, the report pipe and the pid namespace to join sit at fds nFiles,
// nFiles+1 and nFiles+2, and index is the pid namespace's place among the joins, for
// the error report.
//
// Why a relay: setns(CLONE_NEWPID) moves only the caller's future children, so some
// process must fork into a joined pid namespace, and that child is visible to every
// process already there from its first instant. Forked from hull as started, it would
// be a copy of hull's host binary until its execve; forked from the relay, which runs
// from the sealed handle outside the namespace, it is a copy of the sealed image, and
// holds only the fds the relay kept. The relay costs one Go start-up, paid only when a
// pid namespace is joined (create with linux.namespaces pid path).
const relayEnv = "_HULL_NSENTER_RELAY"

// IsRelay reports whether this process is Spawn's relay: call Relay then, before
// anything else.
func IsRelay() bool { return os.Getenv(relayEnv) != "" }

// Relay joins the pid namespace, forks the final child into it (from this thread, which
// is the only one in that namespace for children) and reports it as Spawn's child 2.
// It never returns. The caller must have locked the main goroutine to its thread.
func Relay() {
	runtime.LockOSThread()
	spec := os.Getenv(relayEnv)
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		os.Exit(2)
	}
	n, err1 := strconv.Atoi(parts[0])
	flags, err2 := strconv.ParseUint(parts[1], 10, 64)
	idx, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || n < 0 || n > maxFiles {
		os.Exit(2)
	}
	exe, report, pidNS := uintptr(n), uintptr(n+1), uintptr(n+2)
	// The final child must not keep them: the report pipe's close at its execve is
	// what ends Spawn's read, and it has no use for the others.
	unix.CloseOnExec(int(exe))
	unix.CloseOnExec(int(report))
	// Only this thread enters: a thread cloned from it would be refused
	// (EINVAL), and the runtime makes new threads from its template thread
	// whenever the asking thread is locked.
	if _, _, e := syscall.RawSyscall(unix.SYS_SETNS, pidNS, unix.CLONE_NEWPID, 0); e != 0 {
		rawReport(report, repJoin, uintptr(idx), uintptr(e))
		os.Exit(1)
	}
	unix.Close(int(pidNS))
	// Spawn's child 1 exec'd this process through it.
	unix.Close(n + 3)

	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, relayEnv+"=") {
			env = append(env, kv)
		}
	}
	argv, err := syscall.SlicePtrFromStrings(os.Args)
	if err != nil {
		os.Exit(2)
	}
	envv, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		os.Exit(2)
	}
	var empty [1]byte
	a := &rawArgs{
		cloneFlags: uintptr(flags),
		exeFd:      exe,
		errPipe:    report,
		vfork:      haveVfork,
		argv:       &argv[0],
		envv:       &envv[0],
		empty:      &empty[0],
	}
	all := ^uint64(0)
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&a.oldMask)), 8, 0, 0); e != 0 {
		rawReport(report, repMaskStep, 0, uintptr(e))
		os.Exit(1)
	}
	pid, e := rawSecond(a)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	runtime.KeepAlive(&empty)
	if e != 0 {
		rawReport(report, repFork, 0, uintptr(e))
		os.Exit(1)
	}
	rawReport(report, repPid, pid, 0)
	os.Exit(0)
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
