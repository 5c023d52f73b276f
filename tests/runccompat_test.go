//go:build linux

package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestHomeFromPasswd checks HOME as runc sets it when the environment has none (or an
// empty one): the home of the process's uid in the container's /etc/passwd (the test
// rootfs has root:/root and hull(1000):/tmp), "/" for a uid with no entry; a HOME
// given is kept. For the container's own process and for exec.
func TestHomeFromPasswd(t *testing.T) {
	t.Parallel()
	const script = `env | grep '^HOME=' || echo no-HOME`
	cases := []struct {
		name string
		uid  uint32
		env  []string // added to the base environment
		want string
	}{
		{"root", 0, nil, "HOME=/root\n"},
		{"user-in-passwd", 1000, nil, "HOME=/tmp\n"},
		{"user-not-in-passwd", 4242, nil, "HOME=/\n"},
		{"empty-home-replaced", 0, []string{"HOME="}, "HOME=/root\n"},
		{"home-given-kept", 1000, []string{"HOME=/given"}, "HOME=/given\n"},
	}
	t.Run("run", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := baseSpec(shell(script)...)
				s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
				s.Process.Env = append(s.Process.Env, tc.env...)
				r := runContainer(t, s)
				mustExit(t, r, 0)
				if r.stdout != tc.want {
					t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, tc.want, r.stderr)
				}
			})
		}
	})
	t.Run("exec", func(t *testing.T) {
		h := newHarness(t)
		h.startContainer(sleeperSpec())
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				args := []string{"exec", "-u", strconv.FormatUint(uint64(tc.uid), 10)}
				for _, e := range tc.env {
					args = append(args, "-e", e)
				}
				r := h.do(append(append(args, h.id), shell(script)...)...)
				mustExit(t, r, 0)
				if r.stdout != tc.want {
					t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, tc.want, r.stderr)
				}
			})
		}
	})
}

// TestCwdOnlyRootCanEnter: process.cwd is a directory only root may enter (0700 root),
// the process runs as uid 1000. runc enters the cwd while still root, before it
// switches user, so the process starts there (and its later path lookups are its own
// business); hull does the same, for the container's process and for exec.
func TestCwdOnlyRootCanEnter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := filepath.Join(h.rootfs, "private")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := baseSpec("sh", "-c", "pwd; id -u; sleep 1001")
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Process.Cwd = "/private"
	r := h.create(s)
	mustExit(t, r, 0)
	mustExit(t, h.do("start", h.id), 0)
	hulltest.WaitFor(10*time.Second, func() bool { return strings.Contains(r.readStdout(), "1000\n") })
	if out := r.readStdout(); out != "/private\n1000\n" {
		t.Errorf("run: stdout %q, want the process in /private as uid 1000", out)
	}
	e := h.do("exec", "-u", "1000", "--cwd", "/private", h.id, "sh", "-c", "pwd; id -u")
	mustExit(t, e, 0)
	if e.stdout != "/private\n1000\n" {
		t.Errorf("exec: stdout %q, stderr %q; want /private as uid 1000", e.stdout, e.stderr)
	}
}

// TestCPUAffinityReset runs hull pinned to CPU 0 (taskset) and checks that the
// container's process, created or exec'd, may run on every CPU an unpinned one gets
// (its cgroup's cpuset), as with runc, instead of inheriting the pin.
func TestCPUAffinityReset(t *testing.T) {
	t.Parallel()
	taskset := hulltest.RequireTool(t, "taskset", "util-linux")
	const script = `grep Cpus_allowed_list /proc/self/status`
	h := newHarness(t)
	pinned := func(args ...string) result {
		t.Helper()
		full := append([]string{"-c", "0", hullBinary, "--root", h.root}, args...)
		r, err := h.runBinary(taskset, cmdOpts{noRoot: true}, full...)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// The unpinned reference: what an exec gets without taskset.
	h.startContainer(sleeperSpec())
	ref := h.do(append([]string{"exec", h.id}, shell(script)...)...)
	mustExit(t, ref, 0)
	if strings.TrimSpace(strings.TrimPrefix(ref.stdout, "Cpus_allowed_list:")) == "0" {
		hulltest.HostLimit(t, "the container may only use CPU 0: nothing to reset; runs on any host with two CPUs (the CI host)")
	}
	t.Run("exec", func(t *testing.T) {
		r := pinned(append([]string{"exec", h.id}, shell(script)...)...)
		mustExit(t, r, 0)
		if r.stdout != ref.stdout {
			t.Errorf("exec under taskset -c 0: %q, want %q as without it", r.stdout, ref.stdout)
		}
	})
	t.Run("run", func(t *testing.T) {
		h2 := h.sibling(t)
		h2.writeSpec(baseSpec(shell(script)...))
		r := pinned("run", "--bundle", h2.bundle, h2.id)
		mustExit(t, r, 0)
		if r.stdout != ref.stdout {
			t.Errorf("run under taskset -c 0: %q, want %q as without it", r.stdout, ref.stdout)
		}
	})
}

// TestExecCapAmbient checks runc's rule for exec --cap: when the container's process
// lists inheritable capabilities, the added one goes into the ambient set as well, so
// a non-root user's program has it (if it is inheritable, which the kernel requires);
// without an inheritable list the ambient set is left as it is.
func TestExecCapAmbient(t *testing.T) {
	t.Parallel()
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	netRaw := uint64(1) << unix.CAP_NET_RAW
	cases := []struct {
		name        string
		inheritable []string
		wantAmb     bool
	}{
		{"inheritable-listed", append(append([]string(nil), caps...), "CAP_NET_RAW"), true},
		{"no-inheritable", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := sleeperSpec()
			s.Process.Capabilities.Inheritable = tc.inheritable
			h.startContainer(s)
			r := h.do("exec", "-u", "1000:1000", "--cap", "CAP_NET_RAW", h.id, "cat", "/proc/self/status")
			mustExit(t, r, 0)
			st := procStatus(r.stdout)
			amb := hulltest.StatusHex(t, st, "CapAmb")
			eff := hulltest.StatusHex(t, st, "CapEff")
			if got := amb&netRaw != 0; got != tc.wantAmb {
				t.Errorf("CAP_NET_RAW in CapAmb (%016x): %v, want %v (stderr %q)", amb, got, tc.wantAmb, r.stderr)
			}
			if got := eff&netRaw != 0; got != tc.wantAmb {
				t.Errorf("CAP_NET_RAW in uid 1000's CapEff (%016x): %v, want %v", eff, got, tc.wantAmb)
			}
		})
	}
}

// TestForegroundTerminal runs `hull run` and `hull exec` with a terminal and no
// console socket on a pty of the test's, as a user at a terminal would, with a non-root
// process. As with runc: the process's "\n" reach hull's stdout untranslated (ONLCR
// is off on the container's pty), and the pty belongs to the process's user.
func TestForegroundTerminal(t *testing.T) {
	t.Parallel()
	const script = `printf 'one\ntwo\n'; stat -c 'owner=%u' "$(tty)"`
	const want = "one\ntwo\nowner=1000\n"
	// hull's warnings would share the pty with the output: baseSpec's ambient set
	// (not inheritable) makes one.
	quiet := func(s *specs.Spec) *specs.Spec { s.Process.Capabilities.Ambient = nil; return s }
	h := newHarness(t)
	t.Run("run", func(t *testing.T) {
		s := quiet(baseSpec(shell(script)...))
		s.Process.Terminal = true
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		h2 := h.sibling(t)
		h2.writeSpec(s)
		out, code := runOnPty(t, "--root", h2.root, "run", "--bundle", h2.bundle, h2.id)
		if code != 0 || out != want {
			t.Errorf("hull run -t: exit %d, output %q, want %q", code, out, want)
		}
	})
	t.Run("exec", func(t *testing.T) {
		h.startContainer(quiet(sleeperSpec()))
		out, code := runOnPty(t, append([]string{"--root", h.root, "exec", "-t", "-u", "1000:1000", h.id}, shell(script)...)...)
		if code != 0 || out != want {
			t.Errorf("hull exec -t: exit %d, output %q, want %q", code, out, want)
		}
	})
}

// runOnPty runs hull with args with a new pty as its stdin, stdout and stderr (and
// controlling terminal), in raw mode so that it passes bytes through as they come,
// and returns all that hull wrote there and its exit status.
func runOnPty(t *testing.T, args ...string) (string, int) {
	t.Helper()
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	master := os.NewFile(uintptr(mfd), "ptmx")
	defer master.Close()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		t.Fatalf("TIOCGPTPEER: %v", errno)
	}
	peer := os.NewFile(r, "pty-peer")
	defer peer.Close()
	tio, err := unix.IoctlGetTermios(int(peer.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	if err := unix.IoctlSetTermios(int(peer.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hullBinary, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = peer, peer, peer
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	outc := make(chan string, 1)
	go func() {
		var out []byte
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			out = append(out, b[:n]...)
			if err != nil {
				outc <- string(out)
				return
			}
		}
	}()
	err = cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("hull %s: %v", strings.Join(args, " "), err)
	}
	select {
	case out := <-outc:
		return out, code
	case <-time.After(10 * time.Second):
		t.Fatal("the pty stayed open after hull exited")
	}
	return "", code
}
