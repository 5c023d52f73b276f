package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Tail is the end of a process's set-up that only the process itself can do, after it
// has been forked into the container's pid namespace: the session, its LSM attributes
// (AppArmor profile, SELinux label), the scheduler, the seccomp filter, the user and
// capabilities, no_new_privs, and execve. ForkTail runs it
// in a child with no Go runtime, from raw syscalls prepared here.
//
// Why: a process in the container's pid namespace is visible to every process there,
// and one with CAP_SYS_PTRACE can open its /proc/<pid>/exe and /proc/<pid>/fd/*. A Go
// helper doing this set-up inside the namespace would show hull (the sealed image, but
// still hull, with whatever it holds) for milliseconds. The caller does all the rest
// outside the namespace, and the child lives there only for these few syscalls, as a
// copy of the caller's sealed image, holding only the fds it keeps.
type Tail struct {
	Path      string // the program, resolved in the container
	Args, Env []string
	Keep      int  // fds 0..Keep-1 are the process's; every other fd is closed first
	Ctty      bool // setsid and make fd 0 the controlling terminal
	// ProcWrites are written, in order, to files below ProcDir (a verified procfs
	// root), right after the session is set: the AppArmor profile and SELinux label
	// of the next execve, in /proc/thread-self/attr. They apply only to the task
	// that writes them and take effect at its next execve, so the child must write
	// them itself: the caller's own attr/exec would label only the caller's execve
	// (which never comes), and what fork copies of it is the LSM's business, not a
	// promise. The open (openat2) stays beneath ProcDir and crosses no mount, so a
	// file mounted over the attr file by the container cannot take the write.
	ProcDir    *os.File
	ProcWrites []ProcWrite
	UID, GID   uint32
	Groups     []uint32
	SetGroups  bool
	Caps       [2]unix.CapUserData
	Ambient    []uintptr
	ClearAmb   bool
	NoNewPrivs bool
	// Seccomp is loaded with SeccompFlags: before the user switch if SeccompFirst
	// (without no_new_privs the load needs CAP_SYS_ADMIN), else as the last step
	// before execve. With SECCOMP_FILTER_FLAG_NEW_LISTENER the listener is sent over
	// NotifySock (SCM_RIGHTS), the only syscall between the load and the user switch
	// or execve.
	Seccomp      []unix.SockFilter
	SeccompFlags uintptr
	SeccompFirst bool
	NotifySock   *os.File
	// Sched, if set, is applied with sched_setattr before the seccomp filter and the
	// user switch (raising a priority needs CAP_SYS_NICE): set on the caller's thread
	// it would not reach the child, as fork refuses SCHED_DEADLINE and
	// SCHED_FLAG_RESET_ON_FORK resets it.
	Sched *unix.SchedAttr
	// Wait is for a created container's process: it blocks opening the exec fifo
	// for writing (FifoRel under FifoDir, the container's procfs root) until `hull
	// start` reads it, writes StartOK, and reports any later failure through the
	// fifo (StartFailed and the step). It waits as the process: after the user,
	// capabilities and no_new_privs (and a filter loaded first), before a filter
	// loaded last and execve. ForkTail returns once it waits, and forks with copied
	// page tables: the caller goes on meanwhile.
	Wait    bool
	FifoDir *os.File
	FifoRel string
	// ExecFd, if set, is executed (execveat) instead of Path; NoCreds leaves the
	// user, groups and capabilities as they are; KeepFds stay open across the exec
	// (the caller clears their close-on-exec flag). Together: a process that goes on
	// as another stage of hull inside the namespace, not the user's program.
	ExecFd  *os.File
	NoCreds bool
	KeepFds []*os.File
}

// ProcWrite is one write of a Tail: Data to Rel below Tail.ProcDir; What names
// it in errors (the config field).
type ProcWrite struct {
	Rel, Data, What string
}

// maxProcWrites is how many ProcWrites a Tail takes: a profile and a label.
const maxProcWrites = 2

// What the process writes to the exec fifo (initproc.StartOK, StartFailed).
const (
	startOK     = 0
	startFailed = 1
)

// Steps of the tail, reported with the errno of the one that failed.
const (
	tailClose = iota + 1
	tailMask
	tailSetsid
	tailCtty
	tailProcWrite
	tailSched
	tailSeccomp
	tailNotify
	tailKeepCaps
	tailGroups
	tailGID
	tailUID
	tailCapset
	tailAmbient
	tailNNP
	tailExec
)

const noFd = ^uintptr(0)

type tailArgs struct {
	keep, rep, notify, maxFd uintptr
	// keeps are the fds above keep that stay open until execve (close-on-exec),
	// ascending, noFd-padded.
	keeps [6]uintptr
	// execFd: execveat it instead of path; noCreds: skip the user and caps steps.
	execFd  uintptr
	noCreds bool
	// wait: see Tail.Wait. w is the fifo's write end once open (in the child).
	wait    bool
	fifoDir uintptr
	fifoRel *byte
	w       uintptr
	// names[step] is the step's text for a failure reported through the fifo;
	// msg is where the child builds that report.
	names                 [tailExec + 1][120]byte
	nlen                  [tailExec + 1]uintptr
	fmsg                  [160]byte
	ctty                  bool
	procDir               uintptr
	nWrites               uintptr
	writes                [maxProcWrites]tailWrite
	openHow               unix.OpenHow
	statfs                unix.Statfs_t
	sched                 bool
	schedAttr             unix.SchedAttr
	seccomp, seccompFirst bool
	seccompFlags          uintptr
	fprog                 unix.SockFprog
	msg                   unix.Msghdr
	iov                   unix.Iovec
	byte1                 [1]byte
	cmsg                  [24]byte // CmsgSpace(4) on 64-bit
	cmsgLen               uintptr
	setGroups             bool
	groups                *uint32
	nGroups               uintptr
	uid, gid              uintptr
	capHdr                unix.CapUserHeader
	capData               [2]unix.CapUserData
	ambient               *uintptr
	nAmb                  uintptr
	clearAmb              bool
	nnp                   bool
	path                  *byte
	argv, envv            **byte
	dflAction             [4]uint64
	oldMask               uint64
}

type tailWrite struct {
	rel, data *byte
	n         uintptr
}

//go:nosplit
//go:norace
func tailFail(a *tailArgs, step, idx uintptr, e syscall.Errno) {
	if a.w == noFd {
		if a.rep != noFd {
			rawReport(a.rep, step, idx, uintptr(e))
		}
		rawExit(1)
	}
	// After start opened the fifo: StartFailed, the step, ": errno N".
	n := uintptr(0)
	a.fmsg[n] = startFailed
	n++
	if step <= tailExec {
		for i := uintptr(0); i < a.nlen[step] && n < 120; i++ {
			a.fmsg[n] = a.names[step][i]
			n++
		}
	}
	const sep = ": errno "
	for i := 0; i < len(sep); i++ {
		a.fmsg[n] = sep[i]
		n++
	}
	var d [8]byte
	k := 0
	v := uintptr(e)
	for {
		d[k] = byte('0' + v%10)
		k++
		v /= 10
		if v == 0 || k == len(d) {
			break
		}
	}
	for k > 0 {
		k--
		a.fmsg[n] = d[k]
		n++
	}
	syscall.RawSyscall6(unix.SYS_WRITE, a.w, uintptr(unsafe.Pointer(&a.fmsg[0])), n, 0, 0, 0)
	rawExit(1)
}

//go:nosplit
//go:norace
func tailCloseRange(a *tailArgs, from, to uintptr) {
	if from > to {
		return
	}
	if e := rawCloseRange(from, to, a.maxFd); e != 0 {
		tailFail(a, tailClose, from, e)
	}
}

//go:nosplit
//go:norace
func tailLoadSeccomp(a *tailArgs) {
	r, _, e := syscall.RawSyscall6(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, a.seccompFlags, uintptr(unsafe.Pointer(&a.fprog)), 0, 0, 0)
	if e != 0 {
		tailFail(a, tailSeccomp, 0, e)
	}
	if a.seccompFlags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
		return
	}
	// The cmsg header was prepared by the parent; only the fd goes in here.
	off := a.cmsgLen - 4
	a.cmsg[off], a.cmsg[off+1], a.cmsg[off+2], a.cmsg[off+3] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24)
	if _, _, e := syscall.RawSyscall6(unix.SYS_SENDMSG, a.notify, uintptr(unsafe.Pointer(&a.msg)), 0, 0, 0, 0); e != 0 {
		tailFail(a, tailNotify, 0, e)
	}
	syscall.RawSyscall6(unix.SYS_CLOSE, r, 0, 0, 0, 0, 0)
}

// tailProcWrites writes a.writes below a.procDir: openat2 beneath it without
// crossing a mount; on kernels without openat2 (before 5.6), openat without
// following a last symlink and a check that the file is on procfs (what runc did
// until it had openat2), a weaker guard against a mount over the file.
//
//go:nosplit
//go:norace
func tailProcWrites(a *tailArgs) {
	for i := uintptr(0); i < a.nWrites; i++ {
		w := &a.writes[i]
		var fd uintptr
		var e syscall.Errno
		for {
			fd, _, e = syscall.RawSyscall6(unix.SYS_OPENAT2, a.procDir, uintptr(unsafe.Pointer(w.rel)), uintptr(unsafe.Pointer(&a.openHow)), unix.SizeofOpenHow, 0, 0)
			if e != unix.EAGAIN && e != unix.EINTR {
				break
			}
		}
		if e == unix.ENOSYS {
			fd, _, e = syscall.RawSyscall6(unix.SYS_OPENAT, a.procDir, uintptr(unsafe.Pointer(w.rel)), unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NOFOLLOW, 0, 0, 0)
			if e == 0 {
				if _, _, e = syscall.RawSyscall6(unix.SYS_FSTATFS, fd, uintptr(unsafe.Pointer(&a.statfs)), 0, 0, 0, 0); e == 0 && a.statfs.Type != unix.PROC_SUPER_MAGIC {
					e = unix.EXDEV
				}
			}
		}
		if e != 0 {
			tailFail(a, tailProcWrite, i, e)
		}
		n, _, e := syscall.RawSyscall6(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(w.data)), w.n, 0, 0, 0)
		if e == 0 && n != w.n {
			e = unix.EIO
		}
		if e != 0 {
			tailFail(a, tailProcWrite, i, e)
		}
		syscall.RawSyscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	}
	if a.procDir != a.fifoDir || !a.wait {
		syscall.RawSyscall6(unix.SYS_CLOSE, a.procDir, 0, 0, 0, 0, 0)
	}
}

//go:nosplit
//go:norace
func tailChild(a *tailArgs) {
	// First, before anything else: only the process's fds and the ones kept stay.
	next := a.keep
	for i := 0; i < len(a.keeps); i++ {
		k := a.keeps[i]
		if k == noFd {
			break
		}
		if k < next {
			continue
		}
		tailCloseRange(a, next, k-1)
		next = k + 1
	}
	tailCloseRange(a, next, ^uintptr(0)>>32)
	if e := rawResetSignals(&a.dflAction, a.oldMask); e != 0 {
		tailFail(a, tailMask, 0, e)
	}
	if a.ctty {
		if _, _, e := syscall.RawSyscall6(unix.SYS_SETSID, 0, 0, 0, 0, 0, 0); e != 0 {
			tailFail(a, tailSetsid, 0, e)
		}
		// 0: never steal a terminal that is some other session's.
		if _, _, e := syscall.RawSyscall6(unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 0, 0, 0, 0); e != 0 {
			tailFail(a, tailCtty, 0, e)
		}
	}
	// Before the wait: a profile or label the kernel refuses fails create, not start.
	if a.procDir != noFd {
		tailProcWrites(a)
	}
	if a.sched {
		if _, _, e := syscall.RawSyscall6(unix.SYS_SCHED_SETATTR, 0, uintptr(unsafe.Pointer(&a.schedAttr)), 0, 0, 0, 0); e != 0 {
			tailFail(a, tailSched, 0, e)
		}
	}
	if a.seccomp && a.seccompFirst {
		tailLoadSeccomp(a)
	}
	if a.noCreds {
		if a.wait {
			tailWait(a)
		}
		tailExecFd(a)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0, 0); e != 0 {
		tailFail(a, tailKeepCaps, 0, e)
	}
	if a.setGroups {
		if _, _, e := syscall.RawSyscall6(unix.SYS_SETGROUPS, a.nGroups, uintptr(unsafe.Pointer(a.groups)), 0, 0, 0, 0); e != 0 {
			tailFail(a, tailGroups, 0, e)
		}
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_SETRESGID, a.gid, a.gid, a.gid, 0, 0, 0); e != 0 {
		tailFail(a, tailGID, 0, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_SETRESUID, a.uid, a.uid, a.uid, 0, 0, 0); e != 0 {
		tailFail(a, tailUID, 0, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0, 0, 0, 0); e != 0 {
		tailFail(a, tailKeepCaps, 1, e)
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&a.capHdr)), uintptr(unsafe.Pointer(&a.capData[0])), 0, 0, 0, 0); e != 0 {
		tailFail(a, tailCapset, 0, e)
	}
	if a.clearAmb {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
			tailFail(a, tailAmbient, 64, e)
		}
	}
	for i := uintptr(0); i < a.nAmb; i++ {
		c := *(*uintptr)(unsafe.Pointer(uintptr(unsafe.Pointer(a.ambient)) + i*unsafe.Sizeof(uintptr(0))))
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0, 0); e != 0 {
			tailFail(a, tailAmbient, c, e)
		}
	}
	if a.nnp {
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
			tailFail(a, tailNNP, 0, e)
		}
	}
	// Only now, as the process's user with its capabilities: the wait lasts until
	// `hull start`, in a pid namespace the container shares with others, and a
	// process there with CAP_SYS_PTRACE attaches to whatever it sees and runs code
	// as it (tests/security_pidns_wait_test.go). runc's init waits so too.
	if a.wait {
		tailWait(a)
	}
	if a.seccomp && !a.seccompFirst {
		tailLoadSeccomp(a)
	}
	if a.execFd != noFd {
		tailExecFd(a)
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_EXECVE, uintptr(unsafe.Pointer(a.path)), uintptr(unsafe.Pointer(a.argv)), uintptr(unsafe.Pointer(a.envv)), 0, 0, 0)
	tailFail(a, tailExec, 0, e)
}

// tailWait blocks opening the exec fifo for writing until `hull start` reads it,
// and tells start that set-up is over. The caller reads its report pipe to its
// end: it learns that this process waits, and any later failure goes to start
// through the fifo. The fifo is reached through this process's own fd in the
// container's procfs, which procfs lets a process open whatever its user.
//
//go:nosplit
//go:norace
func tailWait(a *tailArgs) {
	syscall.RawSyscall6(unix.SYS_CLOSE, a.rep, 0, 0, 0, 0, 0)
	a.rep = noFd
	var w uintptr
	var e syscall.Errno
	for {
		w, _, e = syscall.RawSyscall6(unix.SYS_OPENAT, a.fifoDir, uintptr(unsafe.Pointer(a.fifoRel)), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0)
		if e != unix.EINTR {
			break
		}
	}
	if e != 0 {
		rawExit(1)
	}
	syscall.RawSyscall6(unix.SYS_CLOSE, a.fifoDir, 0, 0, 0, 0, 0)
	a.w = w
	ok := [1]byte{startOK}
	if _, _, e := syscall.RawSyscall6(unix.SYS_WRITE, w, uintptr(unsafe.Pointer(&ok[0])), 1, 0, 0, 0); e != 0 {
		rawExit(1)
	}
}

//go:nosplit
//go:norace
func tailExecFd(a *tailArgs) {
	var empty [1]byte
	_, _, e := syscall.RawSyscall6(unix.SYS_EXECVEAT, a.execFd, uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(a.argv)), uintptr(unsafe.Pointer(a.envv)), unix.AT_EMPTY_PATH, 0)
	tailFail(a, tailExec, 0, e)
}

//go:nosplit
//go:norace
func tailFork(a *tailArgs) (uintptr, syscall.Errno) {
	// Never CLONE_VM: see ForkTail.
	pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_PARENT|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 || pid != 0 {
		return pid, e
	}
	tailChild(a)
	return 0, 0
}

// ForkTail forks a child of the caller's parent (CLONE_PARENT: the process that
// started the caller waits for it) that runs t and execs t.Path, and returns its pid
// once it has exec'd. The caller must be on a locked OS thread that has joined the pid
// namespace (setns applies to its children); the child inherits that thread's
// credentials, namespaces, cwd and root.
func ForkTail(t *Tail) (int, error) {
	if len(t.Args) == 0 {
		return 0, errors.New("process.args: empty")
	}
	a := &tailArgs{keep: uintptr(t.Keep), notify: noFd, ctty: t.Ctty, uid: uintptr(t.UID), gid: uintptr(t.GID),
		setGroups: t.SetGroups, capData: t.Caps, clearAmb: t.ClearAmb, nnp: t.NoNewPrivs}
	// Never vfork (CLONE_VM) here: the child is in the container's pid namespace,
	// where a process with CAP_SYS_PTRACE (in the user namespace that owns it: the
	// host's, for a container without one) opens its /proc/<pid>/mem for writing,
	// non-dumpable or not. A vfork child's memory is the caller's, a hull process
	// outside the namespace with its privileges and its other threads, and the
	// container would keep that memory (the open fd pins it) after the child's
	// execve. A copy of the page tables costs a little more; what the container can
	// reach is then the child's own copy, gone at its execve
	// (tests/security_tailmem_test.go).
	a.capHdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	a.w = noFd
	a.execFd = noFd
	a.procDir = noFd
	a.noCreds = t.NoCreds
	for i := range a.keeps {
		a.keeps[i] = noFd
	}
	var keeps []uintptr
	if t.ExecFd != nil {
		a.execFd = t.ExecFd.Fd()
		keeps = append(keeps, a.execFd)
	}
	for _, f := range t.KeepFds {
		keeps = append(keeps, f.Fd())
	}
	if t.Wait {
		if t.FifoDir == nil {
			return 0, errors.New("nsenter: Wait needs the container's procfs")
		}
		rel, err := syscall.BytePtrFromString(t.FifoRel)
		if err != nil {
			return 0, err
		}
		a.wait, a.fifoDir, a.fifoRel = true, t.FifoDir.Fd(), rel
		keeps = append(keeps, a.fifoDir)
		// The fifo's own fd is named in FifoRel: kept too.
		var n int
		if _, err := fmt.Sscanf(t.FifoRel, "thread-self/fd/%d", &n); err == nil {
			keeps = append(keeps, uintptr(n))
		}
		for step := uint32(1); step <= tailExec; step++ {
			a.nlen[step] = uintptr(copy(a.names[step][:], tailStepName(step, 0, t)))
		}
	}
	if len(t.ProcWrites) > 0 {
		if t.ProcDir == nil {
			return 0, errors.New("nsenter: ProcWrites need a procfs root")
		}
		if len(t.ProcWrites) > maxProcWrites {
			return 0, errors.New("nsenter: too many ProcWrites")
		}
		a.procDir = t.ProcDir.Fd()
		a.nWrites = uintptr(len(t.ProcWrites))
		a.openHow = unix.OpenHow{
			Flags:   unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NOCTTY,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
		}
		for i, w := range t.ProcWrites {
			rel, err := syscall.BytePtrFromString(w.Rel)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", w.What, err)
			}
			data := []byte(w.Data)
			if len(data) == 0 {
				data = []byte{0}
			}
			a.writes[i] = tailWrite{rel: rel, data: &data[0], n: uintptr(len(w.Data))}
		}
		if !slices.Contains(keeps, a.procDir) {
			keeps = append(keeps, a.procDir)
		}
	}
	a.maxFd = fdLimit()
	if t.Sched != nil {
		a.sched, a.schedAttr = true, *t.Sched
		a.schedAttr.Size = unix.SizeofSchedAttr
	}
	if len(t.Groups) > 0 {
		a.groups, a.nGroups = &t.Groups[0], uintptr(len(t.Groups))
	}
	if len(t.Ambient) > 0 {
		a.ambient, a.nAmb = &t.Ambient[0], uintptr(len(t.Ambient))
	}
	if len(t.Seccomp) > 0 {
		a.seccomp, a.seccompFirst, a.seccompFlags = true, t.SeccompFirst, t.SeccompFlags
		a.fprog = unix.SockFprog{Len: uint16(len(t.Seccomp)), Filter: &t.Seccomp[0]}
		if t.SeccompFlags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
			if t.NotifySock == nil {
				return 0, errors.New("seccomp: a notify filter needs a socket for its listener")
			}
			a.notify = t.NotifySock.Fd()
			a.byte1[0] = 'S'
			a.iov.Base, a.iov.Len = &a.byte1[0], 1
			a.msg.Iov, a.msg.Iovlen = &a.iov, 1
			h := (*unix.Cmsghdr)(unsafe.Pointer(&a.cmsg[0]))
			h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_RIGHTS
			h.SetLen(unix.CmsgLen(4))
			a.cmsgLen = uintptr(unix.CmsgLen(4))
			a.msg.Control = &a.cmsg[0]
			a.msg.SetControllen(unix.CmsgSpace(4))
		}
	}
	path, err := syscall.BytePtrFromString(t.Path)
	if err != nil {
		return 0, err
	}
	argv, err := syscall.SlicePtrFromStrings(t.Args)
	if err != nil {
		return 0, err
	}
	envv, err := syscall.SlicePtrFromStrings(t.Env)
	if err != nil {
		return 0, err
	}
	a.path, a.argv, a.envv = path, &argv[0], &envv[0]

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, os.NewSyscallError("pipe2", err)
	}
	rd := os.NewFile(uintptr(p[0]), "tail-report")
	defer rd.Close()
	a.rep = uintptr(p[1])
	keeps = append(keeps, a.rep)
	if a.notify != noFd {
		keeps = append(keeps, a.notify)
	}
	if len(keeps) > len(a.keeps) {
		return 0, errors.New("nsenter: too many fds to keep")
	}
	slices.Sort(keeps)
	copy(a.keeps[:], keeps)

	pid, e := tailForkLocked(a)
	unix.Close(p[1])
	runtime.KeepAlive(t)
	runtime.KeepAlive(path)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	runtime.KeepAlive(a)
	if e != 0 {
		return 0, fmt.Errorf("fork into the container: %w", os.NewSyscallError("clone", e))
	}
	var buf [12]byte
	n, _ := readFull(rd, buf[:])
	if n == 0 {
		return int(pid), nil
	}
	// The child has exited; as our parent's child it is reaped there.
	step := binary.LittleEndian.Uint32(buf[0:])
	idx := binary.LittleEndian.Uint32(buf[4:])
	errno := syscall.Errno(binary.LittleEndian.Uint32(buf[8:]))
	return 0, &TailError{Pid: int(pid), Step: tailStepName(step, idx, t), Errno: errno}
}

// TailError is a failed step of a Tail; the child (Pid) has exited and must be reaped
// by its parent.
type TailError struct {
	Pid   int
	Step  string
	Errno syscall.Errno
}

func (e *TailError) Error() string { return e.Step + ": " + e.Errno.Error() }
func (e *TailError) Unwrap() error { return e.Errno }

func tailStepName(step, idx uint32, t *Tail) string {
	switch step {
	case tailClose:
		return fmt.Sprintf("close fds from %d", idx)
	case tailMask:
		return "restore the signal mask"
	case tailSetsid:
		return "process.terminal: setsid"
	case tailCtty:
		return "process.terminal: set the controlling terminal"
	case tailProcWrite:
		if int(idx) < len(t.ProcWrites) {
			w := t.ProcWrites[idx]
			return w.What + ": write " + w.Rel
		}
		return "write an attribute under /proc"
	case tailSched:
		return "process.scheduler: sched_setattr"
	case tailSeccomp:
		return "linux.seccomp: load the filter (seccomp)"
	case tailNotify:
		return "linux.seccomp: send the notify listener (sendmsg; the profile must allow it)"
	case tailKeepCaps:
		return "process.user: prctl PR_SET_KEEPCAPS"
	case tailGroups:
		return fmt.Sprintf("process.user.additionalGids (%d groups): setgroups", len(t.Groups))
	case tailGID:
		return fmt.Sprintf("process.user.gid %d: setresgid", t.GID)
	case tailUID:
		return fmt.Sprintf("process.user.uid %d: setresuid", t.UID)
	case tailCapset:
		return "process.capabilities: capset"
	case tailAmbient:
		return fmt.Sprintf("process.capabilities.ambient: raise %d", idx)
	case tailNNP:
		return "process.noNewPrivileges: prctl"
	case tailExec:
		if t.ExecFd != nil {
			return "exec " + t.ExecFd.Name()
		}
		return "exec " + t.Path
	}
	return fmt.Sprintf("step %d", step)
}

// tailForkLocked forks with every signal blocked, as forkLocked does; the caller's
// thread is locked already.
func tailForkLocked(a *tailArgs) (uintptr, syscall.Errno) {
	all := ^uint64(0)
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&a.oldMask)), 8, 0, 0); e != 0 {
		return 0, e
	}
	pid, e := tailFork(a)
	old := a.oldMask
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	return pid, e
}
