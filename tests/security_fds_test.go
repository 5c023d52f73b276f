//go:build linux

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// secCheckWaiterFds fails unless the created container's process (host pid pid)
// holds, above stdio, only what a waiting process may: the exec fifo, the Go
// runtime's poller, and procfs roots of the container's own pid namespace (whose pid
// 1 is host pid nsInit): its /proc, and the private subset=pid procfs pathrs-lite
// (rootfs's in-root lookups) mounts at its first use and keeps for the life of the
// process, detached (its path reads "/"). It reads /proc/<pid>/fd from the host, so
// it sees every descriptor, sockets included (a netlink socket, a D-Bus or notify
// connection, a pidfd), and a procfs of the host's pid namespace would be told by its
// pid 1.
func secCheckWaiterFds(t *testing.T, what string, pid, nsInit int) {
	t.Helper()
	var hostProc unix.Stat_t
	if err := unix.Stat("/proc", &hostProc); err != nil {
		t.Fatal(err)
	}
	want := secStartTime(t, fmt.Sprintf("/proc/%d/stat", nsInit))
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: the fds of process %d:%s", what, pid, pwHostFds(pid))
	seen := 0
	for _, e := range ents {
		if e.Name() == "0" || e.Name() == "1" || e.Name() == "2" {
			seen++
			continue
		}
		p := filepath.Join(dir, e.Name())
		target, _ := os.Readlink(p)
		var st unix.Stat_t
		var sfs unix.Statfs_t
		isProcRoot := unix.Stat(p, &st) == nil && unix.Statfs(p, &sfs) == nil &&
			sfs.Type == unix.PROC_SUPER_MAGIC && st.Ino == 1
		switch {
		case strings.HasSuffix(target, "/exec.fifo"):
		case target == "anon_inode:[eventpoll]", target == "anon_inode:[eventfd]":
		case isProcRoot && (target == "/proc" || target == "/"):
			if st.Dev == hostProc.Dev {
				t.Errorf("ATTACK SUCCEEDED: %s: process %d holds the host's procfs as fd %s", what, pid, e.Name())
			} else if got := secStartTime(t, filepath.Join(p, "1", "stat")); got != want {
				t.Errorf("ATTACK SUCCEEDED: %s: process %d holds, as fd %s, a procfs whose pid 1 (start time %s) is not the container's (%s): another pid namespace's", what, pid, e.Name(), got, want)
			}
		default:
			t.Errorf("ATTACK SURFACE: %s: process %d holds fd %s -> %s while it waits for start; all:%s", what, pid, e.Name(), target, pwHostFds(pid))
		}
	}
	if seen != 3 {
		t.Fatalf("%s: the process's stdio missing from %s: the scan is broken", what, dir)
	}
}

// secStartTime is the start time (field 22) of the process whose stat file is path.
func secStartTime(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return ""
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		t.Errorf("%s: %q", path, s)
		return ""
	}
	return f[19]
}

// secVeth makes a veth pair in the host's network namespace without addresses (so
// that tests running at once never share one) and returns the end to move.
func secVeth(t *testing.T, tag string) string {
	t.Helper()
	name := fmt.Sprintf("hs%s%d", tag, os.Getpid()%100000)
	ip(t, "link", "add", name, "type", "veth", "peer", "name", name+"p")
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", name+"p").Run()
		_ = exec.Command("ip", "link", "del", name).Run()
	})
	return name
}

// TestSecurityFdsNew extends TestSecurityLeakedFds to what hull holds only
// with the newer features on: the --pidfd-socket connection and the pidfd it sends,
// the NOTIFY_SOCKET relay (its socket and the host's), the netlink sockets and
// namespace handle of linux.netDevices, and exec --cgroup's sub-cgroup. None of them
// may be in the process the container runs (asserted from inside, with ls of
// /proc/self/fd), nor in a created container's init while it waits (asserted from the
// host, where sockets show too).
func TestSecurityFdsNew(t *testing.T) {
	t.Parallel()
	t.Run("cs", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		notify, _ := notifyListener(t)
		sock, got := pidfdListener(t)
		s := baseSpec(secFdArgs...)
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{secVeth(t, "c"): {Name: "ctr0"}}
		h.writeSpec(s)
		env := cmdOpts{env: []string{"NOTIFY_SOCKET=" + notify}}
		cr := h.hullOpts(env, "create", "--bundle", h.bundle, "--pidfd-socket", sock, h.id)
		mustExit(t, cr, 0)
		waitPidfd(t, got)
		st := h.mustState(h.id)
		secCheckWaiterFds(t, "create with NOTIFY_SOCKET, --pidfd-socket and netDevices", st.Pid, st.Pid)
		mustExit(t, h.hullOpts(env, "start", h.id), 0)
		h.waitStatus(h.id, "stopped", 10*time.Second)
		secCheckFdAllowList(t, cr.readStdout())
	})
	// A container joining another's pid namespace is built outside it: its process,
	// forked into the namespace, must hold no procfs of the namespace hull's init ran
	// in (pathrs-lite's cached one is made there when /run/notify needs a mkdir).
	t.Run("pj", func(t *testing.T) {
		t.Parallel()
		first := newHarness(t)
		fst := first.startContainer(baseSpec("sleep", "1000"))
		h := first.sibling(t)
		notify, _ := notifyListener(t)
		s := baseSpec("sleep", "1000")
		joinPidNS(s, fst.Pid)
		h.writeSpec(s)
		mustExit(t, h.hullOpts(cmdOpts{env: []string{"NOTIFY_SOCKET=" + notify}}, "create", "--bundle", h.bundle, h.id), 0)
		secCheckWaiterFds(t, "create joining a pid namespace, with NOTIFY_SOCKET", h.mustState(h.id).Pid, fst.Pid)
	})
	t.Run("rd", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		notify, _ := notifyListener(t)
		sock, got := pidfdListener(t)
		s := baseSpec(secFdArgs...)
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{secVeth(t, "r"): {}}
		h.writeSpec(s)
		r := h.hullOpts(cmdOpts{env: []string{"NOTIFY_SOCKET=" + notify}}, "run", "-d", "--bundle", h.bundle, "--pidfd-socket", sock, h.id)
		mustExit(t, r, 0)
		waitPidfd(t, got)
		h.waitStatus(h.id, "stopped", 10*time.Second)
		secCheckFdAllowList(t, r.readStdout())
	})
	t.Run("ex", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		notify, _ := notifyListener(t)
		cg := h.needCgroupDir()
		env := cmdOpts{env: []string{"NOTIFY_SOCKET=" + notify}}
		h.writeSpec(baseSpec("sleep", "1000"))
		mustExit(t, h.hullOpts(env, "create", "--bundle", h.bundle, h.id), 0)
		sub := filepath.Join(cg, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(sub) })
		for _, when := range []string{"created", "running"} {
			if when == "running" {
				// Without NOTIFY_SOCKET, start does not wait for a READY that sleep never sends.
				mustExit(t, h.do("start", h.id), 0)
			}
			sock, got := pidfdListener(t)
			r := h.hullOpts(env, append([]string{"exec", "--pidfd-socket", sock, "--cgroup", "sub", h.id}, secFdArgs...)...)
			mustExit(t, r, 0)
			waitPidfd(t, got)
			secCheckFdAllowList(t, r.stdout)
			pidFile := filepath.Join(h.outDir, "exec-"+when+".pid")
			sock, got = pidfdListener(t)
			r = h.hullOpts(env, append([]string{"exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, "--cgroup", "sub", h.id}, secFdArgs...)...)
			mustExit(t, r, 0)
			waitPidfd(t, got)
			secWait(t, "the detached ls to exit", 10*time.Second, func() bool { return !pidAlive(hulltest.ReadPid(t, pidFile)) })
			secCheckFdAllowList(t, r.readStdout())
		}
	})
}
