//go:build linux

package tests

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// pidfdMsg is what one connection to a --pidfd-socket delivered.
type pidfdMsg struct {
	payload string
	fd      *os.File // the pidfd; the test closes it
	pid     int      // from its fdinfo "Pid:" line
	link    string   // its /proc/self/fd link, "anon_inode:[pidfd]"
	err     error
}

// pidfdListener listens on a short unix socket path for one pidfd, as runc's
// contrib pidfd-kill does.
func pidfdListener(t *testing.T) (string, <-chan pidfdMsg) {
	t.Helper()
	ln, sock := hulltest.UnixListener(t, "hullpidfd")
	got := make(chan pidfdMsg, 1)
	go func() { got <- receivePidfd(ln) }()
	return sock, got
}

func receivePidfd(ln *net.UnixListener) pidfdMsg {
	payload, fds, err := hulltest.AcceptFds(ln, cmdTimeout, 4096)
	if err != nil {
		return pidfdMsg{err: err}
	}
	if len(fds) != 1 {
		hulltest.CloseFds(fds)
		return pidfdMsg{err: fmt.Errorf("want exactly one fd in the pidfd socket message, got %d", len(fds))}
	}
	m := pidfdMsg{payload: string(payload), fd: os.NewFile(uintptr(fds[0]), "pidfd")}
	m.link, _ = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fds[0]))
	info := procStatus(readFile(fmt.Sprintf("/proc/self/fdinfo/%d", fds[0])))
	if m.pid, err = strconv.Atoi(info["Pid"]); err != nil {
		m.err = fmt.Errorf("the fd's fdinfo has no Pid line (not a pidfd?): %q", info)
	}
	return m
}

// waitPidfd fails the test unless a pidfd arrives in time.
func waitPidfd(t *testing.T, got <-chan pidfdMsg) pidfdMsg {
	t.Helper()
	select {
	case m := <-got:
		if m.err != nil {
			t.Fatalf("pidfd socket: %v", m.err)
		}
		t.Cleanup(func() { m.fd.Close() })
		return m
	case <-time.After(cmdTimeout):
		t.Fatal("nothing was sent to the pidfd socket")
	}
	return pidfdMsg{}
}

// noPidfdIn fails the test if pid holds a pidfd: the runtime opens it on the host and
// must never hand it to the container.
func noPidfdIn(t *testing.T, pid int) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(dir, e.Name())); l == "anon_inode:[pidfd]" {
			t.Errorf("the container's process %d holds a pidfd as fd %s (%s)", pid, e.Name(), l)
		}
	}
}

// checkPidfd asserts m is runc's message for the process pid: kind as payload, a
// pidfd naming pid, which signals that very process.
func checkPidfd(t *testing.T, m pidfdMsg, kind string, pid int) {
	t.Helper()
	if m.payload != kind {
		t.Errorf("payload %q, want %q (runc's)", m.payload, kind)
	}
	if m.link != "anon_inode:[pidfd]" {
		t.Errorf("the fd received is %q, want a pidfd", m.link)
	}
	if m.pid != pid {
		t.Fatalf("the pidfd refers to pid %d, want the container's process %d", m.pid, pid)
	}
	noPidfdIn(t, pid)
	if err := unix.PidfdSendSignal(int(m.fd.Fd()), unix.SIGKILL, nil, 0); err != nil {
		t.Fatalf("pidfd_send_signal on the received pidfd: %v", err)
	}
	if pidStaysAlive(pid) {
		t.Errorf("pid %d still alive after SIGKILL through the received pidfd", pid)
	}
}

// TestPidfdSocket: create, run -d and exec -d send a pidfd of the container's process
// (for exec, of the exec'd process) over --pidfd-socket with runc's payload, the
// pidfd names that process and kills it, and no pidfd is in the container.
func TestPidfdSocket(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sock, got := pidfdListener(t)
		mustExit(t, h.create(baseSpec("sleep", "1000"), "--pidfd-socket", sock), 0)
		st := h.mustState(h.id)
		checkPidfd(t, waitPidfd(t, got), "standard", st.Pid)
		h.waitStatus(h.id, "stopped", 10*time.Second)
	})
	t.Run("run-detached", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sock, got := pidfdListener(t)
		h.writeSpec(baseSpec("sleep", "1000"))
		mustExit(t, h.do("run", "-d", "--bundle", h.bundle, "--pidfd-socket", sock, h.id), 0)
		st := h.waitStatus(h.id, "running", 10*time.Second)
		checkPidfd(t, waitPidfd(t, got), "standard", st.Pid)
		h.waitStatus(h.id, "stopped", 10*time.Second)
	})
	t.Run("exec-detached", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		st := h.startContainer(baseSpec("sleep", "1000"))
		sock, got := pidfdListener(t)
		pidFile := filepath.Join(h.outDir, "exec.pid")
		mustExit(t, h.do("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, h.id, "sleep", "1001"), 0)
		pid, err := strconv.Atoi(readFile(pidFile))
		if err != nil {
			t.Fatalf("exec pid file: %v", err)
		}
		if comm := strings.TrimSpace(readFile(fmt.Sprintf("/proc/%d/comm", pid))); comm != "sleep" {
			t.Errorf("exec's pid %d runs %q, want the user's sleep", pid, comm)
		}
		checkPidfd(t, waitPidfd(t, got), "setns", pid)
		if !pidAlive(st.Pid) {
			t.Errorf("killing the exec'd process through its pidfd ended the container's init")
		}
	})
	// Joining another container's pid namespace, the process is not init (init forks
	// it into the namespace, or hands over to a second stage): the pidfd must name
	// the process that waits to run the user's program, the one state reports.
	t.Run("create-joined-pidns", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		first := h.startContainer(baseSpec("sleep", "1000"))
		sib := h.sibling(t)
		s := baseSpec("sleep", "1001")
		joinPidNS(s, first.Pid)
		sock, got := pidfdListener(t)
		mustExit(t, sib.create(s, "--pidfd-socket", sock), 0)
		st := sib.mustState(sib.id)
		m := waitPidfd(t, got)
		wantNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", first.Pid))
		if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", m.pid)); ns != wantNS {
			t.Errorf("the pidfd's process %d is in pid namespace %s, want the joined %s", m.pid, ns, wantNS)
		}
		checkPidfd(t, m, "standard", st.Pid)
	})
}

// TestPidfdSocketRefused: a --pidfd-socket nobody listens on fails create, run and
// exec before anything runs, naming the flag and the path, and leaves nothing.
func TestPidfdSocketRefused(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-such-socket")
	for _, cmd := range []string{"create", "run"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.writeSpec(baseSpec("true"))
			r := h.do(cmd, "--bundle", h.bundle, "--pidfd-socket", missing, h.id)
			if r.exit == 0 {
				t.Fatalf("%s with a missing --pidfd-socket succeeded: %s", cmd, r)
			}
			if !strings.Contains(r.stderr, "--pidfd-socket") || !strings.Contains(r.stderr, missing) {
				t.Errorf("the error must name --pidfd-socket and the path: %s", r)
			}
			if _, _, ok := h.state(h.id); ok {
				t.Errorf("%s left the container behind", cmd)
			}
		})
	}
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := baseSpec("sleep", "1000")
		s.Root.Readonly = false
		h.startContainer(s)
		marker := "/tmp/ran"
		r := h.do("exec", "--pidfd-socket", missing, h.id, "touch", marker)
		if r.exit != 255 || !strings.Contains(r.stderr, "--pidfd-socket") || !strings.Contains(r.stderr, missing) {
			t.Errorf("exec with a missing --pidfd-socket: want exit 255 naming the flag and path, got %s", r)
		}
		if _, err := os.Stat(filepath.Join(h.rootfs, marker)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the process ran although its pidfd could not be sent (%v)", err)
		}
	})
}
