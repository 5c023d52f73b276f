//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sandbox is a private mount namespace and cgroup namespace whose root cgroup
// is a cgroup2 directory of ours (cg on the host), with a fresh cgroup2 mount on
// /sys/fs/cgroup and tmpfs on /run, /dev/shm, /var/tmp and /var/lib (podman
// writes its blob-info cache to /var/lib/containers/cache and stages image
// loads in /var/tmp whatever its configuration says). A holder process keeps the
// namespaces alive; commands enter them with nsenter, each cloned straight
// into a leaf cgroup (CLONE_INTO_CGROUP) so that the cgroup namespace shows it
// at /<leaf>.
type sandbox struct {
	cg       string // the sandbox's root cgroup, on the host
	holder   *exec.Cmd
	holdIn   io.WriteCloser // closing it ends the holder
	cmds     *os.File       // cg/cmds: short-lived commands
	daemons  *os.File       // cg/daemons: containerd
	enabled  []string       // controllers enabled in cg's subtree_control
	v1       *v1Snapshot    // the host's v1 hierarchies before the run
	holdPath string         // /proc/<holder pid>: the sandbox's view of the filesystem
}

// holderScript runs in the new namespaces, in the sandbox's root cgroup.
const holderScript = `set -e
umount -l /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/holder
echo $$ > /sys/fs/cgroup/holder/cgroup.procs
mount -t tmpfs -o mode=0755 e2e-run /run
mount -t tmpfs -o mode=1777 e2e-shm /dev/shm
mount -t tmpfs -o mode=1777 e2e-vartmp /var/tmp
mount -t tmpfs -o mode=0755 e2e-varlib /var/lib
echo ready
read -r _ || true
`

// cgroup2Mount finds the host's cgroup2 hierarchy: /sys/fs/cgroup/unified on
// a hybrid host, /sys/fs/cgroup on a unified one.
func cgroup2Mount() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

func newSandbox() (*sandbox, error) {
	for _, tool := range []string{"unshare", "nsenter", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("need %s (util-linux): %w", tool, err)
		}
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	s := &sandbox{}
	if s.v1, err = snapshotV1(); err != nil {
		return nil, err
	}
	s.cg = filepath.Join(mnt, fmt.Sprintf("hull-e2e-%d", os.Getpid()))
	if err := os.Mkdir(s.cg, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox cgroup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.close()
		}
	}()
	for _, leaf := range []string{"holder", "cmds", "daemons"} {
		if err := os.Mkdir(filepath.Join(s.cg, leaf), 0o755); err != nil {
			return nil, fmt.Errorf("sandbox cgroup: %w", err)
		}
	}
	if s.cmds, err = os.Open(filepath.Join(s.cg, "cmds")); err != nil {
		return nil, err
	}
	if s.daemons, err = os.Open(filepath.Join(s.cg, "daemons")); err != nil {
		return nil, err
	}
	root, err := os.Open(s.cg)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	// The holder is cloned into the sandbox's root cgroup, so that this is
	// the root of its cgroup namespace, and moves itself to a leaf.
	s.holder = exec.Command("unshare", "--mount", "--cgroup", "--propagation", "private", "sh", "-c", holderScript)
	// No Pdeathsig (it fires when the forking OS thread exits, not the
	// process): the holder ends when its stdin, our pipe, closes.
	s.holder.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(root.Fd())}
	var stderr bytes.Buffer
	s.holder.Stderr = &stderr
	out, err := s.holder.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if s.holdIn, err = s.holder.StdinPipe(); err != nil {
		return nil, err
	}
	if err := s.holder.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		_ = s.holder.Wait()
		return nil, fmt.Errorf("sandbox setup failed: %s", strings.TrimSpace(stderr.String()))
	}
	s.holdPath = fmt.Sprintf("/proc/%d", s.holder.Process.Pid)

	// Pass on every controller the host gives us, as a cgroup v2 host would
	// to its root's children. On a hybrid host that is usually none.
	avail, _ := os.ReadFile(filepath.Join(s.cg, "cgroup.controllers"))
	for _, c := range strings.Fields(string(avail)) {
		if os.WriteFile(filepath.Join(s.cg, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
			s.enabled = append(s.enabled, c)
		}
	}
	ok = true
	return s, nil
}

// hasController reports whether containers in the sandbox can use controller c.
func (s *sandbox) hasController(c string) bool {
	for _, e := range s.enabled {
		if e == c {
			return true
		}
	}
	return false
}

// command makes a command that runs name in the sandbox, in the given leaf
// cgroup (s.cmds or s.daemons). nsenter execs name in place: the pid is
// name's.
func (s *sandbox) command(ctx context.Context, leaf *os.File, env []string, name string, args ...string) *exec.Cmd {
	full := append([]string{"-t", strconv.Itoa(s.holder.Process.Pid), "-m", "-C", "--", name}, args...)
	var cmd *exec.Cmd
	if ctx != nil {
		cmd = exec.CommandContext(ctx, "nsenter", full...)
		cmd.WaitDelay = 5 * time.Second
	} else {
		cmd = exec.Command("nsenter", full...)
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(leaf.Fd())}
	return cmd
}

// path is where the sandbox's path p is seen from the host (through the
// holder's root, so the tmpfs on /run is reachable).
func (s *sandbox) path(p string) string { return s.holdPath + "/root" + p }

// mounts lists the sandbox's mount points.
func (s *sandbox) mounts() []string {
	b, _ := os.ReadFile(s.holdPath + "/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out
}

// cgroupProcs lists the processes in cgroup rel of the sandbox and below it.
func (s *sandbox) cgroupProcs(rel string) []int {
	var pids []int
	_ = filepath.WalkDir(filepath.Join(s.cg, rel), func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// leftovers lists what is in the sandbox's cgroup besides its own leaves:
// cgroups and processes that outlived their containers.
func (s *sandbox) leftovers() []string {
	var out []string
	entries, _ := os.ReadDir(s.cg)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		switch e.Name() {
		case "holder", "cmds", "daemons":
			continue
		case "libpod_parent":
			// podman's (conmon's cgroup is libpod_parent/conmon); only the
			// containers' cgroups below it are hull's to remove.
			sub, _ := os.ReadDir(filepath.Join(s.cg, e.Name()))
			for _, c := range sub {
				if c.IsDir() && strings.HasPrefix(c.Name(), "libpod-") {
					out = append(out, "cgroup "+filepath.Join(s.cg, e.Name(), c.Name()))
				}
			}
			continue
		}
		out = append(out, "cgroup "+filepath.Join(s.cg, e.Name()))
	}
	for _, leaf := range []string{"cmds", "daemons"} {
		for _, pid := range s.cgroupProcs(leaf) {
			out = append(out, fmt.Sprintf("process %d (%s) in %s", pid, comm(pid), leaf))
		}
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// close kills whatever is still in the sandbox (cgroup.kill on its own
// cgroup), ends the holder, which takes the namespaces and their mounts with
// it, and removes the sandbox's cgroups.
func (s *sandbox) close() error {
	var errs []error
	if _, err := os.Stat(s.cg); err == nil {
		if err := os.WriteFile(filepath.Join(s.cg, "cgroup.kill"), []byte("1"), 0); err != nil {
			errs = append(errs, fmt.Errorf("cgroup.kill: %w", err))
		}
	}
	if s.holder != nil && s.holder.Process != nil {
		if s.holdIn != nil {
			s.holdIn.Close()
		}
		_ = s.holder.Process.Kill()
		_ = s.holder.Wait()
	}
	if s.cmds != nil {
		s.cmds.Close()
	}
	if s.daemons != nil {
		s.daemons.Close()
	}
	if s.cg != "" {
		if err := waitUnpopulated(s.cg, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := removeCgroupTree(s.cg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func waitUnpopulated(cg string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(filepath.Join(cg, "cgroup.events"))
		if err != nil || strings.Contains(string(b), "populated 0") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still has processes after cgroup.kill", cg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeCgroupTree removes cg and the cgroups below it, deepest first. A
// frozen cgroup is thawed first (an empty frozen cgroup can be removed, but
// its processes, if any were left, could not die).
func removeCgroupTree(cg string) error {
	var dirs []string
	_ = filepath.WalkDir(cg, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	var errs []error
	for _, d := range dirs {
		var err error
		for i := 0; i < 50; i++ {
			if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// v1Snapshot is the set of cgroup directories in the host's v1 hierarchies,
// with their modification times, when the run started: no engine may make a
// v1 cgroup, nor change one (the `find -newer stamp` check, done with each
// directory's own time: kernfs gives files and freshly looked-up inodes the
// current time, so only a directory's time as recorded at the start means
// anything).
type v1Snapshot struct {
	dirs   map[string]time.Time
	mounts []string
	// skip holds, per hierarchy, the parent of this process's own v1 cgroup
	// when that is not the root: cgroups appearing there are made by whoever
	// runs us (the machine's agent), not by the engines we start.
	skip []string
}

func snapshotV1() (*v1Snapshot, error) {
	snap := &v1Snapshot{}
	own := map[string]string{} // controller list -> own cgroup path
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) == 3 && f[1] != "" {
				own[f[1]] = f[2]
			}
		}
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" {
			continue
		}
		point := unescapeMount(f[4])
		snap.mounts = append(snap.mounts, point)
		for _, opt := range strings.Split(g[2], ",") {
			for ctrls, path := range own {
				if ctrls == opt || strings.Contains(","+ctrls+",", ","+opt+",") {
					if parent := filepath.Dir(path); path != "/" && parent != "/" {
						snap.skip = append(snap.skip, filepath.Join(point, parent))
					}
				}
			}
		}
	}
	snap.dirs = snap.list()
	return snap, nil
}

func (v *v1Snapshot) skipped(p string) bool {
	for _, s := range v.skip {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// list returns every cgroup directory of the v1 hierarchies outside the
// skipped subtrees, with its modification time.
func (v *v1Snapshot) list() map[string]time.Time {
	out := map[string]time.Time{}
	for _, m := range v.mounts {
		_ = filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if v.skipped(p) {
				return filepath.SkipDir
			}
			if info, err := d.Info(); err == nil {
				out[p] = info.ModTime()
			}
			return nil
		})
	}
	return out
}

// changes lists the v1 cgroups created, or whose directory changed, since
// the snapshot.
func (v *v1Snapshot) changes() []string {
	var out []string
	now := v.list()
	for d, mt := range now {
		old, ok := v.dirs[d]
		switch {
		case !ok:
			out = append(out, "new v1 cgroup "+d)
		case !mt.Equal(old):
			out = append(out, fmt.Sprintf("v1 cgroup %s changed during the run (mtime %s, was %s)", d, mt.Format(time.RFC3339Nano), old.Format(time.RFC3339Nano)))
		}
	}
	sort.Strings(out)
	return out
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
