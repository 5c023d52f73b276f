// Command bench compares hull with runc and crun on one busybox bundle, in one
// run, interleaved, and prints a markdown table (hack/bench/bench.sh drives it).
//
//	go run ./hack/bench -bundle build/bench/base -hull build/bench/hull -out build/bench.md
//
// Every runtime invocation is started by this program with fork+exec from a
// thread of its own, and timed from just before the fork to the wait4 that
// reaps it. runc and crun are started from threads that have their own mount
// namespace (unshare(CLONE_NEWNS) on a locked OS thread), where /sys/fs/cgroup
// is a bind mount of a cgroup2 directory this program made: they see a pure
// cgroup v2 host rooted there and never touch the host's hybrid hierarchies.
// hull is started from a thread left in the host's mount namespace; it finds
// the cgroup2 mount itself. So no wrapper process is involved and nothing has
// to be subtracted; the cost of spawning /bin/true from each thread is
// measured and printed to show the three starting points are equal.
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
	flagBundle = flag.String("bundle", "build/bench/base", "bundle made by hack/mkbundle.sh (rootfs + config.json), shared by all runtimes")
	flagHull   = flag.String("hull", "build/bench/hull", "hull binary")
	flagRunc   = flag.String("runc", "", "runc binary (default: from PATH)")
	flagCrun   = flag.String("crun", "", "crun binary (default: from PATH)")
	flagWork   = flag.String("work", "build/bench/work", "scratch directory for per-runtime bundles and logs")
	flagOut    = flag.String("out", "build/bench.md", "write the markdown table here too")
	flagN      = flag.Int("n", 60, "repetitions of run and exec (per runtime)")
	flagNSplit = flag.Int("n-split", 40, "repetitions of create/start/delete (per runtime)")
	flagWarm   = flag.Int("warmup", 3, "unrecorded repetitions before each loop")
	flagSeq    = flag.Int("seq", 100, "containers one after another")
	flagSeqRep = flag.Int("seq-reps", 3, "repetitions of the one-after-another batch")
	flagPar    = flag.Int("par", 20, "containers at once")
	flagParRep = flag.Int("par-reps", 8, "repetitions of the all-at-once batch")
	flagOnly   = flag.String("only", "", "comma-separated runtimes to measure (default hull,runc,crun)")
	flagCand   = flag.String("candidate", "", "a second hull binary, measured as \"hull-new\" with a hull-new/hull column: to check an optimisation")
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

// reaper reaps every child (own or reparented) and hands the result to
// whoever waits for that pid. Records nobody claims are dropped after a few
// seconds, before pid_max (32768 here) could bring the pid back.
type reaper struct {
	mu      sync.Mutex
	done    map[int]*exitRec
	waiters map[int]chan *exitRec
	tag     string
	tags    map[string]*agg
}

func newReaper() *reaper {
	r := &reaper{done: map[int]*exitRec{}, waiters: map[int]chan *exitRec{}, tags: map[string]*agg{}}
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
			a := r.tags[r.tag]
			if a == nil {
				a = &agg{}
				r.tags[r.tag] = a
			}
			a.maxRSS = max(a.maxRSS, ru.Maxrss)
			a.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	a := r.tags[t]
	delete(r.tags, t)
	if a == nil {
		return agg{}
	}
	return *a
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
	pid   int
	start time.Time
	err   error
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
			t := time.Now()
			pid, err := syscall.ForkExec(r.argv[0], r.argv, procAttr)
			r.reply <- spawnRes{pid, t, err}
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
	r       *reaper
	rts     []*rt
	log     *os.File
	work    string
	keep    map[int]bool // long-lived children drain must not wait for
	cgroup  string       // host path of our cgroup2 directory
	cleanup []func()

	mu       sync.Mutex
	failures map[string][]string // runtime -> errors of `start` that did not stop the run
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
	off, _ := b.log.Seek(0, io.SeekCurrent)
	res := x.sp.spawn(b.argv(x, args...))
	if res.err != nil {
		return 0, fmt.Errorf("%s %s: %w", x.name, strings.Join(args, " "), res.err)
	}
	rec := b.r.wait(res.pid)
	if !rec.status.Exited() || rec.status.ExitStatus() != 0 {
		return 0, fmt.Errorf("%s %s: %s; stderr: %s", x.name, strings.Join(args, " "), describe(rec.status), b.logSince(off))
	}
	return rec.end.Sub(res.start), nil
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

func (b *bench) bundle(x *rt, name string) string { return filepath.Join(x.bundles, name) }
func (b *bench) pidFile(x *rt, name string) string {
	return filepath.Join(b.work, "pids", x.name+"-"+name+".pid")
}
func cid(name string) string { return "hb-" + name }

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// makeBundles writes, for each runtime, one bundle directory per container
// name: the base config with linux.resources removed, root.path pointing at
// the shared rootfs, the process args and a cgroupsPath of its own.
func (b *bench) makeBundles(base string, names map[string][]string) error {
	data, err := os.ReadFile(filepath.Join(base, "config.json"))
	if err != nil {
		return err
	}
	rootfs, err := filepath.Abs(filepath.Join(base, "rootfs"))
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
			delete(lx, "resources")
			lx["cgroupsPath"] = x.cgPrefix + "/" + x.name + "-" + name
			out, err := json.MarshalIndent(c, "", "\t")
			if err != nil {
				return err
			}
			dir := b.bundle(x, name)
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

func lookBin(flagVal, name string, extra ...string) (string, error) {
	if flagVal != "" {
		return filepath.Abs(flagVal)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range extra {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found; install it (hack/bench/bench.sh does)", name)
}

func cgroup2Mount() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st syscall.Statfs_t
		if syscall.Statfs(p, &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

func mainErr() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
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
	runcBin, err := lookBin(*flagRunc, "runc", "/usr/sbin/runc")
	if err != nil {
		return err
	}
	crunBin, err := lookBin(*flagCrun, "crun", "/usr/bin/crun")
	if err != nil {
		return err
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return err
	}

	var notes []string
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

	// 5. binary sizes, and versions: exec.Command must run before the reaper
	// starts, which would steal its children.
	size, sizeLibs := series{}, series{}
	bins := []struct{ name, bin string }{{"hull", hullBin}, {"runc", runcBin}, {"crun", crunBin}}
	if candBin != "" {
		bins = append(bins, struct{ name, bin string }{"hull-new", candBin})
	}
	for _, x := range bins {
		own, libs, kind := binSize(x.bin)
		size.add(x.name, float64(own)/(1<<20))
		sizeLibs.add(x.name, float64(own+libs)/(1<<20))
		notes = append(notes, fmt.Sprintf("%s: `%s` (%s), %s", x.name, x.bin, version(x.bin), kind))
	}

	b.r = newReaper()
	// A sentinel child keeps wait4(-1) blocking instead of returning ECHILD.
	sentinel, err := os.StartProcess("/bin/sleep", []string{"sleep", "100000"}, &os.ProcAttr{Files: []*os.File{devnull, devnull, devnull}})
	if err != nil {
		return err
	}
	b.keep[sentinel.Pid] = true
	b.cleanup = append(b.cleanup, func() { _ = sentinel.Kill() })

	// Our cgroup2 directory: runc's and crun's /sys/fs/cgroup, hull's parent.
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
	only := map[string]bool{"hull": true, "runc": true, "crun": true}
	if *flagOnly != "" {
		only = map[string]bool{}
		for _, n := range strings.Split(*flagOnly, ",") {
			only[n] = true
		}
	}
	if only["hull"] {
		b.rts = append(b.rts, mk("hull", hullBin, hostSp, "/"+cgName, ""))
	}
	if candBin != "" {
		b.rts = append(b.rts, mk("hull-new", candBin, hostSp, "/"+cgName, ""))
	}
	for _, n := range []struct{ name, bin, oci string }{{"runc", runcBin, ""}, {"crun", crunBin, "1.0.2"}} {
		if !only[n.name] {
			continue
		}
		sp, err := newSpawner(privateCgroupNS(b.cgroup))
		if err != nil {
			return err
		}
		b.rts = append(b.rts, mk(n.name, n.bin, sp, "", n.oci))
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
	if err := b.makeBundles(*flagBundle, names); err != nil {
		return fmt.Errorf("make bundles: %w", err)
	}

	check := func() error {
		select {
		case <-interrupted:
			return errors.New("interrupted")
		default:
			return nil
		}
	}
	var rows []row
	start := time.Now()
	phase := func(s string) { fmt.Fprintf(os.Stderr, "bench: %-40s (%.0fs)\n", s, time.Since(start).Seconds()) }

	// 0. The starting point: /bin/true spawned from each runtime's thread.
	phase("spawn baseline")
	base := series{}
	for i := -*flagWarm; i < *flagN; i++ {
		for _, x := range b.order(i) {
			res := x.sp.spawn([]string{"/bin/true"})
			if res.err != nil {
				return res.err
			}
			rec := b.r.wait(res.pid)
			if i >= 0 {
				base.add(x.name, ms(rec.end.Sub(res.start)))
			}
		}
	}

	// 1. run /bin/true; peak RSS and CPU of every process it involved.
	phase("run")
	runT, runRSS, runCPU := series{}, series{}, series{}
	for i := -*flagWarm; i < *flagN; i++ {
		if err := check(); err != nil {
			return err
		}
		for _, x := range b.order(i) {
			tag := x.name + "/run/" + strconv.Itoa(i)
			b.r.setTag(tag)
			d, err := b.op(x, "run", "--bundle", b.bundle(x, "run"), cid("run"))
			if err != nil {
				return err
			}
			if err := drain(b.keep); err != nil {
				return fmt.Errorf("%s run: %w", x.name, err)
			}
			b.r.setTag("")
			a := b.r.takeTag(tag)
			if i >= 0 {
				runT.add(x.name, ms(d))
				runRSS.add(x.name, float64(a.maxRSS)/1024)
				runCPU.add(x.name, ms(a.cpu))
			}
		}
	}

	// 2. create, start, delete as separate invocations.
	phase("create / start / delete")
	cT, sT, dT := series{}, series{}, series{}
	for i := -*flagWarm; i < *flagNSplit; i++ {
		if err := check(); err != nil {
			return err
		}
		for _, x := range b.order(i) {
			c, s, d, err := b.lifecycle(x, "split")
			if err != nil {
				return err
			}
			if i >= 0 && s > 0 { // s == 0: start failed (softFail)
				cT.add(x.name, ms(c))
				sT.add(x.name, ms(s))
				dT.add(x.name, ms(d))
			}
		}
	}

	// 3. exec /bin/true into a running container.
	phase("exec")
	for _, x := range b.rts {
		pf := b.pidFile(x, "sleep")
		if _, err := b.op(x, "run", "-d", "--pid-file", pf, "--bundle", b.bundle(x, "sleep"), cid("sleep")); err != nil {
			return err
		}
		pid, err := readPid(pf)
		if err != nil {
			return err
		}
		b.keep[pid] = true
	}
	if err := drain(b.keep); err != nil {
		return err
	}
	exT, exRSS := series{}, series{}
	for i := -*flagWarm; i < *flagN; i++ {
		if err := check(); err != nil {
			return err
		}
		for _, x := range b.order(i) {
			tag := x.name + "/exec/" + strconv.Itoa(i)
			b.r.setTag(tag)
			d, err := b.op(x, "exec", cid("sleep"), "/bin/true")
			if err != nil {
				return err
			}
			if err := drain(b.keep); err != nil {
				return fmt.Errorf("%s exec: %w", x.name, err)
			}
			b.r.setTag("")
			a := b.r.takeTag(tag)
			if i >= 0 {
				exT.add(x.name, ms(d))
				exRSS.add(x.name, float64(a.maxRSS)/1024)
			}
		}
	}
	// 3b. Where hull's time goes: its own --debug phase timings of run and exec.
	phase("hull --debug phases")
	var phaseTables []string
	for _, x := range b.rts {
		if !strings.HasPrefix(x.name, "hull") {
			continue
		}
		t, err := b.phases(x, *flagN)
		if err != nil {
			return err
		}
		phaseTables = append(phaseTables, t)
	}
	for _, x := range b.rts {
		if _, err := b.op(x, "delete", "--force", cid("sleep")); err != nil {
			return err
		}
	}
	b.keep = map[int]bool{sentinel.Pid: true}
	if err := drain(b.keep); err != nil {
		return err
	}

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

	rows = append(rows,
		row{label: "**run** /bin/true (create+start+wait+delete)", unit: "ms", spread: "IQR", data: runT},
		row{label: "create", unit: "ms", spread: "IQR", data: cT},
		row{label: "start", unit: "ms", spread: "IQR", data: sT},
		row{label: "delete", unit: "ms", spread: "IQR", data: dT},
		row{label: "exec /bin/true into a running container", unit: "ms", spread: "IQR", data: exT},
		row{label: fmt.Sprintf("%d containers one after another (create, start, exit, delete)", *flagSeq), unit: "s", spread: "min–max", data: seqT},
		row{label: fmt.Sprintf("%d containers at once (create+start ∥, then delete ∥)", *flagPar), unit: "ms", spread: "min–max", data: parT},
		row{label: "CPU time of all runtime processes in run (user+sys)", unit: "ms", spread: "IQR", data: runCPU},
		row{label: "peak RSS of any runtime process, run", unit: "MiB", spread: "IQR", data: runRSS},
		row{label: "peak RSS of any runtime process, exec", unit: "MiB", spread: "IQR", data: exRSS},
		row{label: "binary size", unit: "MiB", single: true, data: size},
		row{label: "binary + shared libraries it loads (ldd)", unit: "MiB", single: true, data: sizeLibs},
	)
	baseS := map[string]summary{}
	for n, v := range base {
		baseS[n] = summarise(v)
	}
	var bl []string
	for _, x := range b.rts {
		s := baseS[x.name]
		bl = append(bl, fmt.Sprintf("%s %.2f ms (%.2f–%.2f)", x.name, s.med, s.lo, s.hi))
	}
	notes = append([]string{
		fmt.Sprintf("Measured %s on %s, kernel %s, %d CPUs; total %.0fs. Median (spread): IQR over %d (run, exec) / %d (create, start, delete) samples, min–max over %d and %d batches.",
			time.Now().UTC().Format("2006-01-02 15:04 UTC"), hostname(), kernel(), runtime.NumCPU(), time.Since(start).Seconds(), *flagN, *flagNSplit, *flagSeqRep, *flagParRep),
		"Same rootfs and config for all (hack/mkbundle.sh, process /bin/true, `linux.resources` removed, cgroupsPath per container; crun's copy says ociVersion 1.0.2). Runtimes interleaved, order rotated every round; " + strconv.Itoa(*flagWarm) + " warm-up rounds not counted.",
		"No wrapper: runc and crun are fork+exec'd from a harness thread that has a private mount namespace with a cgroup2 directory of ours bind-mounted on /sys/fs/cgroup; hull from a thread in the host namespace. Nothing subtracted; the cost of fork+exec of /bin/true from each thread, for comparison: " + strings.Join(bl, ", ") + ".",
		"Ratios are of medians; < 1 means hull is faster/smaller. Peak RSS is ru_maxrss (wait4, includes reaped children and the pre-execve image of the container process).",
	}, notes...)

	for _, x := range b.rts {
		if f := b.failures[x.name]; len(f) > 0 {
			notes = append(notes, fmt.Sprintf("**%s: %d failed `start`** (the container was deleted and the run went on; its time is left out of create/start/delete, kept in the batch totals); first: %s", x.name, len(f), strings.ReplaceAll(f[0], "\n", " ")))
		}
	}
	table := render(b.rts, rows, notes) + strings.Join(phaseTables, "")
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

// lifecycle: create (timed), start (timed), wait for the process to exit,
// delete (timed).
func (b *bench) lifecycle(x *rt, name string) (c, s, d time.Duration, err error) {
	pf := b.pidFile(x, name)
	if c, err = b.op(x, "create", "--pid-file", pf, "--bundle", b.bundle(x, name), cid(name)); err != nil {
		return
	}
	pid, err := readPid(pf)
	if err != nil {
		return
	}
	if s, err = b.op(x, "start", cid(name)); err != nil {
		b.softFail(x, err)
		s, err = 0, nil
	}
	if err = b.r.waitGone(pid, 10*time.Second); err != nil {
		err = fmt.Errorf("%s container %s: %w", x.name, name, err)
		return
	}
	d, err = b.op(x, "delete", cid(name))
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
			if _, err := b.op(x, "create", "--pid-file", pf, "--bundle", b.bundle(x, name), cid(name)); err != nil {
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
				res := x.sp.spawn(b.argv(x, "delete", "--force", e.Name()))
				if res.err == nil {
					b.r.wait(res.pid)
				}
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

func render(rts []*rt, rows []row, notes []string) string {
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
	for _, r := range []ratio{{"hull", "runc"}, {"hull", "crun"}, {"hull-new", "hull"}, {"hull-new", "runc"}, {"hull-new", "crun"}} {
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
		return own, 0, "static"
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
	return own, libs, fmt.Sprintf("dynamic, %d shared libraries", n)
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
func (b *bench) phases(x *rt, n int) (string, error) {
	logPath := filepath.Join(b.work, x.name+"-debug.log")
	_ = os.Remove(logPath)
	dbg := []string{"--debug", "--log", logPath, "--log-format", "json"}
	for i := 0; i < n; i++ {
		if _, err := b.op(x, append(dbg, "run", "--bundle", b.bundle(x, "run"), cid("run"))...); err != nil {
			return "", err
		}
		if _, err := b.op(x, append(dbg, "exec", cid("sleep"), "/bin/true")...); err != nil {
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
	fmt.Fprintf(&w, "\n%s's own phase timings (`%s --debug`, %d runs and %d execs; ms, median (IQR)). Lines starting with init: are measured by init (or exec's helper) itself, counting from the moment the parent cloned it, so they overlap the parent's clone and cgroup lines; the rest of a command's time is hull's own process start (Go runtime, ~1.2 ms here) and exit.\n\n", x.name, x.name, n, n)
	w.WriteString("| command | phase | ms |\n|---|---|---:|\n")
	for _, k := range order {
		s := summarise(vals[k])
		fmt.Fprintf(&w, "| %s | %s | %s (%s–%s) |\n", k.op, k.phase, fmtNum(s.med), fmtNum(s.lo), fmtNum(s.hi))
	}
	return w.String(), nil
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
