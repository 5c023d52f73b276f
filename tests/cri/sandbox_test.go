//go:build linux

package cri

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

// sandbox is tests/e2e's sandbox, trimmed: a private mount namespace and
// cgroup namespace whose root cgroup is a cgroup2 directory of ours (cg on the
// host), a fresh cgroup2 mount on /sys/fs/cgroup and tmpfs on /run, /dev/shm,
// /var/tmp and /var/lib. A holder process keeps the namespaces alive; commands
// enter them with nsenter, cloned straight into a leaf cgroup.
type sandbox struct {
	cg       string // the sandbox's root cgroup, on the host
	holder   *exec.Cmd
	holdIn   io.WriteCloser // closing it ends the holder
	cmds     *os.File       // cg/cmds: short-lived commands
	daemons  *os.File       // cg/daemons: containerd (and the shims it starts)
	enabled  []string       // controllers enabled in cg's subtree_control
	holdPath string         // /proc/<holder pid>: the sandbox's view of the filesystem
}

const holderScript = `set -e
umount -l /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/holder
echo $$ > /sys/fs/cgroup/holder/cgroup.procs
mount -t tmpfs -o mode=0755 cri-run /run
mount -t tmpfs -o mode=1777 cri-shm /dev/shm
mount -t tmpfs -o mode=1777 cri-vartmp /var/tmp
mount -t tmpfs -o mode=0755 cri-varlib /var/lib
echo ready
read -r _ || true
`

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
	s := &sandbox{cg: filepath.Join(mnt, fmt.Sprintf("hull-cri-%d", os.Getpid()))}
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

	s.holder = exec.Command("unshare", "--mount", "--cgroup", "--propagation", "private", "sh", "-c", holderScript)
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

	avail, _ := os.ReadFile(filepath.Join(s.cg, "cgroup.controllers"))
	for _, c := range strings.Fields(string(avail)) {
		if os.WriteFile(filepath.Join(s.cg, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
			s.enabled = append(s.enabled, c)
		}
	}
	ok = true
	return s, nil
}

func (s *sandbox) hasController(c string) bool {
	for _, e := range s.enabled {
		if e == c {
			return true
		}
	}
	return false
}

// command runs name in the sandbox, in leaf (s.cmds or s.daemons); nsenter
// execs name in place, so the pid is name's.
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

// run runs name in the sandbox's cmds cgroup and returns its stdout, and an
// error with its stderr if it failed.
func (s *sandbox) run(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := s.command(ctx, s.cmds, env, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("`%s %s`: %v; stderr: %q", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// path is where the sandbox's path p is seen from the host.
func (s *sandbox) path(p string) string { return s.holdPath + "/root" + p }

// mounts lists the sandbox's mounts as (mount point, filesystem type).
func (s *sandbox) mounts() [][2]string {
	b, _ := os.ReadFile(s.holdPath + "/mountinfo")
	var out [][2]string
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) > 4 && len(g) > 0 {
			out = append(out, [2]string{unescapeMount(f[4]), g[0]})
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

// cgroups lists the cgroups below the sandbox's root other than its own
// leaves, relative to it.
func (s *sandbox) cgroups() []string {
	var out []string
	_ = filepath.WalkDir(s.cg, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == s.cg {
			return nil
		}
		rel, _ := filepath.Rel(s.cg, p)
		switch rel {
		case "holder", "cmds", "daemons":
			return filepath.SkipDir
		}
		out = append(out, "/"+rel)
		return nil
	})
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// close kills whatever is still in the sandbox (cgroup.kill), ends the
// holder, which takes the namespaces and their mounts with it, and removes
// the sandbox's cgroups.
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

// removeCgroupTree removes cg and the cgroups below it, deepest first.
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
