// Command bench compares hull with runc and crun (the release builds in
// ../shared/peers and Debian's, whichever are there; the rest are skipped and
// listed) on two bundles, in one run, interleaved, and prints markdown tables
// (hack/bench/bench.sh drives it): the minimal bundle of hack/mkbundle.sh and
// "docker-default", Docker's default config with its seccomp profile
// (dockerspec.go). Both get run and exec, with hull's --debug phase table; the
// minimal one also create/start/delete and the sequential and parallel
// batches. A last table checks issue #18's goal lines.
//
//	go run ./hack/bench -bundle build/bench/base -hull build/bench/hull -peers ../shared/peers -out build/bench.md
//
// Every runtime invocation is started by this program with fork+exec from a
// thread of its own, and timed from just before the fork to the wait4 that
// reaps it. The peers are started from threads that have their own mount
// namespace (unshare(CLONE_NEWNS) on a locked OS thread), where /sys/fs/cgroup
// is a bind mount of a cgroup2 directory this program made: they see a pure
// cgroup v2 host rooted there and never touch the host's hybrid hierarchies.
// hull is started from a thread left in the host's mount namespace; it finds
// the cgroup2 mount itself. With -spawner (bench.sh builds it), each
// invocation is started through a tiny static launcher (spawn/spawn.c) that
// times it from its own fork to the reap and reports its peak RSS: started
// straight from this Go program, a runtime would inherit this program's peak
// RSS at execve. Nothing has to be subtracted; the cost of spawning /bin/true
// from each thread is measured and printed to show the starting points are
// equal.
//
// This program is a child subreaper: whatever a runtime orphans (the container
// process after `create`, helpers) is reparented to it and reaped here, so the
// peak RSS of every runtime-owned process is seen: wait4 reports a process's
// own maximum RSS together with that of the children it reaped, and the
// kernel keeps a process's maximum across execve (hull's and runc's init
// become /bin/true).
package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const prSetChildSubreaper = 36

var (
	flagBundle      = flag.String("bundle", "build/bench/base", "bundle made by hack/mkbundle.sh (rootfs + config.json), shared by all runtimes")
	flagHull        = flag.String("hull", "build/bench/hull", "hull binary")
	flagRunc        = flag.String("runc", "", "Debian's runc (default /usr/sbin/runc; measured as runc-VERSION-deb where it exists)")
	flagCrun        = flag.String("crun", "", "Debian's crun (default /usr/bin/crun; measured as crun-VERSION-deb where it exists)")
	flagPeers       = flag.String("peers", "", "directory of the peers' release builds: runc-1.5.1, crun-1.27.1, crun-1.29.1 (bench.sh: ../shared/peers); a missing one is skipped and said so")
	flagBundles     = flag.String("bundles", "minimal,docker-default", "bundles to measure run and exec on: minimal (mkbundle.sh's) and docker-default (Docker's default config and seccomp profile)")
	flagProfile     = flag.String("seccomp-profile", "", "seccomp profile in Docker's format for docker-default (default: "+podmanProfile+")")
	flagProfileFrom = flag.String("seccomp-from", "", "where -seccomp-profile comes from, for the notes")
	flagQuick       = flag.Bool("quick", false, "few repetitions (-n 15 -n-split 8 -warmup 2 -seq 20 -seq-reps 1 -par-reps 2): a rough look in about a minute")
	flagWork        = flag.String("work", "build/bench/work", "scratch directory for per-runtime bundles and logs")
	flagOut         = flag.String("out", "build/bench.md", "write the markdown table here too")
	flagN           = flag.Int("n", 60, "repetitions of run and exec (per runtime)")
	flagNSplit      = flag.Int("n-split", 40, "repetitions of create/start/delete (per runtime)")
	flagWarm        = flag.Int("warmup", 3, "unrecorded repetitions before each loop")
	flagSeq         = flag.Int("seq", 100, "containers one after another")
	flagSeqRep      = flag.Int("seq-reps", 3, "repetitions of the one-after-another batch")
	flagPar         = flag.Int("par", 20, "containers at once")
	flagParRep      = flag.Int("par-reps", 8, "repetitions of the all-at-once batch")
	flagOnly        = flag.String("only", "", "comma-separated runtimes to measure: names or prefixes (hull, runc, crun-1.27.1, ...) or \"peers\" (default: hull and every peer found)")
	flagCand        = flag.String("candidate", "", "a second hull binary, measured as \"hull-new\" with a hull-new/hull column: to check an optimisation")
	flagSpawner     = flag.String("spawner", "", "the launcher every invocation is started through (spawn.c, built by bench.sh), so that peak RSS is the runtime's own and not this harness's; without it, peak RSS has this harness's as a floor")
)

func main() {
	flag.Parse()
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- reaping

type exitRec struct {
	end    time.Time
	status syscall.WaitStatus
	ru     syscall.Rusage
}

type agg struct {
	maxRSS int64 // KiB
	cpu    time.Duration
}

// reaped is one process's rusage, kept under the tag it was reaped in.
type reaped struct {
	pid    int
	maxRSS int64 // KiB
	cpu    time.Duration
}

// reaper reaps every child (own or reparented) and hands the result to
// whoever waits for that pid. Records nobody claims are dropped after a few
// seconds, before pid_max (32768 here) could bring the pid back.
type reaper struct {
	mu      sync.Mutex
	done    map[int]*exitRec
	waiters map[int]chan *exitRec
	tag     string
	tags    map[string][]reaped
}

func newReaper() *reaper {
	r := &reaper{done: map[int]*exitRec{}, waiters: map[int]chan *exitRec{}, tags: map[string][]reaped{}}
	go r.loop()
	return r
}

func (r *reaper) loop() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, 0, &ru)
		now := time.Now()
		if err != nil {
			if errors.Is(err, syscall.ECHILD) {
				time.Sleep(time.Millisecond) // only before the sentinel exists
			}
			continue
		}
		rec := &exitRec{end: now, status: ws, ru: ru}
		r.mu.Lock()
		if r.tag != "" {
			r.tags[r.tag] = append(r.tags[r.tag], reaped{pid, ru.Maxrss, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())})
		}
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- rec
		} else {
			for p, old := range r.done {
				if now.Sub(old.end) > 5*time.Second {
					delete(r.done, p)
				}
			}
			r.done[pid] = rec
		}
		r.mu.Unlock()
	}
}

func (r *reaper) setTag(t string) {
	r.mu.Lock()
	r.tag = t
	r.mu.Unlock()
}

func (r *reaper) takeTag(t string) agg {
	r.mu.Lock()
	defer r.mu.Unlock()
	var a agg
	for _, p := range r.tags[t] {
		a.maxRSS = max(a.maxRSS, p.maxRSS)
		a.cpu += p.cpu
	}
	delete(r.tags, t)
	return a
}

// substitute replaces, in the current tag, the rusage of the launcher pid (a
// child of ours, already reaped: its maxrss is this harness's, see spawn.c)
// with what it reported of the processes it started and reaped.
func (r *reaper) substitute(pid int, maxRSS int64, cpu time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.tags[r.tag]
	for i := range recs {
		if recs[i].pid == pid {
			recs[i].maxRSS, recs[i].cpu = maxRSS, cpu
		}
	}
}

// wait blocks until pid, a child of ours, is reaped.
func (r *reaper) wait(pid int) *exitRec {
	r.mu.Lock()
	if rec, ok := r.done[pid]; ok {
		delete(r.done, pid)
		r.mu.Unlock()
		return rec
	}
	ch := make(chan *exitRec, 1)
	r.waiters[pid] = ch
	r.mu.Unlock()
	return <-ch
}

// waitGone waits until pid (which may be no child of ours) no longer exists.
func (r *reaper) waitGone(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		_, ok := r.done[pid]
		delete(r.done, pid)
		r.mu.Unlock()
		if ok || syscall.Kill(pid, 0) == syscall.ESRCH {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d still exists after %v", pid, timeout)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// children lists the pids whose parent is this process (any of its threads).
func children() []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// drain waits until every child but those in keep has been reaped, so that
// everything an operation left behind is charged to that operation's tag.
func drain(keep map[int]bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := 0
		for _, p := range children() {
			if !keep[p] {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d unexpected child processes still there after 10s", left)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// ---------------------------------------------------------------- spawning

type spawnReq struct {
	argv  []string
	reply chan spawnRes
}

type spawnRes struct {
	pid    int
	start  time.Time
	report *os.File // -spawner: the read end of the launcher's fd 3
	err    error
}

// spawner starts processes from one locked OS thread, whose mount namespace
// setup may have changed. The goroutine never unlocks, so the thread is never
// reused for anything else; the Go runtime creates new threads from its
// template thread rather than from a locked one.
type spawner struct{ reqs chan spawnReq }

var (
	procAttr *syscall.ProcAttr
	devnull  *os.File // global: the fd in procAttr must outlive every spawn
)

func newSpawner(setup func() error) (*spawner, error) {
	s := &spawner{reqs: make(chan spawnReq)}
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		if setup != nil {
			if err := setup(); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
		for r := range s.reqs {
			if *flagSpawner == "" {
				t := time.Now()
				pid, err := syscall.ForkExec(r.argv[0], r.argv, procAttr)
				r.reply <- spawnRes{pid: pid, start: t, err: err}
				continue
			}
			rd, wr, err := os.Pipe()
			if err != nil {
				r.reply <- spawnRes{err: err}
				continue
			}
			attr := *procAttr
			attr.Files = append(slices.Clone(procAttr.Files), wr.Fd())
			argv := append([]string{*flagSpawner}, r.argv...)
			t := time.Now()
			pid, err := syscall.ForkExec(argv[0], argv, &attr)
			wr.Close()
			if err != nil {
				rd.Close()
				rd = nil
			}
			r.reply <- spawnRes{pid: pid, start: t, report: rd, err: err}
		}
	}()
	return s, <-errc
}

func (s *spawner) spawn(argv []string) spawnRes {
	ch := make(chan spawnRes, 1)
	s.reqs <- spawnReq{argv, ch}
	return <-ch
}

// privateCgroupNS is the setup of the runc and crun threads.
func privateCgroupNS(cg string) func() error {
	return func() error {
		if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare mount namespace: %w", err)
		}
		if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make / private: %w", err)
		}
		if err := syscall.Mount(cg, "/sys/fs/cgroup", "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on /sys/fs/cgroup: %w", cg, err)
		}
		return nil
	}
}

// ---------------------------------------------------------------- runtimes

type rt struct {
	name     string
	bin      string
	root     string // --root: state directory
	bundles  string // per-runtime bundle directories
	sp       *spawner
	cgPrefix string // linux.cgroupsPath prefix
	oci      string // ociVersion override
}

type bench struct {
	r        *reaper
	rts      []*rt
	log      *os.File
	work     string
	keep     map[int]bool // long-lived children drain must not wait for
	cgroup   string       // host path of our cgroup2 directory
	sentinel int          // the child that keeps wait4(-1) from failing
	cleanup  []func()

	mu          sync.Mutex
	failures    map[string][]string // runtime -> errors of `start` that did not stop the run
	launcherHWM int64               // KiB: the -spawner launcher's own peak, the floor of peak RSS
}

// softFail records a failed `start`: the container is still deleted and the
// run goes on, and the table lists the failures under it.
func (b *bench) softFail(x *rt, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures == nil {
		b.failures = map[string][]string{}
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	b.failures[x.name] = append(b.failures[x.name], msg)
	fmt.Fprintln(os.Stderr, "bench: FAILED (going on):", msg)
}

func (b *bench) argv(x *rt, args ...string) []string {
	return append([]string{x.bin, "--root", x.root}, args...)
}

// op runs one runtime invocation and returns its wall time.
func (b *bench) op(x *rt, args ...string) (time.Duration, error) {
	r, err := b.opRes(x, args...)
	return r.wall, err
}

// result is one invocation: wall time, exit status, and with -spawner the
// peak RSS and CPU time of the runtime and of what it reaped before it exited
// (orphans it left running are reaped by this harness, under the tag).
type result struct {
	wall   time.Duration
	status syscall.WaitStatus
	maxRSS int64 // KiB, -spawner only
	cpu    time.Duration
}

// spawnWait starts argv on sp and waits for it: through the -spawner
// launcher, whose report gives the figures, else straight.
func (b *bench) spawnWait(sp *spawner, argv []string) (result, error) {
	res := sp.spawn(argv)
	if res.err != nil {
		return result{}, res.err
	}
	rec := b.r.wait(res.pid)
	if res.report == nil {
		return result{wall: rec.end.Sub(res.start), status: rec.status}, nil
	}
	data, err := io.ReadAll(res.report)
	res.report.Close()
	if err != nil {
		return result{}, err
	}
	if !rec.status.Exited() || rec.status.ExitStatus() != 0 {
		return result{}, fmt.Errorf("launcher %s: %s", *flagSpawner, describe(rec.status))
	}
	var st, ns, rss, cpuUs, own int64
	if _, err := fmt.Sscan(string(data), &st, &ns, &rss, &cpuUs, &own); err != nil {
		return result{}, fmt.Errorf("launcher report %q: %w", data, err)
	}
	r := result{wall: time.Duration(ns), status: syscall.WaitStatus(st), maxRSS: rss, cpu: time.Duration(cpuUs) * time.Microsecond}
	b.mu.Lock()
	b.launcherHWM = max(b.launcherHWM, own)
	b.mu.Unlock()
	b.r.substitute(res.pid, r.maxRSS, r.cpu)
	return r, nil
}

func (b *bench) opRes(x *rt, args ...string) (result, error) {
	off, _ := b.log.Seek(0, io.SeekCurrent)
	r, err := b.spawnWait(x.sp, b.argv(x, args...))
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", x.name, strings.Join(args, " "), err)
	}
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		return result{}, fmt.Errorf("%s %s: %s; stderr: %s", x.name, strings.Join(args, " "), describe(r.status), b.logSince(off))
	}
	return r, nil
}

func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

func (b *bench) logSince(off int64) string {
	data, _ := os.ReadFile(b.log.Name())
	if off < int64(len(data)) {
		data = data[off:]
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return strings.TrimSpace(string(data))
}

func (b *bench) bundle(x *rt, bb benchBundle, name string) string {
	return filepath.Join(x.bundles, bb.prefix+name)
}
func (b *bench) pidFile(x *rt, name string) string {
	return filepath.Join(b.work, "pids", x.name+"-"+name+".pid")
}
func cid(name string) string { return minimalBundle.cid(name) }

// minimalBundle names the minimal bundle's directories and ids (no prefix).
var minimalBundle = benchBundle{name: "minimal"}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// makeBundles writes, for each runtime, one bundle directory per container
// name: bb's config (with linux.resources removed unless bb keeps them),
// root.path pointing at the shared rootfs, the process args and a cgroupsPath
// of its own.
func (b *bench) makeBundles(bb benchBundle, names map[string][]string) error {
	data, err := os.ReadFile(filepath.Join(bb.dir, "config.json"))
	if err != nil {
		return err
	}
	rootfs, err := filepath.Abs(filepath.Join(*flagBundle, "rootfs"))
	if err != nil {
		return err
	}
	for _, x := range b.rts {
		for name, args := range names {
			var c map[string]any
			if err := json.Unmarshal(data, &c); err != nil {
				return err
			}
			if x.oci != "" {
				c["ociVersion"] = x.oci
			}
			c["root"].(map[string]any)["path"] = rootfs
			c["process"].(map[string]any)["args"] = args
			lx := c["linux"].(map[string]any)
			if !bb.resources {
				delete(lx, "resources")
			}
			lx["cgroupsPath"] = x.cgPrefix + "/" + x.name + "-" + bb.prefix + name
			out, err := json.MarshalIndent(c, "", "\t")
			if err != nil {
				return err
			}
			dir := b.bundle(x, bb, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// order rotates the runtimes so none always goes first.
func (b *bench) order(i int) []*rt {
	n := len(b.rts)
	out := make([]*rt, 0, n)
	for k := 0; k < n; k++ {
		out = append(out, b.rts[((i+k)%n+n)%n])
	}
	return out
}

// ---------------------------------------------------------------- statistics

type series map[string][]float64 // runtime -> samples

func (s series) add(rt string, v float64) { s[rt] = append(s[rt], v) }

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(pos)
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[lo+1]*f
}

type summary struct{ med, lo, hi float64 }

// summarise: median with the interquartile range, or with min–max when there
// are fewer than 8 samples.
func summarise(v []float64) summary {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) < 8 {
		return summary{quantile(s, 0.5), s[0], s[len(s)-1]}
	}
	return summary{quantile(s, 0.5), quantile(s, 0.25), quantile(s, 0.75)}
}

type row struct {
	label  string
	unit   string
	spread string // "IQR" or "min–max"
	data   series
	single bool // one value per runtime, no spread
}

// ---------------------------------------------------------------- main

func cgroup2Mount() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st syscall.Statfs_t
		if syscall.Statfs(p, &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

// peer is a runtime to measure hull against, found or not.
type peer struct {
	name, bin string
	oci       string // ociVersion override
	skip      string // why it is not measured
}

// findPeers lists the release builds in the peers directory (runc-1.5.1,
// crun-1.27.1, crun-1.29.1: the goal's references) and Debian's runc and crun,
// each with why it is skipped where it is.
func findPeers() []peer {
	var out []peer
	dir := *flagPeers
	for _, n := range []string{"runc-1.5.1", "crun-1.27.1", "crun-1.29.1"} {
		p := peer{name: n, bin: filepath.Join(dir, n)}
		if dir == "" {
			p.skip = "no -peers directory given"
		}
		out = append(out, p)
	}
	for _, d := range []struct{ name, flagVal, path string }{{"runc", *flagRunc, "/usr/sbin/runc"}, {"crun", *flagCrun, "/usr/bin/crun"}} {
		p := peer{name: d.name + "-deb", bin: d.flagVal}
		if p.bin == "" {
			p.bin = d.path
		}
		if d.name == "crun" {
			p.oci = "1.0.2" // crun 1.8 refuses an ociVersion newer than it knows
		}
		out = append(out, p)
	}
	for i := range out {
		p := &out[i]
		if p.skip != "" {
			continue
		}
		if _, err := os.Stat(p.bin); err != nil {
			p.skip = "not installed at " + p.bin
			continue
		}
		// A release build may lack a shared library here (crun's README in peers/ lists them).
		v, err := exec.Command(p.bin, "--version").CombinedOutput()
		if err != nil {
			line, _, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
			p.skip = fmt.Sprintf("%s --version fails (%v): %s", p.bin, err, line)
			continue
		}
		if strings.HasSuffix(p.name, "-deb") {
			f := strings.Fields(string(v))
			if len(f) >= 3 && f[1] == "version" {
				p.name = strings.TrimSuffix(p.name, "-deb") + "-" + strings.TrimSuffix(f[2], "+ds1") + "-deb"
			}
		}
	}
	return out
}

// selected reports whether -only names the runtime: a name, or a prefix such
// as "crun" for every crun.
func selected(name string) bool {
	if *flagOnly == "" {
		return true
	}
	for _, n := range strings.Split(*flagOnly, ",") {
		if n == name || strings.HasPrefix(name, n+"-") || n == "peers" && !strings.HasPrefix(name, "hull") {
			return true
		}
	}
	return false
}

// benchBundle is one configuration every runtime is measured on.
type benchBundle struct {
	name      string // "minimal", "docker-default"
	dir       string // config.json (+ rootfs for minimal)
	prefix    string // of container ids and bundle directories
	resources bool   // keep linux.resources
}

func (bb benchBundle) cid(name string) string { return "hb-" + bb.prefix + name }

func mainErr() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if *flagQuick {
		// Development: about a minute; the numbers are rough. A flag given
		// explicitly keeps its value.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"n": "15", "n-split": "8", "warmup": "2", "seq": "20", "seq-reps": "1", "par-reps": "2"} {
			if !set[name] {
				_ = flag.Set(name, v)
			}
		}
	}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", e)
	}
	work, err := filepath.Abs(*flagWork)
	if err != nil {
		return err
	}
	hullBin, err := filepath.Abs(*flagHull)
	if err != nil {
		return err
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return err
	}
	bundleDir, err := filepath.Abs(*flagBundle)
	if err != nil {
		return err
	}

	var notes, skipped []string
	b := &bench{work: work, keep: map[int]bool{}}
	defer func() {
		for i := len(b.cleanup) - 1; i >= 0; i-- {
			b.cleanup[i]()
		}
	}()
	// Ctrl-C: let the loops fail on their own, cleanup still runs. A second
	// signal kills us (default action restored).
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	interrupted := make(chan struct{})
	go func() {
		<-sigc
		signal.Reset()
		fmt.Fprintln(os.Stderr, "bench: interrupted, cleaning up")
		close(interrupted)
	}()

	_ = os.RemoveAll(work)
	if err := os.MkdirAll(filepath.Join(work, "pids"), 0o755); err != nil {
		return err
	}

	// The bundles: the minimal one as made by mkbundle.sh, and Docker's default
	// config on the same rootfs.
	bundles := []benchBundle{{name: "minimal", dir: bundleDir}}
	wantDocker := slices.Contains(strings.Split(*flagBundles, ","), "docker-default")
	if !slices.Contains(strings.Split(*flagBundles, ","), "minimal") {
		return errors.New("-bundles must include minimal (create/start/delete and the batches run on it)")
	}
	if wantDocker {
		profile, desc := *flagProfile, *flagProfileFrom
		if profile == "" {
			profile, desc = podmanProfile, "podman's default profile (containers-common's "+podmanProfile+", derived from Docker's: unknown syscalls get ENOSYS rather than EPERM, and clone/clone3 are not restricted by argument), used because Docker's own was not found"
		}
		dd := filepath.Join(work, "docker-default")
		if err := writeDockerBundle(dd, filepath.Join(bundleDir, "rootfs"), profile); err != nil {
			skipped = append(skipped, fmt.Sprintf("bundle docker-default: %v", err))
		} else {
			bundles = append(bundles, benchBundle{name: "docker-default", dir: dd, prefix: "d-", resources: true})
			for _, n := range dockerNotes(desc) {
				notes = append(notes, "docker-default bundle: "+n)
			}
		}
	}

	// Side by side, both hulls run from fresh copies made now: identical binaries
	// whose page cache was filled at different times measured up to 5% apart here.
	candBin := ""
	if *flagCand != "" {
		if hullBin, err = freshCopy(hullBin, filepath.Join(work, "bin", "hull")); err != nil {
			return err
		}
		if candBin, err = freshCopy(*flagCand, filepath.Join(work, "bin-new", "hull")); err != nil {
			return err
		}
	}
	b.log, err = os.OpenFile(filepath.Join(work, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	devnull, err = os.Open(os.DevNull)
	if err != nil {
		return err
	}
	procAttr = &syscall.ProcAttr{
		Dir:   work,
		Env:   []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Files: []uintptr{devnull.Fd(), devnull.Fd(), b.log.Fd()},
	}

	// Peers, binary sizes and versions: exec.Command must run before the
	// reaper starts, which would steal its children.
	peers := findPeers()
	size, sizeLibs := series{}, series{}
	type binT struct{ name, bin string }
	bins := []binT{{"hull", hullBin}}
	if candBin != "" {
		bins = append(bins, binT{"hull-new", candBin})
	}
	for _, p := range peers {
		if p.skip == "" && selected(p.name) {
			bins = append(bins, binT{p.name, p.bin})
		}
	}
	for _, x := range bins {
		own, libs, kind := binSize(x.bin)
		size.add(x.name, float64(own)/(1<<20))
		sizeLibs.add(x.name, float64(own+libs)/(1<<20))
		notes = append(notes, fmt.Sprintf("%s: `%s` (%s), %s", x.name, x.bin, version(x.bin), kind))
	}
	for _, p := range peers {
		if p.skip != "" {
			skipped = append(skipped, fmt.Sprintf("%s: %s", p.name, p.skip))
		}
	}
	for _, s := range skipped {
		fmt.Fprintln(os.Stderr, "bench: skipped", s)
	}

	b.r = newReaper()
	// A sentinel child keeps wait4(-1) blocking instead of returning ECHILD.
	sentinel, err := os.StartProcess("/bin/sleep", []string{"sleep", "100000"}, &os.ProcAttr{Files: []*os.File{devnull, devnull, devnull}})
	if err != nil {
		return err
	}
	b.keep[sentinel.Pid] = true
	b.sentinel = sentinel.Pid
	b.cleanup = append(b.cleanup, func() { _ = sentinel.Kill() })

	// Our cgroup2 directory: the peers' /sys/fs/cgroup, hull's parent.
	cgName := fmt.Sprintf("hull-bench-%d", os.Getpid())
	b.cgroup = filepath.Join(mnt, cgName)
	if err := os.Mkdir(b.cgroup, 0o755); err != nil {
		return err
	}
	b.cleanup = append(b.cleanup, b.removeCgroups)

	hostSp, err := newSpawner(nil)
	if err != nil {
		return err
	}
	mk := func(name, bin string, sp *spawner, prefix, oci string) *rt {
		return &rt{name: name, bin: bin, root: filepath.Join("/run", cgName, name), bundles: filepath.Join(work, "bundles", name), sp: sp, cgPrefix: prefix, oci: oci}
	}
	if selected("hull") {
		b.rts = append(b.rts, mk("hull", hullBin, hostSp, "/"+cgName, ""))
	}
	if candBin != "" {
		b.rts = append(b.rts, mk("hull-new", candBin, hostSp, "/"+cgName, ""))
	}
	for _, p := range peers {
		if p.skip != "" || !selected(p.name) {
			continue
		}
		sp, err := newSpawner(privateCgroupNS(b.cgroup))
		if err != nil {
			return err
		}
		b.rts = append(b.rts, mk(p.name, p.bin, sp, "", p.oci))
	}
	if len(b.rts) == 0 {
		return errors.New("-only names no runtime")
	}
	b.cleanup = append(b.cleanup, func() { _ = os.RemoveAll(filepath.Join("/run", cgName)) })
	b.cleanup = append(b.cleanup, b.deleteAll)

	names := map[string][]string{"run": {"/bin/true"}, "split": {"/bin/true"}, "sleep": {"sleep", "100000"}}
	for i := 0; i < *flagPar; i++ {
		names["c"+strconv.Itoa(i)] = []string{"/bin/true"}
	}
	for i, bb := range bundles {
		if i > 0 { // run and exec only
			names = map[string][]string{"run": names["run"], "sleep": names["sleep"]}
		}
		if err := b.makeBundles(bb, names); err != nil {
			return fmt.Errorf("make %s bundles: %w", bb.name, err)
		}
	}

	check := func() error {
		select {
		case <-interrupted:
			return errors.New("interrupted")
		default:
			return nil
		}
	}
	start := time.Now()
	phase := func(s string) { fmt.Fprintf(os.Stderr, "bench: %-40s (%.0fs)\n", s, time.Since(start).Seconds()) }

	// 0. The starting point: /bin/true spawned from each runtime's thread.
	phase("spawn baseline")
	base, baseRSS := series{}, series{}
	for i := -*flagWarm; i < *flagN; i++ {
		for _, x := range b.order(i) {
			r, err := b.spawnWait(x.sp, []string{"/bin/true"})
			if err != nil {
				return err
			}
			if i >= 0 {
				base.add(x.name, ms(r.wall))
				baseRSS.add(x.name, float64(r.maxRSS)/1024)
			}
		}
	}

	results := map[string]*opResults{}
	var phaseTables []string
	all := b.rts
	defer func() { b.rts = all }() // before cleanup's deleteAll, a deferred call too
	for bi, bb := range bundles {
		res := &opResults{}
		results[bb.name] = res
		// A runtime that cannot run a bundle on this host is left out of that
		// bundle's figures (and said so) rather than stopping the bench: crun
		// 1.8 raises RLIMIT_MEMLOCK for its device filter, which root lacks
		// CAP_SYS_RESOURCE for here.
		b.rts = nil
		for _, x := range all {
			if _, err := b.op(x, "run", "--bundle", b.bundle(x, bb, "run"), bb.cid("run")); err != nil {
				b.op(x, "delete", "--force", bb.cid("run")) //nolint:errcheck // gone or never made
				msg, _, _ := strings.Cut(err.Error(), "\n")
				skipped = append(skipped, fmt.Sprintf("%s on the %s bundle: %s", x.name, bb.name, msg))
				fmt.Fprintln(os.Stderr, "bench: skipped", skipped[len(skipped)-1])
				continue
			}
			b.rts = append(b.rts, x)
		}
		if bi == 0 { // the batches run on the minimal bundle too
			all = b.rts
		}
		if len(b.rts) == 0 {
			continue
		}
		if err := drain(b.keep); err != nil {
			return err
		}
		// 1. run /bin/true; peak RSS and CPU of every process it involved.
		phase("run, " + bb.name)
		if err := b.measureRun(bb, res, check); err != nil {
			return err
		}
		if bi == 0 {
			// 2. create, start, delete as separate invocations.
			phase("create / start / delete")
			cT, sT, dT := series{}, series{}, series{}
			cR, sR, dR := series{}, series{}, series{}
			for i := -*flagWarm; i < *flagNSplit; i++ {
				if err := check(); err != nil {
					return err
				}
				for _, x := range b.order(i) {
					c, s, d, err := b.lifecycle(x, "split")
					if err != nil {
						return err
					}
					if i >= 0 && s.wall > 0 { // 0: start failed (softFail)
						cT.add(x.name, ms(c.wall))
						sT.add(x.name, ms(s.wall))
						dT.add(x.name, ms(d.wall))
						if *flagSpawner != "" {
							cR.add(x.name, float64(c.maxRSS)/1024)
							sR.add(x.name, float64(s.maxRSS)/1024)
							dR.add(x.name, float64(d.maxRSS)/1024)
						}
					}
				}
			}
			res.create, res.start, res.del = cT, sT, dT
			res.createRSS, res.startRSS, res.delRSS = cR, sR, dR
		}
		// 3. exec /bin/true into a running container, and hull's own phases.
		phase("exec, " + bb.name)
		t, err := b.measureExec(bb, res, check)
		if err != nil {
			return err
		}
		phaseTables = append(phaseTables, t...)
	}
	b.rts = all

	// 4a. N containers one after another: create, start, (exit), delete.
	phase(fmt.Sprintf("%d one after another", *flagSeq))
	seqT := series{}
	for rep := 0; rep < *flagSeqRep; rep++ {
		for _, x := range b.order(rep) {
			t0 := time.Now()
			for k := 0; k < *flagSeq; k++ {
				if err := check(); err != nil {
					return err
				}
				if _, _, _, err := b.lifecycle(x, "c0"); err != nil {
					return err
				}
			}
			seqT.add(x.name, time.Since(t0).Seconds())
		}
	}

	// 4b. N at once: create+start in parallel, then delete in parallel.
	phase(fmt.Sprintf("%d at once", *flagPar))
	parT := series{}
	for rep := -1; rep < *flagParRep; rep++ {
		if err := check(); err != nil {
			return err
		}
		for _, x := range b.order(rep + 1) {
			d, err := b.parallel(x, *flagPar)
			if err != nil {
				return err
			}
			if rep >= 0 {
				parT.add(x.name, ms(d))
			}
		}
	}
	phase("done")
	total := time.Since(start)

	m := results["minimal"]
	rows := []row{
		{label: "**run** /bin/true (create+start+wait+delete)", unit: "ms", spread: "IQR", data: m.run},
		{label: "create", unit: "ms", spread: "IQR", data: m.create},
		{label: "start", unit: "ms", spread: "IQR", data: m.start},
		{label: "delete", unit: "ms", spread: "IQR", data: m.del},
		{label: "**exec** /bin/true into a running container", unit: "ms", spread: "IQR", data: m.exec},
		{label: fmt.Sprintf("%d containers one after another (create, start, exit, delete)", *flagSeq), unit: "s", spread: "min–max", data: seqT},
		{label: fmt.Sprintf("%d containers at once (create+start ∥, then delete ∥)", *flagPar), unit: "ms", spread: "min–max", data: parT},
		{label: "CPU time of all runtime processes in run (user+sys)", unit: "ms", spread: "IQR", data: m.runCPU},
		{label: "peak RSS of any runtime process, run", unit: "MiB", spread: "IQR", data: m.runRSS},
		{label: "peak RSS of any runtime process, exec", unit: "MiB", spread: "IQR", data: m.exRSS},
		{label: "peak RSS of the processes of create (not init, still running)", unit: "MiB", spread: "IQR", data: m.createRSS},
		{label: "peak RSS of the processes of start", unit: "MiB", spread: "IQR", data: m.startRSS},
		{label: "peak RSS of the processes of delete", unit: "MiB", spread: "IQR", data: m.delRSS},
		{label: "binary size", unit: "MiB", single: true, data: size},
		{label: "binary + shared libraries it loads (ldd)", unit: "MiB", single: true, data: sizeLibs},
	}
	var dockerRows []row
	if d := results["docker-default"]; d != nil {
		dockerRows = []row{
			{label: "**run** /bin/true (create+start+wait+delete)", unit: "ms", spread: "IQR", data: d.run},
			{label: "**exec** /bin/true into a running container", unit: "ms", spread: "IQR", data: d.exec},
			{label: "CPU time of all runtime processes in run (user+sys)", unit: "ms", spread: "IQR", data: d.runCPU},
			{label: "peak RSS of any runtime process, run", unit: "MiB", spread: "IQR", data: d.runRSS},
			{label: "peak RSS of any runtime process, exec", unit: "MiB", spread: "IQR", data: d.exRSS},
		}
	}
	baseS := map[string]summary{}
	for n, v := range base {
		baseS[n] = summarise(v)
	}
	var bl []string
	for _, x := range b.rts {
		s := baseS[x.name]
		bl = append(bl, fmt.Sprintf("%s %.2f ms (%.2f–%.2f)", x.name, s.med, s.lo, s.hi))
	}
	mode := ""
	if *flagQuick {
		mode = " **-quick: few samples, rough numbers.**"
	}
	notes = append([]string{
		fmt.Sprintf("Measured %s on %s, kernel %s, %d CPUs; total %.0fs.%s Median (spread): IQR over %d (run, exec) / %d (create, start, delete) samples, min–max over %d and %d batches.",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"), hostname(), kernel(), runtime.NumCPU(), total.Seconds(), mode, *flagN, *flagNSplit, *flagSeqRep, *flagParRep),
		"minimal bundle: the same rootfs and config for all (hack/mkbundle.sh, process /bin/true, `linux.resources` removed, cgroupsPath per container). Peers given an ociVersion override say so below. Runtimes interleaved, order rotated every round; " + strconv.Itoa(*flagWarm) + " warm-up rounds not counted.",
		"The peers are started from a harness thread that has a private mount namespace with a cgroup2 directory of ours bind-mounted on /sys/fs/cgroup (a pure cgroup v2 host to them, which crun needs on this hybrid one); hull from a thread in the host namespace. Nothing subtracted; the cost of starting /bin/true from each thread, for comparison: " + strings.Join(bl, ", ") + ".",
		"Ratios are of medians; < 1 means hull is faster/smaller. Peak RSS is ru_maxrss (wait4, includes reaped children and the pre-execve image of the container process), the same way for every runtime.",
	}, notes...)
	for _, x := range b.rts {
		if x.oci != "" {
			notes = append(notes, fmt.Sprintf("%s: its bundles say ociVersion %s.", x.name, x.oci))
		}
	}
	for _, s := range skipped {
		notes = append(notes, "**skipped** "+s)
	}
	for _, x := range b.rts {
		if f := b.failures[x.name]; len(f) > 0 {
			notes = append(notes, fmt.Sprintf("**%s: %d failed `start`** (the container was deleted and the run went on; its time is left out of create/start/delete, kept in the batch totals); first: %s", x.name, len(f), strings.ReplaceAll(f[0], "\n", " ")))
		}
	}
	var floor float64
	if *flagSpawner == "" {
		floor = ownPeakRSS()
		notes = append(notes, fmt.Sprintf("**Peak RSS has a floor of %.2f MiB, this harness's own peak RSS** (run without -spawner): Go's ForkExec clones with CLONE_VM|CLONE_VFORK, and at execve the kernel keeps the old (shared) mm's high-water mark in the child's maxrss, so a runtime whose own peak is lower reports the floor. Figures at the floor mean \"at most this\"; the goal table says so instead of pass/fail.", floor))
	} else {
		floor = float64(b.launcherHWM) / 1024
		var tr []string
		for _, x := range b.rts {
			tr = append(tr, fmt.Sprintf("%s %.2f", x.name, summarise(baseRSS[x.name]).med))
		}
		notes = append(notes, fmt.Sprintf("Every invocation is started through the launcher `%s` (hack/bench/spawn/spawn.c, static): a child subreaper that vforks and execs the runtime, reaps it and whatever it orphaned and has exited by then, and reports the wall time from its fork to that reap, the largest ru_maxrss and the summed CPU time; processes still running then (a created container's init) are reaped here and charged to run and exec as before. Peak RSS is thus each runtime's own: the launcher's own peak, %.2f MiB, is the floor (the kernel keeps the parent's high-water mark at execve after vfork). /bin/true through it, for comparison (MiB): %s. create/start/delete RSS rows: only the command's own processes (hull's and runc's init, still running after create, is in run's row).", *flagSpawner, floor, strings.Join(tr, ", ")))
	}
	refRunc, refCrun := refPeer(b.rts, "runc-1.5.1", "runc"), refPeer(b.rts, "crun-1.27.1", "crun")
	table := "## minimal bundle\n\n" + render(b.rts, rows, nil, refRunc, refCrun)
	if dockerRows != nil {
		table += "\n## docker-default bundle (Docker 28's default config for `docker run busybox true`; see the notes)\n\n" + render(b.rts, dockerRows, nil, refRunc, refCrun)
	}
	table += "\n" + goalTable(b.rts, bundles, results, refRunc, refCrun, floor) + "\n"
	for _, n := range notes {
		table += "- " + n + "\n"
	}
	table += strings.Join(phaseTables, "")
	fmt.Print(table)
	if *flagOut != "" {
		if err := os.MkdirAll(filepath.Dir(*flagOut), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(*flagOut, []byte(table), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", *flagOut)
	}
	return nil
}

// opResults are one bundle's samples.
type opResults struct {
	run, runRSS, runCPU, exec, exRSS series
	create, start, del               series
	createRSS, startRSS, delRSS      series // -spawner only: each command's own processes
}

// measureRun: n interleaved `run`s of /bin/true per runtime, with the peak RSS
// and CPU time of every process each involved.
func (b *bench) measureRun(bb benchBundle, res *opResults, check func() error) error {
	res.run, res.runRSS, res.runCPU = series{}, series{}, series{}
	for i := -*flagWarm; i < *flagN; i++ {
		if err := check(); err != nil {
			return err
		}
		for _, x := range b.order(i) {
			tag := x.name + "/run/" + strconv.Itoa(i)
			b.r.setTag(tag)
			d, err := b.op(x, "run", "--bundle", b.bundle(x, bb, "run"), bb.cid("run"))
			if err != nil {
				return fmt.Errorf("%s bundle: %w", bb.name, err)
			}
			if err := drain(b.keep); err != nil {
				return fmt.Errorf("%s run: %w", x.name, err)
			}
			b.r.setTag("")
			a := b.r.takeTag(tag)
			if i >= 0 {
				res.run.add(x.name, ms(d))
				res.runRSS.add(x.name, float64(a.maxRSS)/1024)
				res.runCPU.add(x.name, ms(a.cpu))
			}
		}
	}
	return nil
}

// measureExec starts one sleeping container per runtime, times n interleaved
// `exec`s of /bin/true into it, then hull's --debug phases, and deletes it.
func (b *bench) measureExec(bb benchBundle, res *opResults, check func() error) ([]string, error) {
	for _, x := range b.rts {
		pf := b.pidFile(x, bb.prefix+"sleep")
		if _, err := b.op(x, "run", "-d", "--pid-file", pf, "--bundle", b.bundle(x, bb, "sleep"), bb.cid("sleep")); err != nil {
			return nil, fmt.Errorf("%s bundle: %w", bb.name, err)
		}
		pid, err := readPid(pf)
		if err != nil {
			return nil, err
		}
		b.keep[pid] = true
	}
	if err := drain(b.keep); err != nil {
		return nil, err
	}
	res.exec, res.exRSS = series{}, series{}
	for i := -*flagWarm; i < *flagN; i++ {
		if err := check(); err != nil {
			return nil, err
		}
		for _, x := range b.order(i) {
			tag := x.name + "/exec/" + strconv.Itoa(i)
			b.r.setTag(tag)
			d, err := b.op(x, "exec", bb.cid("sleep"), "/bin/true")
			if err != nil {
				return nil, fmt.Errorf("%s bundle: %w", bb.name, err)
			}
			if err := drain(b.keep); err != nil {
				return nil, fmt.Errorf("%s exec: %w", x.name, err)
			}
			b.r.setTag("")
			a := b.r.takeTag(tag)
			if i >= 0 {
				res.exec.add(x.name, ms(d))
				res.exRSS.add(x.name, float64(a.maxRSS)/1024)
			}
		}
	}
	// Where hull's time goes: its own --debug phase timings of run and exec.
	var tables []string
	for _, x := range b.rts {
		if !strings.HasPrefix(x.name, "hull") {
			continue
		}
		t, err := b.phases(x, bb, *flagN)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	for _, x := range b.rts {
		if _, err := b.op(x, "delete", "--force", bb.cid("sleep")); err != nil {
			return nil, err
		}
	}
	b.keep = map[int]bool{b.sentinel: true}
	return tables, drain(b.keep)
}

// refPeer is the peer the goal is stated against (want), else the first of
// the same kind that was measured, else "".
func refPeer(rts []*rt, want, kind string) string {
	first := ""
	for _, x := range rts {
		if x.name == want {
			return want
		}
		if first == "" && strings.HasPrefix(x.name, kind+"-") {
			first = x.name
		}
	}
	return first
}

// goalTable is issue #18's summary: per bundle, run and exec time and peak
// RSS of each hull against the reference crun and runc, with the goal lines:
// run and exec at or below crun and at most 0.4x runc, peak RSS at or below crun.
func goalTable(rts []*rt, bundles []benchBundle, results map[string]*opResults, refRunc, refCrun string, floor float64) string {
	var w strings.Builder
	w.WriteString("## goal (issue #18): run and exec ≤ crun 1.27.1 and ≤ 0.4× runc 1.5.1; peak RSS ≤ crun\n\n")
	if refCrun != "crun-1.27.1" || refRunc != "runc-1.5.1" {
		fmt.Fprintf(&w, "References stand in for a missing peer: crun = %q, runc = %q (empty: none measured).\n\n", refCrun, refRunc)
	}
	col := func(n, kind string) string {
		if n == "" {
			return kind + " (none)"
		}
		return n
	}
	fmt.Fprintf(&w, "| bundle | figure | runtime | ms or MiB | %s | %s | runtime/%s | runtime/%s | ≤ crun | ≤ 0.4× runc |\n", col(refCrun, "crun"), col(refRunc, "runc"), col(refCrun, "crun"), col(refRunc, "runc"))
	w.WriteString("|---|---|---|---:|---:|---:|---:|---:|:-:|:-:|\n")
	med := func(s series, n string) float64 {
		if len(s[n]) == 0 {
			return 0
		}
		return summarise(s[n]).med
	}
	cell := func(v float64) string {
		if v == 0 {
			return "–"
		}
		return fmtNum(v)
	}
	verdict := func(ok bool, have bool) string {
		switch {
		case !have:
			return "–"
		case ok:
			return "pass"
		}
		return "**FAIL**"
	}
	for _, bb := range bundles {
		r := results[bb.name]
		for _, x := range rts {
			if !strings.HasPrefix(x.name, "hull") {
				continue
			}
			for _, f := range []struct {
				label string
				s     series
				time  bool
			}{{"run", r.run, true}, {"exec", r.exec, true}, {"peak RSS, run", r.runRSS, false}, {"peak RSS, exec", r.exRSS, false}} {
				h, c, u := med(f.s, x.name), med(f.s, refCrun), med(f.s, refRunc)
				rc, ru := "–", "–"
				if c > 0 {
					rc = fmt.Sprintf("**%.2f**", h/c)
				}
				if u > 0 {
					ru = fmt.Sprintf("**%.2f**", h/u)
				}
				goalRunc := verdict(h <= 0.4*u, u > 0 && f.time)
				goalCrun := verdict(h <= c, c > 0)
				if !f.time && c > 0 && c <= floor+0.05 {
					goalCrun = "n/a: crun at the floor"
				}
				fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", bb.name, f.label, x.name, cell(h), cell(c), cell(u), rc, ru, goalCrun, goalRunc)
			}
		}
	}
	return w.String()
}

// lifecycle: create (timed), start (timed), wait for the process to exit,
// delete (timed).
func (b *bench) lifecycle(x *rt, name string) (c, s, d result, err error) {
	pf := b.pidFile(x, name)
	if c, err = b.opRes(x, "create", "--pid-file", pf, "--bundle", b.bundle(x, minimalBundle, name), cid(name)); err != nil {
		return
	}
	pid, err := readPid(pf)
	if err != nil {
		return
	}
	if s, err = b.opRes(x, "start", cid(name)); err != nil {
		b.softFail(x, err)
		s = result{}
	}
	if err = b.r.waitGone(pid, 10*time.Second); err != nil {
		err = fmt.Errorf("%s container %s: %w", x.name, name, err)
		return
	}
	d, err = b.opRes(x, "delete", cid(name))
	return
}

// parallel: n containers created and started at once, then, once all have
// exited, deleted at once; the wall time of the whole.
func (b *bench) parallel(x *rt, n int) (time.Duration, error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "c" + strconv.Itoa(k)
			pf := b.pidFile(x, name)
			if _, err := b.op(x, "create", "--pid-file", pf, "--bundle", b.bundle(x, minimalBundle, name), cid(name)); err != nil {
				errs[k] = err
				return
			}
			pid, err := readPid(pf)
			if err != nil {
				errs[k] = err
				return
			}
			if _, err := b.op(x, "start", cid(name)); err != nil {
				b.softFail(x, err)
			}
			errs[k] = b.r.waitGone(pid, 30*time.Second)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[k] = b.op(x, "delete", cid("c"+strconv.Itoa(k)))
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	return d, errors.Join(errs...)
}

// deleteAll force-deletes whatever container is left in our state roots.
func (b *bench) deleteAll() {
	for _, x := range b.rts {
		ents, _ := os.ReadDir(x.root)
		for _, e := range ents {
			if e.IsDir() {
				_, _ = b.spawnWait(x.sp, b.argv(x, "delete", "--force", e.Name()))
			}
		}
	}
}

// removeCgroups removes our cgroup directory and anything a runtime left in
// it (killing what is left inside: those are our containers' processes).
func (b *bench) removeCgroups() {
	var dirs []string
	_ = filepath.WalkDir(b.cgroup, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil {
			_ = os.WriteFile(filepath.Join(dirs[i], "cgroup.kill"), []byte("1"), 0)
			time.Sleep(100 * time.Millisecond)
			if err := os.Remove(dirs[i]); err != nil {
				fmt.Fprintf(os.Stderr, "bench: rmdir %s: %v\n", dirs[i], err)
			}
		}
	}
}

// ---------------------------------------------------------------- output

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func render(rts []*rt, rows []row, notes []string, refRunc, refCrun string) string {
	var w bytes.Buffer
	w.WriteString("| figure | unit |")
	for _, x := range rts {
		fmt.Fprintf(&w, " %s |", x.name)
	}
	names := map[string]bool{}
	for _, x := range rts {
		names[x.name] = true
	}
	type ratio struct{ num, den string }
	var ratios []ratio
	for _, r := range []ratio{{"hull", refRunc}, {"hull", refCrun}, {"hull-new", "hull"}, {"hull-new", refRunc}, {"hull-new", refCrun}} {
		if names[r.num] && names[r.den] {
			ratios = append(ratios, r)
			fmt.Fprintf(&w, " %s/%s |", r.num, r.den)
		}
	}
	w.WriteString("\n|---|---|")
	for range rts {
		w.WriteString("---:|")
	}
	for range ratios {
		w.WriteString("---:|")
	}
	w.WriteString("\n")
	for _, r := range rows {
		unit := r.unit
		if !r.single {
			unit += ", median (" + r.spread + ")"
		}
		fmt.Fprintf(&w, "| %s | %s |", r.label, unit)
		med := map[string]float64{}
		for _, x := range rts {
			v := r.data[x.name]
			if len(v) == 0 {
				w.WriteString(" – |")
				continue
			}
			s := summarise(v)
			med[x.name] = s.med
			if r.single {
				fmt.Fprintf(&w, " %s |", fmtNum(s.med))
			} else {
				fmt.Fprintf(&w, " %s (%s–%s) |", fmtNum(s.med), fmtNum(s.lo), fmtNum(s.hi))
			}
		}
		for _, r := range ratios {
			if med[r.den] > 0 {
				fmt.Fprintf(&w, " **%.2f** |", med[r.num]/med[r.den])
			} else {
				w.WriteString(" – |")
			}
		}
		w.WriteString("\n")
	}
	w.WriteString("\n")
	for _, n := range notes {
		fmt.Fprintf(&w, "- %s\n", n)
	}
	return w.String()
}

func binSize(bin string) (own, libs int64, kind string) {
	if st, err := os.Stat(bin); err == nil {
		own = st.Size()
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil { // "not a dynamic executable"
		return own, 0, "static" + stageNote(bin)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i, s := range f {
			if s == "=>" && i+1 < len(f) && strings.HasPrefix(f[i+1], "/") {
				if st, err := os.Stat(f[i+1]); err == nil {
					libs += st.Size()
					n++
				}
			}
		}
	}
	if n == 0 { // ldd exits 0 on a static-pie
		return own, 0, "static"
	}
	return own, libs, fmt.Sprintf("dynamic, %d shared libraries", n)
}

// stageNote says how much of hull's binary is its init stage, which is never
// loaded (a section outside every segment), and is written out under --root.
func stageNote(bin string) string {
	ef, err := elf.Open(bin)
	if err != nil {
		return ""
	}
	defer ef.Close()
	sec := ef.Section(".hull_stage")
	if sec == nil {
		return ""
	}
	return fmt.Sprintf("; of its size, %.2f MiB is the init stage (section .hull_stage, not loaded: written out once to --root/.stage and run from there)", float64(sec.Size)/(1<<20))
}

func version(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func hostname() string { h, _ := os.Hostname(); return h }

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// phases runs n `run`s and n `exec`s of x with --debug and renders the medians of the
// phase timings hull logs for create, start and exec ("create took T: phase D; ...").
func (b *bench) phases(x *rt, bb benchBundle, n int) (string, error) {
	logPath := filepath.Join(b.work, x.name+"-"+bb.name+"-debug.log")
	_ = os.Remove(logPath)
	dbg := []string{"--debug", "--log", logPath, "--log-format", "json"}
	for i := 0; i < n; i++ {
		if _, err := b.op(x, append(dbg, "run", "--bundle", b.bundle(x, bb, "run"), bb.cid("run"))...); err != nil {
			return "", err
		}
		if _, err := b.op(x, append(dbg, "exec", bb.cid("sleep"), "/bin/true")...); err != nil {
			return "", err
		}
		if err := drain(b.keep); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		return "", err
	}
	type key struct{ op, phase string }
	var order []key
	vals := map[key][]float64{}
	add := func(k key, d time.Duration) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = append(vals[k], ms(d))
	}
	for _, line := range strings.Split(string(data), "\n") {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		op, rest, ok := strings.Cut(rec.Msg, " took ")
		if !ok || strings.Contains(op, " ") {
			continue
		}
		total, items, _ := strings.Cut(rest, ": ")
		if d, err := time.ParseDuration(total); err == nil {
			add(key{op, "total"}, d)
		}
		for _, it := range strings.Split(items, ";") {
			it = strings.TrimSpace(it)
			i := strings.LastIndexByte(it, ' ')
			if i < 0 {
				continue
			}
			if d, err := time.ParseDuration(it[i+1:]); err == nil {
				add(key{op, it[:i]}, d)
			}
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, "\n%s's own phase timings, %s bundle (`%s --debug`, %d runs and %d execs; ms, median (IQR)). Lines starting with init: are measured by init (or exec's helper) itself, counting from the moment the parent cloned it, so they overlap the parent's clone and cgroup lines; the rest of a command's time is hull's own process start (Go runtime, ~1.2 ms here) and exit.\n\n", x.name, bb.name, x.name, n, n)
	w.WriteString("| command | phase | ms |\n|---|---|---:|\n")
	for _, k := range order {
		s := summarise(vals[k])
		fmt.Fprintf(&w, "| %s | %s | %s (%s–%s) |\n", k.op, k.phase, fmtNum(s.med), fmtNum(s.lo), fmtNum(s.hi))
	}
	return w.String(), nil
}

// ownPeakRSS is this process's VmHWM in MiB.
func ownPeakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// freshCopy copies the executable src to dst (its directory made) and returns dst.
func freshCopy(src, dst string) (string, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return "", err
	}
	return dst, nil
}
