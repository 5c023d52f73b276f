package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

const (
	childEnv  = "HULL_CONSOLE_TEST_CHILD"
	rootfsEnv = "HULL_CONSOLE_TEST_ROOTFS"
	sizeEnv   = "HULL_CONSOLE_TEST_SIZE"
	uidEnv    = "HULL_CONSOLE_TEST_UID"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(setupChild())
	}
	os.Exit(m.Run())
}

// childReport is what the re-executed child observed after Setup.
type childReport struct {
	Err          string
	ConsoleRdev  uint64
	ConsoleIsChr bool
	StdioRdev    [3]uint64
	StdioUID     [3]uint32
	CttyIsStdin  bool
	TargetMode   uint32
	TargetData   string
}

// setupChild runs in a fresh mount namespace (set up by the parent through
// Unshareflags, which also makes / private). It mounts its own devpts
// instances inside the fake rootfs, chroots there and calls Setup. fd 3 is the
// console socket, fd 4 the report pipe.
func setupChild() int {
	socket := os.NewFile(3, "console-socket")
	report := os.NewFile(4, "report")
	rep := childReport{}
	finish := func(code int) int {
		json.NewEncoder(report).Encode(rep)
		report.Close()
		return code
	}
	rootfs := os.Getenv(rootfsEnv)
	for _, pts := range []string{"dev/pts", "dev/otherpts"} {
		dir := filepath.Join(rootfs, pts)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		if err := unix.Mount("devpts", dir, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
			rep.Err = "child: mount devpts: " + err.Error()
			return finish(3)
		}
	}
	if err := unix.Chroot(rootfs); err != nil {
		rep.Err = "child: chroot: " + err.Error()
		return finish(3)
	}
	if err := os.Chdir("/"); err != nil {
		rep.Err = "child: chdir: " + err.Error()
		return finish(3)
	}
	var size *specs.Box
	if s := os.Getenv(sizeEnv); s != "" {
		var w, h uint
		fmt.Sscanf(s, "%dx%d", &w, &h)
		size = &specs.Box{Width: w, Height: h}
	}

	var uid uint32
	if s := os.Getenv(uidEnv); s != "" {
		fmt.Sscanf(s, "%d", &uid)
	}
	if err := Setup(socket, size, uid); err != nil {
		rep.Err = err.Error()
		return finish(2)
	}
	socket.Close()

	var st unix.Stat_t
	if err := unix.Stat("/dev/console", &st); err == nil {
		rep.ConsoleRdev = st.Rdev
		rep.ConsoleIsChr = st.Mode&unix.S_IFMT == unix.S_IFCHR
	}
	for fd := range 3 {
		if err := unix.Fstat(fd, &st); err == nil {
			rep.StdioRdev[fd] = st.Rdev
			rep.StdioUID[fd] = st.Uid
		}
	}
	// TIOCGSID only answers for the caller's controlling terminal.
	if sid, err := unix.IoctlGetInt(0, unix.TIOCGSID); err == nil {
		rep.CttyIsStdin = sid == os.Getpid()
	}
	if err := unix.Lstat("/target", &st); err == nil {
		rep.TargetMode = st.Mode
		// Reading a tty mounted there would block.
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			data, _ := os.ReadFile("/target")
			rep.TargetData = string(data)
		}
	}
	finish(0)

	// Echo lines typed on the terminal until the last master is closed: the
	// read then fails with EIO. The hangup would also send SIGHUP to us, the
	// session leader.
	signal.Ignore(syscall.SIGHUP)
	buf := make([]byte, 256)
	for {
		n, err := os.Stdin.Read(buf)
		if err != nil {
			return 0
		}
		fmt.Fprintf(os.Stdout, "got: %s", buf[:n])
	}
}

func TestSetup(t *testing.T) {
	hulltest.RequireRoot(t) // mount namespaces, devpts and chroot
	const targetData = "original content"
	tests := []struct {
		name    string
		console func(dev string) error // prepares rootfs/dev/console
		ptmx    string                 // target of the dev/ptmx symlink
		size    *specs.Box
		uid     uint32 // the process's user, who must own the pty
		wantErr string
		// notCreated is a rootfs path that following the symlink would create.
		notCreated string
	}{
		{
			name:    "missing console with size",
			console: func(string) error { return nil },
			size:    &specs.Box{Width: 132, Height: 43},
		},
		{
			name:    "owned by a non-root user",
			console: func(string) error { return nil },
			uid:     1000,
		},
		{
			name:    "existing empty file",
			console: func(dev string) error { return os.WriteFile(filepath.Join(dev, "console"), nil, 0o600) },
		},
		{
			name:    "absolute symlink to a file",
			console: func(dev string) error { return os.Symlink("/target", filepath.Join(dev, "console")) },
			size:    &specs.Box{Width: 80, Height: 24},
		},
		{
			name:    "relative symlink to a file",
			console: func(dev string) error { return os.Symlink("../target", filepath.Join(dev, "console")) },
		},
		{
			name:       "dangling symlink",
			console:    func(dev string) error { return os.Symlink("/created-through-symlink", filepath.Join(dev, "console")) },
			notCreated: "created-through-symlink",
		},
		{
			name:    "console is a directory",
			console: func(dev string) error { return os.Mkdir(filepath.Join(dev, "console"), 0o755) },
			wantErr: "/dev/console is not a file",
		},
		{
			name:    "ptmx of another devpts",
			console: func(string) error { return nil },
			ptmx:    "otherpts/ptmx",
			wantErr: "did not allocate its pty on the devpts mounted at /dev/pts",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := filepath.Join(t.TempDir(), "rootfs")
			dev := filepath.Join(rootfs, "dev")
			for _, d := range []string{dev, filepath.Join(dev, "pts")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ptmx := tc.ptmx
			if ptmx == "" {
				ptmx = "pts/ptmx"
			} else if err := os.Mkdir(filepath.Join(dev, filepath.Dir(ptmx)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(ptmx, filepath.Join(dev, "ptmx")); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(rootfs, "target")
			if err := os.WriteFile(target, []byte(targetData), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := tc.console(dev); err != nil {
				t.Fatal(err)
			}

			c := startChild(t, rootfs, tc.size, tc.uid)
			rep := c.readReport(t)

			if tc.wantErr != "" {
				if !strings.Contains(rep.Err, tc.wantErr) {
					t.Fatalf("Setup error = %q, want it to contain %q", rep.Err, tc.wantErr)
				}
				if m, err := RecvMaster(c.conn); err == nil {
					m.Close()
					t.Error("a master was sent although Setup failed")
				}
				c.wait(t, 2)
				return
			}
			if rep.Err != "" {
				t.Fatalf("Setup: %s", rep.Err)
			}

			master, err := RecvMaster(c.conn)
			if err != nil {
				t.Fatalf("RecvMaster: %v", err)
			}
			defer master.Close()
			if master.Name() != "/dev/ptmx" {
				t.Errorf("master name = %q, want /dev/ptmx", master.Name())
			}
			// Through Control: Fd() would switch the file back to blocking.
			var ws *unix.Winsize
			var ptnErr, wsErr error
			rc, err := master.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Control(func(fd uintptr) {
				_, ptnErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
				ws, wsErr = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
			}); err != nil {
				t.Fatal(err)
			}
			if ptnErr != nil {
				t.Fatalf("received fd is not a pty master: %v", ptnErr)
			}
			if wsErr != nil {
				t.Fatalf("TIOCGWINSZ: %v", wsErr)
			}
			var wantW, wantH uint16
			if tc.size != nil {
				wantW, wantH = uint16(tc.size.Width), uint16(tc.size.Height)
			}
			if ws.Col != wantW || ws.Row != wantH {
				t.Errorf("window size = %dx%d, want %dx%d", ws.Col, ws.Row, wantW, wantH)
			}

			if !rep.ConsoleIsChr || rep.ConsoleRdev == 0 {
				t.Errorf("/dev/console in the child is not the pty (chr=%v rdev=%d)", rep.ConsoleIsChr, rep.ConsoleRdev)
			}
			for fd, rdev := range rep.StdioRdev {
				if rdev != rep.ConsoleRdev {
					t.Errorf("fd %d rdev = %d, want the console's %d", fd, rdev, rep.ConsoleRdev)
				}
			}
			for fd, uid := range rep.StdioUID {
				if uid != tc.uid {
					t.Errorf("fd %d (the pty) is owned by uid %d, want the process's %d", fd, uid, tc.uid)
				}
			}
			if !rep.CttyIsStdin {
				t.Error("the pty is not the child's controlling terminal")
			}
			if rep.TargetMode&unix.S_IFMT != unix.S_IFREG || rep.TargetData != targetData {
				t.Errorf("/target seen from the child: mode %#o data %q; something was mounted on it", rep.TargetMode, rep.TargetData)
			}

			// Peer to master, then master to peer and back.
			out := newPtyReader(master)
			if _, err := master.Write([]byte("ping\n")); err != nil {
				t.Fatal(err)
			}
			out.expect(t, "got: ping")

			// The child only sees a hangup when no master is left anywhere,
			// including in itself.
			master.Close()
			c.wait(t, 0)

			checkUntouched(t, rootfs, target, targetData)
			if tc.notCreated != "" {
				if _, err := os.Lstat(filepath.Join(rootfs, tc.notCreated)); !os.IsNotExist(err) {
					t.Errorf("%s exists (err %v): the symlink was followed", tc.notCreated, err)
				}
			}
		})
	}
}

func checkUntouched(t *testing.T, rootfs, target, data string) {
	t.Helper()
	got, err := os.ReadFile(target)
	if err != nil || string(got) != data {
		t.Errorf("target = %q, %v; want %q", got, err, data)
	}
	if fi, err := os.Lstat(target); err != nil || fi.Mode() != 0o640 {
		t.Errorf("target mode = %v, %v; want 0640", fi.Mode(), err)
	}
	fi, err := os.Lstat(filepath.Join(rootfs, "dev", "console"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("rootfs/dev/console mode %v, want a regular file in place of the symlink", fi.Mode())
	}
}

const childTimeout = 20 * time.Second

// childProc is a re-executed test binary running setupChild.
type childProc struct {
	cmd    *exec.Cmd
	conn   *net.UnixConn // receiving end of the console socket
	report io.Reader
	stderr bytes.Buffer
	done   chan error
	exited bool
}

// startChild re-executes the test binary as setupChild in a new mount
// namespace; the child is killed at the end of the test if still running.
func startChild(t *testing.T, rootfs string, size *specs.Box, uid uint32) *childProc {
	t.Helper()
	send, conn := socketPair(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	t.Cleanup(func() { pr.Close() })

	c := &childProc{conn: conn, report: pr, done: make(chan error, 1)}
	c.cmd = exec.Command(os.Args[0])
	c.cmd.Env = append(os.Environ(), childEnv+"=1", rootfsEnv+"="+rootfs, fmt.Sprintf("%s=%d", uidEnv, uid))
	if size != nil {
		c.cmd.Env = append(c.cmd.Env, fmt.Sprintf("%s=%dx%d", sizeEnv, size.Width, size.Height))
	}
	c.cmd.Stderr = &c.stderr
	c.cmd.ExtraFiles = []*os.File{send, pw}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{
		Unshareflags: syscall.CLONE_NEWNS,
		Pdeathsig:    syscall.SIGKILL,
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only the child may hold the sending end, or a failed child would not
	// show up as EOF on conn.
	send.Close()
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if !c.exited {
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// readReport returns the child's report, written once Setup has returned.
func (c *childProc) readReport(t *testing.T) childReport {
	t.Helper()
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c.report)
		ch <- b
	}()
	select {
	case b := <-ch:
		var rep childReport
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("child report %q: %v (stderr %q)", b, err, c.stderr.String())
		}
		return rep
	case <-time.After(childTimeout):
		t.Fatal("timed out waiting for the child's report")
	}
	return childReport{}
}

// wait waits for the child to exit with code.
func (c *childProc) wait(t *testing.T, code int) {
	t.Helper()
	select {
	case <-c.done:
		c.exited = true
		if got := c.cmd.ProcessState.ExitCode(); got != code {
			t.Errorf("child: %v, want exit code %d (stderr %q)", c.cmd.ProcessState, code, c.stderr.String())
		}
	case <-time.After(childTimeout):
		t.Fatal("child did not exit: it still holds a pty master or is stuck")
	}
}

// ptyReader collects everything read from a pty master.
type ptyReader struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newPtyReader(f *os.File) *ptyReader {
	r := &ptyReader{}
	go func() {
		b := make([]byte, 256)
		for {
			n, err := f.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

// expect waits until want has been read from the master.
func (r *ptyReader) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(childTimeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		got := r.buf.String()
		r.mu.Unlock()
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("read %q from the pty master, want it to contain %q", r.buf.String(), want)
}

// TestClearONLCR checks that a new pty translates "\n" on output (the default a
// terminal emulator relies on) until ClearONLCR, called on the master, stops it for
// what the peer writes; and that a file that is no terminal is an error.
func TestClearONLCR(t *testing.T) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	hulltest.Require(t, "/dev/ptmx", err)
	master := os.NewFile(uintptr(mfd), "ptmx")
	defer master.Close()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	pfd, err := ioctlPeer(mfd, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(pfd), "peer")
	defer peer.Close()

	through := func(s string) string {
		t.Helper()
		if _, err := peer.WriteString(s); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 64)
		n, err := master.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(b[:n])
	}
	if got := through("a\n"); got != "a\r\n" {
		t.Fatalf("a new pty wrote %q for %q, want %q (ONLCR on)", got, "a\n", "a\r\n")
	}
	if err := ClearONLCR(master); err != nil {
		t.Fatal(err)
	}
	if got := through("b\nc\n"); got != "b\nc\n" {
		t.Errorf("after ClearONLCR the pty wrote %q, want %q", got, "b\nc\n")
	}
	// Idempotent: a second call finds nothing to change.
	if err := ClearONLCR(master); err != nil {
		t.Errorf("second ClearONLCR: %v", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := ClearONLCR(r); err == nil {
		t.Error("ClearONLCR on a pipe succeeded, want an error")
	}
}
