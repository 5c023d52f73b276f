// Command pidwatch is the attacker of TestSecurityPidnsExposure: a process in
// a container, with CAP_SYS_PTRACE, that watches its pid namespace and looks
// into every process that appears in it through /proc/<pid>/exe, fd/*, cwd
// and root. A runtime process that shows up in the container's pid namespace
// while it still runs the host's binary or holds host files is reachable
// there for as long as it lives, which may be microseconds: the loop is kept
// tight (raw system calls on one reused /proc handle, nothing printed or
// looked up that an attacker would not need) and everything is printed only
// at the end.
//
// It is built statically by tests/security_pidns_test.go and copied into the
// container's rootfs (busybox has no compiler).
//
// Usage: pidwatch -hostexe DEV:INO [-stop PATH] [-max DURATION]
//
// Output, after "READY" once the first pass over /proc is done: one line per
// distinct observation,
//
//	REC <tab> pid <tab> what <tab> kind <tab> dev:ino <tab> "target" <tab> "cmdline" <tab> fs
//
// where what is exe, cwd, root or fd/N. kind is, for exe, "host" (the
// -hostexe file) or "other"; for a descriptor "pipe", "socket", "anon",
// "dir", or in-TYPE / out-TYPE for anything else, "in" meaning the target
// path names the same file inside the container (the same device, for a
// device node; the watcher's own namespace of that type, for a namespace
// handle: in-ns or out-ns); for cwd and root "in" or "out"; "err:ERRNO" when
// it could not be opened. fs is the filesystem of a descriptor's file. Then
// name=value counters and "DONE".
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type devIno struct{ dev, ino uint64 }

func (d devIno) String() string { return fmt.Sprintf("%d:%d", d.dev, d.ino) }

type rec struct {
	pid                    int
	what, kind, target, fs string
	id                     devIno
	cmdline                string
}

// proc is what the watcher keeps of a pid it has seen.
type proc struct {
	first, last time.Time
	fdOpened    bool
	exeOpened   bool
	hostExe     bool
}

type watcher struct {
	hostExe  devIno
	self     int
	procs    map[int]*proc
	recs     map[string]*rec
	order    []string
	buf      []byte // getdents buffer
	linkBuf  []byte // readlink buffer
	pathBuf  []byte
	newRecs  []*rec // found by the current inspection, still without a cmdline
	inspects int
}

func main() {
	hostExe := flag.String("hostexe", "", "dev:ino of the host's runtime binary")
	stop := flag.String("stop", "", "stop once this path exists")
	max := flag.Duration("max", 30*time.Second, "stop after this long in any case")
	flag.Parse()
	// One core: the tests run on small machines next to the runtime they watch.
	runtime.GOMAXPROCS(1)

	w := &watcher{
		self:    os.Getpid(),
		procs:   map[int]*proc{},
		recs:    map[string]*rec{},
		buf:     make([]byte, 64<<10),
		linkBuf: make([]byte, 4096),
		pathBuf: make([]byte, 0, 64),
	}
	if d, i, ok := strings.Cut(*hostExe, ":"); ok {
		w.hostExe.dev, _ = strconv.ParseUint(d, 10, 64)
		w.hostExe.ino, _ = strconv.ParseUint(i, 10, 64)
	}
	if w.hostExe.ino == 0 {
		fmt.Fprintln(os.Stderr, "pidwatch: -hostexe DEV:INO is required")
		os.Exit(2)
	}

	procFd, err := syscall.Open("/proc", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pidwatch: open /proc:", err)
		os.Exit(1)
	}
	selfTest(w)

	start := time.Now()
	var loops, pidsListed int
	lastStopCheck := start
	ready := false
	for {
		loops++
		now := time.Now()
		pids := w.listPids(procFd)
		pidsListed += len(pids)
		for _, pid := range pids {
			p := w.procs[pid]
			switch {
			case pid == w.self:
				continue
			case p == nil:
				// New: look before anything else, the window may be tiny.
				p = &proc{first: now}
				w.procs[pid] = p
				w.inspect(pid, p, now)
			case now.Sub(p.first) < 20*time.Millisecond:
				// Young: a runtime helper changes within milliseconds
				// (execveat, then the real process), follow it closely.
				w.inspect(pid, p, now)
			case now.Sub(p.last) > 10*time.Millisecond:
				// A long-lived process may take up a host descriptor late
				// (an init waiting for start): look again now and then.
				w.inspect(pid, p, now)
			}
		}
		if !ready {
			ready = true
			os.Stdout.WriteString("READY\n")
		}
		if loops%64 == 0 {
			// As pid 1 the watcher inherits orphans (a created container's
			// init that joined this pid namespace): reap them.
			var ws syscall.WaitStatus
			for {
				if pid, _ := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 {
					break
				}
			}
		}
		if now.Sub(lastStopCheck) > time.Millisecond {
			lastStopCheck = now
			if now.Sub(start) > *max {
				break
			}
			if *stop != "" {
				var st syscall.Stat_t
				if syscall.Stat(*stop, &st) == nil {
					break
				}
			}
		}
	}
	w.report(loops, pidsListed, time.Since(start))
}

// selfTest checks on its own process that the watcher recognises a directory
// descriptor (its handle on /proc) and prints its own exe's dev:ino, which the
// test compares with the host's stat of this binary: proof that a host-side
// dev:ino matches what fstat gives in here.
func selfTest(w *watcher) {
	saved := w.recs
	w.recs = map[string]*rec{}
	p := &proc{first: time.Now()}
	w.inspect(w.self, p, p.first)
	dir, exe := false, ""
	for _, r := range w.recs {
		if strings.HasPrefix(r.what, "fd/") && r.kind == "dir" {
			dir = true
		}
		if r.what == "exe" {
			exe = r.id.String()
		}
	}
	w.recs, w.order, w.newRecs, w.inspects = saved, nil, nil, 0
	fmt.Printf("selfdir=%v\nselfexe=%s\n", dir, exe)
}

// listPids reads /proc through one descriptor, rewound each time: cheaper
// than opening the directory in every pass.
func (w *watcher) listPids(fd int) []int {
	if _, err := syscall.Seek(fd, 0, 0); err != nil {
		return nil
	}
	var pids []int
	for {
		n, err := syscall.Getdents(fd, w.buf)
		if err != nil || n <= 0 {
			return pids
		}
		for off := 0; off < n; {
			reclen := int(*(*uint16)(unsafe.Pointer(&w.buf[off+16])))
			name := w.buf[off+19 : off+reclen]
			if name[0] >= '1' && name[0] <= '9' {
				pid := 0
				for _, c := range name {
					if c == 0 {
						break
					}
					if c < '0' || c > '9' {
						pid = -1
						break
					}
					pid = pid*10 + int(c-'0')
				}
				if pid > 0 {
					pids = append(pids, pid)
				}
			}
			off += reclen
		}
	}
}

func (w *watcher) path(pid int, rest string) string {
	b := append(w.pathBuf[:0], "/proc/"...)
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, rest...)
	return string(b)
}

func (w *watcher) readlink(path string) (string, error) {
	n, err := syscall.Readlink(path, w.linkBuf)
	if err != nil {
		return "", err
	}
	return string(w.linkBuf[:n]), nil
}

// inspect opens the exe first (the host binary is there only until the
// process execs), then every descriptor, then cwd and root.
func (w *watcher) inspect(pid int, p *proc, now time.Time) {
	w.inspects++
	p.last = now
	w.newRecs = w.newRecs[:0]

	exePath := w.path(pid, "/exe")
	if fd, err := syscall.Open(exePath, syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err == nil {
		var st syscall.Stat_t
		ferr := syscall.Fstat(fd, &st)
		syscall.Close(fd)
		if ferr == nil {
			p.exeOpened = true
			id := devIno{st.Dev, st.Ino}
			kind := "other"
			if id == w.hostExe {
				kind = "host"
				p.hostExe = true
			}
			target, _ := w.readlink(exePath)
			w.add(pid, "exe", kind, id, target)
		}
	} else if err != syscall.ENOENT && err != syscall.ESRCH {
		w.add(pid, "exe", "err:"+errName(err), devIno{}, "")
	}

	fdDir := w.path(pid, "/fd")
	if dfd, err := syscall.Open(fdDir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0); err == nil {
		p.fdOpened = true
		var fds []int
		for {
			n, err := syscall.Getdents(dfd, w.buf)
			if err != nil || n <= 0 {
				break
			}
			for off := 0; off < n; {
				reclen := int(*(*uint16)(unsafe.Pointer(&w.buf[off+16])))
				name := w.buf[off+19 : off+reclen]
				if i := bytes.IndexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				if v, err := strconv.Atoi(string(name)); err == nil {
					fds = append(fds, v)
				}
				off += reclen
			}
		}
		syscall.Close(dfd)
		for _, n := range fds {
			w.inspectFd(pid, n)
		}
	} else if err != syscall.ENOENT && err != syscall.ESRCH {
		w.add(pid, "fd", "err:"+errName(err), devIno{}, "")
	}

	for _, what := range []string{"cwd", "root"} {
		w.inspectDir(pid, what)
	}

	if len(w.newRecs) > 0 {
		// Only now, off the hot path: what the process is, for the log.
		cmd, _ := os.ReadFile(w.path(pid, "/cmdline"))
		c := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
		for _, r := range w.newRecs {
			r.cmdline = c
		}
	}
}

func (w *watcher) inspectFd(pid, n int) {
	what := "fd/" + strconv.Itoa(n)
	link := w.path(pid, "/fd/"+strconv.Itoa(n))
	target, err := w.readlink(link)
	if err != nil {
		if err != syscall.ENOENT && err != syscall.ESRCH {
			w.add(pid, what, "err:"+errName(err), devIno{}, "")
		}
		return
	}
	switch {
	case strings.HasPrefix(target, "pipe:"):
		w.add(pid, what, "pipe", devIno{}, target)
		return
	case strings.HasPrefix(target, "socket:"):
		w.add(pid, what, "socket", devIno{}, target)
		return
	case strings.HasPrefix(target, "anon_inode:"):
		w.add(pid, what, "anon", devIno{}, target)
		return
	}
	// O_PATH is all an attacker needs to reach a directory: openat and
	// /proc/self/fd/N resolve from it.
	fd, err := syscall.Open(link, unix.O_PATH|syscall.O_CLOEXEC, 0)
	if err != nil {
		if err != syscall.ENOENT && err != syscall.ESRCH {
			w.add(pid, what, "err:"+errName(err), devIno{}, target)
		}
		return
	}
	var st syscall.Stat_t
	var sfs syscall.Statfs_t
	ferr := syscall.Fstat(fd, &st)
	if syscall.Fstatfs(fd, &sfs) != nil {
		sfs.Type = 0
	}
	syscall.Close(fd)
	if ferr != nil {
		return
	}
	id := devIno{st.Dev, st.Ino}
	kind := "dir"
	switch {
	case st.Mode&syscall.S_IFMT == syscall.S_IFDIR:
	case sfs.Type == unix.NSFS_MAGIC:
		// A namespace handle: harmless if it is this container's own.
		kind = "out-ns"
		if sameNamespace(target, &st) {
			kind = "in-ns"
		}
	case sameInside(target, &st):
		kind = "in-" + fileType(st.Mode)
	default:
		kind = "out-" + fileType(st.Mode)
	}
	// Which filesystem tells the host's procfs or a cgroup directory from
	// a path that merely reads "/".
	if r := w.add(pid, what, kind, id, target); r != nil {
		r.fs = fsName(int64(sfs.Type))
	}
}

func fsName(magic int64) string {
	switch magic {
	case 0:
		return ""
	case unix.PROC_SUPER_MAGIC:
		return "proc"
	case unix.CGROUP2_SUPER_MAGIC:
		return "cgroup2"
	case unix.CGROUP_SUPER_MAGIC:
		return "cgroup"
	case unix.SYSFS_MAGIC:
		return "sysfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.NSFS_MAGIC:
		return "nsfs"
	case unix.DEVPTS_SUPER_MAGIC:
		return "devpts"
	}
	return fmt.Sprintf("0x%x", magic)
}

func (w *watcher) inspectDir(pid int, what string) {
	link := w.path(pid, "/"+what)
	fd, err := syscall.Open(link, unix.O_PATH|syscall.O_CLOEXEC, 0)
	if err != nil {
		if err != syscall.ENOENT && err != syscall.ESRCH {
			w.add(pid, what, "err:"+errName(err), devIno{}, "")
		}
		return
	}
	var st syscall.Stat_t
	ferr := syscall.Fstat(fd, &st)
	syscall.Close(fd)
	if ferr != nil {
		return
	}
	target, err := w.readlink(link)
	if err != nil {
		// Gone in between: nothing to compare the handle with.
		return
	}
	id := devIno{st.Dev, st.Ino}
	kind := "out"
	if sameInside(target, &st) {
		kind = "in"
	}
	w.add(pid, what, kind, id, target)
}

// sameInside reports whether target, resolved in this container, is the file
// id: a path the kernel prints for a file outside our root (the host's /proc,
// a state directory, a deleted or anonymous file) names something else here
// or nothing.
func sameInside(target string, st *syscall.Stat_t) bool {
	if !strings.HasPrefix(target, "/") || strings.HasSuffix(target, " (deleted)") {
		return false
	}
	var in syscall.Stat_t
	if syscall.Stat(target, &in) != nil {
		return false
	}
	if t := st.Mode & syscall.S_IFMT; t == syscall.S_IFCHR || t == syscall.S_IFBLK {
		// A device node is the device, wherever the node lives: the
		// container's /dev/null is its own node for the host's device.
		return in.Mode&syscall.S_IFMT == t && in.Rdev == st.Rdev
	}
	return in.Dev == st.Dev && in.Ino == st.Ino
}

// sameNamespace reports whether the namespace handle st, whose link reads
// "TYPE:[INO]", is the watcher's own namespace of that type.
func sameNamespace(target string, st *syscall.Stat_t) bool {
	typ, _, ok := strings.Cut(target, ":[")
	if !ok || strings.ContainsRune(typ, '/') {
		return false
	}
	var own syscall.Stat_t
	if syscall.Stat("/proc/self/ns/"+typ, &own) != nil {
		return false
	}
	return own.Dev == st.Dev && own.Ino == st.Ino
}

func fileType(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFCHR:
		return "chr"
	case syscall.S_IFBLK:
		return "blk"
	case syscall.S_IFSOCK:
		return "sock"
	case syscall.S_IFLNK:
		return "lnk"
	}
	return "other"
}

func errName(err error) string {
	if e, ok := err.(syscall.Errno); ok {
		switch e {
		case syscall.EACCES:
			return "EACCES"
		case syscall.EPERM:
			return "EPERM"
		}
		return strconv.Itoa(int(e))
	}
	return err.Error()
}

// add records an observation unless it was already made; it returns the new
// record, or nil.
func (w *watcher) add(pid int, what, kind string, id devIno, target string) *rec {
	key := strconv.Itoa(pid) + "\x00" + what + "\x00" + kind + "\x00" + id.String() + "\x00" + target
	if _, ok := w.recs[key]; ok {
		return nil
	}
	r := &rec{pid: pid, what: what, kind: kind, id: id, target: target}
	w.recs[key] = r
	w.order = append(w.order, key)
	w.newRecs = append(w.newRecs, r)
	return r
}

func (w *watcher) report(loops, listed int, took time.Duration) {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, key := range w.order {
		r := w.recs[key]
		fmt.Fprintf(out, "REC\t%d\t%s\t%s\t%s\t%q\t%q\t%s\n", r.pid, r.what, r.kind, r.id, r.target, r.cmdline, r.fs)
	}
	var newPids, exeOpened, fdOpened, hostExe int
	pids := make([]int, 0, len(w.procs))
	for pid, p := range w.procs {
		pids = append(pids, pid)
		newPids++
		if p.exeOpened {
			exeOpened++
		}
		if p.fdOpened {
			fdOpened++
		}
		if p.hostExe {
			hostExe++
		}
	}
	sort.Ints(pids)
	fmt.Fprintf(out, "loops=%d\nlisted=%d\nseconds=%.3f\ninspections=%d\n", loops, listed, took.Seconds(), w.inspects)
	fmt.Fprintf(out, "pids=%d\nexeopened=%d\nfdopened=%d\nhostexe=%d\n", newPids, exeOpened, fdOpened, hostExe)
	fmt.Fprintf(out, "pidlist=%s\nDONE\n", strings.Trim(fmt.Sprint(pids), "[]"))
}
