package console

import (
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair returns a connected stream pair: the sending end as a file and
// the receiving end as a *net.UnixConn, both closed at the end of the test.
func socketPair(t *testing.T) (*os.File, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	send := os.NewFile(uintptr(fds[0]), "send")
	recvFile := os.NewFile(uintptr(fds[1]), "recv")
	defer recvFile.Close()
	c, err := net.FileConn(recvFile)
	if err != nil {
		send.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		send.Close()
		c.Close()
	})
	return send, c.(*net.UnixConn)
}

func TestSendFileRecvMaster(t *testing.T) {
	send, recv := socketPair(t)
	tmp, err := os.CreateTemp(t.TempDir(), "payload")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	if _, err := tmp.WriteString("through the socket"); err != nil {
		t.Fatal(err)
	}

	if err := SendFile(send, "/dev/ptmx", tmp); err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	got, err := RecvMaster(recv)
	if err != nil {
		t.Fatalf("RecvMaster: %v", err)
	}
	defer got.Close()
	if got.Name() != "/dev/ptmx" {
		t.Errorf("name = %q, want /dev/ptmx", got.Name())
	}
	flags, err := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Error("received fd is not close-on-exec")
	}
	// Same open file description: the offset moved by the write is shared.
	buf := make([]byte, 64)
	n, err := got.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if string(buf[:n]) != "through the socket" {
		t.Errorf("content = %q", buf[:n])
	}
}

func TestSendFileBadName(t *testing.T) {
	send, _ := socketPair(t)
	for _, tc := range []struct {
		name, want string
	}{
		{"", "empty name"},
		{strings.Repeat("n", maxNameLen), "name too long"},
	} {
		err := SendFile(send, tc.name, os.Stdin)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SendFile(name of %d bytes) = %v, want error containing %q", len(tc.name), err, tc.want)
		}
	}
}

func TestRecvMasterRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(t *testing.T, s *os.File)
		want string
	}{
		{
			name: "no fd",
			send: func(t *testing.T, s *os.File) {
				if _, err := s.Write([]byte("/dev/ptmx")); err != nil {
					t.Fatal(err)
				}
			},
			want: "got 0 fds",
		},
		{
			name: "two fds",
			send: func(t *testing.T, s *os.File) {
				oob := unix.UnixRights(int(os.Stdin.Fd()), int(os.Stdin.Fd()))
				if err := unix.Sendmsg(int(s.Fd()), []byte("x"), oob, nil, 0); err != nil {
					t.Fatal(err)
				}
			},
			want: "got 2 fds",
		},
		{
			name: "closed",
			send: func(t *testing.T, s *os.File) { s.Close() },
			want: "EOF",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send, recv := socketPair(t)
			before := countFds(t)
			tc.send(t, send)
			f, err := RecvMaster(recv)
			if err == nil {
				f.Close()
				t.Fatal("RecvMaster succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if after := countFds(t); after > before {
				t.Errorf("fds leaked: %d open before, %d after", before, after)
			}
		})
	}
}

func countFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
