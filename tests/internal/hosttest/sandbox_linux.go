// Package hosttest holds what the tests that drive hull from outside share: the
// namespace sandbox in which tests/e2e and tests/cri run container engines, and
// small parsers of what those engines and the kernel print.
package hosttest

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

// Sandbox is a private mount namespace and cgroup namespace whose root cgroup is a
// cgroup2 directory of ours (CG on the host), with a fresh cgroup2 mount on
// /sys/fs/cgroup and tmpfs on /run, /dev/shm, /var/tmp and /var/lib (podman writes
// its blob-info cache to /var/lib/containers/cache and stages image loads in
// /var/tmp whatever its configuration says). A holder process keeps the namespaces
// alive; commands enter them with nsenter, each cloned straight into a leaf cgroup
// (CLONE_INTO_CGROUP) so that the cgroup namespace shows it at /<leaf>.
type Sandbox struct {
	CG       string   // the sandbox's root cgroup, on the host
	Cmds     *os.File // CG/cmds: short-lived commands
	Daemons  *os.File // CG/daemons: containerd (and the shims it starts)
	HoldPath string   // /proc/<holder pid>: the sandbox's view of the filesystem

	holder  *exec.Cmd
	holdIn  io.WriteCloser // closing it ends the holder
	enabled []string       // controllers enabled in CG's subtree_control
}

// holderScript runs in the new namespaces, in the sandbox's root cgroup; %[1]s
// names the tmpfs mounts after the sandbox.
const holderScript = `set -e
umount -l /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/holder
echo $$ > /sys/fs/cgroup/holder/cgroup.procs
mount -t tmpfs -o mode=0755 %[1]s-run /run
mount -t tmpfs -o mode=1777 %[1]s-shm /dev/shm
mount -t tmpfs -o mode=1777 %[1]s-vartmp /var/tmp
mount -t tmpfs -o mode=0755 %[1]s-varlib /var/lib
echo ready
read -r _ || true
`

// cgroup2Mount finds the host's cgroup2 hierarchy: /sys/fs/cgroup/unified on a
// hybrid host, /sys/fs/cgroup on a unified one.
func cgroup2Mount() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

// NewSandbox makes a sandbox whose cgroup is hull-<name>-<our pid>.
func NewSandbox(name string) (*Sandbox, error) {
	for _, tool := range []string{"unshare", "nsenter", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("need %s (util-linux): %w", tool, err)
		}
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	s := &Sandbox{CG: filepath.Join(mnt, fmt.Sprintf("hull-%s-%d", name, os.Getpid()))}
	if err := os.Mkdir(s.CG, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox cgroup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	for _, leaf := range []string{"holder", "cmds", "daemons"} {
		if err := os.Mkdir(filepath.Join(s.CG, leaf), 0o755); err != nil {
			return nil, fmt.Errorf("sandbox cgroup: %w", err)
		}
	}
	if s.Cmds, err = os.Open(filepath.Join(s.CG, "cmds")); err != nil {
		return nil, err
	}
	if s.Daemons, err = os.Open(filepath.Join(s.CG, "daemons")); err != nil {
		return nil, err
	}
	root, err := os.Open(s.CG)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	// The holder is cloned into the sandbox's root cgroup, so that this is the root
	// of its cgroup namespace, and moves itself to a leaf.
	s.holder = exec.Command("unshare", "--mount", "--cgroup", "--propagation", "private", "sh", "-c", fmt.Sprintf(holderScript, name))
	// No Pdeathsig (it fires when the forking OS thread exits, not the process):
	// the holder ends when its stdin, our pipe, closes.
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
	s.HoldPath = fmt.Sprintf("/proc/%d", s.holder.Process.Pid)

	// Pass on every controller the host gives us, as a cgroup v2 host would to its
	// root's children. On a hybrid host that is usually none.
	avail, _ := os.ReadFile(filepath.Join(s.CG, "cgroup.controllers"))
	for _, c := range strings.Fields(string(avail)) {
		if os.WriteFile(filepath.Join(s.CG, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
			s.enabled = append(s.enabled, c)
		}
	}
	ok = true
	return s, nil
}

// Controllers lists the controllers enabled for the containers in the sandbox.
func (s *Sandbox) Controllers() []string { return s.enabled }

// HasController reports whether containers in the sandbox can use controller c.
func (s *Sandbox) HasController(c string) bool {
	for _, e := range s.enabled {
		if e == c {
			return true
		}
	}
	return false
}

// Command makes a command that runs name in the sandbox, in the given leaf cgroup
// (s.Cmds or s.Daemons). nsenter execs name in place: the pid is name's.
func (s *Sandbox) Command(ctx context.Context, leaf *os.File, env []string, name string, args ...string) *exec.Cmd {
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

// Path is where the sandbox's path p is seen from the host (through the holder's
// root, so the tmpfs on /run is reachable).
func (s *Sandbox) Path(p string) string { return s.HoldPath + "/root" + p }

// Mount is one of the sandbox's mounts.
type Mount struct {
	Point, FSType string
}

// Mounts lists the sandbox's mounts.
func (s *Sandbox) Mounts() []Mount {
	b, _ := os.ReadFile(s.HoldPath + "/mountinfo")
	var out []Mount
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, _ := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) > 4 {
			m := Mount{Point: UnescapeMount(f[4])}
			if len(g) > 0 {
				m.FSType = g[0]
			}
			out = append(out, m)
		}
	}
	return out
}

// CgroupProcs lists the processes in cgroup rel of the sandbox and below it.
func (s *Sandbox) CgroupProcs(rel string) []int {
	var pids []int
	_ = filepath.WalkDir(filepath.Join(s.CG, rel), func(p string, d os.DirEntry, err error) error {
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

// Comm is the command name of process pid.
func Comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// Close kills whatever is still in the sandbox (cgroup.kill on its own cgroup),
// ends the holder, which takes the namespaces and their mounts with it, and removes
// the sandbox's cgroups.
func (s *Sandbox) Close() error {
	var errs []error
	if _, err := os.Stat(s.CG); err == nil {
		if err := os.WriteFile(filepath.Join(s.CG, "cgroup.kill"), []byte("1"), 0); err != nil {
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
	if s.Cmds != nil {
		s.Cmds.Close()
	}
	if s.Daemons != nil {
		s.Daemons.Close()
	}
	if s.CG != "" {
		if err := waitUnpopulated(s.CG, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := removeCgroupTree(s.CG); err != nil {
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

// removeCgroupTree removes cg and the cgroups below it, deepest first, retrying
// each rmdir while the kernel finishes tearing down what was in it.
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

// StopDaemon ends the daemon pid, whose exit closes exited: SIGTERM, then SIGKILL
// after 10 s, which is reported as an error.
func StopDaemon(name string, pid int, exited <-chan struct{}) error {
	select {
	case <-exited:
		return nil
	default:
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	<-exited
	return fmt.Errorf("%s did not stop on SIGTERM within 10s", name)
}
