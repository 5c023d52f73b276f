package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadyLine(t *testing.T) {
	for msg, want := range map[string]string{
		"READY=1":                     "READY=1",
		"READY=1\nSTATUS=up":          "READY=1",
		"STATUS=up\nREADY=1\n":        "READY=1",
		"STATUS=up":                   "",
		"WATCHDOG=1\nMAINPID=1":       "",
		"XREADY=1\nNOT_READY=1":       "",
		"MAINPID=1\nREADY=1\nREADY=2": "READY=1",
	} {
		if got := string(readyLine([]byte(msg))); got != want {
			t.Errorf("readyLine(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestForward: only the READY line goes to the host, then MAINPID and BARRIER=1 with
// a pipe whose closing ends the wait; a process that exits first gets nothing relayed.
func TestForward(t *testing.T) {
	dir := t.TempDir()
	host, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "host"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	r, err := Listen(filepath.Join(dir, "ctr.sock"), dir, filepath.Join(dir, "host"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctr, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: filepath.Join(dir, "ctr.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	for _, m := range []string{"STATUS=starting\nMAINPID=1", "STATUS=x\nREADY=1\nMAINPID=1"} {
		if _, err := ctr.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- r.Forward(42, make(chan struct{})) }()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_ = host.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"READY=1\n", "MAINPID=42\n", "BARRIER=1"} {
		n, oobn, _, _, err := host.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("want %q: %v", want, err)
		}
		if got := string(buf[:n]); got != want {
			t.Fatalf("host got %q, want %q", got, want)
		}
		if want == "BARRIER=1" {
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			if len(msgs) != 1 {
				t.Fatal("BARRIER=1 came without its fd")
			}
			fds, _ := unix.ParseUnixRights(&msgs[0])
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Forward did not return once the barrier's pipe closed")
	}

	exited := make(chan struct{})
	close(exited)
	if err := r.Forward(43, exited); err != nil {
		t.Fatal(err)
	}
	_ = host.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := host.Read(buf); err == nil {
		t.Errorf("relayed %q for a process that exited without READY", buf[:n])
	}
}

// TestListenReplacesWithoutFollowing: whatever is at the socket's path (here a symlink
// to a file, as a container that can write in its /run/notify would leave) is replaced
// by the socket, never followed; the socket is 0777 and nothing is left in the
// private directory.
func TestListenReplacesWithoutFollowing(t *testing.T) {
	dir, private := t.TempDir(), t.TempDir()
	host, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "host"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ctr.sock")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	r, err := Listen(path, private, filepath.Join(dir, "host"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if fi, err := os.Stat(victim); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the symlink's target: %v, %v; want it untouched (0600)", fi.Mode(), err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o777 {
		t.Errorf("%s: %v, %v; want a socket, mode 0777", path, fi.Mode(), err)
	}
	if left, _ := os.ReadDir(private); len(left) != 0 {
		t.Errorf("left in the private directory: %v", left)
	}
	ctr, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("the renamed socket: %v", err)
	}
	ctr.Close()
}
