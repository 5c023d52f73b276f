package hulltest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ShortTempDir is a new directory under os.TempDir(), removed at the end of
// the test, for unix sockets: sun_path holds 108 bytes and t.TempDir() paths,
// named after the test, can be longer.
func ShortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// RecvFds reads one message from conn, within timeout unless it is 0, and
// returns its payload and the fds it carried (SCM_RIGHTS), which the caller
// owns.
func RecvFds(conn *net.UnixConn, timeout time.Duration, maxPayload int) ([]byte, []int, error) {
	if timeout > 0 {
		if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return nil, nil, err
		}
	}
	buf := make([]byte, maxPayload)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	for i := range msgs {
		if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return buf[:n], fds, nil
}

// AcceptFds accepts one connection on ln within timeout and returns what its
// first message carried (RecvFds), as a runtime's caller does with
// --console-socket or --pidfd-socket.
func AcceptFds(ln *net.UnixListener, timeout time.Duration, maxPayload int) ([]byte, []int, error) {
	if err := ln.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, nil, err
	}
	conn, err := ln.AcceptUnix()
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	return RecvFds(conn, timeout, maxPayload)
}

// CloseFds closes fds, for a message that carried more than was wanted.
func CloseFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// UnixListener listens on a socket in a new ShortTempDir; both go at the end
// of the test.
func UnixListener(t testing.TB, prefix string) (*net.UnixListener, string) {
	t.Helper()
	sock := filepath.Join(ShortTempDir(t, prefix), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, sock
}
