//go:build linux

package tests

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
)

var sdnotifyTool = &testTool{pkg: "./testdata/sdnotify", name: "sdnotify"}

// notifyMsg is one datagram the "host systemd" received.
type notifyMsg struct {
	text    string
	barrier bool // carried an fd (BARRIER=1's pipe), which the listener closed
	at      time.Time
}

// notifyListener plays systemd: a unixgram socket that records every message and
// answers BARRIER=1 by closing the fd that comes with it.
func notifyListener(t *testing.T) (string, <-chan notifyMsg) {
	t.Helper()
	dir := hulltest.ShortTempDir(t, "hullnotify")
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan notifyMsg, 16)
	go func() {
		for {
			text, fds, err := hulltest.RecvFds(conn, 0, 4096)
			if err != nil {
				return
			}
			// BARRIER=1's pipe: closing it is the answer.
			hulltest.CloseFds(fds)
			m := notifyMsg{text: string(text), at: time.Now(), barrier: len(fds) > 0}
			got <- m
		}
	}()
	return sock, got
}

// nextNotify returns the next message, failing the test if none comes in time.
func nextNotify(t *testing.T, got <-chan notifyMsg) notifyMsg {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the host's NOTIFY_SOCKET received nothing")
	}
	return notifyMsg{}
}

// checkRelayed asserts runc's sequence: READY=1, MAINPID=pid, BARRIER=1 with its fd.
func checkRelayed(t *testing.T, got <-chan notifyMsg, pid int) notifyMsg {
	t.Helper()
	ready := nextNotify(t, got)
	if ready.text != "READY=1\n" {
		t.Errorf("first message %q, want READY=1", ready.text)
	}
	if m := nextNotify(t, got); m.text != "MAINPID="+strconv.Itoa(pid)+"\n" {
		t.Errorf("second message %q, want MAINPID=%d", m.text, pid)
	}
	if m := nextNotify(t, got); m.text != "BARRIER=1" || !m.barrier {
		t.Errorf("third message %q (fd passed: %v), want BARRIER=1 with a pipe fd", m.text, m.barrier)
	}
	return ready
}

// notifySpec is a container that sd_notifies after a second (STATUS first: only
// READY is relayed) and then runs on; it also reports the NOTIFY_SOCKET it sees.
func notifySpec(t *testing.T, h *harness) []string {
	sdnotifyTool.install(t, h, "sdnotify")
	return shell("echo sock=$NOTIFY_SOCKET; sleep 1; sdnotify STATUS=starting; sdnotify READY=1; exec sleep 1000")
}

// TestNotifySocket: with NOTIFY_SOCKET set, as when a systemd unit runs the runtime,
// the container's process gets a socket of its own at /run/notify/notify.sock (not the
// host's), and start returns only once the process has sent READY=1, which is relayed
// to the host's socket with the process's pid as MAINPID and a barrier, as runc does.
func TestNotifySocket(t *testing.T) {
	t.Parallel()
	t.Run("create-start", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sock, got := notifyListener(t)
		env := cmdOpts{env: []string{"NOTIFY_SOCKET=" + sock}}
		s := baseSpec()
		s.Process.Args = notifySpec(t, h)
		h.writeSpec(s)
		cr := h.hullOpts(env, "create", "--bundle", h.bundle, h.id)
		mustExit(t, cr, 0)
		began := time.Now()
		mustExit(t, h.hullOpts(env, "start", h.id), 0)
		took := time.Since(began)
		st := h.mustState(h.id)
		ready := checkRelayed(t, got, st.Pid)
		if took < 900*time.Millisecond {
			t.Errorf("start returned after %s, before the container sent READY=1 (after 1s)", took)
		}
		if ready.at.After(time.Now()) || took > 10*time.Second {
			t.Errorf("start took %s", took)
		}
		out := waitOutput(t, cr.stdoutPath, "sock=", 5*time.Second)
		if !strings.Contains(out, "sock=/run/notify/notify.sock\n") {
			t.Errorf("the process's NOTIFY_SOCKET: %q, want /run/notify/notify.sock", out)
		}
		// The container cannot write to the directory the socket is in.
		e := h.do("exec", h.id, "sh", "-c", "touch /run/notify/x && echo writable; grep ' /run/notify ' /proc/self/mounts")
		if strings.Contains(e.stdout, "writable") || !strings.Contains(e.stdout, " ro,") {
			t.Errorf("/run/notify must be a read-only mount: %s", e)
		}
	})
	t.Run("run-detached", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sock, got := notifyListener(t)
		s := baseSpec()
		s.Process.Args = notifySpec(t, h)
		h.writeSpec(s)
		began := time.Now()
		mustExit(t, h.hullOpts(cmdOpts{env: []string{"NOTIFY_SOCKET=" + sock}}, "run", "-d", "--bundle", h.bundle, h.id), 0)
		if took := time.Since(began); took < 900*time.Millisecond {
			t.Errorf("run -d returned after %s, before the container sent READY=1", took)
		}
		checkRelayed(t, got, h.mustState(h.id).Pid)
	})
	// Attached, hull stays the unit's main process: MAINPID is hull's own pid.
	t.Run("run-attached", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sock, got := notifyListener(t)
		sdnotifyTool.install(t, h, "sdnotify")
		s := baseSpec("sh", "-c", "sdnotify READY=1; sleep 1")
		h.writeSpec(s)
		b := h.startHull(cmdOpts{env: []string{"NOTIFY_SOCKET=" + sock}}, "run", "--bundle", h.bundle, h.id)
		checkRelayed(t, got, b.cmd.Process.Pid)
		mustExit(t, b.wait(cmdTimeout), 0)
	})
	// A process that never notifies keeps start waiting, as it keeps systemd waiting;
	// once it exits, start returns without relaying anything.
	t.Run("never-ready", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		sock, got := notifyListener(t)
		env := cmdOpts{env: []string{"NOTIFY_SOCKET=" + sock}}
		h.writeSpec(baseSpec("sleep", "1000"))
		mustExit(t, h.hullOpts(env, "create", "--bundle", h.bundle, h.id), 0)
		b := h.startHull(env, "start", h.id)
		select {
		case <-b.done:
			t.Fatalf("start returned before the container sent READY: %s", b.wait(0))
		case <-time.After(1500 * time.Millisecond):
		}
		mustExit(t, h.do("kill", h.id, "KILL"), 0)
		mustExit(t, b.wait(10*time.Second), 0)
		select {
		case m := <-got:
			t.Errorf("relayed %q for a container that never sent READY", m.text)
		default:
		}
	})
	// Without NOTIFY_SOCKET nothing changes: no /run/notify, no variable.
	t.Run("unset", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		r := h.run(baseSpec("sh", "-c", "echo sock=$NOTIFY_SOCKET; ls /run/notify 2>&1 || echo absent"))
		mustExit(t, r, 0)
		if !strings.Contains(r.stdout, "sock=\n") || !strings.Contains(r.stdout, "absent") {
			t.Errorf("without NOTIFY_SOCKET the container must see none: %q", r.stdout)
		}
	})
}
