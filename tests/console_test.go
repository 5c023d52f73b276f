//go:build linux

package tests

import (
	"errors"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// receiveConsole accepts one connection on a unix socket and returns the fd
// passed with SCM_RIGHTS, as containerd's shim does with --console-socket.
func receiveConsole(ln *net.UnixListener) (*os.File, error) {
	_, fds, err := hulltest.AcceptFds(ln, cmdTimeout, 4096)
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		hulltest.CloseFds(fds)
		return nil, errors.New("want exactly one fd in the console socket message")
	}
	// Non-blocking, so the poller handles it and read deadlines work.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// TestConsoleSocket runs an interactive shell on a pty whose master comes
// back over --console-socket, and types into it.
func TestConsoleSocket(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sock, got := consoleListener(t)

	s := baseSpec("sh")
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 101}
	cr := h.create(s, "--console-socket", sock)
	mustExit(t, cr, 0)
	rc := <-got
	if rc.err != nil {
		t.Fatalf("receiving the console: %v", rc.err)
	}
	master := rc.f
	defer master.Close()

	ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		t.Fatalf("the received fd is not a terminal: %v", err)
	}
	if ws.Row != 33 || ws.Col != 101 {
		t.Errorf("window size %dx%d, want 33 rows x 101 columns", ws.Row, ws.Col)
	}

	mustExit(t, h.do("start", h.id), 0)
	if _, err := master.Write([]byte("tty; stty size; exit\n")); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 4096)
	_ = master.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil { // EIO once the shell exits and the slave closes
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("console output did not end: %q", out)
			}
			break
		}
	}
	checks := []struct {
		what string
		re   *regexp.Regexp
	}{
		{"tty is a pts", regexp.MustCompile(`(^|\n|# )/dev/pts/[0-9]+\r?\n`)},
		{"stty size is the consoleSize", regexp.MustCompile(`(^|\n|# )33 101\r?\n`)},
	}
	for _, c := range checks {
		if !c.re.Match(out) {
			t.Errorf("%s: no %s in console output %q", c.what, c.re, out)
		}
	}
	h.waitStatus(h.id, "stopped", 10*time.Second)
}
